//! Everything is checked before the port is bound: configuration, secrets, ONNX Runtime, models
//! (loaded and warmed), storage (credentials, bucket, a write/read/delete probe). Any failure stops
//! startup with the cause and the fix.

mod assemble;
mod error;
mod guide;
mod models;
mod server;
mod storage;

pub use models::{ModelRole, model_spec};
pub use server::{Application, shutdown_signal};

pub use assemble::{build_service, liveness_policy, load_config, open_shared_state, prepare};
pub use error::StartupError;

#[cfg(test)]
mod tests {
    use crate::config::{Config, RawEnv};
    use crate::service::liveness::planarity::MIN_PARALLAX;
    use crate::service::liveness::shading::MIN_SHADING;

    #[test]
    fn the_planarity_check_is_on_by_default_at_the_limit_it_was_measured_at() {
        let config = Config::from_raw(&RawEnv::from_pairs([])).unwrap();
        assert_eq!(config.face.challenge_min_parallax, MIN_PARALLAX);
        assert_eq!(config.face.challenge_min_shading, MIN_SHADING);
    }
}
