//! The HTTP server: where it listens, how it logs, how long requests and shutdown may take.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::env::{Parser, RawEnv, Var, parse_size};

/// APP_ENV: production requires S3, a real SECRET_KEY and API keys, and logs JSON.
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

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// HOST: the listen address; 127.0.0.1 behind nginx.
    pub host: IpAddr,
    /// PORT: 0 picks a free port.
    pub port: u16,
    /// LOG_FORMAT: text or json (json by default in production).
    pub log_format: LogFormat,
    /// MAX_UPLOAD_SIZE: the largest image upload accepted.
    pub max_upload_bytes: usize,
    /// REQUEST_TIMEOUT_SECS: the whole request, storage and inference included.
    pub request_timeout: Duration,
    /// SHUTDOWN_TIMEOUT_SECS: drain time on SIGTERM.
    pub shutdown_timeout: Duration,
    /// CORS_ORIGINS: browser origins allowed to call the API.
    pub cors_origins: Vec<String>,
    /// HTTP_HEADER_TIMEOUT_SECS: a connection whose next request's headers do not arrive in full
    /// within this time is closed; this is also how long an idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// MAX_CONNECTIONS: open connections at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// SDK_GUIDE_DIR: the installed MediaPipe Face Mesh files the web SDK's guide loads.
    pub guide: GuideDir,
}

/// Where the SDK's face guide comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuideDir {
    /// The default install (`npm ci --prefix web/guide`); missing, the SDK runs unguided.
    Default(PathBuf),
    /// Named by the operator: missing or altered files stop startup.
    Configured(PathBuf),
    /// SDK_GUIDE_DIR=off: not served; the SDK runs unguided.
    Off,
}

/// Where `npm ci --prefix web/guide` puts the package, from the working directory.
pub const DEFAULT_GUIDE_DIR: &str = "web/guide/node_modules/@mediapipe/face_mesh";

impl RawEnv {
    /// JSON by default in production. Read before the rest, so that configuration errors are logged
    /// in the format the operator asked for.
    pub fn log_format(&self) -> Result<LogFormat, String> {
        let production = self.app_env() == Ok(AppEnv::Production);
        match self.get(Var::LogFormat).map(str::to_ascii_lowercase).as_deref() {
            None if production => Ok(LogFormat::Json),
            None | Some("text") | Some("pretty") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(format!("LOG_FORMAT={other} is not valid: use text or json")),
        }
    }

    /// LOG_LEVEL: the tracing filter (RUST_LOG overrides it when set).
    pub fn log_level(&self) -> &str {
        self.get(Var::LogLevel).unwrap_or("info")
    }

    pub fn app_env(&self) -> Result<AppEnv, String> {
        match self.get(Var::AppEnv).map(str::to_ascii_lowercase).as_deref() {
            None | Some("development") | Some("dev") | Some("local") => Ok(AppEnv::Development),
            Some("production") | Some("prod") => Ok(AppEnv::Production),
            Some(other) => Err(format!("APP_ENV={other} is not valid: use development or production")),
        }
    }
}

impl ServerConfig {
    pub(super) fn parse(p: &mut Parser) -> Self {
        let log_format = p.raw().log_format().unwrap_or_else(|e| {
            p.problem(e);
            LogFormat::Text
        });
        let max_upload_bytes = match p.get(Var::MaxUploadSize) {
            None => 16 << 20,
            Some(v) => match parse_size(v) {
                Some(n) if n >= 1024 => n,
                _ => {
                    p.problem(format!("MAX_UPLOAD_SIZE={v} is not valid: use bytes or a size such as 16MiB"));
                    16 << 20
                }
            },
        };
        Self {
            host: p.parse(Var::Host, IpAddr::from([127, 0, 0, 1]), "an IP address such as 127.0.0.1 or 0.0.0.0"),
            port: p.parse(Var::Port, 5000u16, "a port number (0 picks a free port)"),
            log_format,
            max_upload_bytes,
            request_timeout: p.secs(Var::RequestTimeoutSecs, 30, 3600),
            shutdown_timeout: p.secs(Var::ShutdownTimeoutSecs, 25, 3600),
            cors_origins: p.list(Var::CorsOrigins),
            header_timeout: p.secs(Var::HttpHeaderTimeoutSecs, 10, 3600),
            max_connections: p.ranged(Var::MaxConnections, 1024usize, 1, 1_000_000),
            guide: match p.get(Var::SdkGuideDir) {
                None => GuideDir::Default(PathBuf::from(DEFAULT_GUIDE_DIR)),
                Some(v) if v.eq_ignore_ascii_case("off") => GuideDir::Off,
                Some(v) => GuideDir::Configured(PathBuf::from(v)),
            },
        }
    }
}
