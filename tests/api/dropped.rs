//! Clients that hang up half-way: a register, a delete, a verify within a session. S3 sits behind
//! a slow relay (each chunk held 25 ms each way), so each takes about 100 ms of round trips, and
//! the client gives up after a little longer each time: it is dropped at every stage. Afterwards
//! there is either nothing (and the grant or session still works), or a complete result: the
//! reference stored (or removed, or the attempt decided), its audit record in the bucket, the
//! grant or session spent.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

const SECRET: &str = "backend-secret-key-0123456789";
const CLIENT: &str = "pk_frontend_0123456789";

async fn audited(moto: &Moto, bucket: &str, event: &str, user: &str) -> usize {
    let mut count = 0;
    for key in moto.keys(bucket).await.into_iter().filter(|k| k.starts_with("faceauth-audit/")) {
        let out = moto.s3().get_object().bucket(bucket).key(&key).send().await.unwrap();
        let text = String::from_utf8(out.body.collect().await.unwrap().into_bytes().to_vec()).unwrap();
        count += text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|r| r["event"] == event && r["user_id"] == user && r["outcome"] == "ok")
            .count();
    }
    count
}

/// Whether the client hung up (its timeout struck, counted in `dropped`); an answer must be `ok`.
fn hung_up(outcome: reqwest::Result<reqwest::Response>, ok: u16, dropped: &mut usize) -> bool {
    match outcome {
        Ok(reply) => {
            assert_eq!(reply.status(), ok);
            false
        }
        Err(e) => {
            assert!(e.is_timeout(), "{e}");
            *dropped += 1;
            true
        }
    }
}

/// The service with S3 behind the slow relay, audit records in the bucket.
async fn behind_slow_s3() -> (Moto, String, Relay, TestApp) {
    behind_slow_s3_with(&[]).await
}

async fn behind_slow_s3_with(extra: &[(&str, &str)]) -> (Moto, String, Relay, TestApp) {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let relay = Relay::slow(moto.port(), Duration::from_millis(25)).await;
    let mut env = moto.env(&bucket);
    env.push(("AWS_ENDPOINT_URL_S3".into(), format!("http://127.0.0.1:{}", relay.port)));
    for (k, v) in [("API_KEYS", SECRET), ("CLIENT_API_KEYS", CLIENT), ("AUDIT_S3_PREFIX", "faceauth-audit/")] {
        env.push((k.into(), v.into()));
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let app = spawn_owned(&env);
    (moto, bucket, relay, app)
}

// The relay runs on the test's runtime while the test blocks on the service's startup: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_dropped_at_any_stage_is_all_or_nothing() {
    let (moto, bucket, _relay, app) = behind_slow_s3().await;
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
        let hung_up = hung_up(register(&user, &grant, Duration::from_millis(after_ms)).await, 201, &mut dropped);
        // The operation's own audit line says it ended (it is logged before it is written; its
        // intent, logged before the change, does not count). A
        // client that hung up before its upload reached the handler started nothing: no line.
        let ended = |l: &str| {
            l.contains("audit") && l.contains("event=\"register\"") && l.contains(&user) && !l.contains("intent")
        };
        app.wait_for_line(ended, Duration::from_secs(5));
        // A second try with the same grant: refused when the first stored, else it stores now.
        // Its answer comes after its own audit write, which waits for any write of the first's.
        let again = register(&user, &grant, Duration::from_secs(30)).await.unwrap();
        let status = again.status().as_u16();
        let stored = app.get_as(SECRET, &format!("/api/users/{user}")).await;
        assert_eq!(stored.status, 200, "one reference either way: {:?} (second try: {status})", stored.body);
        assert_eq!(stored.body["references"], 1, "{:?}", stored.body);
        match status {
            401 if hung_up => completed += 1,
            401 => {}
            201 => assert!(hung_up, "a grant that stored is spent"),
            other => panic!("{other}"),
        }
        assert_eq!(audited(&moto, &bucket, "register", &user).await, 1, "exactly one audited register for {user}");
    }
    assert!(dropped >= 8, "the client hung up {dropped} times");
    assert!(completed >= 4, "{completed} dropped registers ran to completion and spent their grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_dropped_at_any_stage_is_all_or_nothing() {
    let (moto, bucket, _relay, app) = behind_slow_s3().await;
    let (mut completed, mut dropped) = (0, 0);
    // How long a whole delete takes here; the client then hangs up at each fraction of it.
    assert_eq!(app.post_form_as(SECRET, "/api/register", TestApp::form("probe", face(ANGELINA_1))).await.status, 201);
    let started = std::time::Instant::now();
    assert_eq!(app.delete_as(SECRET, "/api/users/probe").await.status, 200);
    let whole = started.elapsed();
    for i in 0..14u32 {
        let after_ms = (whole.as_millis() as u64 * u64::from(i) / 10).max(1);
        let user = format!("leaving{i}");
        assert_eq!(app.post_form_as(SECRET, "/api/register", TestApp::form(&user, face(ANGELINA_1))).await.status, 201);
        // A grant issued before the delete: the delete must revoke it, or not have happened.
        let grant = app.enrollment(SECRET, &user).await.body["enrollment_token"].as_str().unwrap().to_string();
        let url = format!("{}/api/users/{user}", app.base);
        let request = app.client.delete(url).bearer_auth(SECRET).timeout(Duration::from_millis(after_ms));
        let hung_up = hung_up(request.send().await, 200, &mut dropped);
        let ended = |l: &str| {
            l.contains("audit") && l.contains("event=\"delete\"") && l.contains(&user) && !l.contains("intent")
        };
        let ended = app.wait_for_line(ended, Duration::from_secs(5)).is_some();
        let left: Vec<String> =
            moto.keys(&bucket).await.into_iter().filter(|k| k.starts_with(&format!("users/{user}/"))).collect();
        let stored = app.get_as(SECRET, &format!("/api/users/{user}")).await.status;
        let form = TestApp::form(&user, face(ANISTON)).text("enrollment_token", grant);
        let stranger = app.post_form_as(CLIENT, "/api/register", form).await;
        if ended {
            // Complete: nothing of the user left, the record in the bucket, the grant revoked.
            assert_eq!(stored, 404);
            assert!(left.is_empty(), "{left:?}");
            assert_eq!(audited(&moto, &bucket, "delete", &user).await, 1);
            assert_eq!((stranger.status, stranger.code()), (401, "invalid_enrollment_token"), "{:?}", stranger.body);
            completed += usize::from(hung_up);
        } else {
            // Nothing: the user intact, no record (the client hung up before the request arrived).
            assert!(hung_up, "an answered delete was audited");
            assert_eq!(stored, 200, "{left:?}");
            assert_eq!(audited(&moto, &bucket, "delete", &user).await, 0);
        }
    }
    assert!(dropped >= 4, "the client hung up {dropped} times");
    assert!(completed >= 2, "{completed} dropped deletes ran to completion");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verify_dropped_at_any_stage_decides_once_or_not_at_all() {
    // The same photo is sent twice per round (the dropped try, then the retry): the replay memory
    // would refuse the retry as a copy, which is not what this test is about.
    let (moto, bucket, _relay, app) = behind_slow_s3_with(&[("REPLAY_WINDOW_SECS", "0")]).await;
    let session = |user: String| {
        let app = &app;
        async move {
            let url = format!("{}/api/sessions", app.base);
            let body = json!({ "user_id": user, "purpose": "verify" });
            let reply = app.send(app.client.post(url).bearer_auth(SECRET).json(&body)).await;
            (
                reply.body["session_id"].as_str().unwrap().to_string(),
                reply.body["session_token"].as_str().unwrap().to_string(),
            )
        }
    };
    let verify = |user: &str, token: &str, timeout: Duration| {
        let form = TestApp::form(user, face(ANGELINA_2)).text("session_token", token.to_string());
        let url = format!("{}/api/verify", app.base);
        app.client.post(url).bearer_auth(CLIENT).multipart(form).timeout(timeout).send()
    };
    assert_eq!(app.post_form_as(SECRET, "/api/register", TestApp::form("probe", face(ANGELINA_1))).await.status, 201);
    let (_, token) = session("probe".into()).await;
    let started = std::time::Instant::now();
    assert_eq!(verify("probe", &token, Duration::from_secs(30)).await.unwrap().status(), 200);
    let whole = started.elapsed();
    let (mut completed, mut dropped) = (0, 0);
    for i in 0..14u32 {
        let after_ms = (whole.as_millis() as u64 * u64::from(i) / 10).max(1);
        let user = format!("verifier{i}");
        assert_eq!(app.post_form_as(SECRET, "/api/register", TestApp::form(&user, face(ANGELINA_1))).await.status, 201);
        let (id, token) = session(user.clone()).await;
        let hung_up = hung_up(verify(&user, &token, Duration::from_millis(after_ms)).await, 200, &mut dropped);
        let ended = |l: &str| l.contains("audit") && l.contains("event=\"verify\"") && l.contains(&user);
        let ended = app.wait_for_line(ended, Duration::from_secs(5)).is_some();
        let outcome = app.get_as(SECRET, &format!("/api/sessions/{id}")).await;
        let retry = verify(&user, &token, Duration::from_secs(30)).await.unwrap();
        if ended {
            // Decided once: the session spent with its outcome, the record in the bucket.
            assert_eq!(outcome.body["status"], "completed", "{:?}", outcome.body);
            assert_eq!(outcome.body["verified"], true);
            assert_eq!(retry.status(), 401, "the session was spent by the dropped verify");
            assert_eq!(audited(&moto, &bucket, "verify", &user).await, 1);
            completed += usize::from(hung_up);
        } else {
            // Not at all: the session still pending and good for the retry.
            assert!(hung_up, "an answered verify was audited");
            assert_eq!(outcome.body["status"], "pending", "{:?}", outcome.body);
            assert_eq!(retry.status(), 200);
            assert_eq!(audited(&moto, &bucket, "verify", &user).await, 1, "the retry's record only");
        }
    }
    assert!(dropped >= 4, "the client hung up {dropped} times");
    assert!(completed >= 2, "{completed} dropped verifies ran to completion");
}

/// Write-ahead audit: a burst of registers (S3 behind the slow relay) SIGKILLed at several points —
/// after the first, third and sixth register record logged — then bucket and trail reconciled: every user
/// with anything stored has a record written before it (its `intent`), every `ok` register has its
/// reference, and an `error` one left nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_a_register_burst_leaves_no_stored_reference_unrecorded() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let relay = Relay::slow(moto.port(), Duration::from_millis(25)).await;
    let mut env = moto.env(&bucket);
    env.push(("AWS_ENDPOINT_URL_S3".into(), format!("http://127.0.0.1:{}", relay.port)));
    for (k, v) in [("API_KEYS", SECRET), ("AUDIT_S3_PREFIX", "faceauth-audit/")] {
        env.push((k.into(), v.into()));
    }
    let photo = face(ANGELINA_1);
    let mut users = Vec::new();
    for (run, kill_after) in [1usize, 3, 6].into_iter().enumerate() {
        let app = spawn_owned(&env);
        let burst: Vec<String> = (0..8).map(|i| format!("burst{run}x{i}")).collect();
        // The burst runs as its own task while this one waits on the log's condition variable.
        let requests = futures::future::join_all(burst.iter().map(|user| {
            let form = TestApp::form(user, photo.clone());
            app.client.post(format!("{}/api/register", app.base)).bearer_auth(SECRET).multipart(form).send()
        }));
        let requests = tokio::spawn(async move { requests.await.len() });
        let audited = |l: &str| l.contains("audit") && l.contains("event=\"register\"");
        let seen = tokio::task::block_in_place(|| app.wait_for_lines(audited, kill_after, Duration::from_secs(60)));
        assert!(seen >= kill_after, "{seen} register records logged:\n{}", app.logs());
        let status = std::process::Command::new("kill").args(["-9", &app.pid().to_string()]).status().unwrap();
        assert!(status.success());
        requests.await.unwrap();
        users.extend(burst);
    }

    let keys = moto.keys(&bucket).await;
    let mut records = Vec::new();
    for key in keys.iter().filter(|k| k.starts_with("faceauth-audit/")) {
        let out = moto.s3().get_object().bucket(&bucket).key(key).send().await.unwrap();
        let text = String::from_utf8(out.body.collect().await.unwrap().into_bytes().to_vec()).unwrap();
        records.extend(text.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()));
    }
    let (mut stored_count, mut unknown) = (0, 0);
    for user in &users {
        let stored: Vec<&String> = keys.iter().filter(|k| k.starts_with(&format!("users/{user}/"))).collect();
        let of = |outcome: &str| {
            records
                .iter()
                .filter(|r| r["event"] == "register" && r["user_id"] == user.as_str() && r["outcome"] == outcome)
                .count()
        };
        let (intents, oks, errors) = (of("intent"), of("ok"), of("error"));
        if !stored.is_empty() {
            stored_count += 1;
            assert!(intents >= 1, "{user}: {stored:?} stored with no record before it");
        }
        if oks > 0 {
            assert!(stored.iter().any(|k| k.ends_with(".json")), "{user}: an ok record, and no reference");
        }
        if errors > 0 {
            assert!(stored.is_empty(), "{user}: an error record, and {stored:?} stored");
        }
        if intents > 0 && oks + errors == 0 {
            unknown += 1;
        }
    }
    assert!(stored_count >= 1, "the kills left some stored references to reconcile");
    assert!(unknown >= 1, "a kill struck between an intent and its outcome at least once");
}
