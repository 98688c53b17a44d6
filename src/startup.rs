//! Everything is checked before the port is bound: configuration, secrets, ONNX Runtime, models
//! (loaded and warmed), storage (credentials, bucket, a write/read/delete probe). Any failure stops
//! startup with the cause and the fix.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_types::SdkConfig;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::api::{self, AppState};
use crate::config::{Config, ConfigError, RawEnv, StorageConfig};
use crate::face::InferencePool;
use crate::face::engine::{EngineSpec, ModelId, ModelInfo};
use crate::face::models::{resolve_profile, sha256_file};
use crate::face::pool::PoolSettings;
use crate::face::runtime::{self, RuntimeError};
use crate::limits::{Lockout, RateLimits};
use crate::service::FaceAuth;
use crate::store::local::LocalStore;
use crate::store::s3::S3Store;
use crate::store::{EmbeddingCache, ObjectStore, ReferenceStore, StoreError};
use crate::token::TokenSigner;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("Secrets Manager: {0}")]
    Secrets(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{0}")]
    Model(String),
    #[error("storage check failed for {store}: {error}\n  fix: {fix}")]
    Storage { store: String, error: StoreError, fix: &'static str },
    #[error("cannot listen on {addr}: {error} (is another process using the port? set PORT/HOST)")]
    Bind { addr: SocketAddr, error: std::io::Error },
}

/// Reads configuration, overlaying the Secrets Manager secret when one is named.
pub async fn load_config(mut raw: RawEnv) -> Result<(Config, Option<SdkConfig>), StartupError> {
    let Some(secret_name) = raw.get("SECRETS_MANAGER_SECRET_NAME").map(str::to_string) else {
        return Ok((Config::from_raw(&raw)?, None));
    };
    let production = raw.app_env().map_err(|e| ConfigError(vec![e]))? == crate::config::AppEnv::Production;
    let sdk = crate::aws::sdk_config(raw.get("AWS_REGION"), raw.get("AWS_ENDPOINT_URL")).await;
    match crate::secrets::overlay(&mut raw, &secret_name, &sdk).await {
        Ok(keys) => {
            tracing::info!(secret = %secret_name, keys = ?keys, "configuration overlaid from Secrets Manager")
        }
        Err(e) if production => return Err(StartupError::Secrets(e)),
        Err(e) => tracing::warn!("{e} (development: continuing with the environment alone)"),
    }
    Ok((Config::from_raw(&raw)?, Some(sdk)))
}

fn file_id(path: &Path, what: &str) -> Result<ModelId, StartupError> {
    let sha256 = sha256_file(path).map_err(|e| {
        StartupError::Model(format!(
            "{what} model {} cannot be read ({e}): run `make models` (scripts/fetch-models.sh) or set MODEL_DIR / \
             {}",
            path.display(),
            if what == "detector" { "DETECTOR_MODEL" } else { "RECOGNIZER_MODEL" }
        ))
    })?;
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(ModelId { name, sha256 })
}

/// Initialises ONNX Runtime and identifies the model files.
pub fn model_spec(config: &Config) -> Result<(EngineSpec, ModelInfo), StartupError> {
    runtime::init(&config.models.ort_dylib)?;
    let detector = file_id(&config.models.detector, "detector")?;
    let recognizer = file_id(&config.models.recognizer, "recognizer")?;
    let profile = resolve_profile(&recognizer.sha256, config.models.profile.as_deref()).map_err(StartupError::Model)?;
    let threshold = config.match_threshold.unwrap_or(profile.threshold);
    let spec = EngineSpec {
        detector_path: config.models.detector.clone(),
        recognizer_path: config.models.recognizer.clone(),
        profile: profile.clone(),
        detector: config.detector,
        policy: config.policy,
        max_pixels: config.max_image_pixels,
        intra_threads: config.inference_threads,
    };
    Ok((spec, ModelInfo { detector, recognizer, profile, threshold }))
}

async fn open_store(
    config: &Config,
    sdk: Option<SdkConfig>,
) -> Result<(Arc<dyn ObjectStore>, Vec<String>), StartupError> {
    let store: Arc<dyn ObjectStore> = match &config.storage {
        StorageConfig::Local { data_dir } => Arc::new(LocalStore::new(data_dir)),
        StorageConfig::S3(s3) => {
            let sdk = match sdk {
                Some(sdk) => sdk,
                None => crate::aws::sdk_config(s3.region.as_deref(), s3.endpoint_url.as_deref()).await,
            };
            Arc::new(S3Store::new(&sdk, s3))
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
    let mut report = store.check().await.map_err(fail)?;
    store.probe(&config.prefix).await.map_err(fail)?;
    report.push(format!("write/read/delete probe under '{}' passed", config.prefix));
    Ok((store, report))
}

/// Runs every startup check and builds the application state; binds nothing.
pub async fn prepare(config: &Config, sdk: Option<SdkConfig>) -> Result<AppState, StartupError> {
    let started = Instant::now();
    crate::metrics::install();
    if config.secret_key_generated {
        tracing::warn!("SECRET_KEY is not set: using a random key, so tokens will not survive a restart");
    }
    if config.api_keys.is_empty() {
        tracing::warn!("API_KEYS is not set: the API is OPEN to anyone who can reach it (development only)");
    }
    let (spec, info) = model_spec(config)?;
    let settings = PoolSettings { workers: config.inference_workers, queue: config.inference_queue };
    let pool = tokio::task::spawn_blocking(move || InferencePool::start(&spec, settings))
        .await
        .map_err(|e| StartupError::Model(e.to_string()))?
        .map_err(|e| {
            StartupError::Model(format!("{e}: check DETECTOR_MODEL / RECOGNIZER_MODEL / RECOGNIZER_PROFILE"))
        })?;
    tracing::info!(
        detector = %info.detector.name, detector_sha256 = %&info.detector.sha256[..12],
        recognizer = %info.recognizer.name, recognizer_sha256 = %&info.recognizer.sha256[..12],
        profile = info.profile.name, threshold = info.threshold,
        workers = pool.workers(), intra_threads = config.inference_threads, queue = config.inference_queue,
        "models loaded and warmed up"
    );
    let (store, report) = open_store(config, sdk).await?;
    for line in &report {
        tracing::info!("storage: {line}");
    }
    let service = FaceAuth::new(
        Arc::new(pool),
        ReferenceStore::new(store, config.prefix.clone()),
        EmbeddingCache::new(config.cache_users, config.cache_ttl),
        Arc::new(info),
        TokenSigner::new(config.secret_key.clone(), config.token_ttl),
        config.max_references_per_user,
        Lockout::new(config.lockout_max_failures, config.lockout_window),
    );
    tracing::info!(
        env = ?config.app_env, api_keys = config.api_keys.len(), max_upload_bytes = config.max_upload_bytes,
        elapsed_ms = started.elapsed().as_millis() as u64, "startup checks passed"
    );
    Ok(AppState {
        service: Arc::new(service),
        api_keys: Arc::new(config.api_keys.clone()),
        max_upload_bytes: config.max_upload_bytes,
        request_timeout: config.request_timeout,
        ready: Arc::new(api::health::ReadinessCache::new(Duration::from_secs(5))),
        production: config.is_production(),
        cors_origins: Arc::new(config.cors_origins.clone()),
        metrics_token: config.metrics_token.clone().map(Arc::new),
        limits: Arc::new(RateLimits::new(
            config.rate_limit_per_ip,
            config.rate_limit_per_key,
            config.trusted_proxies.clone(),
        )),
    })
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown_timeout: Duration,
}

impl Application {
    /// Checks everything, then binds. Port 0 picks a free port; [`Application::port`] tells which.
    pub async fn build(config: Config, sdk: Option<SdkConfig>) -> Result<Self, StartupError> {
        let state = prepare(&config, sdk).await?;
        let addr = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(addr).await.map_err(|error| StartupError::Bind { addr, error })?;
        Ok(Self { listener, state, shutdown_timeout: config.shutdown_timeout })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish (up to
    /// SHUTDOWN_TIMEOUT_SECS) and stops the inference workers.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        tracing::info!("listening on http://{}", self.local_addr());
        let draining = Arc::new(Notify::new());
        let notify = draining.clone();
        let router = api::router(self.state.clone());
        let limits = self.state.limits.clone();
        let pruner = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                limits.prune();
            }
        });
        let server = axum::serve(self.listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutdown requested: draining in-flight requests");
                notify.notify_one();
            });
        let deadline = async {
            draining.notified().await;
            tokio::time::sleep(self.shutdown_timeout).await;
        };
        let result = tokio::select! {
            r = server => r,
            _ = deadline => {
                tracing::warn!("drain timeout reached; exiting with requests still in flight");
                Ok(())
            }
        };
        pruner.abort();
        let pool = self.state.service.clone();
        tokio::task::spawn_blocking(move || pool.pool().shutdown()).await.ok();
        tracing::info!("stopped");
        result
    }
}

/// Resolves on SIGTERM (systemd stop) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
