//! S3-specific behaviour against the emulator: encryption, Secrets Manager, startup checks, outages.

use std::time::Duration;

use faceauth::token::keys::PublicKey;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn objects_are_encrypted_with_the_configured_kms_key() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let key = moto.call("TrentService.CreateKey", json!({})).await;
    let key_id = key["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let mut env = moto.env(&bucket);
    env.push(("KMS_KEY_ID".into(), key_id.clone()));
    let app = spawn_owned(&env);
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    let keys = moto.keys(&bucket).await;
    assert_eq!(keys.len(), 2);
    for k in keys {
        let head = moto.s3().head_object().bucket(&bucket).key(&k).send().await.unwrap();
        assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"), "{k}");
        assert_eq!(head.ssekms_key_id(), Some(key_id.as_str()), "{k}");
    }
}

#[tokio::test]
async fn a_secrets_manager_secret_overrides_the_environment() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let from_secret = signing_key_pem();
    moto.call(
        "secretsmanager.CreateSecret",
        json!({ "Name": "faceauth/test", "SecretString": json!({ "TOKEN_SIGNING_KEY": from_secret }).to_string() }),
    )
    .await;
    let mut env = moto.env(&bucket);
    env.push(("TOKEN_SIGNING_KEY".into(), signing_key_pem()));
    env.push(("SECRETS_MANAGER_SECRET_NAME".into(), "faceauth/test".into()));
    let app = spawn_owned(&env);
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    let token = app.verify("angelina", ANGELINA_2).await.body["token"].as_str().unwrap().to_string();
    let jwks = app.get("/.well-known/jwks.json").await.body;
    let kid = PublicKey::parse(&from_secret).unwrap().kid().to_string();
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str(), "results are signed with the secret's key");
    assert_eq!(verify_with_jwks(&app, &token).await.unwrap().sub, "angelina");
    let body = from_secret.lines().nth(1).unwrap();
    assert!(!app.logs().contains(body), "the secret's value is never logged");
}

/// A complete production configuration on the emulator (text logs, for the tests' log reader).
fn production_env(moto: &Moto, bucket: &str) -> Vec<(String, String)> {
    let mut env = moto.env(bucket);
    for (k, v) in [
        ("APP_ENV", "production"),
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("API_KEYS", "prod-key-0123456789"),
        ("LOG_FORMAT", "text"),
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    env.push(("TOKEN_SIGNING_KEY".into(), signing_key_pem()));
    env
}

#[tokio::test]
async fn production_refuses_to_start_when_the_secret_cannot_be_read() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let mut env = production_env(&moto, &bucket);
    env.push(("SECRETS_MANAGER_SECRET_NAME".into(), "does/not/exist".into()));
    let failed = spawn_failing(&env);
    assert_eq!(failed.code, Some(1));
    assert!(failed.output.contains("Secrets Manager") && failed.output.contains("does/not/exist"), "{}", failed.output);
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_stops_startup_unless_the_environment_itself_says_development() {
    // The secret would have said production: without it the service must not fall back to an open
    // development mode.
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    env.push(("SECRETS_MANAGER_SECRET_NAME".into(), "does/not/exist".into()));
    let failed = spawn_failing(&env);
    assert_eq!(failed.code, Some(1));
    assert!(failed.output.contains("does/not/exist"), "{}", failed.output);
    env.push(("APP_ENV".into(), "development".into()));
    let app = spawn_owned(&env);
    assert!(app.logs().contains("development: continuing"), "{}", app.logs());
}

#[tokio::test]
async fn startup_with_a_missing_bucket_exits_before_binding_and_says_how_to_fix_it() {
    let moto = Moto::start();
    let failed = spawn_failing(&moto.env("no-such-bucket-here"));
    assert_eq!(failed.code, Some(1));
    assert!(failed.output.contains("s3://no-such-bucket-here"), "{}", failed.output);
    assert!(failed.output.contains("create the bucket"), "{}", failed.output);
    assert!(!failed.output.contains("listening on"), "{}", failed.output);
}

#[tokio::test]
async fn startup_with_an_unreachable_endpoint_exits_before_binding() {
    let mut moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let env = moto.env(&bucket);
    moto.stop();
    let failed = spawn_failing(&env);
    assert_eq!(failed.code, Some(1));
    assert!(failed.output.contains("storage check failed") && failed.output.contains("fix:"), "{}", failed.output);
    assert!(!failed.output.contains("listening on"), "{}", failed.output);
}

#[tokio::test]
async fn production_without_a_bucket_refuses_to_start_naming_the_variable() {
    let failed = spawn_failing(&[("APP_ENV".into(), "production".into())]);
    assert_eq!(failed.code, Some(1));
    for var in ["S3_BUCKET", "SECRET_KEY", "API_KEYS", "TOKEN_SIGNING_KEY"] {
        assert!(failed.output.contains(var), "{var} not named in:\n{}", failed.output);
    }
}

#[tokio::test]
async fn an_s3_outage_answers_503_quickly_and_the_service_recovers_by_itself() {
    let mut moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let app = spawn_owned(&moto.env(&bucket));
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);

    moto.stop();
    let started = std::time::Instant::now();
    let reply = app.verify("someone-else", ANGELINA_2).await;
    assert_eq!((reply.status, reply.code()), (503, "storage_unavailable"), "{:?}", reply.body);
    assert!(reply.headers.contains_key("retry-after"));
    assert!(started.elapsed() < Duration::from_secs(25), "answered within the request timeout");
    assert!(!reply.body.to_string().contains(&bucket), "the bucket name is not leaked");
    assert_eq!(app.get("/ready").await.status, 503);

    // Back up (moto restarts empty, so the bucket is recreated, as an operator would restore it).
    moto.resume();
    moto.s3().create_bucket().bucket(&bucket).send().await.unwrap();
    let reply = app.register("angelina", ANGELINA_1).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(app.verify("angelina", ANGELINA_2).await.body["verified"], true);
}

#[tokio::test]
async fn production_mode_serves_with_keys_and_hsts() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let app = spawn_owned(&production_env(&moto, &bucket));
    let health = app.get("/health").await;
    assert!(health.headers["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
    assert_eq!(app.get("/api/users/x").await.status, 401);
}

#[tokio::test]
async fn a_register_interrupted_before_its_sidecar_leaves_no_usable_reference() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let app = spawn_owned(&moto.env(&bucket));
    // What a crash between the two writes leaves behind: a photo without its sidecar.
    let orphan = "users/angelina/0000000000001-deadbeef0000.jpg";
    moto.s3().put_object().bucket(&bucket).key(orphan).body(face(ANGELINA_1).into()).send().await.unwrap();
    assert_eq!(app.verify("angelina", ANGELINA_2).await.code(), "user_not_found", "the half reference is not used");
    assert_eq!(app.get("/api/users/angelina").await.status, 404);
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    let keys = moto.keys(&bucket).await;
    assert_eq!(keys.len(), 2, "the orphan was swept by the next register: {keys:?}");
    assert!(!keys.contains(&orphan.to_string()));
}
