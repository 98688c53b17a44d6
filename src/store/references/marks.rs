//! Durable marks about a user, in the bucket beside the references and outside the user's folder,
//! so that a delete leaves them: decisions that losing the shared state must not undo.
//!
//! - `{prefix}marks/revoked/{hash}`: when the user was last deleted or replaced (Unix ms); every
//!   session and grant issued before it is refused.
//! - `{prefix}marks/disabled/{hash}`: the failure ladder's top was reached (the count); verification
//!   stays off until a backend unlocks the user or replaces the references.
//!
//! `{hash}` is the SHA-256 of the user id, so a listing of the bucket after a delete does not name
//! the people who were deleted (a guessed id can still be checked: the mark is pseudonymous, not
//! anonymous). A mark is a few bytes of text, never sealed: it holds no biometric data.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::handle::ReferenceStore;
use crate::domain::UserId;
use crate::store::object::StoreError;

/// Which mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Revoked,
    Disabled,
}

impl Mark {
    fn folder(self) -> &'static str {
        match self {
            Mark::Revoked => "revoked",
            Mark::Disabled => "disabled",
        }
    }
}

impl ReferenceStore {
    fn mark_key(&self, mark: Mark, user: &UserId) -> String {
        let hash = hex::encode(Sha256::digest(user.as_str().as_bytes()));
        format!("{}marks/{}/{hash}", self.prefix, mark.folder())
    }

    /// The mark's value, `None` when it is not set.
    pub async fn mark(&self, mark: Mark, user: &UserId) -> Result<Option<String>, StoreError> {
        let Some(body) = self.objects.get(&self.mark_key(mark, user)).await? else { return Ok(None) };
        String::from_utf8(body.to_vec()).map(Some).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    pub async fn set_mark(&self, mark: Mark, user: &UserId, value: &str) -> Result<(), StoreError> {
        self.objects.put(&self.mark_key(mark, user), Bytes::from(value.to_string()), "text/plain").await
    }

    pub async fn clear_mark(&self, mark: Mark, user: &UserId) -> Result<(), StoreError> {
        self.objects.delete(&self.mark_key(mark, user)).await
    }
}
