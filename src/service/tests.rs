//! The domain logic without HTTP or models: an inference stand-in that answers as told.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use secrecy::SecretString;

use super::*;
use crate::domain::UserId;
use crate::face::engine::ModelId;
use crate::face::engine::ModelInfo;
use crate::face::{Analysis, Detection, Embedding, ModelProfile, Purpose};
use crate::face::{PoolError, StageTimings};
use crate::state::SharedState;
use crate::state::{LocalState, Policy};
use crate::store::ReferenceStore;
use crate::store::local::LocalStore;
use crate::store::{FaceRecord, ModelStamp, NewReference, Placement};
use crate::token::keys::{Algorithm, SigningKey};
use crate::token::result::ResultKey;
use crate::token::result::ResultSigner;

const PROBE: &[u8] = b"probe photo";
const STORED: &[u8] = b"stored photo";
const CLIENT: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Embeds every photo as the same unit vector; refuses stored photos while `refuse_stored` is set,
/// as a full queue would.
struct Scripted {
    refuse_stored: AtomicBool,
}

#[async_trait]
impl Inference for Scripted {
    async fn analyze(&self, image: Bytes, _purpose: Purpose) -> Result<Analysis, PoolError> {
        if image == STORED && self.refuse_stored.load(Ordering::SeqCst) {
            return Err(PoolError::Overloaded);
        }
        // Each photo its own capture: a fingerprint of bits drawn from its bytes (unrelated photos'
        // fingerprints are about half their bits apart, as here).
        let seed = image.iter().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(*b as u64));
        let mut state = seed;
        let hex: String = (0..24)
            .map(|_| {
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let z = (state ^ (state >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                format!("{:016x}", z ^ (z >> 31))
            })
            .collect();
        let fingerprint = crate::face::fingerprint::Fingerprint::from_hex(&hex).expect("24 words");
        let embedding = Embedding::from_raw(vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]).unwrap();
        Ok(Analysis {
            fingerprint,
            light: None,
            embedding,
            face: Detection {
                bbox: [0.0, 0.0, 10.0, 10.0],
                score: 0.9,
                landmarks: [[0.0; 2]; 5],
                pose: None,
                shape: None,
            },
            width: 10,
            height: 10,
            timings: StageTimings::default(),
            liveness: None,
            quality: crate::face::quality::Quality {
                sharpness: 500.0,
                brightness: 140.0,
                clipped: 0.0,
                yaw: 0.0,
                pitch: 0.0,
            },
        })
    }

    fn queue_depth(&self) -> usize {
        0
    }

    fn shutdown(&self) {}
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    service: FaceAuth,
    inference: Arc<Scripted>,
    alice: UserId,
}

/// Alice holds one reference made by a recognizer that is no longer loaded.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let refs = ReferenceStore::new(Arc::new(LocalStore::new(&root)), "");
    let alice = UserId::parse("alice").unwrap();
    let stamp = |name: &str| ModelStamp { name: name.into(), sha256: format!("{name}-sha") };
    let old = NewReference {
        embedding: vec![0.0, 1.0, 0.0],
        model: stamp("old"),
        detector: stamp("det"),
        face: FaceRecord { bbox: [0.0; 4], score: 0.9, landmarks: [[0.0; 2]; 5] },
        consent: None,
    };
    refs.save(&alice, Bytes::from_static(STORED), "image/jpeg", old, Placement::Add).await.unwrap();
    let inference = Arc::new(Scripted { refuse_stored: AtomicBool::new(true) });
    let id = |name: &str| ModelId { name: name.into(), sha256: format!("{name}-sha") };
    let service = FaceAuth::new(Parts {
        inference: inference.clone(),
        refs,
        cache: EmbeddingCache::new(10, Duration::from_secs(300)),
        model: Arc::new(ModelInfo {
            detector: id("det"),
            recognizer: id("new"),
            profile: ModelProfile::by_name("sface").unwrap().clone(),
            threshold: 0.3,
            operating_point: None,
            pack: "open",
            models: Vec::new(),
        }),
        tokens: ResultSigner::new(
            ResultKey::Asymmetric(SigningKey::generate(Algorithm::Es256).unwrap()),
            Vec::new(),
            "faceauth".into(),
            "app".into(),
            Duration::from_secs(60),
        ),
        sessions: Sessions::new(&SecretString::from("k".to_string()), Duration::from_secs(180)),
        replay_memory: Some(ReplayMemory { window: Duration::from_secs(3600), per_user: 100 }),
        disable_after: Some(7),
        consent_required: false,
        audit: crate::audit::AuditTrail::log_only(),
        passkeys: None,
        retention: None,
        max_references: 20,
        state: SharedState::new(LocalState::new(&Policy {
            lockout_per_client: 5,
            lockout_per_user: 20,
            lockout_window: Duration::from_secs(300),
            rate_per_ip: 0,
            rate_per_key: 0,
        })),
        grants: EnrollmentGrants::new(&SecretString::from("k".to_string()), Duration::from_secs(600)),
        replay_guard: true,
        liveness: LivenessPolicy {
            mode: LivenessMode::Off,
            threshold: 0.5,
            frontal_yaw: 12.0,
            min_turn_yaw: 18.0,
            min_nod_pitch: 15.0,
            min_parallax: 0.025,
            min_shading: 0.25,
            light: crate::service::LightOffer::Optional,
        },
        challenges: Challenges::new(
            &SecretString::from("k".to_string()),
            Duration::from_secs(60),
            2,
            &Step::ALL,
            15,
            true,
        ),
    });
    Fixture { _dir: dir, root, service, inference, alice }
}

/// A verify of `photo` as a client key would send it, with an optional session.
fn request(user: &UserId, photo: &'static [u8], session: Option<&str>, disclosure: Disclosure) -> VerifyRequest {
    VerifyRequest {
        user: user.clone(),
        client: CLIENT,
        probe: Probe::Photo(Bytes::from_static(photo)),
        challenge_id: None,
        session_token: session.map(str::to_string),
        passkey: None,
        disclosure,
    }
}

fn probe(f: &Fixture, photo: &'static [u8]) -> VerifyRequest {
    request(&f.alice, photo, None, Disclosure::Full)
}

fn stored_model(f: &Fixture) -> String {
    let dir = f.root.join("users/alice");
    let sidecar = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(sidecar).unwrap()).unwrap();
    v["model"]["name"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_verify_whose_re_embedding_is_refused_caches_nothing_and_answers_overloaded() {
    let f = fixture().await;
    let err = f.service.verify(probe(&f, PROBE)).await.unwrap_err();
    assert!(matches!(err, ServiceError::Overloaded), "{err:?}");
    assert!(f.service.faces.cache.get(&f.alice, None).is_none(), "no partial reference set is cached");
    assert_eq!(stored_model(&f), "old", "nothing was rewritten");

    // Once the queue has room, the same verify converts the reference and matches on it.
    f.inference.refuse_stored.store(false, Ordering::SeqCst);
    let v = f.service.verify(probe(&f, PROBE)).await.unwrap();
    assert!(v.verified && v.references_compared == 1);
    assert_eq!(stored_model(&f), "new");
    assert!(f.service.faces.cache.get(&f.alice, None).is_some(), "a complete set is cached");
}

#[tokio::test]
async fn a_user_whose_references_cannot_be_converted_gets_references_outdated() {
    let f = fixture().await;
    for entry in std::fs::read_dir(f.root.join("users/alice")).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "jpg") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    f.inference.refuse_stored.store(false, Ordering::SeqCst);
    let err = f.service.verify(probe(&f, PROBE)).await.unwrap_err();
    assert!(matches!(err, ServiceError::ReferencesOutdated), "{err:?}");
    assert!(f.service.faces.cache.get(&f.alice, None).is_none());
}

#[tokio::test]
async fn a_migration_converts_once_and_then_finds_everything_current() {
    let f = fixture().await;
    f.inference.refuse_stored.store(false, Ordering::SeqCst);
    assert_eq!(f.service.faces.users().await.unwrap(), vec![f.alice.clone()]);
    let first = f.service.faces.migrate_user(&f.alice).await.unwrap();
    assert_eq!(first, MigrationReport { reembedded: 1, current: 0, unusable: 0, sealed: 0 });
    let again = f.service.faces.migrate_user(&f.alice).await.unwrap();
    assert_eq!(again, MigrationReport { reembedded: 0, current: 1, unusable: 0, sealed: 0 });
}

#[tokio::test]
async fn the_bytes_of_a_reference_photo_are_refused_as_a_replay_and_count_as_a_failure() {
    let f = fixture().await;
    f.inference.refuse_stored.store(false, Ordering::SeqCst);
    for left in (0..5).rev() {
        let err = f.service.verify(probe(&f, STORED)).await.unwrap_err();
        assert!(matches!(err.refusal(), ServiceError::ReplayedImage), "{err:?}");
        assert!(matches!(err, ServiceError::Counted { attempts_left, .. } if attempts_left == left), "{err:?}");
    }
    let err = f.service.verify(probe(&f, PROBE)).await.unwrap_err();
    assert!(matches!(err, ServiceError::TooManyAttempts(_)), "{err:?}");
}

async fn session(f: &Fixture, user: &UserId, purpose: SessionPurpose) -> IssuedSession {
    let request = SessionRequest {
        user: user.clone(),
        purpose,
        nonce: Some("n-1".into()),
        audience: Some("bank".into()),
        factors: crate::service::Factors::Face,
        liveness: None,
    };
    f.service.create_session(request).await.unwrap()
}

#[tokio::test]
async fn a_photo_of_a_decided_verify_is_refused_when_sent_again() {
    let f = fixture().await;
    f.inference.refuse_stored.store(false, Ordering::SeqCst);
    assert!(f.service.verify(probe(&f, PROBE)).await.unwrap().verified);
    let err = f.service.verify(probe(&f, PROBE)).await.unwrap_err();
    assert!(matches!(err.refusal(), ServiceError::ReplayedImage), "{err:?}");
}

#[tokio::test]
async fn a_session_is_spent_by_a_decided_attempt_and_its_outcome_carries_the_binding() {
    let f = fixture().await;
    f.inference.refuse_stored.store(false, Ordering::SeqCst);
    let s = session(&f, &f.alice, SessionPurpose::Verify).await;
    assert_eq!(f.service.access.session(&s.id).await.unwrap().unwrap().status(), SessionStatus::Pending);
    let v = f.service.verify(request(&f.alice, PROBE, Some(&s.token), Disclosure::PassFail)).await.unwrap();
    assert!(v.verified);
    let claims = f.service.access.introspect(&v.token.unwrap().token, false).await.unwrap().unwrap();
    assert_eq!(
        (claims.aud.as_str(), claims.nonce.as_deref(), claims.sid.as_deref()),
        ("bank", Some("n-1"), Some(s.id.as_str()))
    );
    let record = f.service.access.session(&s.id).await.unwrap().unwrap();
    assert_eq!(record.status(), SessionStatus::Completed);
    assert!(record.outcome.unwrap().verified);
    let again = f.service.verify(request(&f.alice, STORED, Some(&s.token), Disclosure::PassFail)).await.unwrap_err();
    assert!(matches!(again, ServiceError::Session(SessionError::Used)), "{again:?}");
}

#[tokio::test]
async fn a_session_survives_an_undecided_attempt() {
    let f = fixture().await;
    // The stored reference cannot be re-embedded: overloaded, nothing decided.
    let s = session(&f, &f.alice, SessionPurpose::Verify).await;
    let err = f.service.verify(request(&f.alice, PROBE, Some(&s.token), Disclosure::PassFail)).await.unwrap_err();
    assert!(matches!(err, ServiceError::Overloaded), "{err:?}");
    f.inference.refuse_stored.store(false, Ordering::SeqCst);
    assert!(f.service.verify(request(&f.alice, PROBE, Some(&s.token), Disclosure::PassFail)).await.unwrap().verified);
}

#[tokio::test]
async fn sessions_and_grants_issued_before_a_delete_are_refused_after_it() {
    let f = fixture().await;
    let s = session(&f, &f.alice, SessionPurpose::Enroll).await;
    let grant = f.service.issue_enrollment(&f.alice).await.unwrap();
    f.service.delete_user(&f.alice).await.unwrap();
    let err = f
        .service
        .register(&f.alice, Bytes::from_static(PROBE), Enrolment::Session(&s.token), CLIENT, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Session(SessionError::Revoked)), "{err:?}");
    let err = f
        .service
        .register(&f.alice, Bytes::from_static(PROBE), Enrolment::Grant(&grant.token), CLIENT, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::InvalidEnrollmentToken(GrantError::Revoked)), "{err:?}");
    // Issued after the delete, a session is accepted: the stand-in photo is then refused for what
    // it is (not an image), which decides nothing.
    let fresh = session(&f, &f.alice, SessionPurpose::Enroll).await;
    let err = f
        .service
        .register(&f.alice, Bytes::from_static(PROBE), Enrolment::Session(&fresh.token), CLIENT, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Image(_)), "{err:?}");
}

#[tokio::test]
async fn an_unknown_user_answers_a_client_like_a_mismatch_and_counts_as_a_failure() {
    let f = fixture().await;
    let bob = UserId::parse("bob").unwrap();
    let full = f.service.verify(request(&bob, PROBE, None, Disclosure::Full)).await.unwrap_err();
    assert!(matches!(full, ServiceError::UserNotFound), "{full:?}");
    const PHOTOS: [&[u8]; 5] = [b"p1", b"p2", b"p3", b"p4", b"p5"];
    for photo in PHOTOS {
        let v = f.service.verify(request(&bob, photo, None, Disclosure::PassFail)).await.unwrap();
        assert!(!v.verified && v.reference_id.is_none());
    }
    let err = f.service.verify(request(&bob, b"p6", None, Disclosure::PassFail)).await.unwrap_err();
    assert!(matches!(err, ServiceError::TooManyAttempts(_)), "{err:?}");
}

#[tokio::test]
async fn the_failure_ladder_disables_after_consecutive_failures_and_a_success_or_an_unlock_resets_it() {
    let f = fixture().await;
    f.inference.refuse_stored.store(false, Ordering::SeqCst);
    // Each failure from another address, so the per-client window lockout never stops them first.
    let from = |i: u8| std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, i));
    let bob = UserId::parse("bob").unwrap();
    let attempt = |user: &UserId, i: u8, photo: &'static [u8]| VerifyRequest {
        client: from(i),
        ..request(user, photo, None, Disclosure::PassFail)
    };
    const PHOTOS: [&[u8]; 9] = [b"f1", b"f2", b"f3", b"f4", b"f5", b"f6", b"f7", b"f8", b"f9"];
    for (i, photo) in PHOTOS[..7].iter().enumerate() {
        assert!(!f.service.verify(attempt(&bob, i as u8, photo)).await.unwrap().verified);
    }
    let err = f.service.verify(attempt(&bob, 50, PHOTOS[7])).await.unwrap_err();
    assert!(matches!(err, ServiceError::VerificationDisabled(7)), "{err:?}");
    assert_eq!(f.service.unlock(&bob).await.unwrap(), 7);
    assert!(!f.service.verify(attempt(&bob, 51, PHOTOS[8])).await.unwrap().verified, "unlocked");

    // A success in between starts the count again.
    for _ in 0..6 {
        f.service.state.record_verification(&f.alice, false).await.unwrap();
    }
    assert!(f.service.verify(attempt(&f.alice, 60, PROBE)).await.unwrap().verified);
    assert_eq!(f.service.state.consecutive_failures(&f.alice).await.unwrap(), 0);
}

mod attempt;
