//! Register: one more reference photo for a user.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{FaceAuth, ServiceError, Timings, ms};
use crate::domain::UserId;
use crate::face::decode::sniff_format;
use crate::face::engine::ModelId;
use crate::face::{Analysis, DecodeError, Detection, Purpose};
use crate::store::{FaceRecord, ModelStamp, NewReference};

/// A photo without a sidecar younger than this may belong to a register still in flight; older, it
/// was left by one that died. Longer than the longest REQUEST_TIMEOUT_SECS the configuration allows.
const ORPHAN_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct Registration {
    pub reference_id: String,
    /// The user's references, this one included.
    pub references: usize,
    pub face: Detection,
    pub timings: Timings,
}

impl From<&ModelId> for ModelStamp {
    fn from(id: &ModelId) -> Self {
        Self { name: id.name.clone(), sha256: id.sha256.clone() }
    }
}

impl From<&Detection> for FaceRecord {
    fn from(face: &Detection) -> Self {
        Self { bbox: face.bbox, score: face.score, landmarks: face.landmarks }
    }
}

impl FaceAuth {
    /// What the store keeps of an analysed photo, stamped with the models that made it.
    pub(super) fn new_reference(&self, analysis: &Analysis) -> NewReference {
        NewReference {
            embedding: analysis.embedding.as_slice().to_vec(),
            model: (&self.model.recognizer).into(),
            detector: (&self.model.detector).into(),
            face: (&analysis.face).into(),
        }
    }

    pub async fn register(&self, user: &UserId, image: Bytes) -> Result<Registration, ServiceError> {
        let start = Instant::now();
        let content_type = match sniff_format(&image) {
            Some(image::ImageFormat::Png) => "image/png",
            Some(image::ImageFormat::WebP) => "image/webp",
            Some(_) => "image/jpeg",
            None => return Err(DecodeError::Unsupported.into()),
        };
        // One listing (no sidecar reads) gives the count and any orphans, while inference runs.
        let (analysis, listing) =
            tokio::join!(self.inference.analyze(image.clone(), Purpose::Enroll), self.refs.list_user(user, ORPHAN_AGE));
        let analysis = analysis?;
        let storage_start = Instant::now();
        let listing = listing?;
        if listing.references >= self.max_references {
            return Err(ServiceError::TooManyReferences(listing.references));
        }
        let saved = self.refs.save(user, image, content_type, self.new_reference(&analysis)).await;
        // After the write is enough: the cache's epoch check refuses any load that began before it.
        self.cache.invalidate(user);
        let reference_id = saved?;
        if let Err(e) = self.refs.remove_orphans(&listing).await {
            tracing::warn!(error = %e, "could not remove half-written references");
        }
        Ok(Registration {
            reference_id,
            references: listing.references + 1,
            face: analysis.face,
            timings: Timings {
                pipeline: analysis.timings,
                storage_ms: ms(storage_start),
                match_ms: 0.0,
                total_ms: ms(start),
            },
        })
    }
}
