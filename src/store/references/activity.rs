//! The user's last use (`{prefix}activity/{user}.json`), for the retention schedule: one small
//! object per user, written at most as often as callers allow.

use bytes::Bytes;

use super::handle::ReferenceStore;
use crate::domain::UserId;
use crate::store::object::StoreError;

impl ReferenceStore {
    pub(super) fn activity_key(&self, user: &UserId) -> String {
        format!("{}activity/{user}.json", self.prefix)
    }

    /// When the user last verified or enrolled successfully (Unix seconds), as last recorded.
    pub async fn last_used(&self, user: &UserId) -> Result<Option<u64>, StoreError> {
        let Some(blob) = self.objects.get(&self.activity_key(user)).await? else { return Ok(None) };
        let value: serde_json::Value = serde_json::from_slice(&blob).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(value["last_used"].as_u64())
    }

    /// Records a use (Unix seconds); callers bound how often. A use recorded while the user was
    /// being deleted is taken back: the delete removes the record last, and a record written after
    /// that finds no reference left and removes itself (nothing of a deleted user comes back).
    pub async fn record_use(&self, user: &UserId, at: u64) -> Result<(), StoreError> {
        let body = serde_json::json!({ "user_id": user.as_str(), "last_used": at }).to_string();
        let key = self.activity_key(user);
        self.objects.put(&key, Bytes::from(body), "application/json").await?;
        if self.objects.list(&self.user_prefix(user)).await?.is_empty() {
            self.objects.delete(&key).await?;
        }
        Ok(())
    }
}
