//! Several instances, one truth: two faceauth processes on one moto bucket and one redis-server
//! behave as one service.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

const SECRET: &str = "backend-secret-key-0123456789";
const CLIENT: &str = "frontend-client-key-0123456789";

/// Two instances on the same bucket and state server, with `extra` settings.
async fn pair(moto: &Moto, redis: &Redis, extra: &[(&str, &str)]) -> (TestApp, TestApp) {
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    env.push(("SHARED_STATE_URL".into(), redis.url.clone()));
    env.push(("SHARED_STATE_PREFIX".into(), format!("test-{}:", &uuid::Uuid::new_v4().simple().to_string()[..8])));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    (spawn_owned(&env), spawn_owned(&env))
}

#[tokio::test]
async fn the_lockout_counts_failures_through_every_instance() {
    let (moto, redis) = (Moto::start(), Redis::start());
    let (a, b) = pair(&moto, &redis, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    assert!(a.logs().contains("shared state: redis://127.0.0.1"), "{}", a.logs());
    assert_eq!(a.register("bob", ANISTON).await.status, 201);
    // Alternating instances, the tries left count down as one: 4, 3, 2, 1, 0.
    for left in (0..5).rev() {
        let instance = if left % 2 == 0 { &a } else { &b };
        let reply = instance.verify_from("203.0.113.7", "bob", ANGELINA_2).await;
        assert_eq!((reply.status, reply.body["verified"].clone()), (200, json!(false)));
        assert_eq!(reply.body["attempts_left"], json!(left), "{:?}", reply.body);
    }
    let sixth = b.verify_from("203.0.113.7", "bob", ANGELINA_2).await;
    assert_eq!((sixth.status, sixth.code()), (429, "too_many_attempts"));
    let owner = b.verify_from("198.51.100.9", "bob", ANISTON_2).await;
    assert_eq!(owner.body["verified"], true, "{:?}", owner.body);
}

#[tokio::test]
async fn the_per_ip_rate_limit_is_shared_between_instances() {
    let (moto, redis) = (Moto::start(), Redis::start());
    // 20 a minute allows a burst of 2.
    let (a, b) = pair(&moto, &redis, &[("RATE_LIMIT_PER_IP", "20")]).await;
    assert_eq!(a.get("/api/users/nobody").await.status, 404);
    assert_eq!(a.get("/api/users/nobody").await.status, 404);
    let third = b.get("/api/users/nobody").await;
    assert_eq!((third.status, third.code()), (429, "rate_limited"));
    assert!(third.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_change_through_one_instance_is_seen_by_the_other_on_its_next_request() {
    let (moto, redis) = (Moto::start(), Redis::start());
    let (a, b) = pair(&moto, &redis, &[]).await;
    assert_eq!(a.register("alice", ANGELINA_1).await.status, 201);
    let cached = b.verify("alice", ANGELINA_2).await;
    assert_eq!((cached.body["verified"].clone(), cached.body["references_compared"].clone()), (json!(true), json!(1)));
    // A new reference through A is used by B's very next verify, though B has alice cached.
    assert_eq!(a.register("alice", ANGELINA_4).await.status, 201);
    let next = b.verify("alice", ANGELINA_2).await;
    assert_eq!(next.body["references_compared"], 2, "{:?}", next.body);
    // A delete through A: B answers 404 at once, not a match from its cache.
    assert_eq!(a.delete("/api/users/alice").await.status, 200);
    let deleted = b.verify("alice", ANGELINA_2).await;
    assert_eq!((deleted.status, deleted.code()), (404, "user_not_found"));
    assert!(deleted.body.get("token").is_none());
}

#[tokio::test]
async fn an_enrolment_grant_used_through_one_instance_is_refused_by_the_other() {
    let (moto, redis) = (Moto::start(), Redis::start());
    let keys =
        [("API_KEYS", SECRET), ("CLIENT_API_KEYS", CLIENT), ("SECRET_KEY", "instances-test-key-0123456789abcdef")];
    let (a, b) = pair(&moto, &redis, &keys).await;
    let grant = b.enrollment(SECRET, "carol").await;
    let token = grant.body["enrollment_token"].as_str().unwrap().to_string();
    let form = |photo: &str| TestApp::form("carol", face(photo)).text("enrollment_token", token.clone());
    assert_eq!(a.post_form_as(CLIENT, "/api/register", form(ANISTON)).await.status, 201);
    let again = b.post_form_as(CLIENT, "/api/register", form(ANISTON_2)).await;
    assert_eq!((again.status, again.code()), (401, "invalid_enrollment_token"));
    assert_eq!(a.get_as(SECRET, "/api/users/carol").await.body["references"], 1);
}

/// Polls until `check` holds: the service reconnects on its own, on its own schedule.
async fn eventually(app: &TestApp, user: &str) -> Reply {
    for _ in 0..100 {
        let reply = app.verify(user, ANGELINA_2).await;
        if reply.status == 200 {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} did not recover", app.base);
}

#[tokio::test]
async fn without_the_state_server_both_fail_closed_and_recover_when_it_returns() {
    let (moto, mut redis) = (Moto::start(), Redis::start());
    let (a, b) = pair(&moto, &redis, &[]).await;
    assert_eq!(a.register("alice", ANGELINA_1).await.status, 201);
    assert_eq!(b.verify("alice", ANGELINA_2).await.body["verified"], true);

    redis.stop();
    for app in [&a, &b] {
        let reply = app.verify("alice", ANGELINA_2).await;
        assert_eq!((reply.status, reply.code()), (503, "state_unavailable"), "{:?}", reply.body);
        assert!(reply.headers.contains_key("retry-after"));
        let register = app.register("alice", ANGELINA_4).await;
        assert_eq!((register.status, register.code()), (503, "state_unavailable"));
        let ready = app.get("/ready").await;
        assert_eq!((ready.status, ready.body["checks"]["state"].clone()), (503, json!("unreachable")));
        assert!(!app.logs().contains("panicked"));
    }

    redis.resume();
    for app in [&a, &b] {
        assert_eq!(eventually(app, "alice").await.body["verified"], true);
    }
}
