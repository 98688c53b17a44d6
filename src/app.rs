//! The application state every handler and middleware shares, grouped by concern. It sits below
//! both `api` and `middleware` and imports neither, so neither needs the other's internals.

pub mod guide;

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{ApiKeys, MetricsAccess};
use crate::limits::Limits;
use crate::service::FaceAuth;
use crate::state::SharedState;

/// Bytes of multipart framing and the user_id field allowed on top of the image itself.
pub const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// Cheap to clone: every part is behind an `Arc`.
#[derive(Clone)]
pub struct AppState {
    pub service: Arc<FaceAuth>,
    pub security: Arc<Security>,
    pub limits: Arc<Limits>,
    pub http: Arc<HttpSettings>,
    /// Rates and lockouts, in process or shared between instances.
    pub shared: SharedState,
    /// The web SDK's face guide, when installed (SDK_GUIDE_DIR).
    pub guide: Option<Arc<guide::GuideAssets>>,
}

/// Who may call what.
pub struct Security {
    /// None configured: the API is open (development only; production refuses to start).
    pub api_keys: ApiKeys,
    pub metrics: MetricsAccess,
    /// Whether a client key needs a session to verify or register.
    pub client_access: crate::config::ClientAccess,
}

/// How requests are received and answered.
pub struct HttpSettings {
    pub max_upload_bytes: usize,
    pub request_timeout: Duration,
    pub cors_origins: Vec<String>,
    /// Strict-Transport-Security on every response (production, behind TLS).
    pub hsts: bool,
}

impl HttpSettings {
    /// The most body bytes an upload route reads: the image plus its multipart framing.
    pub fn body_limit(&self) -> usize {
        self.max_upload_bytes + MULTIPART_OVERHEAD
    }
}
