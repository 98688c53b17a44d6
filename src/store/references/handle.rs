//! The reference store's handle: the bucket, the prefix, the sealer. Its operations are the `impl`
//! blocks of `references.rs` and of the modules beside this one.

use std::sync::Arc;

use super::sealing::Plaintext;
use crate::store::object::ObjectStore;
use crate::store::sealed::Sealer;

/// Photos and sidecars under `prefix`, sealed under the template key when one is set.
#[derive(Clone)]
pub struct ReferenceStore {
    pub(super) objects: Arc<dyn ObjectStore>,
    pub(super) prefix: String,
    /// With `TEMPLATE_KMS_KEY_ID`: photos and sidecars are sealed before they leave the process.
    pub(super) sealer: Option<Arc<Sealer>>,
    pub(super) plaintext: Plaintext,
}
