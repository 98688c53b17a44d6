//! Register and verify on both stores: the product's main path.

use crate::helpers::*;

async fn register_and_verify(app: &TestApp, secret: &str) {
    let reg = app.register("angelina", ANGELINA_1).await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    assert_eq!(reg.body["references"], 1);
    assert_eq!(reg.body["model"], "sface", "the default pack's recognizer");
    assert!(reg.body["face"]["score"].as_f64().unwrap() > 0.5);
    let reference_id = reg.body["reference_id"].as_str().unwrap().to_string();

    let same = app.verify("angelina", ANGELINA_2).await;
    assert_eq!(same.status, 200, "{:?}", same.body);
    assert_eq!(same.body["verified"], true);
    assert!(same.body["similarity"].as_f64().unwrap() >= same.body["threshold"].as_f64().unwrap());
    assert_eq!(same.body["reference_id"], reference_id.as_str());
    assert_eq!(same.body["references_compared"], 1);
    for stage in ["decode", "detect", "embed", "storage", "match", "total"] {
        assert!(same.body["timings_ms"][stage].is_number(), "timing {stage} missing: {:?}", same.body);
    }
    // The caller's backend checks the token with the published public key alone.
    let token = same.body["token"].as_str().expect("a verified answer carries a token");
    let claims = verify_with_jwks(app, token).await.unwrap();
    assert_eq!((claims.sub.as_str(), claims.aud.as_str()), ("angelina", "faceauth"));
    assert!(!token.contains(secret));

    let other = app.verify("angelina", ANISTON).await;
    assert_eq!(other.status, 200);
    assert_eq!(other.body["verified"], false);
    assert!(other.body.get("token").is_none(), "no token when not verified");
    assert!(other.body["similarity"].as_f64().unwrap() < other.body["threshold"].as_f64().unwrap());

    let second = app.register("angelina", ANGELINA_4).await;
    assert_eq!(second.body["references"], 2);
    let again = app.verify("angelina", ANGELINA_2).await;
    assert_eq!(again.body["references_compared"], 2, "the cache was invalidated by the second register");

    let user = app.get("/api/users/angelina").await;
    assert_eq!(user.status, 200);
    assert_eq!(user.body["references"], 2);
    assert_eq!(user.body["reference_ids"][0], reference_id.as_str());
    // Embeddings and photos never leave the service.
    for reply in [&reg, &same, &other, &user] {
        let text = reply.body.to_string();
        assert!(!text.contains("embedding") && text.len() < 2000, "{text}");
    }
}

const SECRET: &str = "test-secret-key-0123456789abcdef0123";

#[tokio::test]
async fn local_store_registers_then_verifies_the_same_person_and_rejects_another() {
    let app = spawn(&[("SECRET_KEY", SECRET)]);
    register_and_verify(&app, SECRET).await;
    let files: Vec<_> = std::fs::read_dir(app.data_dir.path().join("data/users/angelina")).unwrap().collect();
    assert_eq!(files.len(), 4, "two photos and two sidecars");
}

#[tokio::test]
async fn s3_store_registers_then_verifies_the_same_person_and_rejects_another() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    env.push(("SECRET_KEY".into(), SECRET.into()));
    env.push(("S3_PREFIX".into(), "faceauth".into()));
    let app = spawn_owned(&env);
    register_and_verify(&app, SECRET).await;
    let keys = moto.keys(&bucket).await;
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("faceauth/users/angelina/")), "{keys:?}");
    assert_eq!(keys.iter().filter(|k| k.ends_with(".json")).count(), 2);
    // Default encryption is SSE-S3.
    let head = moto.s3().head_object().bucket(&bucket).key(&keys[0]).send().await.unwrap();
    assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("AES256"));
}

#[tokio::test]
async fn deleting_a_user_removes_every_object_and_the_cached_embeddings() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let app = spawn_owned(&moto.env(&bucket));
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    assert_eq!(app.verify("angelina", ANGELINA_2).await.body["verified"], true);
    let deleted = app.delete("/api/users/angelina").await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(deleted.body["objects_removed"], 2);
    // What stays is the revocation mark, named by a hash: no photo, template or the user's id.
    let left = moto.keys(&bucket).await;
    assert_eq!(left.len(), 1, "bucket still holds {left:?}");
    assert!(left[0].starts_with("marks/revoked/") && !left[0].contains("angelina"), "{left:?}");
    // Not answered from a stale cache:
    assert_eq!(app.verify("angelina", ANGELINA_2).await.code(), "user_not_found");
    assert_eq!(app.delete("/api/users/angelina").await.code(), "user_not_found");
    assert_eq!(app.get("/api/users/angelina").await.status, 404);
}

#[tokio::test]
async fn health_and_ready_answer_and_the_request_id_is_echoed() {
    let app = spawn(&[]);
    assert_eq!(app.get("/health").await.body["status"], "ok");
    let ready = app.get("/ready").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["checks"]["storage"], "ok");
    let reply =
        app.send(app.client.get(format!("{}/api/users/nobody", app.base)).header("X-Request-Id", "trace-123")).await;
    assert_eq!(reply.headers["x-request-id"], "trace-123");
    assert_eq!(reply.body["error"]["request_id"], "trace-123");
    assert!(app.wait_for_log("trace-123", std::time::Duration::from_secs(10)), "the request id is in the access log");
}
