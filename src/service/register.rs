//! Register: a reference photo for a user, added to the others or replacing them all.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::attempt::{Decided, Ticket, decides};
use super::error::ServiceError;
use super::facade::FaceAuth;
use super::grants::GrantError;
use super::privacy::Consent;
use super::sessions::{SessionOutcome, SessionPurpose};
use super::timings::{Timings, ms};
use crate::domain::UserId;
use crate::face::decode::sniff_format;
use crate::face::engine::ModelId;
use crate::face::quality::Quality;
use crate::face::{DecodeError, Detection, Purpose};
use crate::store::{FaceRecord, ModelStamp, Placement};

/// A photo without a sidecar younger than this may belong to a register still in flight; older, it
/// was left by one that died. Longer than the longest REQUEST_TIMEOUT_SECS the configuration allows.
const ORPHAN_AGE: Duration = Duration::from_secs(3600);

/// On whose authority a photo is enrolled.
#[derive(Debug, Clone, Copy)]
pub enum Enrolment<'a> {
    /// A trusted backend (secret key, or an open development service); `replace` swaps every
    /// existing reference for this one.
    Trusted { replace: bool },
    /// A client holding an enrolment grant for this user: adds a reference, never replaces.
    Grant(&'a str),
    /// A client holding an enrol session for this user (`POST /api/sessions`): as a grant.
    Session(&'a str),
}

#[derive(Debug, Clone)]
pub struct Registration {
    pub reference_id: String,
    /// The user's references, this one included.
    pub references: usize,
    pub face: Detection,
    pub quality: Quality,
    pub timings: Timings,
}

impl Decided for Registration {
    fn succeeded(&self) -> bool {
        true
    }

    fn told(self, _left: u32) -> Self {
        self
    }
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
    /// Stores the photo as a reference. A photo added to a user who already has references must
    /// match them (the template guard): otherwise whoever may register could add their own face to
    /// someone else's account. Only a replace, on a trusted caller's authority, skips it; it also
    /// revokes the user's outstanding sessions and grants.
    ///
    /// A grant or session is checked before any work and held until the attempt is decided: stored,
    /// or refused as a face_mismatch (which also counts against the lockout, so a grant is no
    /// unlimited matching oracle). Anything undecided (storage down, no face) releases it.
    pub async fn register(
        &self,
        user: &UserId,
        image: Bytes,
        enrolment: Enrolment<'_>,
        client: IpAddr,
        consent: Option<Consent>,
    ) -> Result<Registration, ServiceError> {
        if self.consent_required && consent.is_none() {
            return Err(ServiceError::ConsentRequired);
        }
        let ticket = match enrolment {
            Enrolment::Grant(token) => {
                let generation = self.state.generation().await?;
                let grant =
                    self.grants.check(token, user, &generation).map_err(ServiceError::InvalidEnrollmentToken)?;
                if !self.revocations.survives(user, grant.epoch.as_deref()).await? {
                    return Err(ServiceError::InvalidEnrollmentToken(GrantError::Revoked));
                }
                let claim = self.state.claim_under(&grant.id, grant.valid_for, &generation).await?;
                Ticket::Grant(claim.ok_or(ServiceError::InvalidEnrollmentToken(GrantError::Used))?)
            }
            Enrolment::Session(token) => {
                let generation = self.state.generation().await?;
                Ticket::Session(Box::new(
                    self.access
                        .hold(token, user, SessionPurpose::Enroll, &generation, |s| self.liveness.admits(s))
                        .await?,
                ))
            }
            Enrolment::Trusted { .. } => Ticket::Trusted,
        };
        let attempt = self.open_attempt(user, client, SessionPurpose::Enroll, ticket).await?;
        let result = self.store_reference(user, image, enrolment, consent.as_ref()).await;
        if !decides(&result) {
            return result;
        }
        attempt
            .spend()
            .close(self, result, |result| SessionOutcome {
                verified: result.is_ok(),
                code: result.as_ref().err().and_then(ServiceError::decided_code).map(str::to_string),
                reference_id: result.as_ref().ok().map(|r| r.reference_id.clone()),
                completed_at: crate::token::now(),
                ..SessionOutcome::default()
            })
            .await
    }

    async fn store_reference(
        &self,
        user: &UserId,
        image: Bytes,
        enrolment: Enrolment<'_>,
        consent: Option<&Consent>,
    ) -> Result<Registration, ServiceError> {
        let start = Instant::now();
        let placement = match enrolment {
            Enrolment::Trusted { replace: true } => Placement::ReplaceAll,
            _ => Placement::Add,
        };
        let content_type = match sniff_format(&image) {
            Some(image::ImageFormat::Png) => "image/png",
            Some(image::ImageFormat::WebP) => "image/webp",
            Some(_) => "image/jpeg",
            None => return Err(DecodeError::Unsupported.into()),
        };
        // One listing (no sidecar reads) gives the count and any orphans; the references (usually
        // cached) feed the guard. Both while inference runs.
        let guarded = placement == Placement::Add;
        let (analysis, listing, references) = tokio::join!(
            self.faces.inference.analyze(image.clone(), Purpose::Enroll),
            self.refs.list_user(user, ORPHAN_AGE),
            async {
                match guarded {
                    true => self.faces.load_references(user).await.map(Some),
                    false => Ok(None),
                }
            },
        );
        let analysis = analysis?;
        let storage_start = Instant::now();
        let listing = listing?;
        if let Some((references, _)) = references? {
            self.faces.guard(&references, &analysis.embedding)?;
        }
        if guarded && listing.references >= self.max_references {
            return Err(ServiceError::TooManyReferences(listing.references));
        }
        if placement == Placement::ReplaceAll {
            self.revocations.revoke(user).await?;
            // New references restore verification after the failure ladder disabled it.
            self.ladder.reset(user).await?;
        }
        // Write-ahead: the intent is durable before anything stored changes.
        let kind = if placement == Placement::ReplaceAll { "replace" } else { "register" };
        self.audit.intend(kind, user).await.map_err(ServiceError::AuditUnavailable)?;
        // Other instances learn of the change from the user's version, bumped before the write (no
        // stored change goes unnoticed) and after it (a load in between is not trusted either).
        self.state.bump_user_version(user).await?;
        let saved =
            self.refs.save(user, image, content_type, self.faces.new_reference(&analysis, consent), placement).await;
        // After the write is enough here: the cache's epoch check refuses any load that began before it.
        self.faces.cache.invalidate(user);
        let reference_id = saved?;
        self.state.bump_user_version(user).await?;
        if let Err(e) = self.refs.remove_orphans(&listing).await {
            tracing::warn!(error = %e, "could not remove half-written references");
        }
        Ok(Registration {
            reference_id,
            references: if guarded { listing.references + 1 } else { 1 },
            face: analysis.face,
            quality: analysis.quality,
            timings: Timings {
                pipeline: analysis.timings,
                storage_ms: ms(storage_start),
                match_ms: 0.0,
                total_ms: ms(start),
            },
        })
    }
}
