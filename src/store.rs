//! Where references live: an object store (S3 or a local folder) holding, per reference, the
//! original image and a JSON sidecar with its embedding.

pub mod kms;
pub mod local;
mod object;
pub mod references;
pub mod s3;
pub mod sealed;

pub use references::{
    ConsentRecord, FaceRecord, Mark, ModelStamp, NewReference, Placement, Plaintext, ReferenceStore, StoredReference,
    photo_digest,
};

pub use object::{ObjectStore, StoreError};
