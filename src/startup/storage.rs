//! Storage, proven before binding: the object store (credentials, bucket, a write/read/delete
//! probe), the template key (a GenerateDataKey/Decrypt round trip) and the audit trail (its first
//! record written).

use std::sync::Arc;

use aws_types::SdkConfig;

use super::error::StartupError;
use crate::audit::AuditTrail;
use crate::config::{Backend, Config};
use crate::store::kms::KmsKeys;
use crate::store::local::LocalStore;
use crate::store::s3::S3Store;
use crate::store::sealed::Sealer;
use crate::store::{ObjectStore, Plaintext, ReferenceStore, StoreError};

/// The reference store (sealed when a template key is set) and the audit trail, both proven.
pub(super) async fn open_store(
    config: &Config,
    mut sdk: Option<SdkConfig>,
) -> Result<(ReferenceStore, AuditTrail), StartupError> {
    let store: Arc<dyn ObjectStore> = match &config.storage.backend {
        Backend::Local { data_dir } => Arc::new(LocalStore::new(data_dir)),
        Backend::S3(s3) => {
            let conf = match sdk.take() {
                Some(conf) => conf,
                None => crate::aws::sdk_config(s3.region.as_deref(), s3.endpoint_url.as_deref()).await,
            };
            let store = S3Store::new(&conf, s3);
            sdk = Some(conf);
            Arc::new(store)
        }
    };
    let describe = store.describe();
    let fail = |error: StoreError| {
        let fix = match error {
            StoreError::Unavailable(_) => "check network access to S3, AWS_REGION and AWS_ENDPOINT_URL (if set)",
            StoreError::Denied(_) => {
                "check the credentials and that the role has the permissions in deploy/iam-policy.json"
            }
            StoreError::Missing(_) => "create the bucket (see deploy/README.md) or correct S3_BUCKET and AWS_REGION",
            StoreError::Corrupt(_) => "check that nothing else rewrites objects under S3_PREFIX",
        };
        StartupError::Storage { store: describe.clone(), error, fix }
    };
    let report = store.check().await.map_err(fail)?;
    let mut refs = ReferenceStore::new(store.clone(), config.storage.prefix.clone());
    refs.probe().await.map_err(fail)?;
    for line in &report {
        tracing::info!("storage: {line}");
    }
    tracing::info!("storage: write/read/delete probe under '{}' passed", config.storage.prefix);
    match &config.storage.template_key {
        Some(key) => {
            // With a local folder, KMS alone is AWS: the SDK's own environment says where and who.
            let sdk = match sdk {
                Some(conf) => conf,
                None => crate::aws::sdk_config(None, None).await,
            };
            let sealer =
                Sealer::new(Arc::new(KmsKeys::new(&sdk, &key.key_id, key.endpoint_url.as_deref())), key.cache_ttl);
            sealer.check().await.map_err(|error| StartupError::TemplateKey {
                key: sealer.describe(),
                error,
                fix: "check that the key exists, is enabled and symmetric, and that the role may use it \
                      (kms:GenerateDataKey and kms:Decrypt, deploy/iam-policy.json); AWS_ENDPOINT_URL_KMS if a VPC \
                      endpoint is used",
            })?;
            tracing::info!(
                "templates: photos and sidecars sealed (AES-256-GCM) under {}; GenerateDataKey/Decrypt round trip \
                 passed",
                sealer.describe()
            );
            let plaintext = if key.refuse_plaintext { Plaintext::Refuse } else { Plaintext::Accept };
            refs = refs.with_sealer(Arc::new(sealer), plaintext);
        }
        None if config.is_production() => tracing::warn!(
            "templates: photos and embeddings are stored without application-layer encryption (only the \
             bucket's); set TEMPLATE_KMS_KEY_ID so that bucket readers see neither"
        ),
        None => {}
    }
    let audit = match &config.storage.audit {
        Some(audit) => {
            let trail = AuditTrail::durable(store, &audit.prefix, audit.buffer_records);
            // Audit objects are only ever added: the check is the instance's first record.
            trail.start().await.map_err(|error| StartupError::Storage {
                store: format!("{describe}/{}", audit.prefix),
                error,
                fix: "the role needs s3:PutObject under AUDIT_S3_PREFIX (deploy/iam-policy.json)",
            })?;
            tracing::info!(prefix = %audit.prefix, instance = trail.instance(), every_secs = audit.flush_interval.as_secs(), "audit trail: records written to the store");
            trail
        }
        None => AuditTrail::log_only(),
    };
    Ok((refs, audit))
}
