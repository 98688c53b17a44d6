//! References in Amazon S3 (or any S3-compatible server), with server-side encryption.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_types::SdkConfig;
use bytes::Bytes;

use super::object::{ObjectStore, StoreError};
use crate::config::S3Config;

pub struct S3Store {
    client: Client,
    sdk: SdkConfig,
    bucket: String,
    kms_key_id: Option<String>,
}

impl S3Store {
    pub fn new(sdk: &SdkConfig, config: &S3Config) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(sdk).force_path_style(config.force_path_style).build();
        Self {
            client: Client::from_conf(s3),
            sdk: sdk.clone(),
            bucket: config.bucket.clone(),
            kms_key_id: config.kms_key_id.clone(),
        }
    }
}

/// Sorts SDK failures into what the caller can do about them.
fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    bucket: &str,
) -> StoreError {
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().unwrap_or("").to_string();
    let text = DisplayErrorContext(&err).to_string();
    if code == "NoSuchBucket" || (status == Some(404) && code != "NoSuchKey") {
        StoreError::Missing(format!("bucket {bucket} does not exist or is not visible to these credentials"))
    } else if matches!(status, Some(401 | 403))
        || matches!(code.as_str(), "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken")
    {
        StoreError::Denied(format!("{code}: check the credentials and the IAM policy (deploy/iam-policy.json)"))
    } else {
        StoreError::Unavailable(text)
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), StoreError> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        req = match &self.kms_key_id {
            Some(kms) => req.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(kms),
            None => req.server_side_encryption(ServerSideEncryption::Aes256),
        };
        req.send().await.map_err(|e| classify(e, &self.bucket))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let data = out.body.collect().await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
                Ok(Some(data.into_bytes()))
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(err) => Err(classify(err, &self.bucket)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, &self.bucket))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        Ok(keys)
    }

    async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).delimiter("/").into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, &self.bucket))?;
            names.extend(page.common_prefixes().iter().filter_map(|p| {
                p.prefix().and_then(|p| p.strip_prefix(prefix)).map(|p| p.trim_end_matches('/').to_string())
            }));
        }
        Ok(names)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify(e, &self.bucket))?;
        Ok(())
    }

    async fn check(&self) -> Result<Vec<String>, StoreError> {
        let source = crate::aws::credential_source(&self.sdk).await.map_err(StoreError::Denied)?;
        self.client.head_bucket().bucket(&self.bucket).send().await.map_err(|e| classify(e, &self.bucket))?;
        let region = self.sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "unset".into());
        let encryption = match &self.kms_key_id {
            Some(kms) => format!("SSE-KMS with {kms}"),
            None => "SSE-S3 (AES256)".into(),
        };
        Ok(vec![
            format!("AWS credentials: {source}"),
            format!("bucket s3://{} reachable (region {region})", self.bucket),
            format!("objects encrypted with {encryption}"),
        ])
    }

    fn describe(&self) -> String {
        format!("s3://{}", self.bucket)
    }
}
