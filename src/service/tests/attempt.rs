//! The attempt's all-or-nothing rules, on the attempt itself: what dropping, spending and closing
//! give back, spend, count and record.

use super::super::attempt::{Decided, Ticket};
use super::*;

const CLIENT_B: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 9));

/// A decided result and nothing more.
#[derive(Debug, PartialEq)]
struct Done {
    succeeded: bool,
    left: Option<u32>,
}

impl Decided for Done {
    fn succeeded(&self) -> bool {
        self.succeeded
    }

    fn told(self, left: u32) -> Self {
        Self { left: Some(left), ..self }
    }
}

fn outcome(result: &Result<Done, ServiceError>) -> SessionOutcome {
    SessionOutcome {
        verified: result.as_ref().is_ok_and(|d| d.succeeded),
        code: result.as_ref().err().and_then(ServiceError::decided_code).map(str::to_string),
        ..SessionOutcome::default()
    }
}

async fn held(f: &Fixture, token: &str) -> Result<Ticket, ServiceError> {
    let generation = f.service.state.generation().await?;
    let held = f
        .service
        .access
        .hold(token, &f.alice, SessionPurpose::Verify, &generation, |s| f.service.liveness.admits(s))
        .await?;
    Ok(Ticket::Session(Box::new(held)))
}

async fn open(f: &Fixture, purpose: SessionPurpose, ticket: Ticket) -> super::super::attempt::Attempt {
    f.service.open_attempt(&f.alice, CLIENT_B, purpose, ticket).await.unwrap()
}

#[tokio::test]
async fn an_attempt_dropped_undecided_gives_its_session_and_its_lockout_attempt_back() {
    let f = fixture().await;
    let s = session(&f, &f.alice, SessionPurpose::Verify).await;
    for _ in 0..3 {
        let attempt = open(&f, SessionPurpose::Verify, held(&f, &s.token).await.unwrap()).await;
        drop(attempt);
    }
    // The same session is held again, and the lockout counted none of the three.
    let attempt = open(&f, SessionPurpose::Verify, held(&f, &s.token).await.unwrap()).await;
    let closed = attempt.spend().close(&f.service, Err(ServiceError::FaceMismatch), outcome).await;
    match closed {
        Err(ServiceError::Counted { error, attempts_left }) => {
            assert!(matches!(*error, ServiceError::FaceMismatch));
            assert_eq!(attempts_left, 4, "one failure of five per client");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_spent_session_is_not_held_again_and_its_outcome_is_recorded() {
    let f = fixture().await;
    let s = session(&f, &f.alice, SessionPurpose::Verify).await;
    let attempt = open(&f, SessionPurpose::Verify, held(&f, &s.token).await.unwrap()).await;
    let spent = attempt.spend();
    assert_eq!(spent.session().map(|s| s.id.clone()), Some(s.id.clone()));
    let closed = spent.close(&f.service, Ok(Done { succeeded: false, left: None }), outcome).await.unwrap();
    assert_eq!(closed, Done { succeeded: false, left: Some(4) }, "a mismatch is told the tries left");
    assert!(matches!(held(&f, &s.token).await, Err(ServiceError::Session(SessionError::Used))));
    let record = f.service.access.session(&s.id).await.unwrap().unwrap();
    assert_eq!(record.status(), SessionStatus::Completed);
    assert!(!record.outcome.unwrap().verified);
}

#[tokio::test]
async fn a_success_forgives_the_clients_failures_and_is_not_told_a_count() {
    let f = fixture().await;
    let fail = open(&f, SessionPurpose::Verify, Ticket::Trusted).await;
    assert!(fail.spend().close(&f.service, Err(ServiceError::FaceMismatch), outcome).await.is_err());
    let pass = open(&f, SessionPurpose::Verify, Ticket::Trusted).await;
    let done = pass.spend().close(&f.service, Ok(Done { succeeded: true, left: None }), outcome).await.unwrap();
    assert_eq!(done.left, None);
    // Forgiven: the next failure is again the first of five.
    let next = open(&f, SessionPurpose::Verify, Ticket::Trusted).await;
    match next.spend().close(&f.service, Err(ServiceError::FaceMismatch), outcome).await {
        Err(ServiceError::Counted { attempts_left, .. }) => assert_eq!(attempts_left, 4),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_trusted_register_is_not_counted_and_a_verify_always_is() {
    let f = fixture().await;
    for _ in 0..6 {
        let attempt = open(&f, SessionPurpose::Enroll, Ticket::Trusted).await;
        let refused = attempt.spend().close(&f.service, Err(ServiceError::FaceMismatch), outcome).await;
        assert!(matches!(refused, Err(ServiceError::FaceMismatch)), "not counted: {refused:?}");
    }
    let verify = open(&f, SessionPurpose::Verify, Ticket::Trusted).await;
    let refused = verify.spend().close(&f.service, Err(ServiceError::FaceMismatch), outcome).await;
    assert!(matches!(refused, Err(ServiceError::Counted { attempts_left: 4, .. })), "{refused:?}");
}

#[tokio::test]
async fn a_verify_is_refused_before_anything_is_counted_once_the_ladder_disables_the_user() {
    let f = fixture().await;
    // DISABLE_AFTER_FAILURES is 7 in the fixture; failures from several clients reach it.
    for i in 0..7u8 {
        let client = std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, i));
        let attempt = f.service.open_attempt(&f.alice, client, SessionPurpose::Verify, Ticket::Trusted).await.unwrap();
        let _ = attempt.spend().close(&f.service, Err(ServiceError::FaceMismatch), outcome).await;
    }
    let refused = f.service.open_attempt(&f.alice, CLIENT_B, SessionPurpose::Verify, Ticket::Trusted).await;
    assert!(matches!(refused, Err(ServiceError::VerificationDisabled(7))), "{:?}", refused.err());
}

#[tokio::test]
async fn replays_looks_belong_to_the_attempt_before_and_after_the_decision() {
    let f = fixture().await;
    let digests = vec!["d-1".to_string()];
    let first = open(&f, SessionPurpose::Verify, Ticket::Trusted).await;
    assert!(!first.presented_before(&f.service, &digests).await.unwrap());
    // Two attempts with the same photo race: both passed the first look.
    let second = open(&f, SessionPurpose::Verify, Ticket::Trusted).await;
    assert!(!second.presented_before(&f.service, &digests).await.unwrap());
    let success = || Ok(Done { succeeded: true, left: None });
    let kept = first.remember(&f.service, Some((&digests, &[])), success()).await.unwrap();
    assert!(kept.is_ok(), "the first to be remembered keeps its success");
    let raced = second.remember(&f.service, Some((&digests, &[])), success()).await.unwrap();
    assert!(matches!(raced, Err(ServiceError::ReplayedImage)), "the copy that raced it is refused");
    // A photo refused unexamined (a device or budget refusal) is not remembered as presented.
    let unexamined = vec!["d-2".to_string()];
    let refused = open(&f, SessionPurpose::Verify, Ticket::Trusted).await;
    let _ = refused.remember(&f.service, None, Err::<Done, _>(ServiceError::FaceMismatch)).await.unwrap();
    let next = open(&f, SessionPurpose::Verify, Ticket::Trusted).await;
    assert!(!next.presented_before(&f.service, &unexamined).await.unwrap());
    assert!(next.presented_before(&f.service, &digests).await.unwrap(), "a remembered photo is seen by the next");
    drop((first, second, refused, next));
}
