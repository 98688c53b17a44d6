//! A stand-in key service for unit tests of what uses data keys (the API tests use moto's KMS).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::{DataKey, KeyService};
use crate::store::object::StoreError;

/// Wraps data keys by XOR with a fixed pad, counting calls, and fails on demand: what the sealer
/// does with keys is under test here, not KMS (the API tests run against moto's KMS).
#[derive(Default)]
pub struct PadKeys {
    pub generated: AtomicUsize,
    pub unwrapped: AtomicUsize,
    pub down: AtomicBool,
}

const PAD: [u8; 32] = [0x5a; 32];

#[async_trait]
impl KeyService for PadKeys {
    async fn generate(&self) -> Result<DataKey, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("KMS is unreachable".into()));
        }
        let n = self.generated.fetch_add(1, Ordering::SeqCst) as u8;
        let plaintext = Zeroizing::new([n.wrapping_add(1); 32]);
        let wrapped = plaintext.iter().zip(PAD).map(|(a, b)| a ^ b).collect();
        Ok(DataKey { plaintext, wrapped })
    }

    async fn unwrap(&self, wrapped: &[u8]) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("KMS is unreachable".into()));
        }
        self.unwrapped.fetch_add(1, Ordering::SeqCst);
        let mut key = Zeroizing::new([0u8; 32]);
        for (k, (a, b)) in key.iter_mut().zip(wrapped.iter().zip(PAD)) {
            *k = a ^ b;
        }
        Ok(key)
    }

    fn describe(&self) -> String {
        "pad".into()
    }
}
