//! Typed configuration, read once from the environment (and `.env`), validated before anything starts.
//!
//! Every variable is documented in `.env.example`. Problems are collected and reported together, each
//! naming the variable and how to fix it, so a misconfigured deploy fails once with the whole list.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::auth::ApiKeys;
use crate::face::detect::DetectorSettings;
use crate::face::policy::FacePolicy;

/// Variables the service reads. A Secrets Manager secret may override any of them.
pub const VARIABLES: &[&str] = &[
    "APP_ENV",
    "HOST",
    "PORT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "DATA_DIR",
    "S3_BUCKET",
    "S3_PREFIX",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "S3_FORCE_PATH_STYLE",
    "KMS_KEY_ID",
    "SECRETS_MANAGER_SECRET_NAME",
    "SECRET_KEY",
    "API_KEYS",
    "MODEL_DIR",
    "DETECTOR_MODEL",
    "RECOGNIZER_MODEL",
    "RECOGNIZER_PROFILE",
    "ORT_DYLIB_PATH",
    "MATCH_THRESHOLD",
    "DETECTOR_INPUT_SIZE",
    "DETECTION_THRESHOLD",
    "NMS_THRESHOLD",
    "MIN_EYE_DISTANCE_PX",
    "ENROLL_FACE_MARGIN",
    "VERIFY_FACE_MARGIN",
    "MAX_UPLOAD_SIZE",
    "MAX_IMAGE_PIXELS",
    "INFERENCE_WORKERS",
    "INFERENCE_THREADS",
    "INFERENCE_QUEUE",
    "TOKEN_TTL_SECS",
    "REQUEST_TIMEOUT_SECS",
    "SHUTDOWN_TIMEOUT_SECS",
    "EMBEDDING_CACHE_USERS",
    "EMBEDDING_CACHE_TTL_SECS",
    "CORS_ORIGINS",
    "MAX_REFERENCES_PER_USER",
    "RATE_LIMIT_PER_IP",
    "RATE_LIMIT_PER_KEY",
    "TRUSTED_PROXIES",
    "LOCKOUT_MAX_FAILURES",
    "LOCKOUT_WINDOW_SECS",
    "METRICS_TOKEN",
];

/// Placeholder values that must never sign tokens in production.
const DEFAULT_SECRET_KEYS: &[&str] = &["change-me", "changeme", "secret", "dev-secret-key-change-me-please-000"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StorageConfig {
    Local { data_dir: PathBuf },
    S3(S3Config),
}

#[derive(Debug, Clone, PartialEq)]
pub struct S3Config {
    pub bucket: String,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub force_path_style: bool,
    pub kms_key_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub dir: PathBuf,
    pub detector: PathBuf,
    pub recognizer: PathBuf,
    pub profile: Option<String>,
    pub ort_dylib: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub app_env: AppEnv,
    pub host: IpAddr,
    pub port: u16,
    pub log_level: String,
    pub log_format: LogFormat,
    pub storage: StorageConfig,
    /// Key prefix for every object, "" or ending in "/".
    pub prefix: String,
    pub secret_name: Option<String>,
    pub secret_key: SecretString,
    /// True when no SECRET_KEY was given and a random one was made (development only).
    pub secret_key_generated: bool,
    pub api_keys: ApiKeys,
    pub models: ModelConfig,
    pub match_threshold: Option<f32>,
    pub detector: DetectorSettings,
    pub policy: FacePolicy,
    pub max_upload_bytes: usize,
    pub max_image_pixels: u64,
    pub inference_workers: usize,
    pub inference_threads: usize,
    pub inference_queue: usize,
    pub token_ttl: Duration,
    pub request_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub cache_users: usize,
    pub cache_ttl: Duration,
    pub cors_origins: Vec<String>,
    pub max_references_per_user: usize,
    /// Requests per minute per client IP and per API key; 0 disables.
    pub rate_limit_per_ip: u32,
    pub rate_limit_per_key: u32,
    /// Proxies whose X-Forwarded-For is believed (the local nginx).
    pub trusted_proxies: Vec<IpAddr>,
    pub lockout_max_failures: usize,
    pub lockout_window: Duration,
    pub metrics_token: Option<SecretString>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

/// The raw variables, before parsing: the process environment, then a secret's keys laid over it.
#[derive(Debug, Clone, Default)]
pub struct RawEnv(HashMap<String, String>);

impl RawEnv {
    pub fn from_process() -> Self {
        Self(VARIABLES.iter().filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v))).collect())
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        // A variable read here but missing from VARIABLES would never be loaded from the environment.
        debug_assert!(VARIABLES.contains(&key), "{key} is not listed in config::VARIABLES");
        self.0.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    pub fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }

    /// JSON by default in production. Read before the rest, so that configuration errors are logged
    /// in the format the operator asked for.
    pub fn log_format(&self) -> Result<LogFormat, String> {
        let production = self.app_env() == Ok(AppEnv::Production);
        match self.get("LOG_FORMAT").map(str::to_ascii_lowercase).as_deref() {
            None if production => Ok(LogFormat::Json),
            None | Some("text") | Some("pretty") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(format!("LOG_FORMAT={other} is not valid: use text or json")),
        }
    }

    pub fn app_env(&self) -> Result<AppEnv, String> {
        match self.get("APP_ENV").map(str::to_ascii_lowercase).as_deref() {
            None | Some("development") | Some("dev") | Some("local") => Ok(AppEnv::Development),
            Some("production") | Some("prod") => Ok(AppEnv::Production),
            Some(other) => Err(format!("APP_ENV={other} is not valid: use development or production")),
        }
    }
}

/// Collects parse problems instead of stopping at the first.
struct Parser<'a> {
    raw: &'a RawEnv,
    problems: Vec<String>,
}

impl Parser<'_> {
    fn parse<T: std::str::FromStr>(&mut self, key: &str, default: T, what: &str) -> T {
        match self.raw.get(key) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                self.problems.push(format!("{key}={v} is not valid: expected {what}"));
                default
            }),
        }
    }

    fn ranged<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
        &mut self,
        key: &str,
        default: T,
        lo: T,
        hi: T,
    ) -> T {
        let v = self.parse(key, default, &format!("a number from {lo} to {hi}"));
        if v < lo || v > hi {
            self.problems.push(format!("{key}={v} is out of range: expected a number from {lo} to {hi}"));
            return default;
        }
        v
    }

    fn string(&self, key: &str, default: &str) -> String {
        self.raw.get(key).unwrap_or(default).to_string()
    }
}

/// `16777216`, `16MiB`, `16M`, `512KiB`, `512K`.
pub fn parse_size(value: &str) -> Option<usize> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: usize = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

impl Config {
    pub fn from_raw(raw: &RawEnv) -> Result<Self, ConfigError> {
        let mut p = Parser { raw, problems: Vec::new() };
        let app_env = raw.app_env().unwrap_or_else(|e| {
            p.problems.push(e);
            AppEnv::Development
        });
        let production = app_env == AppEnv::Production;
        let host = p.parse("HOST", IpAddr::from([127, 0, 0, 1]), "an IP address such as 127.0.0.1 or 0.0.0.0");
        let port = p.parse("PORT", 5000u16, "a port number (0 picks a free port)");
        let log_format = raw.log_format().unwrap_or_else(|e| {
            p.problems.push(e);
            LogFormat::Text
        });

        let storage = match raw.get("S3_BUCKET") {
            Some(bucket) => {
                if !valid_bucket_name(bucket) {
                    p.problems.push(format!(
                        "S3_BUCKET={bucket} is not a valid bucket name: 3-63 lowercase letters, digits, '.' and '-'"
                    ));
                }
                StorageConfig::S3(S3Config {
                    bucket: bucket.to_string(),
                    region: raw.get("AWS_REGION").map(str::to_string),
                    endpoint_url: raw.get("AWS_ENDPOINT_URL").map(str::to_string),
                    force_path_style: p.parse("S3_FORCE_PATH_STYLE", false, "true or false"),
                    kms_key_id: raw.get("KMS_KEY_ID").map(str::to_string),
                })
            }
            None if production => {
                p.problems.push(
                    "S3_BUCKET is not set: production stores references in S3; set S3_BUCKET (and AWS_REGION) in the \
                     environment file"
                        .into(),
                );
                StorageConfig::Local { data_dir: PathBuf::from("data") }
            }
            None => StorageConfig::Local { data_dir: PathBuf::from(p.string("DATA_DIR", "data")) },
        };
        let prefix = normalise_prefix(raw.get("S3_PREFIX").unwrap_or(""));
        if prefix.contains("..") || prefix.starts_with('/') {
            p.problems.push(format!("S3_PREFIX={prefix} is not valid: use a relative prefix such as faceauth/"));
        }

        let (secret_key, secret_key_generated) = match raw.get("SECRET_KEY") {
            Some(key) => {
                if production && (key.len() < 32 || DEFAULT_SECRET_KEYS.contains(&key)) {
                    p.problems.push(
                        "SECRET_KEY is a placeholder or shorter than 32 bytes: generate one with `openssl rand -hex 32` \
                         and put it in the environment file or the Secrets Manager secret"
                            .into(),
                    );
                }
                (SecretString::from(key.to_string()), false)
            }
            None if production => {
                p.problems.push(
                    "SECRET_KEY is not set: production signs verification tokens with it; generate one with `openssl \
                     rand -hex 32`"
                        .into(),
                );
                (SecretString::from(String::new()), false)
            }
            None => (SecretString::from(hex::encode(uuid::Uuid::new_v4().as_bytes().repeat(2))), true),
        };
        let api_keys = match ApiKeys::parse(raw.get("API_KEYS").unwrap_or("")) {
            Ok(keys) => keys,
            Err(e) => {
                p.problems.push(format!("API_KEYS is not valid: {e}"));
                ApiKeys::default()
            }
        };
        if production && api_keys.is_empty() {
            p.problems.push(
                "API_KEYS is not set: production refuses to serve without authentication; set API_KEYS (comma-separated, \
                 plain or sha256:<hex>) in the environment file or the Secrets Manager secret"
                    .into(),
            );
        }

        let model_dir = PathBuf::from(p.string("MODEL_DIR", "models"));
        let in_dir = |name: String| {
            let path = PathBuf::from(&name);
            if path.components().count() > 1 || path.is_absolute() { path } else { model_dir.join(path) }
        };
        let models = ModelConfig {
            detector: in_dir(p.string("DETECTOR_MODEL", "det_10g.onnx")),
            recognizer: in_dir(p.string("RECOGNIZER_MODEL", "w600k_r50.onnx")),
            profile: raw.get("RECOGNIZER_PROFILE").map(str::to_string),
            ort_dylib: PathBuf::from(p.string("ORT_DYLIB_PATH", ".ort/libonnxruntime.so.1.31.1")),
            dir: model_dir.clone(),
        };
        let match_threshold = raw.get("MATCH_THRESHOLD").map(|_| p.ranged("MATCH_THRESHOLD", 0.5f32, -1.0, 1.0));
        let input_size = p.ranged("DETECTOR_INPUT_SIZE", 640u32, 128, 1280);
        if !input_size.is_multiple_of(32) {
            p.problems.push(format!("DETECTOR_INPUT_SIZE={input_size} is not a multiple of 32"));
        }
        let detector = DetectorSettings {
            input_size,
            score_threshold: p.ranged("DETECTION_THRESHOLD", 0.5f32, 0.05, 0.99),
            nms_threshold: p.ranged("NMS_THRESHOLD", 0.4f32, 0.05, 0.95),
        };
        let policy = FacePolicy {
            min_eye_distance: p.ranged("MIN_EYE_DISTANCE_PX", 20.0f32, 0.0, 1000.0),
            enroll_margin: p.ranged("ENROLL_FACE_MARGIN", 0.15f32, 0.0, 10.0),
            verify_margin: p.ranged("VERIFY_FACE_MARGIN", 0.05f32, 0.0, 10.0),
        };
        let max_upload_bytes = match raw.get("MAX_UPLOAD_SIZE") {
            None => 16 << 20,
            Some(v) => match parse_size(v) {
                Some(n) if n >= 1024 => n,
                _ => {
                    p.problems.push(format!("MAX_UPLOAD_SIZE={v} is not valid: use bytes or a size such as 16MiB"));
                    16 << 20
                }
            },
        };
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let inference_threads = p.ranged("INFERENCE_THREADS", 1usize, 1, 256);
        let inference_workers = p.ranged("INFERENCE_WORKERS", (cores / inference_threads).max(1), 1, 256);
        let secs =
            |p: &mut Parser, key: &str, default: u64, hi: u64| Duration::from_secs(p.ranged(key, default, 1, hi));

        let mut config = Config {
            app_env,
            host,
            port,
            log_level: p.string("LOG_LEVEL", "info"),
            log_format,
            storage,
            prefix,
            secret_name: raw.get("SECRETS_MANAGER_SECRET_NAME").map(str::to_string),
            secret_key,
            secret_key_generated,
            api_keys,
            models,
            match_threshold,
            detector,
            policy,
            max_upload_bytes,
            max_image_pixels: p.ranged("MAX_IMAGE_PIXELS", 40_000_000u64, 1, 1_000_000_000),
            inference_workers,
            inference_threads,
            inference_queue: p.ranged("INFERENCE_QUEUE", 16usize, 1, 100_000),
            token_ttl: secs(&mut p, "TOKEN_TTL_SECS", 120, 86_400),
            request_timeout: secs(&mut p, "REQUEST_TIMEOUT_SECS", 30, 3600),
            shutdown_timeout: secs(&mut p, "SHUTDOWN_TIMEOUT_SECS", 25, 3600),
            cache_users: p.ranged("EMBEDDING_CACHE_USERS", 10_000usize, 0, 10_000_000),
            cache_ttl: secs(&mut p, "EMBEDDING_CACHE_TTL_SECS", 300, 86_400),
            cors_origins: raw
                .get("CORS_ORIGINS")
                .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
            max_references_per_user: p.ranged("MAX_REFERENCES_PER_USER", 20usize, 1, 1000),
            rate_limit_per_ip: p.ranged("RATE_LIMIT_PER_IP", 300u32, 0, 1_000_000),
            rate_limit_per_key: p.ranged("RATE_LIMIT_PER_KEY", 3000u32, 0, 1_000_000),
            trusted_proxies: Vec::new(),
            lockout_max_failures: p.ranged("LOCKOUT_MAX_FAILURES", 5usize, 0, 1000),
            lockout_window: secs(&mut p, "LOCKOUT_WINDOW_SECS", 300, 86_400),
            metrics_token: raw.get("METRICS_TOKEN").map(|t| SecretString::from(t.to_string())),
        };
        for item in raw.get("TRUSTED_PROXIES").unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.parse() {
                Ok(ip) => config.trusted_proxies.push(ip),
                Err(_) => {
                    p.problems.push(format!("TRUSTED_PROXIES entry {item} is not an IP address (e.g. 127.0.0.1)"))
                }
            }
        }
        if p.problems.is_empty() { Ok(config) } else { Err(ConfigError(p.problems)) }
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    pub fn secret_key_bytes(&self) -> &[u8] {
        self.secret_key.expose_secret().as_bytes()
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

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_raw(&RawEnv::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn development_defaults_need_nothing() {
        let c = load(&[]).unwrap();
        assert_eq!(c.port, 5000);
        assert_eq!(c.storage, StorageConfig::Local { data_dir: PathBuf::from("data") });
        assert!(c.secret_key_generated);
        assert_eq!(c.models.detector, PathBuf::from("models/det_10g.onnx"));
        assert_eq!(c.max_upload_bytes, 16 << 20);
    }

    #[test]
    fn production_requires_bucket_secret_and_keys_and_says_how_to_fix_each() {
        let err = load(&[("APP_ENV", "production")]).unwrap_err();
        let text = err.to_string();
        for var in ["S3_BUCKET", "SECRET_KEY", "API_KEYS"] {
            assert!(text.contains(var), "{text}");
        }
    }

    #[test]
    fn production_refuses_a_short_or_placeholder_secret_key() {
        for key in ["short", "change-me"] {
            let err = load(&[
                ("APP_ENV", "production"),
                ("S3_BUCKET", "faces"),
                ("API_KEYS", "k-0123456789abcdef"),
                ("SECRET_KEY", key),
            ])
            .unwrap_err();
            assert!(err.to_string().contains("SECRET_KEY"), "{err}");
        }
        let ok = load(&[
            ("APP_ENV", "production"),
            ("S3_BUCKET", "faces"),
            ("API_KEYS", "k-0123456789abcdef"),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ]);
        assert!(ok.is_ok());
        assert_eq!(ok.unwrap().log_format, LogFormat::Json);
    }

    #[test]
    fn every_bad_value_is_reported_with_its_variable() {
        let err = load(&[
            ("PORT", "http"),
            ("MATCH_THRESHOLD", "2"),
            ("DETECTOR_INPUT_SIZE", "650"),
            ("MAX_UPLOAD_SIZE", "lots"),
        ])
        .unwrap_err();
        assert_eq!(err.0.len(), 4, "{err}");
    }

    #[test]
    fn model_names_resolve_inside_model_dir_but_paths_stay() {
        let c = load(&[("MODEL_DIR", "/m"), ("DETECTOR_MODEL", "det_500m.onnx"), ("RECOGNIZER_MODEL", "/x/r.onnx")])
            .unwrap();
        assert_eq!(c.models.detector, PathBuf::from("/m/det_500m.onnx"));
        assert_eq!(c.models.recognizer, PathBuf::from("/x/r.onnx"));
    }

    #[test]
    fn sizes_and_prefixes_parse() {
        assert_eq!(parse_size("16MiB"), Some(16 << 20));
        assert_eq!(parse_size("512k"), Some(512 << 10));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("x"), None);
        assert_eq!(normalise_prefix("/faceauth"), "faceauth/");
        assert_eq!(normalise_prefix(""), "");
    }

    #[test]
    fn every_variable_is_documented_in_env_example() {
        let example = include_str!("../.env.example");
        for var in VARIABLES {
            assert!(example.lines().any(|l| l.starts_with(&format!("{var}="))), "{var} is not in .env.example");
        }
    }

    #[test]
    fn bucket_names_are_checked() {
        assert!(valid_bucket_name("my-faces.prod"));
        assert!(!valid_bucket_name("My_Bucket"));
        assert!(!valid_bucket_name("ab"));
    }
}
