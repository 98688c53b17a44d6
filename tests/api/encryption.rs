//! Templates sealed under the operator's KMS key, on moto's S3 and KMS: what a bucket reader sees,
//! verification through it, a KMS outage and recovery, and plaintext from before the key.

use crate::cli::faceauth;
use crate::helpers::*;
use serde_json::json;

async fn kms_key(moto: &Moto) -> String {
    let created = moto.call("TrentService.CreateKey", json!({ "Description": "faceauth templates" })).await;
    created["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
}

async fn object(moto: &Moto, bucket: &str, key: &str) -> Vec<u8> {
    let out = moto.s3().get_object().bucket(bucket).key(key).send().await.unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// What someone who can read the bucket but not use the key finds under `users/`: for each
/// object, whether it shows a JPEG or a sidecar.
async fn readable_templates(moto: &Moto, bucket: &str) -> Vec<String> {
    let mut readable = Vec::new();
    for key in moto.keys(bucket).await.into_iter().filter(|k| k.starts_with("users/")) {
        let bytes = object(moto, bucket, &key).await;
        // A JPEG's start (SOI, then an APP0/APP1 marker) or its JFIF/Exif header anywhere. Three bytes
        // alone (FF D8 FF) turn up by chance in a few hundred kilobytes of ciphertext.
        let jpeg = bytes.starts_with(b"\xff\xd8")
            || bytes
                .windows(4)
                .any(|w| w == b"\xff\xd8\xff\xe0" || w == b"\xff\xd8\xff\xe1" || w == b"JFIF" || w == b"Exif");
        let sidecar =
            serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() || bytes.windows(9).any(|w| w == b"embedding");
        if jpeg || sidecar {
            readable.push(key);
        }
    }
    readable
}

fn with_key(env: &[(String, String)], key: &str) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push(("TEMPLATE_KMS_KEY_ID".into(), key.into()));
    env
}

#[tokio::test]
async fn sealed_templates_show_a_bucket_reader_no_photo_or_embedding_and_still_verify() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let env = with_key(&moto.env(&bucket), &kms_key(&moto).await);
    let app = spawn_owned(&env);
    assert!(app.logs().contains("sealed (AES-256-GCM) under KMS key"), "startup says so:\n{}", app.logs());
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    assert_eq!(app.register("aniston", ANISTON).await.status, 201);
    let stored: Vec<String> = moto.keys(&bucket).await.into_iter().filter(|k| k.starts_with("users/")).collect();
    assert_eq!(stored.len(), 4, "{stored:?}");
    assert_eq!(readable_templates(&moto, &bucket).await, Vec::<String>::new());

    // Another instance, with nothing cached, reads them through the key.
    let other = spawn_owned(&env);
    let verified = other.verify("angelina", ANGELINA_2).await;
    assert_eq!((verified.status, verified.body["verified"].as_bool()), (200, Some(true)), "{:?}", verified.body);
    let impostor = other.verify("aniston", ANGELINA_2).await;
    assert_eq!(impostor.body["verified"], json!(false));
    // Her export holds her photo in clear, for her.
    let export = other.client.get(format!("{}/api/users/angelina/export", other.base)).send().await.unwrap();
    assert_eq!(export.status(), 200);
    let zip = export.bytes().await.unwrap();
    assert!(zip.windows(3).any(|w| w == b"\xff\xd8\xff") && zip.windows(9).any(|w| w == b"embedding"));

    // Without the key, sealed references are not mistaken for missing ones.
    let keyless = spawn_owned(&moto.env(&bucket));
    let refused = keyless.verify("angelina", ANGELINA_2).await;
    assert_eq!((refused.status, refused.code()), (503, "storage_unavailable"), "{:?}", refused.body);
}

#[tokio::test]
async fn a_key_that_cannot_be_used_stops_startup_with_the_fix() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let failed = spawn_failing(&with_key(&moto.env(&bucket), "alias/does-not-exist"));
    assert!(failed.output.contains("template key check failed"), "{}", failed.output);
    assert!(failed.output.contains("kms:GenerateDataKey"), "{}", failed.output);
}

// The relay runs on the test's runtime while the test blocks on the service's startup: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kms_outage_answers_503_with_retry_after_stores_nothing_and_recovers() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let relay = Relay::start(moto.port()).await;
    let mut env = with_key(&moto.env(&bucket), &kms_key(&moto).await);
    // KMS through the relay (the SDK's own per-service endpoint variable); S3 directly. No data
    // key reuse, so every write and read needs KMS.
    env.push(("AWS_ENDPOINT_URL_KMS".into(), format!("http://127.0.0.1:{}", relay.port)));
    env.push(("TEMPLATE_KEY_CACHE_SECS".into(), "0".into()));
    env.push(("EMBEDDING_CACHE_USERS".into(), "0".into()));
    let app = spawn_owned(&env);
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);

    relay.set_up(false);
    let refused = app.register("aniston", ANISTON).await;
    assert_eq!((refused.status, refused.code()), (503, "storage_unavailable"), "{:?}", refused.body);
    assert_eq!(refused.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    assert!(moto.keys(&bucket).await.iter().all(|k| !k.contains("aniston")), "nothing half-stored");
    let verify = app.verify("angelina", ANGELINA_2).await;
    assert_eq!((verify.status, verify.code()), (503, "storage_unavailable"), "{:?}", verify.body);

    relay.set_up(true);
    assert_eq!(app.register("aniston", ANISTON).await.status, 201);
    let verified = app.verify("angelina", ANGELINA_2).await;
    assert_eq!(verified.body["verified"], json!(true), "{:?}", verified.body);
}

#[tokio::test]
async fn a_plaintext_reference_from_before_the_key_is_used_then_sealed_by_reembed() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let plain_env = moto.env(&bucket);
    let before = spawn_owned(&plain_env);
    assert_eq!(before.register("angelina", ANGELINA_1).await.status, 201);
    drop(before);
    assert_eq!(readable_templates(&moto, &bucket).await.len(), 2, "written in plaintext");

    let env = with_key(&plain_env, &kms_key(&moto).await);
    let app = spawn_owned(&env);
    let verified = app.verify("angelina", ANGELINA_2).await;
    assert_eq!(verified.body["verified"], json!(true), "the plaintext reference is still used: {:?}", verified.body);

    let (code, stdout, stderr) = faceauth(&["reembed"], &env);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("1 sealed under the template key"), "{stdout}");
    assert_eq!(readable_templates(&moto, &bucket).await, Vec::<String>::new());
    let (_, again, _) = faceauth(&["reembed"], &env);
    assert!(again.contains("0 sealed"), "idempotent: {again}");

    let fresh = spawn_owned(&env);
    let verified = fresh.verify("angelina", ANGELINA_2).await;
    assert_eq!(verified.body["verified"], json!(true), "{:?}", verified.body);

    // Everything sealed, plaintext can be refused: a reference planted in plaintext (as anyone
    // who can write the bucket could) is not used, and sealed ones still are.
    let planter = spawn_owned(&plain_env);
    assert_eq!(planter.register("mallory", ANISTON).await.status, 201);
    let mut strict_env = env.clone();
    strict_env.push(("TEMPLATE_PLAINTEXT".into(), "refuse".into()));
    let strict = spawn_owned(&strict_env);
    let planted = strict.verify("mallory", ANISTON).await;
    assert_eq!((planted.status, planted.code()), (404, "user_not_found"), "{:?}", planted.body);
    assert_eq!(strict.verify("angelina", ANGELINA_2).await.body["verified"], json!(true));
}
