//! Why the service did not start: each error names what to fix, before the port is bound.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::models::ModelRole;
use crate::config::{ConfigError, Var};
use crate::face::models::ProfileError;
use crate::face::runtime::{ModelError, RuntimeError};
use crate::secrets::SecretsError;
use crate::state::StateError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("Secrets Manager")]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{role} model {} cannot be read: run `make models` (scripts/fetch-models.sh) or set MODEL_DIR / {}", path.display(), role.variable())]
    ModelFile { role: ModelRole, path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("the models could not be started: check DETECTOR_MODEL / RECOGNIZER_MODEL / RECOGNIZER_PROFILE")]
    Models(#[source] ModelError),
    #[error("storage check failed for {store}: {error}\n  fix: {fix}")]
    Storage { store: String, error: StoreError, fix: &'static str },
    #[error("template key check failed for {key}: {error}\n  fix: {fix}")]
    TemplateKey { key: String, error: StoreError, fix: &'static str },
    #[error("shared state check failed for {target}\n  fix: {fix}")]
    SharedState { target: String, fix: &'static str, source: StateError },
    #[error("the web SDK's face guide ({var}): {source}\n  fix: {fix}", var = Var::SdkGuideDir.name())]
    Guide { source: crate::app::guide::GuideError, fix: &'static str },
    #[error(
        "passkeys: {0}\n  fix: set PASSKEY_RP_ID to the site's domain and PASSKEY_ORIGINS to the pages' origins (https)"
    )]
    Passkeys(String),
    #[error(
        "LIVENESS=challenge checks that the face moves as a head (CHALLENGE_MIN_PARALLAX) and takes the screen's \
         light as its own relief does (CHALLENGE_MIN_SHADING), which need FaceMesh's points: use the default \
         detector (BlazeFace + FaceMesh), or set CHALLENGE_MIN_PARALLAX=0 and CHALLENGE_MIN_SHADING=0 to run \
         without them"
    )]
    ChecksNeedMesh,
    #[error("cannot listen on {addr} (is another process using the port? set PORT/HOST)")]
    Bind { addr: SocketAddr, source: std::io::Error },
}
