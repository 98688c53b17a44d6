//! Biometric privacy on the S3 emulator: consent records, the retention schedule enforced by the
//! command and by the service itself, and the user's export.

use std::io::Read;
use std::time::{Duration, Instant};

use reqwest::multipart::Form;
use serde_json::json;

use crate::cli::faceauth;
use crate::helpers::*;

fn with_consent(user: &str, photo: &str, notice: &str) -> Form {
    TestApp::form(user, face(photo)).text("consent", notice.to_string())
}

#[tokio::test]
async fn a_register_without_consent_is_refused_and_one_with_it_is_recorded() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    env.push(("CONSENT_REQUIRED".into(), "on".into()));
    let app = spawn_owned(&env);

    let refused = app.register("angelina", ANGELINA_1).await;
    assert_eq!((refused.status, refused.code()), (400, "consent_required"), "{:?}", refused.body);
    assert!(moto.keys(&bucket).await.iter().all(|k| !k.contains("angelina")), "nothing stored");
    let bad = app.post_form("/api/register", with_consent("angelina", ANGELINA_1, "no spaces allowed")).await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_request"));

    let stored = app.post_form("/api/register", with_consent("angelina", ANGELINA_1, "biometric-notice-v3")).await;
    assert_eq!(stored.status, 201, "{:?}", stored.body);
    let user = app.get("/api/users/angelina").await.body;
    let consent = &user["consents"][0];
    assert_eq!((&consent["notice"], &consent["key_kind"]), (&json!("biometric-notice-v3"), &json!("open")), "{user}");
    assert_eq!(consent["reference_id"], stored.body["reference_id"]);
    assert!(consent["recorded_at"].as_str().unwrap().starts_with("20"));
    // Stored with the reference, in the bucket.
    let sidecar =
        moto.keys(&bucket).await.into_iter().find(|k| k.ends_with(".json") && k.contains("angelina")).unwrap();
    let body = moto.s3().get_object().bucket(&bucket).key(&sidecar).send().await.unwrap().body.collect().await.unwrap();
    assert!(String::from_utf8_lossy(&body.into_bytes()).contains("biometric-notice-v3"));
    // Verify takes no consent field: it stores nothing.
    let form = with_consent("angelina", ANGELINA_2, "biometric-notice-v3");
    assert_eq!(app.post_form("/api/verify", form).await.code(), "invalid_request");
}

/// Retention is about time passing: these tests wait for a period of seconds to run out. The period
/// leaves the active user several seconds of margin for the two command runs on a loaded machine.
#[tokio::test]
async fn users_past_the_retention_period_are_deleted_by_the_command_and_active_ones_kept() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    env.push(("RETENTION_PERIOD".into(), "8s".into()));
    let app = spawn_owned(&env);
    assert_eq!(app.register("old", ANGELINA_1).await.status, 201);
    assert_eq!(app.register("active", ANISTON).await.status, 201);
    tokio::time::sleep(Duration::from_millis(9200)).await;
    // A success is a use: recorded (in the background, at most once per tenth of the period).
    assert_eq!(app.verify("active", ANISTON_2).await.body["verified"], true);
    let recorded = Instant::now();
    while !moto.keys(&bucket).await.iter().any(|k| k.ends_with("activity/active.json")) {
        assert!(recorded.elapsed() < Duration::from_secs(10), "the use was recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = moto.keys(&bucket).await;

    let (code, stdout, stderr) = faceauth(&["retention", "--dry-run"], &env);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("would delete old") && stdout.contains("would delete 1 of 2"), "{stdout}\n{stderr}");
    assert_eq!(moto.keys(&bucket).await, before, "a dry run deletes nothing");

    let (code, stdout, stderr) = faceauth(&["retention"], &env);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("deleted 1 of 2"), "{stdout}");
    assert_eq!(app.get("/api/users/old").await.status, 404);
    let active = app.get("/api/users/active").await;
    assert_eq!(active.status, 200);
    assert!(
        active.body["retention"]["delete_after"].as_u64().unwrap()
            > active.body["retention"]["last_used"].as_u64().unwrap()
    );
    assert!(moto.keys(&bucket).await.iter().all(|k| !k.contains("/old")), "every object of the expired user is gone");
}

#[tokio::test]
async fn the_service_sweeps_expired_users_itself() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    env.push(("RETENTION_PERIOD".into(), "2s".into()));
    env.push(("RETENTION_SWEEP_INTERVAL".into(), "1s".into()));
    let app = spawn_owned(&env);
    assert_eq!(app.register("old", ANGELINA_1).await.status, 201);
    assert!(app.wait_for_log("retention sweep done", Duration::from_secs(20)), "{}", app.logs());
    let started = Instant::now();
    while app.get("/api/users/old").await.status != 404 {
        assert!(started.elapsed() < Duration::from_secs(20), "swept within a few intervals");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(app.wait_for_log("retention_delete", Duration::from_secs(5)), "an audit record per user");
}

#[tokio::test]
async fn an_export_holds_the_users_photos_sidecars_consents_and_a_manifest() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let app = spawn_owned(&moto.env(&bucket));
    assert_eq!(app.post_form("/api/register", with_consent("angelina", ANGELINA_1, "notice-v1")).await.status, 201);
    assert_eq!(app.post_form("/api/register", with_consent("angelina", ANGELINA_4, "notice-v2")).await.status, 201);

    let response = app.client.get(format!("{}/api/users/angelina/export", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = response.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut read = |name: &str| {
        let mut out = Vec::new();
        archive.by_name(name).unwrap().read_to_end(&mut out).unwrap();
        out
    };
    let manifest: serde_json::Value = serde_json::from_slice(&read("manifest.json")).unwrap();
    assert_eq!(manifest["user_id"], "angelina");
    assert_eq!(manifest["consents"].as_array().unwrap().len(), 2, "{manifest}");
    assert!(manifest["retention"]["last_used"].as_u64().unwrap() > 0);
    let ids: Vec<String> =
        manifest["references"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect();
    let photo = read(&format!("photos/{}.jpg", ids[0]));
    assert_eq!(photo, face(ANGELINA_1), "the photo as uploaded");
    let sidecar: serde_json::Value = serde_json::from_slice(&read(&format!("references/{}.json", ids[1]))).unwrap();
    assert_eq!(sidecar["embedding"].as_array().unwrap().len(), 128, "the embedding is the user's data too");
    assert_eq!(sidecar["consent"]["notice"], "notice-v2");
    assert!(app.logs().contains("event=\"export\"") || app.logs().contains("export"), "audited");

    assert_eq!(app.get("/api/users/nobody/export").await.status, 404);
}
