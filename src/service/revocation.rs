//! Revocation: a delete or a replace writes the user's mark in the bucket, and every session and
//! grant issued before it stops working, on every instance. Read from the bucket on every use,
//! never cached: a revocation holds the moment it is written, whatever the shared state has
//! forgotten.

use super::error::ServiceError;
use super::sessions::survives_revocation;
use crate::domain::UserId;
use crate::store::{Mark, ReferenceStore};

#[derive(Clone)]
pub struct Revocations {
    refs: ReferenceStore,
}

impl Revocations {
    pub fn new(refs: ReferenceStore) -> Self {
        Self { refs }
    }

    /// The user's current mark: absent until the user is first deleted or replaced.
    pub async fn mark(&self, user: &UserId) -> Result<Option<String>, ServiceError> {
        Ok(self.refs.mark(Mark::Revoked, user).await?)
    }

    /// Every session and grant issued for the user until now stops working. Written before
    /// anything is deleted, so a token checked after the delete began is refused.
    pub async fn revoke(&self, user: &UserId) -> Result<(), ServiceError> {
        let mark = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.refs.set_mark(Mark::Revoked, user, &mark.to_string()).await?;
        Ok(())
    }

    /// Whether a token carrying `mark` is still good for the user.
    pub async fn survives(&self, user: &UserId, mark: Option<&str>) -> Result<bool, ServiceError> {
        let current = self.mark(user).await?;
        Ok(survives_revocation(mark, current.as_deref()))
    }
}
