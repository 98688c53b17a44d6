//! The SDK's face guide files, checked before the port is bound. Not installed at the default
//! place is a warning (the SDK then runs unguided, as it does where a browser lacks WebGL); named
//! by the operator and missing, or altered anywhere, is a startup failure.

use std::sync::Arc;

use super::error::StartupError;
use crate::app::guide::{GuideAssets, VERSION};
use crate::config::GuideDir;

pub fn load(dir: &GuideDir) -> Result<Option<Arc<GuideAssets>>, StartupError> {
    let (path, configured) = match dir {
        GuideDir::Off => {
            tracing::info!("SDK_GUIDE_DIR=off: the web SDK runs without its face guide");
            return Ok(None);
        }
        GuideDir::Default(path) => (path, false),
        GuideDir::Configured(path) => (path, true),
    };
    match GuideAssets::load(path) {
        Ok(assets) => {
            tracing::info!(
                version = VERSION,
                load_bytes = assets.load_size(),
                "web SDK face guide: @mediapipe/face_mesh served at /sdk/face-mesh/{VERSION}/"
            );
            Ok(Some(Arc::new(assets)))
        }
        Err(e) if e.is_missing() && !configured => {
            tracing::warn!(
                "the web SDK's face guide is not installed ({}): the widget runs unguided; \
                 install it with `npm ci --prefix web/guide`, or set SDK_GUIDE_DIR=off to say so",
                path.display()
            );
            Ok(None)
        }
        Err(source) => Err(StartupError::Guide {
            fix: if source.is_missing() {
                "run `npm ci --prefix web/guide` and point SDK_GUIDE_DIR at web/guide/node_modules/@mediapipe/face_mesh, or set SDK_GUIDE_DIR=off"
            } else {
                "reinstall with `npm ci --prefix web/guide` (the lockfile pins the release); never edit the files"
            },
            source,
        }),
    }
}
