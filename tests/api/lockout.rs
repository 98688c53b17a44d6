//! The verification lockout protects the account without handing attackers a lock-out button.

use std::net::TcpListener;

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn an_impostor_locks_out_only_their_own_address_and_many_addresses_hit_the_ceiling() {
    let app = spawn(&[("TRUSTED_PROXIES", "127.0.0.1")]);
    assert_eq!(app.register("bob", ANISTON).await.status, 201);
    // The person is told how many tries are left: 4, 3, 2, 1, 0 (LOCKOUT_MAX_FAILURES=5).
    for left in (0..5).rev() {
        let reply = app.verify_from("203.0.113.7", "bob", ANGELINA_2).await;
        assert_eq!((reply.status, reply.body["verified"].clone()), (200, json!(false)));
        assert_eq!(reply.body["attempts_left"], json!(left), "{:?}", reply.body);
    }
    let sixth = app.verify_from("203.0.113.7", "bob", ANGELINA_2).await;
    assert_eq!((sixth.status, sixth.code()), (429, "too_many_attempts"));
    assert!(sixth.headers.contains_key("retry-after"));
    let owner = app.verify_from("198.51.100.9", "bob", ANISTON_2).await;
    assert_eq!((owner.status, owner.body["verified"].clone()), (200, json!(true)), "{:?}", owner.body);
    assert!(owner.body.get("attempts_left").is_none(), "a match counts nothing down");

    // Guessing spread over many addresses: twenty failures, then the ceiling holds for everyone.
    assert_eq!(app.register("carol", ANISTON).await.status, 201);
    for i in 0..20 {
        let reply = app.verify_from(&format!("192.0.2.{i}"), "carol", ANGELINA_2).await;
        assert_eq!(reply.status, 200, "attempt {i}: {:?}", reply.body);
        // The nearer limit is told: this address's 4 left, until the ceiling is closer.
        assert_eq!(reply.body["attempts_left"], json!(4.min(19 - i)), "attempt {i}");
    }
    let twenty_first = app.verify_from("192.0.2.200", "carol", ANISTON_2).await;
    assert_eq!((twenty_first.status, twenty_first.code()), (429, "too_many_attempts"));
}

#[tokio::test]
async fn verifies_cancelled_by_the_request_timeout_do_not_count() {
    let mut moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    env.push(("REQUEST_TIMEOUT_SECS".into(), "1".into()));
    env.push(("LOCKOUT_MAX_FAILURES".into(), "2".into()));
    let app = spawn_owned(&env);
    // S3 turns into a server that accepts connections and never answers: every verify waits on
    // storage until the request timeout cancels it.
    moto.stop();
    let blackhole = TcpListener::bind(("127.0.0.1", moto.port())).unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = blackhole.incoming().collect();
        drop(held);
    });
    for attempt in 0..4 {
        let reply = app.verify("bob", ANGELINA_2).await;
        assert_eq!((reply.status, reply.code()), (503, "timeout"), "attempt {attempt} must not be locked out");
    }
}
