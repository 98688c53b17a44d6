//! Register, verify and the user routes' use cases: the domain logic, independent of HTTP.
//!
//! The service speaks in domain types (user ids, detections, unrounded stage timings); how they
//! are shown to clients is the API's business, how they are stored the store's.

mod access;
mod attempt;
mod cache;
mod challenges;
mod error;
mod export;
mod facade;
mod faces;
mod grants;
mod inference;
mod ladder;
pub mod liveness;
mod matching;
pub mod passkeys;
mod privacy;
mod readiness;
mod reembed;
mod register;
mod retention;
mod revocation;
mod sessions;
mod ticket;
mod timings;
mod verify;

pub use access::{Access, IssuedToken};
pub use cache::{CachedReference, EmbeddingCache, References};
pub use challenges::{Axis, Challenge, ChallengeError, Challenges, Step};
pub use error::ServiceError;
pub use export::ExportStream;
pub use facade::{FaceAuth, Parts};
pub use faces::{Faces, ThresholdFmr};
pub use grants::{EnrollmentGrants, Grant, GrantError, ValidGrant};
pub use inference::Inference;
pub use liveness::offer::{LightOffer, NotOffered, Requirement};
pub use liveness::plan::{Colour, Flash, Plan, Prompt};
pub use liveness::replay::ReplayMemory;
pub use liveness::{LightCheck, Liveness, LivenessMode, LivenessPolicy};
pub use passkeys::{
    PasskeyAuthority, PasskeyError, PasskeyInfo, PasskeyProof, PasskeySettings, RegistrationOptions, RelyingParty,
};
pub use privacy::{Consent, ReferenceConsent, Retention, RetentionReport, RetentionStatus, UserRecord};
pub use readiness::{Check, Readiness, ReadyChecks};
pub use reembed::MigrationReport;
pub use register::{Enrolment, Registration};
pub use sessions::{
    Factors, IssuedSession, MAX_BINDING_LEN, SessionError, SessionOutcome, SessionPurpose, SessionRecord,
    SessionRequest, SessionStatus, Sessions,
};
pub use ticket::RESULT_KEY_CONTEXT;
pub use timings::Timings;
pub use verify::{Disclosure, Probe, Verification, VerifyRequest};

#[cfg(test)]
mod tests;
