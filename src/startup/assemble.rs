//! The service and the app state built from a checked configuration: the shared state, the result
//! signer, the relying party, the service, and everything validated before the port is bound (`prepare`).

use super::error::StartupError;
use super::models::{log_models, model_spec};
use super::storage::open_store;
use crate::app::{AppState, HttpSettings, Security};
use crate::auth::{KeyKind, MetricsAccess};
use crate::config::{AppEnv, Config, ConfigError, LightChallenge, LivenessMode, RawEnv, TokenKeys, Var};
use crate::face::InferencePool;
use crate::face::pool::PoolSettings;
use crate::limits::{Limits, RefusalLog, TrustedProxies, UploadAdmission};
use crate::service::{
    self, Challenges, EmbeddingCache, EnrollmentGrants, FaceAuth, LivenessPolicy, Parts, ReplayMemory, Sessions,
};
use crate::state::{LocalState, Policy, RedisState, SharedState, StateBackend};
use crate::token::Hs256;
use crate::token::result::{ResultKey, ResultSigner};
use aws_types::SdkConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Photos remembered per user by the replay memory; the oldest are forgotten first.
const REPLAY_PHOTOS_PER_USER: usize = 1000;

/// The result signer the configuration describes.
fn result_signer(config: &Config) -> ResultSigner {
    let security = &config.security;
    let (active, previous) = match &security.tokens.keys {
        TokenKeys::Asymmetric { active, previous, .. } => (ResultKey::Asymmetric(active.clone()), previous.clone()),
        TokenKeys::Hs256 => {
            // A key of its own, derived: SECRET_KEY itself never has to leave faceauth.
            (ResultKey::Hs256(Hs256::derived(&security.secret_key, service::RESULT_KEY_CONTEXT)), Vec::new())
        }
    };
    let tokens = &security.tokens;
    ResultSigner::new(active, previous, tokens.issuer.clone(), tokens.audience.clone(), security.token_ttl)
}

/// Reads configuration, overlaying the Secrets Manager secret when one is named.
pub async fn load_config(mut raw: RawEnv) -> Result<(Config, Option<SdkConfig>), StartupError> {
    let Some(secret_name) = raw.get(Var::SecretsManagerSecretName).map(str::to_string) else {
        return Ok((Config::from_raw(&raw)?, None));
    };
    // Only an explicit APP_ENV=development in the environment may continue without the secret:
    // the secret itself may be what says production, and an unreadable one must not open the API.
    let development =
        raw.get(Var::AppEnv).is_some() && raw.app_env().map_err(|e| ConfigError(vec![e]))? == AppEnv::Development;
    let sdk = crate::aws::sdk_config(raw.get(Var::AwsRegion), raw.get(Var::AwsEndpointUrl)).await;
    match crate::secrets::overlay(&mut raw, &secret_name, &sdk).await {
        Ok(keys) => {
            tracing::info!(secret = %secret_name, keys = ?keys, "configuration overlaid from Secrets Manager")
        }
        Err(e) if !development => return Err(e.into()),
        Err(e) => {
            let chain = crate::telemetry::chain(&e);
            tracing::warn!("{chain} (development: continuing with the environment alone)")
        }
    }
    Ok((Config::from_raw(&raw)?, Some(sdk)))
}

/// In process, or the configured server, connected and proven by a write/read/delete round trip.
pub async fn open_shared_state(config: &Config) -> Result<SharedState, StartupError> {
    let limits = &config.limits;
    let policy = Policy {
        lockout_per_client: limits.lockout_max_failures,
        lockout_per_user: limits.lockout_user_max_failures,
        lockout_window: limits.lockout_window,
        rate_per_ip: limits.rate_per_ip,
        rate_per_key: limits.rate_per_key,
    };
    let Some(target) = &limits.shared_state else {
        let state = SharedState::new(LocalState::new(&policy));
        tracing::info!("shared state: {} (set SHARED_STATE_URL to run several instances)", state.describe());
        return Ok(state);
    };
    let fail = |source| StartupError::SharedState {
        target: target.describe(),
        fix: "check that the server is reachable from here (security group, port), the URL's credentials (or the \
              auth token in the Secrets Manager secret), and rediss:// when the server requires TLS",
        source,
    };
    // Cached embeddings live at most EMBEDDING_CACHE_TTL_SECS: a user's version must outlive them.
    let version_ttl = config.storage.cache_ttl + Duration::from_secs(60);
    let backend = RedisState::connect(target.clone(), policy, version_ttl).await.map_err(fail)?;
    backend.probe().await.map_err(fail)?;
    let state = SharedState::new(backend);
    tracing::info!("shared state: {}: PING and a write/read/delete round trip passed", state.describe());
    Ok(state)
}

/// The WebAuthn relying party, checked before anything loads; `None` when passkeys are off.
fn relying_party(config: &Config) -> Result<Option<service::RelyingParty>, StartupError> {
    let Some(c) = &config.passkeys else {
        tracing::info!("passkeys: off (set PASSKEY_RP_ID and PASSKEY_ORIGINS to offer face + passkey sessions)");
        return Ok(None);
    };
    let settings = service::PasskeySettings {
        rp_id: c.rp_id.clone(),
        rp_name: c.rp_name.clone(),
        origins: c.origins.clone(),
        any_port: c.any_port,
    };
    let rp = service::RelyingParty::new(settings).map_err(StartupError::Passkeys)?;
    let origins: Vec<&str> = c.origins.iter().map(|o| o.as_str()).collect();
    tracing::info!(rp_id = %c.rp_id, ?origins, any_port = c.any_port, "passkeys: on");
    Ok(Some(rp))
}

/// Loads and warms the models, checks storage and shared state, and builds the service; serves nothing.
pub async fn build_service(config: &Config, sdk: Option<SdkConfig>) -> Result<FaceAuth, StartupError> {
    let passkeys = relying_party(config)?;
    let (spec, info) = model_spec(config)?;
    let settings = PoolSettings { workers: config.models.workers, queue: config.models.queue };
    let pool = tokio::task::spawn_blocking(move || InferencePool::start(&spec, settings))
        .await
        .expect("the model loader does not panic")
        .map_err(StartupError::Models)?;
    tracing::info!(
        profile = info.profile.name, threshold = info.threshold,
        workers = pool.workers(), threads = ?config.models.threads, queue = config.models.queue,
        pipeline = ?config.face.pipeline,
        "models loaded and warmed up"
    );
    log_models(&info, config);
    let (refs, audit) = open_store(config, sdk).await?;
    let state = open_shared_state(config).await?;
    Ok(FaceAuth::new(Parts {
        audit,
        inference: Arc::new(pool),
        refs,
        cache: EmbeddingCache::new(config.storage.cache_users, config.storage.cache_ttl),
        model: Arc::new(info),
        tokens: result_signer(config),
        sessions: Sessions::new(&config.security.secret_key, config.security.session_ttl),
        // NIST SP 800-63B-4: at most 50 consecutive failures, or 100 with presentation attack detection.
        disable_after: match (config.limits.lockout_disable_after, config.face.liveness) {
            (Some(0), _) => None,
            (Some(n), _) => Some(n),
            (None, LivenessMode::Off) => Some(50),
            (None, _) => Some(100),
        },
        consent_required: config.security.consent_required,
        retention: config.security.retention_period.map(service::Retention::new),
        replay_memory: config
            .security
            .replay_window
            .map(|window| ReplayMemory { window, per_user: REPLAY_PHOTOS_PER_USER }),
        max_references: config.face.max_references_per_user,
        state,
        grants: EnrollmentGrants::new(&config.security.secret_key, config.security.enrollment_ttl),
        liveness: liveness_policy(config),
        challenges: Challenges::new(
            &config.security.secret_key,
            config.face.challenge_ttl,
            config.face.challenge_steps,
            &config.face.challenge_moves.iter().filter_map(|m| service::Step::parse(m)).collect::<Vec<_>>(),
            config.face.capture_fps,
            config.face.light != LightChallenge::Off,
        ),
        replay_guard: config.security.replay_guard,
        passkeys,
    }))
}

/// Runs every startup check and builds the application state; binds nothing.
pub async fn prepare(config: &Config, sdk: Option<SdkConfig>) -> Result<AppState, StartupError> {
    let started = Instant::now();
    crate::metrics::install();
    let security = &config.security;
    if security.secret_key_generated {
        tracing::warn!("SECRET_KEY is not set: using a random key, so tokens will not survive a restart");
    }
    if security.api_keys.is_empty() {
        tracing::warn!("API_KEYS is not set: the API is OPEN to anyone who can reach it (development only)");
    }
    match &security.tokens.keys {
        TokenKeys::Asymmetric { active, generated: true, .. } => tracing::warn!(
            kid = %active.public().kid(),
            "TOKEN_SIGNING_KEY is not set: results are signed with a key made for this process (development only); \
             backends must fetch /.well-known/jwks.json again after a restart"
        ),
        TokenKeys::Asymmetric { active, previous, .. } => tracing::info!(
            alg = active.public().algorithm().name(), kid = %active.public().kid(), previous_keys = previous.len(),
            "verification results are signed with the configured key"
        ),
        TokenKeys::Hs256 => tracing::warn!(
            "TOKEN_ALG=HS256: results are signed with a key derived from SECRET_KEY that no backend holds, so a \
             backend checks them only through POST /api/tokens/introspect; prefer ES256 with a JWKS"
        ),
    }
    if security.client_access == crate::config::ClientAccess::Open && !security.api_keys.is_empty() {
        tracing::warn!("CLIENT_ACCESS=open: client keys verify any user without a session (development default)");
    }
    if !security.replay_guard {
        tracing::warn!("REPLAY_GUARD is off: the bytes of a stored reference photo verify (development default)");
    }
    let guide = super::guide::load(&config.server.guide)?;
    let service = build_service(config, sdk).await?;
    let shared = service.shared_state();
    tracing::info!(
        env = ?config.app_env, secret_keys = security.api_keys.count(KeyKind::Secret),
        client_keys = security.api_keys.count(KeyKind::Client), max_upload_bytes = config.server.max_upload_bytes,
        elapsed_ms = started.elapsed().as_millis() as u64, "startup checks passed"
    );
    let limits = &config.limits;
    Ok(AppState {
        service: Arc::new(service),
        security: Arc::new(Security {
            api_keys: security.api_keys.clone(),
            metrics: MetricsAccess::new(security.metrics_token.clone(), config.is_production()),
            client_access: security.client_access,
        }),
        shared,
        guide,
        limits: Arc::new(Limits {
            proxies: TrustedProxies::new(limits.trusted_proxies.clone()),
            uploads: UploadAdmission::new(limits.max_concurrent_uploads),
            refusals: RefusalLog::new(std::num::NonZeroUsize::new(10_000).expect("non-zero"), Duration::from_secs(60)),
        }),
        http: Arc::new(HttpSettings {
            max_upload_bytes: config.server.max_upload_bytes,
            request_timeout: config.server.request_timeout,
            cors_origins: config.server.cors_origins.clone(),
            hsts: config.is_production(),
        }),
    })
}

/// The liveness checks' limits as configured (the service's, and `faceauth liveness-eval`'s).
pub fn liveness_policy(config: &Config) -> LivenessPolicy {
    LivenessPolicy {
        mode: match config.face.liveness {
            LivenessMode::Off => service::LivenessMode::Off,
            LivenessMode::Passive => service::LivenessMode::Passive,
            LivenessMode::Challenge => service::LivenessMode::Challenge,
        },
        threshold: config.face.liveness_threshold,
        frontal_yaw: config.face.challenge_frontal_yaw,
        min_turn_yaw: config.face.challenge_min_yaw,
        min_nod_pitch: config.face.challenge_min_pitch,
        min_parallax: config.face.challenge_min_parallax,
        min_shading: config.face.challenge_min_shading,
        light: match config.face.light {
            LightChallenge::Off => service::LightOffer::Off,
            LightChallenge::On => service::LightOffer::Optional,
            LightChallenge::Required => service::LightOffer::Required,
        },
    }
}
