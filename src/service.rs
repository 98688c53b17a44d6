//! Register and verify: the domain logic, independent of HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::{UserId, new_reference_id};
use crate::face::decode::sniff_format;
use crate::face::engine::ModelInfo;
use crate::face::policy::Rejection;
use crate::face::{Analysis, DecodeError, Embedding, FaceError, InferencePool, PoolError, Purpose};
use crate::limits::Lockout;
use crate::store::cache::{CachedReference, References};
use crate::store::references::SIDECAR_VERSION;
use crate::store::{EmbeddingCache, ReferenceStore, Sidecar, StoreError};
use crate::token::TokenSigner;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Image(#[from] DecodeError),
    #[error(transparent)]
    Face(#[from] Rejection),
    #[error("the inference queue is full")]
    Overloaded,
    #[error("no references are registered for this user")]
    UserNotFound,
    #[error("too many failed verifications for this user")]
    TooManyAttempts(std::time::Duration),
    #[error("this user already has {0} references, the most allowed")]
    TooManyReferences(usize),
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<PoolError> for ServiceError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Overloaded => Self::Overloaded,
            PoolError::Stopped => Self::Internal("inference workers stopped".into()),
            PoolError::Face(FaceError::Decode(e)) => Self::Image(e),
            PoolError::Face(FaceError::Rejected(r)) => Self::Face(r),
            PoolError::Face(FaceError::Inference(e)) => Self::Internal(e),
        }
    }
}

/// Milliseconds per stage, as reported to clients and logs.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Timings {
    pub decode: f64,
    pub detect: f64,
    pub align: f64,
    pub embed: f64,
    pub storage: f64,
    #[serde(rename = "match")]
    pub matching: f64,
    pub total: f64,
}

impl Timings {
    fn from_analysis(a: &Analysis) -> Self {
        Self {
            decode: a.timings.decode_ms,
            detect: a.timings.detect_ms,
            align: a.timings.align_ms,
            embed: a.timings.embed_ms,
            ..Self::default()
        }
    }

    /// Hundredths of a millisecond are plenty for clients and keep the JSON short.
    fn rounded(mut self) -> Self {
        for v in [
            &mut self.decode,
            &mut self.detect,
            &mut self.align,
            &mut self.embed,
            &mut self.storage,
            &mut self.matching,
            &mut self.total,
        ] {
            *v = (*v * 100.0).round() / 100.0;
        }
        self
    }

    /// Records the stages on the current request span, so the access log line carries them.
    pub fn record(&self) {
        let span = tracing::Span::current();
        for (name, value) in [
            ("decode_ms", self.decode),
            ("detect_ms", self.detect),
            ("embed_ms", self.embed),
            ("storage_ms", self.storage),
            ("match_ms", self.matching),
        ] {
            span.record(name, (value * 100.0).round() / 100.0);
        }
        for (stage, value) in [
            ("decode", self.decode),
            ("detect", self.detect),
            ("align", self.align),
            ("embed", self.embed),
            ("storage", self.storage),
        ] {
            crate::metrics::stage(stage, value);
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FaceSummary {
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub score: f32,
}

#[derive(Debug, Clone)]
pub struct Registration {
    pub reference_id: String,
    pub references: usize,
    pub face: FaceSummary,
    pub timings: Timings,
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub verified: bool,
    pub similarity: f32,
    pub threshold: f32,
    pub reference_id: String,
    pub references_compared: usize,
    pub face: FaceSummary,
    pub token: Option<(String, u64)>,
    pub timings: Timings,
}

pub struct FaceAuth {
    pool: Arc<InferencePool>,
    refs: ReferenceStore,
    cache: EmbeddingCache,
    model: Arc<ModelInfo>,
    tokens: TokenSigner,
    max_references: usize,
    lockout: Lockout,
}

/// A photo without a sidecar younger than this may belong to a register still in flight; older, it
/// was left by one that died. Longer than the longest REQUEST_TIMEOUT_SECS the configuration allows.
const ORPHAN_AGE: Duration = Duration::from_secs(3600);

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn summary(a: &Analysis) -> FaceSummary {
    let round = |v: f32| (v * 100.0).round() / 100.0;
    FaceSummary { bbox: a.face.bbox.map(round), score: (a.face.score * 10_000.0).round() / 10_000.0 }
}

impl FaceAuth {
    pub fn new(
        pool: Arc<InferencePool>,
        refs: ReferenceStore,
        cache: EmbeddingCache,
        model: Arc<ModelInfo>,
        tokens: TokenSigner,
        max_references: usize,
        lockout: Lockout,
    ) -> Self {
        Self { pool, refs, cache, model, tokens, max_references, lockout }
    }

    pub fn model(&self) -> &ModelInfo {
        &self.model
    }

    pub fn pool(&self) -> &InferencePool {
        &self.pool
    }

    pub fn references(&self) -> &ReferenceStore {
        &self.refs
    }

    pub fn cache(&self) -> &EmbeddingCache {
        &self.cache
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
            tokio::join!(self.pool.analyze(image.clone(), Purpose::Enroll), self.refs.list_user(user, ORPHAN_AGE));
        let analysis = analysis?;
        let storage_start = Instant::now();
        let listing = listing?;
        if listing.references >= self.max_references {
            return Err(ServiceError::TooManyReferences(listing.references));
        }
        let reference_id = new_reference_id();
        let sidecar = Sidecar {
            version: SIDECAR_VERSION,
            reference_id: reference_id.clone(),
            user_id: user.to_string(),
            image_key: self.refs.image_key(user, &reference_id, content_type),
            content_type: content_type.into(),
            embedding: analysis.embedding.as_slice().to_vec(),
            model: (&self.model.recognizer).into(),
            detector: (&self.model.detector).into(),
            face: (&analysis.face).into(),
            created_at: OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
        };
        let saved = self.refs.save(user, image, &sidecar).await;
        // After the write is enough: the cache's epoch check refuses any load that began before it.
        self.cache.invalidate(user);
        saved?;
        if let Err(e) = self.refs.remove_orphans(&listing).await {
            tracing::warn!(error = %e, "could not remove half-written references");
        }
        let mut timings = Timings::from_analysis(&analysis);
        timings.storage = ms(storage_start);
        timings.total = ms(start);
        Ok(Registration {
            reference_id,
            references: listing.references + 1,
            face: summary(&analysis),
            timings: timings.rounded(),
        })
    }

    /// Refuses at once, before any inference, while the user is locked out; the refusal is the same
    /// whatever the photo would have scored, so it reveals nothing.
    pub async fn verify(&self, user: &UserId, image: Bytes) -> Result<Verification, ServiceError> {
        let attempt = self.lockout.begin(user).map_err(ServiceError::TooManyAttempts)?;
        let result = self.verify_unlocked(user, image).await;
        self.lockout.finish(attempt, result.as_ref().ok().map(|v| v.verified));
        result
    }

    async fn verify_unlocked(&self, user: &UserId, image: Bytes) -> Result<Verification, ServiceError> {
        let start = Instant::now();
        // Embedding the probe and fetching the references overlap: storage latency hides behind inference.
        let (analysis, references) =
            tokio::join!(self.pool.analyze(image, Purpose::Verify), self.load_references(user));
        let (references, storage_ms) = references?;
        let analysis = analysis?;
        if references.is_empty() {
            return Err(ServiceError::UserNotFound);
        }
        let match_start = Instant::now();
        let (best, similarity) = references
            .iter()
            .map(|r| (r, r.embedding.cosine(&analysis.embedding)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("references is not empty");
        let threshold = self.model.threshold;
        let verified = similarity >= threshold;
        let mut timings = Timings::from_analysis(&analysis);
        timings.matching = ms(match_start);
        timings.storage = storage_ms;
        let token = verified.then(|| {
            let (token, claims) = self.tokens.sign(user.as_str());
            (token, claims.exp)
        });
        timings.total = ms(start);
        Ok(Verification {
            verified,
            similarity: (similarity * 10_000.0).round() / 10_000.0,
            threshold,
            reference_id: best.reference_id.clone(),
            references_compared: references.len(),
            face: summary(&analysis),
            token,
            timings: timings.rounded(),
        })
    }

    /// The user's reference embeddings, from the cache when possible; references embedded by another
    /// model are re-embedded from their stored photo once and their sidecars rewritten.
    async fn load_references(&self, user: &UserId) -> Result<(References, f64), ServiceError> {
        if let Some(refs) = self.cache.get(user) {
            return Ok((refs, 0.0));
        }
        let start = Instant::now();
        let epoch = self.cache.epoch();
        let sidecars = self.refs.load(user).await?;
        let mut refs = Vec::with_capacity(sidecars.len());
        for mut sidecar in sidecars {
            if sidecar.model.sha256 != self.model.recognizer.sha256 {
                match self.reembed(user, &mut sidecar).await {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::warn!(reference_id = %sidecar.reference_id, error = %e, "reference could not be re-embedded; skipped");
                        continue;
                    }
                }
            }
            if let Some(embedding) = Embedding::from_raw(sidecar.embedding) {
                refs.push(CachedReference { reference_id: sidecar.reference_id, embedding });
            }
        }
        let refs = Arc::new(refs);
        self.cache.put(user, refs.clone(), epoch);
        Ok((refs, ms(start)))
    }

    async fn reembed(&self, user: &UserId, sidecar: &mut Sidecar) -> Result<(), ServiceError> {
        let image = self
            .refs
            .image(&sidecar.image_key)
            .await?
            .ok_or(ServiceError::Storage(StoreError::Corrupt("the reference photo is missing".into())))?;
        let analysis = self.pool.analyze(image, Purpose::Verify).await?;
        tracing::info!(reference_id = %sidecar.reference_id, from = %sidecar.model.name, to = %self.model.recognizer.name, "re-embedded reference for the loaded model");
        sidecar.embedding = analysis.embedding.as_slice().to_vec();
        sidecar.model = (&self.model.recognizer).into();
        sidecar.detector = (&self.model.detector).into();
        sidecar.face = (&analysis.face).into();
        self.refs.update(user, sidecar).await?;
        Ok(())
    }

    /// Reference ids of the user, oldest first.
    pub async fn user(&self, user: &UserId) -> Result<Vec<String>, ServiceError> {
        let sidecars = self.refs.load(user).await?;
        if sidecars.is_empty() {
            return Err(ServiceError::UserNotFound);
        }
        Ok(sidecars.into_iter().map(|s| s.reference_id).collect())
    }

    /// Removes every object of the user and forgets the cached embeddings.
    pub async fn delete_user(&self, user: &UserId) -> Result<usize, ServiceError> {
        let removed = self.refs.delete_user(user).await;
        self.cache.invalidate(user);
        match removed? {
            0 => Err(ServiceError::UserNotFound),
            n => Ok(n),
        }
    }
}
