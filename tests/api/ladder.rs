//! The failure ladder (NIST SP 800-63B-4 §3.2.3): consecutive failed verifications of one user, from
//! any address and any instance, disable verification until a backend unlocks it; a success resets
//! the count. The window lockout (per address, per user) still applies below it.

use serde_json::json;

use crate::helpers::*;

/// A failure from its own address each time, so the per-address lockout never answers first.
async fn fail(app: &TestApp, i: usize) -> Reply {
    app.verify_from(&format!("203.0.113.{i}"), "bob", [ANGELINA_1, ANGELINA_2, ANGELINA_4][i % 3]).await
}

async fn unlock(app: &TestApp) -> Reply {
    app.send(app.client.post(format!("{}/api/users/bob/unlock", app.base))).await
}

async fn ladder(first: &TestApp, second: &TestApp) {
    assert_eq!(first.register("bob", ANISTON).await.status, 201);
    for i in 0..3 {
        let reply = fail(if i % 2 == 0 { first } else { second }, i).await;
        assert_eq!((reply.status, reply.body["verified"].clone()), (200, json!(false)), "{:?}", reply.body);
    }
    // Disabled for everyone, the owner included, on every instance.
    for app in [first, second] {
        let owner = app.verify_from("198.51.100.9", "bob", ANISTON_2).await;
        assert_eq!((owner.status, owner.code()), (423, "verification_disabled"), "{:?}", owner.body);
    }
    let unlocked = unlock(second).await;
    assert_eq!((unlocked.status, &unlocked.body["failures_cleared"]), (200, &json!(3)), "{:?}", unlocked.body);
    let owner = first.verify_from("198.51.100.9", "bob", ANISTON_2).await;
    assert_eq!(owner.body["verified"], true, "{:?}", owner.body);

    // Two failures, a success, two more: never three in a row, so never disabled.
    for i in 3..5 {
        assert_eq!(fail(first, i).await.status, 200);
    }
    assert_eq!(second.verify_from("198.51.100.10", "bob", ANISTON_2).await.body["verified"], true);
    for i in 5..7 {
        assert_eq!(fail(second, i).await.status, 200);
    }
    let owner = first.verify_from("198.51.100.11", "bob", ANISTON_2).await;
    assert_eq!(owner.body["verified"], true, "{:?}", owner.body);
}

const ENV: [(&str, &str); 2] = [("TRUSTED_PROXIES", "127.0.0.1"), ("LOCKOUT_DISABLE_AFTER", "3")];

#[tokio::test]
async fn the_ladder_disables_after_consecutive_failures_and_unlock_or_success_resets_it() {
    let app = spawn(&ENV);
    ladder(&app, &app).await;
}

#[tokio::test]
async fn the_ladder_counts_through_every_instance_sharing_redis() {
    let (moto, redis) = (Moto::start(), Redis::start());
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    env.push(("SHARED_STATE_URL".into(), redis.url.clone()));
    env.extend(ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let (a, b) = (spawn_owned(&env), spawn_owned(&env));
    ladder(&a, &b).await;
}

#[tokio::test]
async fn replacing_the_references_enables_verification_again() {
    let app = spawn(&ENV);
    assert_eq!(app.register("bob", ANISTON).await.status, 201);
    for i in 0..3 {
        fail(&app, i).await;
    }
    assert_eq!(app.verify_from("198.51.100.9", "bob", ANISTON_2).await.code(), "verification_disabled");
    let form = TestApp::form("bob", face(ANISTON)).text("replace", "true");
    assert_eq!(app.post_form("/api/register", form).await.status, 201);
    assert_eq!(app.verify_from("198.51.100.9", "bob", ANISTON_2).await.body["verified"], true);
}
