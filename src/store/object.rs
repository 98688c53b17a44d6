//! What a bucket must do (`ObjectStore`: S3, or a folder for development), and how storage fails.

use async_trait::async_trait;
use bytes::Bytes;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Network failure, timeout, throttling or a 5xx: worth retrying later.
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    /// Credentials or permissions are wrong: retrying will not help.
    #[error("storage access was denied: {0}")]
    Denied(String),
    #[error("the bucket or folder does not exist: {0}")]
    Missing(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// The few object operations references need; both implementations are real stores.
#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), StoreError>;
    /// `None` when there is no such object.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError>;
    /// Keys under `prefix`, in no particular order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// The names of the folders directly under `prefix` (which ends in '/'), in no particular order.
    async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Reachability and permissions, beyond a write/read/delete round trip (S3: credentials, bucket).
    async fn check(&self) -> Result<Vec<String>, StoreError>;
    fn describe(&self) -> String;

    /// Writes, reads back and deletes a probe object under `prefix`: proves the service can do all
    /// it needs before it accepts traffic.
    async fn probe(&self, prefix: &str) -> Result<(), StoreError> {
        let key = format!("{prefix}.faceauth-probe/{}", uuid::Uuid::new_v4().simple());
        let body = Bytes::from_static(b"faceauth storage probe");
        self.put(&key, body.clone(), "text/plain").await?;
        let read = self.get(&key).await;
        self.delete(&key).await?;
        match read? {
            Some(got) if got == body => Ok(()),
            _ => Err(StoreError::Corrupt("the probe object did not read back as written".into())),
        }
    }
}
