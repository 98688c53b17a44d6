//! Typed configuration, read once from the environment (and `.env`), validated before anything starts.
//!
//! One module per subsystem, each documenting its variables once; every variable is also described
//! in `.env.example`. Problems are collected and reported together, each naming the variable and how
//! to fix it, so a misconfigured deploy fails once with the whole list.

mod env;
mod face;
mod limits;
mod models;
mod passkeys;
mod security;
mod server;
mod storage;

pub use env::{RawEnv, Var, parse_size};
pub use face::{FaceConfig, LightChallenge, LivenessMode};
pub use limits::LimitsConfig;
pub use models::ModelConfig;
pub use passkeys::PasskeyConfig;
pub use security::{ClientAccess, SecurityConfig, TokenConfig, TokenKeys};
pub use server::{AppEnv, DEFAULT_GUIDE_DIR, GuideDir, LogFormat, ServerConfig};
pub use storage::{Backend, S3Config, StorageConfig};

#[derive(Debug, Clone)]
pub struct Config {
    /// APP_ENV: production requires S3, a real SECRET_KEY and API keys, and logs JSON.
    pub app_env: AppEnv,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub models: ModelConfig,
    pub face: FaceConfig,
    pub limits: LimitsConfig,
    pub security: SecurityConfig,
    /// The WebAuthn relying party; `None`: passkeys are off.
    pub passkeys: Option<PasskeyConfig>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

impl Config {
    pub fn from_raw(raw: &RawEnv) -> Result<Self, ConfigError> {
        let mut p = env::Parser::new(raw);
        let app_env = raw.app_env().unwrap_or_else(|e| {
            p.problem(e);
            AppEnv::Development
        });
        let production = app_env == AppEnv::Production;
        let config = Config {
            app_env,
            server: ServerConfig::parse(&mut p),
            storage: StorageConfig::parse(&mut p, production),
            security: SecurityConfig::parse(&mut p, production),
            models: ModelConfig::parse(&mut p),
            face: FaceConfig::parse(&mut p, production),
            limits: LimitsConfig::parse(&mut p),
            passkeys: PasskeyConfig::parse(&mut p, production),
        };
        let problems = p.into_problems();
        if problems.is_empty() { Ok(config) } else { Err(ConfigError(problems)) }
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_raw(&RawEnv::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn development_defaults_need_nothing() {
        let c = load(&[]).unwrap();
        assert_eq!(c.server.port, 5000);
        assert_eq!(c.storage.backend, Backend::Local { data_dir: PathBuf::from("data") });
        assert!(c.security.secret_key_generated);
        assert_eq!(c.models.pack.name, "open");
        assert_eq!(c.models.detector, PathBuf::from("models/face_detection_short_range.onnx"));
        assert_eq!(c.models.landmarks, PathBuf::from("models/face_landmark.onnx"));
        assert_eq!(c.server.max_upload_bytes, 16 << 20);
    }

    #[test]
    fn production_requires_bucket_secret_and_keys_and_says_how_to_fix_each() {
        let err = load(&[("APP_ENV", "production")]).unwrap_err();
        let text = err.to_string();
        for var in ["S3_BUCKET", "SECRET_KEY", "API_KEYS", "TOKEN_SIGNING_KEY"] {
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
            ("TOKEN_ALG", "HS256"),
        ]);
        assert!(ok.is_ok());
        let production = ok.unwrap();
        assert_eq!(production.server.log_format, LogFormat::Json);
        // Biometric consent is required by default in production (and not in development).
        assert!(production.security.consent_required);
        assert!(!load(&[]).unwrap().security.consent_required);
        // Liveness: the challenge (movement and light) by default in production; off is a choice.
        assert_eq!(production.face.liveness, LivenessMode::Challenge);
        assert_eq!(production.face.light, LightChallenge::On);
        assert_eq!(load(&[]).unwrap().face.liveness, LivenessMode::Off);
        let mut off = vec![
            ("APP_ENV", "production"),
            ("S3_BUCKET", "faces"),
            ("API_KEYS", "k-0123456789abcdef"),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("TOKEN_ALG", "HS256"),
        ];
        off.push(("LIVENESS", "off"));
        let off = load(&off).unwrap();
        assert_eq!(off.face.liveness, LivenessMode::Off);
    }

    #[test]
    fn production_defaults_to_sessions_and_refuses_a_signing_key_of_the_wrong_kind() {
        let ed = crate::token::keys::SigningKey::generate(crate::token::keys::Algorithm::EdDsa).unwrap();
        let jwk = ed.public().jwk().to_string();
        let err = load(&[("TOKEN_SIGNING_KEY", &jwk)]).unwrap_err().to_string();
        assert!(err.contains("TOKEN_SIGNING_KEY"), "{err}");
        let c = load(&[]).unwrap();
        assert_eq!(c.security.client_access, ClientAccess::Open);
        assert!(matches!(c.security.tokens.keys, TokenKeys::Asymmetric { generated: true, .. }));
        let err = load(&[("TOKEN_ALG", "RS256"), ("CLIENT_ACCESS", "maybe")]).unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
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
    fn every_variable_is_documented_in_env_example() {
        let example = include_str!("../.env.example");
        for var in Var::ALL {
            let name = var.name();
            assert!(example.lines().any(|l| l.starts_with(&format!("{name}="))), "{name} is not in .env.example");
        }
    }
}
