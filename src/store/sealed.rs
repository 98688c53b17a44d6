//! Envelope encryption of reference objects under the operator's KMS key (`TEMPLATE_KMS_KEY_ID`).
//!
//! Each photo and sidecar is encrypted with AES-256-GCM under a data key that KMS generated and
//! wrapped; the wrapped key travels in the object's header, so reading needs `kms:Decrypt` on the
//! operator's key and nothing else. Whoever can read the bucket but not use the key sees neither a
//! JPEG nor an embedding. The user id, reference id and object kind are bound as associated data:
//! an object copied to another user's folder, or a photo renamed as a sidecar, fails to
//! authenticate instead of being used.
//!
//! Data keys are reused for a short while (`TEMPLATE_KEY_CACHE_SECS`, and at most
//! [`MAX_USES_PER_KEY`] objects) so a register costs no KMS round trip most of the time, as the
//! AWS Encryption SDK's caching does; unwrapped keys are kept in a small bounded cache for reads.
//! Objects written before the key was configured carry no header and are read as they are.
//!
//! Layout: `FAE1` | wrapped key length (u16, big endian) | wrapped key | 96-bit nonce | ciphertext
//! and tag. The associated data is everything before the nonce, then the context.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};
use lru::LruCache;
use zeroize::Zeroizing;

use super::object::StoreError;

const MAGIC: &[u8; 4] = b"FAE1";
const NONCE_LEN: usize = 12;
/// Random 96-bit nonces stay far from a collision (NIST SP 800-38D §8.3 allows 2^32 per key) when a
/// data key seals at most this many objects.
pub const MAX_USES_PER_KEY: u32 = 1 << 20;
/// Distinct data keys remembered for reads: one per few minutes of writes, so this covers days.
const OPENED_KEYS: usize = 1024;

/// A data key as KMS hands it out: the AES key (wiped when dropped) and its wrapped form.
pub struct DataKey {
    pub plaintext: Zeroizing<[u8; 32]>,
    pub wrapped: Vec<u8>,
}

/// Where data keys come from: AWS KMS in the service (`store::kms`), a local stand-in in unit tests.
#[async_trait]
pub trait KeyService: Send + Sync + 'static {
    async fn generate(&self) -> Result<DataKey, StoreError>;
    async fn unwrap(&self, wrapped: &[u8]) -> Result<Zeroizing<[u8; 32]>, StoreError>;
    fn describe(&self) -> String;
}

/// What an object is, as bound into its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Photo,
    Sidecar,
    /// A WebAuthn credential (its public key and counter) kept beside the references.
    Passkey,
}

/// Whose object this is: sealed into the tag, so the object only opens where it was written.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub user: &'a str,
    pub reference_id: &'a str,
    pub kind: ObjectKind,
}

impl Context<'_> {
    fn bytes(&self) -> Vec<u8> {
        let kind = match self.kind {
            ObjectKind::Photo => "photo",
            ObjectKind::Sidecar => "sidecar",
            ObjectKind::Passkey => "passkey",
        };
        // NUL cannot occur in user or reference ids, so the fields cannot run into each other.
        format!("faceauth-template-v1\0{}\0{}\0{kind}", self.user, self.reference_id).into_bytes()
    }
}

/// Whether stored bytes are sealed (a header written here) or plaintext from before encryption.
pub fn is_sealed(blob: &[u8]) -> bool {
    blob.starts_with(MAGIC)
}

/// An unwrapped data key, wiped when the last holder drops it.
type PlainKey = Arc<Zeroizing<[u8; 32]>>;

struct Current {
    key: Arc<DataKey>,
    at: Instant,
    uses: u32,
}

pub struct Sealer {
    keys: Arc<dyn KeyService>,
    /// Zero: every object gets its own data key and every read asks KMS.
    ttl: Duration,
    /// An async lock: concurrent registers wait for one GenerateDataKey instead of each calling it.
    current: tokio::sync::Mutex<Option<Current>>,
    opened: Mutex<LruCache<Vec<u8>, (Instant, PlainKey)>>,
}

impl Sealer {
    pub fn new(keys: Arc<dyn KeyService>, ttl: Duration) -> Self {
        Self {
            keys,
            ttl,
            current: tokio::sync::Mutex::new(None),
            opened: Mutex::new(LruCache::new(NonZeroUsize::new(OPENED_KEYS).expect("non-zero"))),
        }
    }

    pub fn describe(&self) -> String {
        self.keys.describe()
    }

    async fn data_key(&self) -> Result<Arc<DataKey>, StoreError> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_mut()
            && c.at.elapsed() < self.ttl
            && c.uses < MAX_USES_PER_KEY
        {
            c.uses += 1;
            return Ok(c.key.clone());
        }
        let key = Arc::new(self.keys.generate().await?);
        *current = (!self.ttl.is_zero()).then(|| Current { key: key.clone(), at: Instant::now(), uses: 1 });
        Ok(key)
    }

    async fn unwrapped(&self, wrapped: &[u8]) -> Result<PlainKey, StoreError> {
        let cached = {
            let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
            opened.get(wrapped).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, key)| key.clone())
        };
        if let Some(key) = cached {
            return Ok(key);
        }
        let key = Arc::new(self.keys.unwrap(wrapped).await?);
        if !self.ttl.is_zero() {
            self.opened.lock().unwrap_or_else(|p| p.into_inner()).put(wrapped.to_vec(), (Instant::now(), key.clone()));
        }
        Ok(key)
    }

    /// The object as it is stored: header, nonce, ciphertext and tag.
    pub async fn seal(&self, context: Context<'_>, plaintext: &[u8]) -> Result<Bytes, StoreError> {
        let key = self.data_key().await?;
        let wrapped_len = u16::try_from(key.wrapped.len())
            .map_err(|_| StoreError::Corrupt("the wrapped data key is too long".into()))?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
        let mut out = BytesMut::with_capacity(6 + key.wrapped.len() + NONCE_LEN + plaintext.len() + 16);
        out.put_slice(MAGIC);
        out.put_u16(wrapped_len);
        out.put_slice(&key.wrapped);
        let mut aad = out.to_vec();
        aad.extend(context.bytes());
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.plaintext.as_slice()));
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
            .map_err(|_| StoreError::Corrupt("encryption failed".into()))?;
        out.put_slice(&nonce);
        out.put_slice(&sealed);
        Ok(out.freeze())
    }

    /// The plaintext of a sealed object. An object that does not authenticate under `context`
    /// (tampered with, or moved from another user or object) is `Corrupt`; KMS being unreachable
    /// is `Unavailable`.
    pub async fn open(&self, context: Context<'_>, blob: &[u8]) -> Result<Bytes, StoreError> {
        let corrupt = || StoreError::Corrupt("a sealed object is truncated or malformed".into());
        let rest = blob.strip_prefix(MAGIC.as_slice()).ok_or_else(corrupt)?;
        let (len, rest) = rest.split_first_chunk::<2>().ok_or_else(corrupt)?;
        let wrapped_len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < wrapped_len + NONCE_LEN + 16 {
            return Err(corrupt());
        }
        let (wrapped, rest) = rest.split_at(wrapped_len);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let mut aad = blob[..MAGIC.len() + 2 + wrapped_len].to_vec();
        aad.extend(context.bytes());
        let key = self.unwrapped(wrapped).await?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_slice()));
        cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad }).map(Bytes::from).map_err(|_| {
            StoreError::Corrupt(format!(
                "a sealed {:?} of user {} does not authenticate: tampered with, or moved from another user or object",
                context.kind, context.user
            ))
        })
    }

    /// Seals and opens a probe with fresh keys from KMS: proves `kms:GenerateDataKey` and
    /// `kms:Decrypt` on the key before the port is bound.
    pub async fn check(&self) -> Result<(), StoreError> {
        let context = Context { user: ".startup-check", reference_id: "probe", kind: ObjectKind::Sidecar };
        let key = self.keys.generate().await?;
        let unwrapped = self.keys.unwrap(&key.wrapped).await?;
        if unwrapped.as_slice() != key.plaintext.as_slice() {
            return Err(StoreError::Corrupt("KMS returned another data key than it generated".into()));
        }
        let sealed = self.seal(context, b"faceauth template key check").await?;
        match self.open(context, &sealed).await?.as_ref() {
            b"faceauth template key check" => Ok(()),
            _ => Err(StoreError::Corrupt("the key check did not read back as written".into())),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_keys;
#[cfg(test)]
mod tests;
