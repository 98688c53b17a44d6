//! Where references live (S3 or a local folder) and how long their embeddings stay cached.

use std::path::PathBuf;
use std::time::Duration;

use super::env::{Parser, Var};

#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    /// DATA_DIR, when S3_BUCKET is unset (development only).
    Local {
        data_dir: PathBuf,
    },
    S3(S3Config),
}

#[derive(Debug, Clone, PartialEq)]
pub struct S3Config {
    /// S3_BUCKET.
    pub bucket: String,
    /// AWS_REGION.
    pub region: Option<String>,
    /// AWS_ENDPOINT_URL: only for S3-compatible servers (moto, MinIO).
    pub endpoint_url: Option<String>,
    /// S3_FORCE_PATH_STYLE.
    pub force_path_style: bool,
    /// KMS_KEY_ID: SSE-KMS key; none means SSE-S3.
    pub kms_key_id: Option<String>,
}

/// Application-layer encryption of photos and sidecars (`store::sealed`).
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateKey {
    /// TEMPLATE_KMS_KEY_ID: key id, ARN or alias of a symmetric KMS key.
    pub key_id: String,
    /// TEMPLATE_KEY_CACHE_SECS: how long a data key is reused and an unwrapped one remembered.
    pub cache_ttl: Duration,
    /// AWS_ENDPOINT_URL_KMS: a KMS endpoint of its own (a VPC endpoint; tests); else the SDK's.
    pub endpoint_url: Option<String>,
    /// TEMPLATE_PLAINTEXT=refuse: objects without a seal are not read.
    pub refuse_plaintext: bool,
}

/// The durable audit trail (`audit`): JSON-lines objects, one per instance per interval.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditConfig {
    /// AUDIT_S3_PREFIX: where the objects go, in the bucket (or the data folder); "" or ending in "/".
    pub prefix: String,
    /// AUDIT_FLUSH_SECS.
    pub flush_interval: Duration,
    /// AUDIT_BUFFER_RECORDS: records held while the store cannot take them; beyond, biometric
    /// operations are refused.
    pub buffer_records: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    pub backend: Backend,
    /// S3_PREFIX: key prefix for every object, "" or ending in "/".
    pub prefix: String,
    /// EMBEDDING_CACHE_USERS: users whose reference embeddings are cached; 0 disables the cache.
    pub cache_users: usize,
    /// EMBEDDING_CACHE_TTL_SECS.
    pub cache_ttl: Duration,
    pub template_key: Option<TemplateKey>,
    pub audit: Option<AuditConfig>,
}

impl StorageConfig {
    pub(super) fn parse(p: &mut Parser, production: bool) -> Self {
        let backend = match p.get(Var::S3Bucket) {
            Some(bucket) => {
                if !valid_bucket_name(bucket) {
                    p.problem(format!(
                        "S3_BUCKET={bucket} is not a valid bucket name: 3-63 lowercase letters, digits, '.' and '-'"
                    ));
                }
                Backend::S3(S3Config {
                    bucket: bucket.to_string(),
                    region: p.get(Var::AwsRegion).map(str::to_string),
                    endpoint_url: p.get(Var::AwsEndpointUrl).map(str::to_string),
                    force_path_style: p.parse(Var::S3ForcePathStyle, false, "true or false"),
                    kms_key_id: p.get(Var::KmsKeyId).map(str::to_string),
                })
            }
            None if production => {
                p.problem(
                    "S3_BUCKET is not set: production stores references in S3; set S3_BUCKET (and AWS_REGION) in the \
                     environment file",
                );
                Backend::Local { data_dir: PathBuf::from("data") }
            }
            None => Backend::Local { data_dir: PathBuf::from(p.string(Var::DataDir, "data")) },
        };
        let prefix = normalise_prefix(p.get(Var::S3Prefix).unwrap_or(""));
        if prefix.contains("..") || prefix.starts_with('/') {
            p.problem(format!("S3_PREFIX={prefix} is not valid: use a relative prefix such as faceauth/"));
        }
        // Zero: a data key per object and a KMS call per read (the outage tests use it).
        let key_cache = Duration::from_secs(p.ranged(Var::TemplateKeyCacheSecs, 300u64, 0, 3_600));
        let endpoint_url = p.get(Var::AwsEndpointUrlKms).map(str::to_string);
        let refuse_plaintext = match p.get(Var::TemplatePlaintext).unwrap_or("accept") {
            "accept" => false,
            "refuse" => true,
            other => {
                p.problem(format!("TEMPLATE_PLAINTEXT={other} is not valid: accept or refuse"));
                false
            }
        };
        if refuse_plaintext && p.get(Var::TemplateKmsKeyId).is_none() {
            p.problem("TEMPLATE_PLAINTEXT=refuse needs TEMPLATE_KMS_KEY_ID: without a key every object is plaintext");
        }
        let template_key = p.get(Var::TemplateKmsKeyId).map(|key_id| TemplateKey {
            key_id: key_id.to_string(),
            cache_ttl: key_cache,
            endpoint_url,
            refuse_plaintext,
        });
        let flush_interval = p.secs(Var::AuditFlushSecs, 60, 3_600);
        let buffer_records = p.ranged(Var::AuditBufferRecords, 100_000usize, 10, 10_000_000);
        let audit = p.get(Var::AuditS3Prefix).map(|audit| AuditConfig {
            prefix: normalise_prefix(audit),
            flush_interval,
            buffer_records,
        });
        if let Some(a) = &audit
            && (a.prefix.is_empty() || a.prefix.contains("..") || a.prefix.starts_with(&format!("{prefix}users/")))
        {
            p.problem(format!(
                "AUDIT_S3_PREFIX={} is not valid: use a prefix of its own such as audit/ (not under the references)",
                a.prefix
            ));
        }
        Self {
            backend,
            prefix,
            cache_users: p.ranged(Var::EmbeddingCacheUsers, 10_000usize, 0, 10_000_000),
            cache_ttl: p.secs(Var::EmbeddingCacheTtlSecs, 300, 86_400),
            template_key,
            audit,
        }
    }
}

fn normalise_prefix(prefix: &str) -> String {
    let p = prefix.trim().trim_start_matches('/');
    if p.is_empty() || p.ends_with('/') { p.to_string() } else { format!("{p}/") }
}

fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_normalised() {
        assert_eq!(normalise_prefix("/faceauth"), "faceauth/");
        assert_eq!(normalise_prefix(""), "");
    }

    #[test]
    fn bucket_names_are_checked() {
        assert!(valid_bucket_name("my-faces.prod"));
        assert!(!valid_bucket_name("My_Bucket"));
        assert!(!valid_bucket_name("ab"));
    }
}
