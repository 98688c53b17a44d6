//! Data keys from AWS KMS for template encryption (`store::sealed`): `GenerateDataKey` to seal,
//! `Decrypt` to open, on the operator's key only, with a fixed encryption context that CloudTrail
//! records and a key policy can require (`kms:EncryptionContext:purpose`).

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use aws_types::SdkConfig;
use zeroize::Zeroizing;

use super::object::StoreError;
use super::sealed::{DataKey, KeyService};

const CONTEXT_KEY: &str = "purpose";
const CONTEXT_VALUE: &str = "faceauth-template";

pub struct KmsKeys {
    client: Client,
    key_id: String,
}

impl KmsKeys {
    /// `endpoint_url` overrides the SDK configuration's endpoint for KMS alone.
    pub fn new(sdk: &SdkConfig, key_id: &str, endpoint_url: Option<&str>) -> Self {
        let mut config = aws_sdk_kms::config::Builder::from(sdk);
        if let Some(url) = endpoint_url {
            config = config.endpoint_url(url);
        }
        Self { client: Client::from_conf(config.build()), key_id: key_id.to_string() }
    }
}

/// Sorts KMS failures: what may pass (network, throttling, KMS's own trouble) from what will not
/// without the operator (permissions, a disabled or deleted key) and from data that is wrong.
fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    err: SdkError<E, aws_sdk_kms::config::http::HttpResponse>,
    key_id: &str,
) -> StoreError {
    let code = err.code().unwrap_or("").to_string();
    match code.as_str() {
        "AccessDeniedException" | "UnrecognizedClientException" | "InvalidSignatureException" | "ExpiredToken" => {
            StoreError::Denied(format!(
                "{code} on KMS key {key_id}: the role needs kms:GenerateDataKey and kms:Decrypt on it \
                 (deploy/iam-policy.json)"
            ))
        }
        "DisabledException" | "NotFoundException" | "KMSInvalidStateException" | "IncorrectKeyException" => {
            StoreError::Denied(format!("{code}: KMS key {key_id} is disabled, deleted or not the one that sealed"))
        }
        "InvalidCiphertextException" => StoreError::Corrupt(format!("{code}: a wrapped data key is not valid")),
        _ => StoreError::Unavailable(format!("KMS: {}", DisplayErrorContext(&err))),
    }
}

/// A data key as KMS returned it, checked to be 256 bits.
fn aes_key(plaintext: Option<&Blob>) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let bytes = plaintext.map(|b| b.as_ref()).unwrap_or_default();
    let key: [u8; 32] =
        bytes.try_into().map_err(|_| StoreError::Corrupt("KMS returned a data key that is not 256 bits".into()))?;
    Ok(Zeroizing::new(key))
}

#[async_trait]
impl KeyService for KmsKeys {
    async fn generate(&self) -> Result<DataKey, StoreError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, CONTEXT_VALUE)
            .send()
            .await
            .map_err(|e| classify(e, &self.key_id))?;
        let wrapped = out.ciphertext_blob().map(|b| b.as_ref().to_vec()).unwrap_or_default();
        Ok(DataKey { plaintext: aes_key(out.plaintext())?, wrapped })
    }

    async fn unwrap(&self, wrapped: &[u8]) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        // Naming the key makes KMS refuse a blob wrapped under any other key.
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .encryption_context(CONTEXT_KEY, CONTEXT_VALUE)
            .send()
            .await
            .map_err(|e| classify(e, &self.key_id))?;
        aes_key(out.plaintext())
    }

    fn describe(&self) -> String {
        format!("KMS key {}", self.key_id)
    }
}
