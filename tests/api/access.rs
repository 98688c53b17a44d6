//! Who may do what, tried as an attacker holding only the publishable client key would: secret
//! and client keys, enrolment grants, the template guard and the replay guard.

use faceauth::token::Hs256;
use hmac::{Hmac, Mac};
use reqwest::multipart::Form;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;

const SECRET: &str = "backend-secret-key-0123456789";
const CLIENT: &str = "frontend-client-key-0123456789";
const SIGNING_KEY: &str = "access-test-signing-key-0123456789abcdef";

fn with_keys(mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    env.extend(keyed(SECRET, CLIENT, &[("SECRET_KEY", SIGNING_KEY), ("REPLAY_GUARD", "on")]));
    env
}

fn with_token(user_id: &str, photo: &str, token: &str) -> Form {
    TestApp::form(user_id, face(photo)).text("enrollment_token", token.to_string())
}

/// A grant as a backend holding SECRET_KEY could mint it with any JWT library (what docs/api.md
/// once described): the right key and format, but not issued by faceauth under this state.
fn mint(user_id: &str, exp_from_now: i64) -> String {
    let mut derive = Hmac::<Sha256>::new_from_slice(SIGNING_KEY.as_bytes()).unwrap();
    derive.update(b"faceauth enrollment grant v2");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = json!({
        "iss": "faceauth", "aud": "faceauth:enrollment", "sub": user_id,
        "iat": now, "exp": now + exp_from_now, "jti": uuid::Uuid::new_v4().simple().to_string(),
    });
    Hs256::new(&derive.finalize().into_bytes()).sign(&claims)
}

async fn references(app: &TestApp, user_id: &str) -> Value {
    let reply = app.get_as(SECRET, &format!("/api/users/{user_id}")).await;
    if reply.status == 404 { json!(0) } else { reply.body["references"].clone() }
}

/// The whole contract on one store; run on the local folder and on S3.
async fn a_client_key_cannot_take_over_an_account(env: Vec<(String, String)>) {
    let app = spawn_owned(&with_keys(env));
    assert_eq!(app.post_form_as(SECRET, "/api/register", TestApp::form("alice", face(ANGELINA_1))).await.status, 201);

    // The client key verifies, and nothing else without a grant.
    let verified = app.post_form_as(CLIENT, "/api/verify", TestApp::form("alice", face(ANGELINA_2))).await;
    assert_eq!((verified.status, verified.body["verified"].clone()), (200, json!(true)), "{:?}", verified.body);
    for reply in [
        app.get_as(CLIENT, "/api/users/alice").await,
        app.delete_as(CLIENT, "/api/users/alice").await,
        app.enrollment(CLIENT, "alice").await,
    ] {
        assert_eq!((reply.status, reply.code()), (403, "forbidden"), "{:?}", reply.body);
    }
    let no_grant = app.post_form_as(CLIENT, "/api/register", TestApp::form("alice", face(ANISTON))).await;
    assert_eq!((no_grant.status, no_grant.code()), (403, "enrollment_required"));
    let replace =
        app.post_form_as(CLIENT, "/api/register", TestApp::form("alice", face(ANISTON)).text("replace", "true")).await;
    assert_eq!((replace.status, replace.code()), (403, "forbidden"));
    assert_eq!(references(&app, "alice").await, 1, "alice still has exactly her own reference");

    // A grant registers once, for its user only.
    let grant = app.enrollment(SECRET, "bob").await;
    assert_eq!(grant.status, 201, "{:?}", grant.body);
    let token = grant.body["enrollment_token"].as_str().unwrap().to_string();
    assert!(grant.body["expires_at"].as_u64().unwrap() > 0);
    let other_user = app.post_form_as(CLIENT, "/api/register", with_token("carol", ANISTON, &token)).await;
    assert_eq!((other_user.status, other_user.code()), (401, "invalid_enrollment_token"));
    let used = app.post_form_as(CLIENT, "/api/register", with_token("bob", ANISTON, &token)).await;
    assert_eq!(used.status, 201, "{:?}", used.body);
    let reused = app.post_form_as(CLIENT, "/api/register", with_token("bob", ANISTON_2, &token)).await;
    assert_eq!((reused.status, reused.code()), (401, "invalid_enrollment_token"));
    let mut tampered = mint("dave", 600);
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    let expired = mint("dave", -10);
    for token in [tampered, expired, "not.a.token".to_string()] {
        let reply = app.post_form_as(CLIENT, "/api/register", with_token("dave", ANISTON, &token)).await;
        assert_eq!((reply.status, reply.code()), (401, "invalid_enrollment_token"), "{token}");
    }
    assert_eq!(references(&app, "bob").await, 1);
    assert_eq!(references(&app, "carol").await, 0);
    assert_eq!(references(&app, "dave").await, 0);
    // A grant minted outside faceauth, even with its SECRET_KEY, is refused: grants come from the API.
    let minted = app.post_form_as(CLIENT, "/api/register", with_token("dave", ANISTON, &mint("dave", 600))).await;
    assert_eq!((minted.status, minted.code()), (401, "invalid_enrollment_token"));
    let issued = app.enrollment(SECRET, "dave").await.body["enrollment_token"].as_str().unwrap().to_string();
    let registered = app.post_form_as(CLIENT, "/api/register", with_token("dave", ANISTON, &issued)).await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);

    // The template guard: another person's face is not added to alice, even with the secret key.
    let mismatch = app.post_form_as(SECRET, "/api/register", TestApp::form("alice", face(ANISTON))).await;
    assert_eq!((mismatch.status, mismatch.code()), (409, "face_mismatch"));
    assert_eq!(references(&app, "alice").await, 1);
    let same_person = app.post_form_as(SECRET, "/api/register", TestApp::form("alice", face(ANGELINA_4))).await;
    assert_eq!((same_person.status, same_person.body["references"].clone()), (201, json!(2)));
    // A backend re-enrols her on purpose: every old reference is replaced by the new one.
    let swapped =
        app.post_form_as(SECRET, "/api/register", TestApp::form("alice", face(ANISTON)).text("replace", "true")).await;
    assert_eq!((swapped.status, swapped.body["references"].clone()), (201, json!(1)), "{:?}", swapped.body);
    let listed = app.get_as(SECRET, "/api/users/alice").await;
    assert_eq!(listed.body["reference_ids"], json!([swapped.body["reference_id"].clone()]));
    let now_aniston = app.post_form_as(CLIENT, "/api/verify", TestApp::form("alice", face(ANISTON_2))).await;
    assert_eq!(now_aniston.body["verified"], true);

    // The replay guard: the exact bytes of the enrolment photo are not a new capture.
    let replayed = app.post_form_as(CLIENT, "/api/verify", TestApp::form("alice", face(ANISTON))).await;
    assert_eq!((replayed.status, replayed.code()), (422, "replayed_image"));
    assert!(replayed.body["error"]["message"].as_str().unwrap().contains("new photo"));
    assert!(!app.logs().contains(SECRET) && !app.logs().contains(CLIENT), "keys are never logged");
}

#[tokio::test]
async fn a_client_key_cannot_take_over_an_account_on_the_local_store() {
    a_client_key_cannot_take_over_an_account(Vec::new()).await;
}

#[tokio::test]
async fn a_client_key_cannot_take_over_an_account_on_s3() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    a_client_key_cannot_take_over_an_account(moto.env(&bucket)).await;
}

#[tokio::test]
async fn without_the_replay_guard_the_first_smoke_test_works() {
    // Development default: register and verify the same sample photo, as people do first with curl.
    let app = spawn(&[]);
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    let reply = app.verify("angelina", ANGELINA_1).await;
    assert_eq!((reply.status, reply.body["verified"].clone()), (200, json!(true)), "{:?}", reply.body);
}
