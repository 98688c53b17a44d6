//! The durable audit trail: records of the test's biometric events in the bucket (moto), written
//! before each answer (so a SIGKILL loses none), on schedule and on SIGTERM; a store that cannot take them is visible and, once the buffer is
//! full, stops biometric operations until the records are written.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;

async fn audit_records(moto: &Moto, bucket: &str) -> Vec<Value> {
    let mut records = Vec::new();
    for key in moto.keys(bucket).await.into_iter().filter(|k| k.starts_with("faceauth-audit/")) {
        assert!(key.ends_with(".jsonl"), "{key}");
        let out = moto.s3().get_object().bucket(bucket).key(&key).send().await.unwrap();
        let text = String::from_utf8(out.body.collect().await.unwrap().into_bytes().to_vec()).unwrap();
        records.extend(text.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()));
    }
    records.sort_by_key(|r| r["seq"].as_u64());
    records
}

/// `event:detail`, or `event:intent` for a write-ahead intent.
fn events(records: &[Value]) -> Vec<String> {
    let detail = |r: &Value| match r["outcome"].as_str() {
        Some("intent") => "intent".to_string(),
        _ => r["detail"].as_str().unwrap_or("").to_string(),
    };
    records.iter().map(|r| format!("{}:{}", r["event"].as_str().unwrap(), detail(r))).collect()
}

#[tokio::test]
async fn every_event_is_in_the_bucket_before_its_answer_and_survives_a_sigkill() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    // An hour between scheduled flushes: what is in the bucket got there before each answer.
    env.extend([("AUDIT_S3_PREFIX".into(), "faceauth-audit/".into()), ("AUDIT_FLUSH_SECS".into(), "3600".into())]);
    let app = spawn_owned(&env);
    let form = TestApp::form("angelina", face(ANGELINA_1)).text("consent", "biometric-notice-v3");
    assert_eq!(app.post_form("/api/register", form).await.status, 201);
    // The register's intent was durable before the reference was stored, its outcome before the answer.
    assert_eq!(
        events(&audit_records(&moto, &bucket).await)[1..],
        ["register:intent", "register:", "consent:biometric-notice-v3"]
    );
    assert_eq!(app.verify("angelina", ANGELINA_2).await.body["verified"], json!(true));
    assert_eq!(app.verify("angelina", ANISTON).await.body["verified"], json!(false));
    let session = app
        .client
        .post(format!("{}/api/sessions", app.base))
        .json(&json!({"user_id": "angelina", "purpose": "verify"}));
    assert_eq!(session.send().await.unwrap().status(), 201);
    let export = app.client.get(format!("{}/api/users/angelina/export", app.base)).send().await.unwrap();
    assert_eq!(export.status(), 200);
    assert_eq!(app.delete("/api/users/angelina").await.status, 200);

    // SIGKILL: no flush on the way out.
    let status = std::process::Command::new("kill").args(["-KILL", &app.pid().to_string()]).status().unwrap();
    assert!(status.success());
    app.wait();
    let records = audit_records(&moto, &bucket).await;
    assert_eq!(
        events(&records)[1..],
        [
            "register:intent",
            "register:",
            "consent:biometric-notice-v3",
            "verify:match",
            "verify:no_match",
            "session_verify:",
            "export:",
            "delete:intent",
            "delete:"
        ]
    );
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..10).collect::<Vec<u64>>(), "one instance, no gap");
    for record in &records[1..] {
        let outcome = if record["key_kind"] == "service" { "intent" } else { "ok" };
        assert_eq!((&record["user_id"], &record["outcome"]), (&json!("angelina"), &json!(outcome)), "{record}");
        assert!(record["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{record}");
    }
    // Nothing biometric in the trail: no embedding, no image bytes, no key material.
    let text = records.iter().map(Value::to_string).collect::<String>();
    assert!(!text.contains("embedding") && !text.contains("similarity") && text.len() < 4_000, "{text}");
}

#[tokio::test]
async fn records_are_written_on_schedule_while_the_service_runs() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    env.extend([("AUDIT_S3_PREFIX".into(), "faceauth-audit/".into()), ("AUDIT_FLUSH_SECS".into(), "1".into())]);
    let app = spawn_owned(&env);
    assert_eq!(app.register("aniston", ANISTON).await.status, 201);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline && !seen.iter().any(|e: &String| e.starts_with("register")) {
        seen = events(&audit_records(&moto, &bucket).await);
        tokio::time::sleep(Duration::from_millis(200)).await; // polling a schedule, not synchronising
    }
    assert!(seen.contains(&"register:".to_string()), "{seen:?}");
}

#[tokio::test]
async fn a_trail_that_cannot_be_written_shows_on_ready_then_refuses_biometric_operations_until_it_is() {
    let app = spawn(&[("AUDIT_S3_PREFIX", "audit/"), ("AUDIT_FLUSH_SECS", "1"), ("AUDIT_BUFFER_RECORDS", "10")]);
    assert_eq!(app.get("/ready").await.body["checks"]["audit"], "ok");
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    // A file where the audit folder is: every write fails from now on, even for root.
    let folder = app.data_dir.path().join("data/audit");
    std::fs::remove_dir_all(&folder).unwrap();
    std::fs::write(&folder, b"in the way").unwrap();
    // Write-ahead: a change to stored data waits for its intent to be durable, so it is refused
    // at once, and nothing is stored.
    let carol = app.register("carol", ANISTON).await;
    assert_eq!((carol.status, carol.code()), (503, "audit_unavailable"), "{:?}", carol.body);
    assert!(!app.data_dir.path().join("data/users/carol").exists());
    let ready = wait_for_ready(&app, |checks| checks["audit"].as_str().unwrap().starts_with("failing")).await;
    assert_eq!(ready.status, 200, "still ready while records fit in the buffer: {:?}", ready.body);

    let mut refused = None;
    for _ in 0..20 {
        let reply = app.verify("angelina", ANGELINA_2).await;
        if reply.status != 200 {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("the buffer fills up");
    assert_eq!((refused.status, refused.code()), (503, "audit_unavailable"), "{:?}", refused.body);
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(app.register("aniston", ANISTON).await.code(), "audit_unavailable", "nothing done unrecorded");
    assert!(!app.data_dir.path().join("data/users/aniston").exists());
    let ready = app.get("/ready").await;
    assert_eq!(ready.status, 503, "{:?}", ready.body);
    assert!(ready.body["checks"]["audit"].as_str().unwrap().starts_with("full"));
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l.starts_with("faceauth_audit_write_failures_total")), "{metrics}");

    std::fs::remove_file(&folder).unwrap();
    wait_for_ready(&app, |checks| checks["audit"] == "ok").await;
    assert_eq!(app.register("aniston", ANISTON).await.status, 201);
    let written: usize = walk(&folder).iter().map(|p| std::fs::read_to_string(p).unwrap().lines().count()).sum();
    assert!(written >= 10, "every buffered record was written after all: {written}");
}

async fn wait_for_ready(app: &TestApp, until: impl Fn(&Value) -> bool) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = app.get("/ready").await;
        if until(&ready.body["checks"]) || Instant::now() > deadline {
            assert!(until(&ready.body["checks"]), "{:?}", ready.body);
            return ready;
        }
        tokio::time::sleep(Duration::from_millis(200)).await; // polling the flush schedule
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}
