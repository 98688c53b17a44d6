//! The user's last use (`{prefix}activity/{user}.json`), for the retention schedule: one small
//! object per user, written at most as often as callers allow.

use bytes::Bytes;

use super::{ReferenceStore, StoreError};
use crate::domain::UserId;

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

    /// Records a use (Unix seconds); callers bound how often.
    pub async fn record_use(&self, user: &UserId, at: u64) -> Result<(), StoreError> {
        let body = serde_json::json!({ "user_id": user.as_str(), "last_used": at }).to_string();
        self.objects.put(&self.activity_key(user), Bytes::from(body), "application/json").await
    }
}
