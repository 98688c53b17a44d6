//! Readiness: a real inference and a storage round trip succeed now. Cached briefly, so a load
//! balancer polling `/ready` costs little.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::inference::Inference;
use crate::audit::{AuditStatus, AuditTrail};
use crate::face::policy::Rejection;
use crate::face::{FaceError, PoolError, Purpose};
use crate::state::SharedState;
use crate::store::ReferenceStore;

/// One self-test's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Ok,
    /// Why it failed, in words for the operator (no secrets, no bucket names).
    Failed(String),
}

impl Check {
    pub fn is_ok(&self) -> bool {
        *self == Check::Ok
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyChecks {
    pub inference: Check,
    pub storage: Check,
    /// The shared state server (always `Ok` in process).
    pub state: Check,
    /// The durable audit trail, when configured: read fresh, never cached.
    pub audit: Option<AuditStatus>,
}

impl ReadyChecks {
    /// Failing audit writes leave the instance ready (records wait in the buffer); a full buffer
    /// does not, since every biometric operation is refused until the records are written.
    pub fn ready(&self) -> bool {
        self.inference.is_ok()
            && self.storage.is_ok()
            && self.state.is_ok()
            && !self.audit.as_ref().is_some_and(|a| a.full)
    }
}

/// The checks and their last answer: what `/ready` reports, cached briefly.
pub struct Readiness {
    inference: Arc<dyn Inference>,
    refs: ReferenceStore,
    state: SharedState,
    audit: AuditTrail,
    last: Mutex<Option<(Instant, ReadyChecks)>>,
    ttl: Duration,
    /// A blank image: the pipeline must decode, detect and answer "no face" for it.
    probe_image: Bytes,
}

impl Readiness {
    pub(super) fn new(
        inference: Arc<dyn Inference>,
        refs: ReferenceStore,
        state: SharedState,
        audit: AuditTrail,
        ttl: Duration,
    ) -> Self {
        let mut png = Vec::new();
        image::RgbImage::from_pixel(64, 64, image::Rgb([128, 128, 128]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encoding a small PNG in memory cannot fail");
        Self { inference, refs, state, audit, last: Mutex::new(None), ttl, probe_image: Bytes::from(png) }
    }

    fn cached(&self) -> Option<ReadyChecks> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref().filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, r)| r.clone())
    }

    fn store(&self, checks: ReadyChecks) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), checks));
    }

    /// Models loaded and answering, storage reachable (write/read/delete probe).
    pub async fn check(&self) -> ReadyChecks {
        let checks = match self.cached() {
            Some(checks) => checks,
            None => {
                let checks = self.run_checks().await;
                self.store(checks.clone());
                checks
            }
        };
        ReadyChecks { audit: self.audit.status(), ..checks }
    }

    async fn run_checks(&self) -> ReadyChecks {
        let limit = Duration::from_secs(5);
        let (inference, storage, state) = tokio::join!(
            tokio::time::timeout(limit, self.inference.analyze(self.probe_image.clone(), Purpose::Verify)),
            tokio::time::timeout(limit, self.refs.probe()),
            tokio::time::timeout(limit, self.state.probe()),
        );
        let inference = match inference {
            Ok(Err(PoolError::Face(FaceError::Rejected(Rejection::NoFace)))) => Check::Ok,
            // A full queue means the workers are alive and busy: ready, just loaded.
            Ok(Err(PoolError::Overloaded)) => Check::Ok,
            Ok(Ok(_)) => Check::Failed("unexpected face in the blank probe image".into()),
            Ok(Err(e)) => Check::Failed(e.to_string()),
            Err(_) => Check::Failed("inference self-test timed out".into()),
        };
        let storage = match storage {
            Ok(Ok(())) => Check::Ok,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: storage probe failed");
                Check::Failed("unreachable".into())
            }
            Err(_) => Check::Failed("unreachable".into()),
        };
        let state = match state {
            Ok(Ok(())) => Check::Ok,
            Ok(Err(e)) => {
                tracing::warn!(error = %crate::telemetry::chain(&e), "readiness: shared state probe failed");
                Check::Failed("unreachable".into())
            }
            Err(_) => Check::Failed("unreachable".into()),
        };
        ReadyChecks { inference, storage, state, audit: None }
    }
}
