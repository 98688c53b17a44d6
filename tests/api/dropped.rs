//! Clients that hang up half-way. S3 sits behind a slow relay (each chunk held 25 ms each way), so
//! a register takes about 100 ms of round trips, and the client gives up after a little longer each time:
//! it is dropped at every stage. Afterwards there is either nothing (and the grant still works),
//! or a complete result: the reference stored, its audit record in the bucket, the grant spent.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

const SECRET: &str = "backend-secret-key-0123456789";
const CLIENT: &str = "pk_frontend_0123456789";

async fn audited_registers(moto: &Moto, bucket: &str, user: &str) -> usize {
    let mut count = 0;
    for key in moto.keys(bucket).await.into_iter().filter(|k| k.starts_with("faceauth-audit/")) {
        let out = moto.s3().get_object().bucket(bucket).key(&key).send().await.unwrap();
        let text = String::from_utf8(out.body.collect().await.unwrap().into_bytes().to_vec()).unwrap();
        count += text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|r| r["event"] == "register" && r["user_id"] == user && r["outcome"] == "ok")
            .count();
    }
    count
}

// The relay runs on the test's runtime while the test blocks on the service's startup: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_dropped_at_any_stage_is_all_or_nothing() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let relay = Relay::slow(moto.port(), Duration::from_millis(25)).await;
    let mut env = moto.env(&bucket);
    env.push(("AWS_ENDPOINT_URL_S3".into(), format!("http://127.0.0.1:{}", relay.port)));
    for (k, v) in [("API_KEYS", SECRET), ("CLIENT_API_KEYS", CLIENT), ("AUDIT_S3_PREFIX", "faceauth-audit/")] {
        env.push((k.into(), v.into()));
    }
    let app = spawn_owned(&env);
    let photo = face(ANGELINA_1);
    let register = |user: &str, grant: &str, timeout: Duration| {
        let form = TestApp::form(user, photo.clone()).text("enrollment_token", grant.to_string());
        let url = format!("{}/api/register", app.base);
        app.client.post(url).bearer_auth(CLIENT).multipart(form).timeout(timeout).send()
    };
    let (mut completed, mut dropped) = (0, 0);
    for (i, after_ms) in (10u64..=90).step_by(5).enumerate() {
        let user = format!("dropped{i}");
        let url = format!("{}/api/enrollments", app.base);
        let grant = app.send(app.client.post(url).bearer_auth(SECRET).json(&json!({ "user_id": user }))).await;
        let grant = grant.body["enrollment_token"].as_str().unwrap().to_string();
        let hung_up = match register(&user, &grant, Duration::from_millis(after_ms)).await {
            Ok(reply) => {
                assert_eq!(reply.status(), 201);
                false
            }
            Err(e) => {
                assert!(e.is_timeout(), "{e}");
                dropped += 1;
                true
            }
        };
        // The operation's own audit line says it ended (it is logged before it is written). A
        // client that hung up before its upload reached the handler started nothing: no line.
        let ended = |l: &str| l.contains("audit") && l.contains("event=\"register\"") && l.contains(&user);
        app.wait_for_line(ended, Duration::from_secs(5));
        // A second try with the same grant: refused when the first stored, else it stores now.
        // Its answer comes after its own audit write, which waits for any write of the first's.
        let again = register(&user, &grant, Duration::from_secs(30)).await.unwrap();
        let status = again.status().as_u16();
        let stored = app.get_as(SECRET, &format!("/api/users/{user}")).await;
        assert_eq!(stored.status, 200, "one reference either way: {:?}", stored.body);
        assert_eq!(stored.body["references"], 1, "{:?}", stored.body);
        match status {
            401 if hung_up => completed += 1,
            401 => {}
            201 => assert!(hung_up, "a grant that stored is spent"),
            other => panic!("{other}"),
        }
        assert_eq!(audited_registers(&moto, &bucket, &user).await, 1, "exactly one audited register for {user}");
    }
    assert!(dropped >= 8, "the client hung up {dropped} times");
    assert!(completed >= 4, "{completed} dropped registers ran to completion and spent their grant");
}
