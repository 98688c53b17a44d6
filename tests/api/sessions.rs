//! What a verification proves, and to whom: sessions the backend starts, signed results it checks
//! with a public key (here with PyJWT, an independent implementation), and the attacks a client key
//! could try, each refused.

use std::process::Command;

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::*;

const SECRET: &str = "backend-secret-key-0123456789";
const CLIENT: &str = "pk_frontend_0123456789";

async fn create_session(app: &TestApp, body: Value) -> Reply {
    let url = format!("{}/api/sessions", app.base);
    app.send(app.client.post(url).bearer_auth(SECRET).json(&body)).await
}

async fn session_token(app: &TestApp, user: &str, purpose: &str) -> (String, String) {
    let reply = create_session(app, json!({ "user_id": user, "purpose": purpose })).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    (reply.body["session_id"].as_str().unwrap().into(), reply.body["session_token"].as_str().unwrap().into())
}

fn with_field(form: Form, name: &str, value: &str) -> Form {
    form.text(name.to_string(), value.to_string())
}

async fn client_verify(app: &TestApp, user: &str, photo: &str, session: Option<&str>) -> Reply {
    let mut form = TestApp::form(user, face(photo));
    if let Some(token) = session {
        form = with_field(form, "session_token", token);
    }
    app.post_form_as(CLIENT, "/api/verify", form).await
}

async fn client_register(app: &TestApp, user: &str, photo: &str, field: &str, token: &str) -> Reply {
    app.post_form_as(CLIENT, "/api/register", with_field(TestApp::form(user, face(photo)), field, token)).await
}

async fn register_as_backend(app: &TestApp, user: &str, photo: &str) {
    let reply = app.post_form_as(SECRET, "/api/register", TestApp::form(user, face(photo))).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
}

fn keys_of(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

/// The Python example a relying party would run: PyJWT fetches the JWKS and checks the token.
fn python_verify(app: &TestApp, token: &str, audience: &str, nonce: &str) -> Result<Value, String> {
    let output = Command::new(root().join(".venv/bin/python"))
        .arg(root().join("examples/python/verify_token.py"))
        .args(["--faceauth", &app.base, "--audience", audience, "--nonce", nonce, token])
        .output()
        .expect("python from .venv (scripts/setup-test.sh)");
    match output.status.success() {
        true => Ok(serde_json::from_slice(&output.stdout).unwrap()),
        false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
    }
}

async fn grant(app: &TestApp, user: &str) -> String {
    let url = format!("{}/api/enrollments", app.base);
    let reply = app.send(app.client.post(url).bearer_auth(SECRET).json(&json!({ "user_id": user }))).await;
    reply.body["enrollment_token"].as_str().unwrap().to_string()
}

async fn introspect(app: &TestApp, token: &str, consume: bool) -> Reply {
    let url = format!("{}/api/tokens/introspect", app.base);
    app.send(app.client.post(url).bearer_auth(SECRET).json(&json!({ "token": token, "consume": consume }))).await
}

#[tokio::test]
async fn a_backend_session_runs_end_to_end_and_its_result_verifies_with_pyjwt() {
    let app = spawn_owned(&keyed(SECRET, CLIENT, &[("CLIENT_ACCESS", "session")]));
    register_as_backend(&app, "angelina", ANGELINA_1).await;

    // Without a session a client key starts nothing.
    let refused = client_verify(&app, "angelina", ANGELINA_2, None).await;
    assert_eq!((refused.status, refused.code()), (403, "session_required"), "{:?}", refused.body);

    let created = create_session(
        &app,
        json!({ "user_id": "angelina", "purpose": "verify", "nonce": "login-7f3a", "audience": "bank-web" }),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let (id, token) = (created.body["session_id"].as_str().unwrap(), created.body["session_token"].as_str().unwrap());
    assert_eq!(app.get_as(SECRET, &format!("/api/sessions/{id}")).await.body["status"], "pending");

    let verified = client_verify(&app, "angelina", ANGELINA_2, Some(token)).await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    assert_eq!(verified.body["verified"], true);
    assert_eq!(verified.body["session_id"], id);
    let result = verified.body["token"].as_str().unwrap();

    let session = app.get_as(SECRET, &format!("/api/sessions/{id}")).await;
    assert_eq!(session.body["status"], "completed", "{:?}", session.body);
    assert_eq!((&session.body["verified"], &session.body["token"]), (&json!(true), &json!(result)));
    assert!(session.body["similarity"].as_f64().unwrap() > 0.4, "the backend gets the detail");

    let checked = python_verify(&app, result, "bank-web", "login-7f3a").expect("PyJWT accepts the result");
    let jwks = app.get("/.well-known/jwks.json").await.body;
    assert_eq!(checked["kid"], jwks["keys"][0]["kid"]);
    assert_eq!(checked["alg"], "ES256");
    let claims = &checked["claims"];
    assert_eq!(
        (&claims["sub"], &claims["aud"], &claims["nonce"], &claims["sid"]),
        (&json!("angelina"), &json!("bank-web"), &json!("login-7f3a"), &json!(id))
    );
    assert_eq!(claims["amr"], json!(["face"]));
    // Another app, or another login attempt, does not accept it.
    assert!(python_verify(&app, result, "other-app", "login-7f3a").is_err());
    assert!(python_verify(&app, result, "bank-web", "another-attempt").is_err());

    // The session answered one decided attempt: it cannot start another.
    let again = client_verify(&app, "angelina", ANGELINA_4, Some(token)).await;
    assert_eq!((again.status, again.code()), (401, "invalid_session"), "{:?}", again.body);
}

#[tokio::test]
async fn a_session_for_another_user_or_purpose_or_a_forged_one_is_refused() {
    let app = spawn_owned(&keyed(SECRET, CLIENT, &[("CLIENT_ACCESS", "session")]));
    register_as_backend(&app, "angelina", ANGELINA_1).await;
    let (_, bobs) = session_token(&app, "bob", "verify").await;
    let (_, enrol) = session_token(&app, "angelina", "enroll").await;
    for token in [bobs.as_str(), enrol.as_str(), "eyJhbGciOiJIUzI1NiJ9.e30.forged"] {
        let reply = client_verify(&app, "angelina", ANGELINA_2, Some(token)).await;
        assert_eq!((reply.status, reply.code()), (401, "invalid_session"), "{:?}", reply.body);
    }
    // A client key may not create or read sessions.
    let url = format!("{}/api/sessions", app.base);
    let reply = app
        .send(app.client.post(url).bearer_auth(CLIENT).json(&json!({"user_id": "angelina", "purpose": "verify"})))
        .await;
    assert_eq!((reply.status, reply.code()), (403, "forbidden"));
    // Nor unlock a user the failure ladder disabled, read their export, or introspect a token.
    let unlock = app.send(app.client.post(format!("{}/api/users/angelina/unlock", app.base)).bearer_auth(CLIENT)).await;
    assert_eq!((unlock.status, unlock.code()), (403, "forbidden"));
    assert_eq!(app.get_as(CLIENT, "/api/users/angelina/export").await.code(), "forbidden");
    let url = format!("{}/api/tokens/introspect", app.base);
    let peek = app.send(app.client.post(url).bearer_auth(CLIENT).json(&json!({ "token": "x" }))).await;
    assert_eq!((peek.status, peek.code()), (403, "forbidden"));
}

#[tokio::test]
async fn a_client_key_learns_pass_or_fail_and_cannot_tell_enrolled_users_from_unknown_ones() {
    let app = spawn_owned(&keyed(SECRET, CLIENT, &[("LOCKOUT_MAX_FAILURES", "2")]));
    register_as_backend(&app, "angelina", ANGELINA_1).await;

    let pass = client_verify(&app, "angelina", ANGELINA_2, None).await;
    assert_eq!(pass.status, 200, "{:?}", pass.body);
    assert_eq!(keys_of(&pass.body), ["liveness", "token", "token_expires_at", "user_id", "verified"]);
    let mismatch = client_verify(&app, "angelina", ANISTON, None).await;
    let unknown = client_verify(&app, "nobody@example.com", ANISTON, None).await;
    assert_eq!((mismatch.status, unknown.status), (200, 200), "{:?}", unknown.body);
    assert_eq!(keys_of(&mismatch.body), keys_of(&unknown.body));
    assert_eq!((&mismatch.body["verified"], &unknown.body["verified"]), (&json!(false), &json!(false)));
    assert_eq!(mismatch.body["liveness"], unknown.body["liveness"]);
    for leaked in ["similarity", "threshold", "reference_id", "references_compared", "quality", "timings_ms", "face"] {
        assert!(pass.body.get(leaked).is_none() && unknown.body.get(leaked).is_none(), "{leaked}");
    }
    // An unknown user costs an attempt like a mismatch: the second failure locks this client out.
    let again = client_verify(&app, "nobody@example.com", ANISTON_2, None).await;
    assert_eq!(again.status, 200);
    let locked = client_verify(&app, "nobody@example.com", ANGELINA_4, None).await;
    assert_eq!((locked.status, locked.code()), (429, "too_many_attempts"), "{:?}", locked.body);
    // The backend still gets the whole answer.
    let full = app.post_form_as(SECRET, "/api/verify", TestApp::form("angelina", face(ANGELINA_4))).await;
    assert!(full.body["similarity"].is_number() && full.body["timings_ms"].is_object(), "{:?}", full.body);
}

#[tokio::test]
async fn a_grant_is_spent_by_a_face_mismatch_and_mismatches_count_against_the_lockout() {
    let app = spawn_owned(&keyed(SECRET, CLIENT, &[("LOCKOUT_MAX_FAILURES", "2")]));
    register_as_backend(&app, "angelina", ANGELINA_1).await;
    let first = grant(&app, "angelina").await;
    let mismatch = client_register(&app, "angelina", ANISTON, "enrollment_token", &first).await;
    assert_eq!((mismatch.status, mismatch.code()), (409, "face_mismatch"));
    let reused = client_register(&app, "angelina", ANGELINA_2, "enrollment_token", &first).await;
    assert_eq!((reused.status, reused.code()), (401, "invalid_enrollment_token"), "the mismatch spent the grant");

    let second = grant(&app, "angelina").await;
    assert_eq!(client_register(&app, "angelina", ANISTON_2, "enrollment_token", &second).await.code(), "face_mismatch");
    let third = grant(&app, "angelina").await;
    let locked = client_register(&app, "angelina", ANGELINA_2, "enrollment_token", &third).await;
    assert_eq!((locked.status, locked.code()), (429, "too_many_attempts"), "{:?}", locked.body);
}

#[tokio::test]
async fn grants_and_sessions_issued_before_a_delete_register_nobody_after_it() {
    let app = spawn_owned(&keyed(SECRET, CLIENT, &[]));
    register_as_backend(&app, "bob", ANGELINA_1).await;
    let url = format!("{}/api/enrollments", app.base);
    let grant = app.send(app.client.post(url).bearer_auth(SECRET).json(&json!({ "user_id": "bob" }))).await;
    let grant = grant.body["enrollment_token"].as_str().unwrap().to_string();
    let (_, session) = session_token(&app, "bob", "enroll").await;
    assert_eq!(app.delete_as(SECRET, "/api/users/bob").await.status, 200);

    // bob has no references left, so no template guard would stop a stranger's face.
    let by_grant = client_register(&app, "bob", ANISTON, "enrollment_token", &grant).await;
    assert_eq!((by_grant.status, by_grant.code()), (401, "invalid_enrollment_token"), "{:?}", by_grant.body);
    let by_session = client_register(&app, "bob", ANISTON, "session_token", &session).await;
    assert_eq!((by_session.status, by_session.code()), (401, "invalid_session"), "{:?}", by_session.body);
    assert_eq!(app.get_as(SECRET, "/api/users/bob").await.status, 404, "nothing was stored");

    // A session made after the delete enrols, and the backend reads the outcome.
    let (id, fresh) = session_token(&app, "bob", "enroll").await;
    let stored = client_register(&app, "bob", ANISTON, "session_token", &fresh).await;
    assert_eq!(stored.status, 201, "{:?}", stored.body);
    assert!(stored.body.get("quality").is_none() && stored.body.get("timings_ms").is_none());
    let outcome = app.get_as(SECRET, &format!("/api/sessions/{id}")).await;
    assert_eq!((&outcome.body["status"], &outcome.body["verified"]), (&json!("completed"), &json!(true)));
}

#[tokio::test]
async fn the_same_verify_photo_sent_twice_is_refused_as_a_replay() {
    // The default REPLAY_WINDOW_SECS (24 h).
    let app = spawn(&[("REPLAY_WINDOW_SECS", "")]);
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    assert_eq!(app.verify("angelina", ANGELINA_2).await.body["verified"], true);
    let replay = app.verify("angelina", ANGELINA_2).await;
    assert_eq!((replay.status, replay.code()), (422, "replayed_image"), "{:?}", replay.body);
    // A refused photo is remembered too: a mismatch replayed is refused as a replay, not scored.
    assert_eq!(app.verify("angelina", ANISTON).await.body["verified"], false);
    assert_eq!(app.verify("angelina", ANISTON).await.code(), "replayed_image");
    assert_eq!(app.verify("angelina", ANGELINA_4).await.body["verified"], true, "a new photo still verifies");
}

#[tokio::test]
async fn a_token_signed_before_a_key_rotation_still_verifies_after_it() {
    let (old, new) = (signing_key_pem(), signing_key_pem());
    let before = spawn_owned(&keyed(SECRET, CLIENT, &[("TOKEN_SIGNING_KEY", &old)]));
    register_as_backend(&before, "angelina", ANGELINA_1).await;
    let created = create_session(
        &before,
        json!({ "user_id": "angelina", "purpose": "verify", "nonce": "n-1", "audience": "bank" }),
    )
    .await;
    let reply = client_verify(&before, "angelina", ANGELINA_2, created.body["session_token"].as_str()).await;
    let token = reply.body["token"].as_str().unwrap().to_string();
    drop(before);

    // The runbook: the new key signs, the old key's public half stays published until TOKEN_TTL_SECS.
    let old_public = faceauth::token::keys::PublicKey::parse(&old).unwrap();
    let old_jwk = old_public.jwk().to_string();
    let after = spawn_owned(&keyed(SECRET, CLIENT, &[("TOKEN_SIGNING_KEY", &new), ("TOKEN_PREVIOUS_KEYS", &old_jwk)]));
    let jwks = after.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.body["keys"].as_array().unwrap().len(), 2);
    assert!(jwks.body["keys"].as_array().unwrap().iter().all(|k| k.get("d").is_none()), "public keys only");
    let checked = python_verify(&after, &token, "bank", "n-1").expect("the old token verifies after the rotation");
    assert_eq!(checked["kid"], old_public.kid());

    let without = spawn_owned(&keyed(SECRET, CLIENT, &[("TOKEN_SIGNING_KEY", &new)]));
    assert!(python_verify(&without, &token, "bank", "n-1").is_err(), "once the old key is dropped, so are its tokens");
}

#[tokio::test]
async fn introspection_with_consume_refuses_the_second_use_across_instances() {
    let redis = Redis::start();
    let key = signing_key_pem();
    let shared = [("SHARED_STATE_URL", redis.url.as_str()), ("TOKEN_SIGNING_KEY", key.as_str())];
    let (one, two) = (spawn_owned(&keyed(SECRET, CLIENT, &shared)), spawn_owned(&keyed(SECRET, CLIENT, &shared)));
    register_as_backend(&one, "angelina", ANGELINA_1).await;
    let token = one.post_form_as(SECRET, "/api/verify", TestApp::form("angelina", face(ANGELINA_2))).await;
    let token = token.body["token"].as_str().unwrap().to_string();
    let peek = introspect(&two, &token, false).await;
    assert_eq!((&peek.body["active"], &peek.body["sub"]), (&json!(true), &json!("angelina")), "{:?}", peek.body);
    assert_eq!(introspect(&two, &token, true).await.body["active"], true, "the first use");
    assert_eq!(
        introspect(&one, &token, true).await.body,
        json!({ "active": false }),
        "the second, on the other instance"
    );
    assert_eq!(introspect(&one, &token, false).await.body["active"], false);
    let forged = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(introspect(&one, &forged, false).await.body, json!({ "active": false }));
}

#[tokio::test]
async fn clients_behind_a_trusted_subnet_are_told_apart_and_ipv6_is_limited_per_64() {
    let app = spawn(&[("TRUSTED_PROXIES", "127.0.0.0/8"), ("LOCKOUT_MAX_FAILURES", "1")]);
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    assert_eq!(app.verify_from("2001:db8:1:2::1", "angelina", ANISTON).await.body["verified"], false);
    let same_64 = app.verify_from("2001:db8:1:2:ffff::9", "angelina", ANGELINA_2).await;
    assert_eq!((same_64.status, same_64.code()), (429, "too_many_attempts"), "{:?}", same_64.body);
    let other_64 = app.verify_from("2001:db8:1:3::1", "angelina", ANGELINA_2).await;
    assert_eq!(other_64.body["verified"], true, "{:?}", other_64.body);
    let other_v4 = app.verify_from("198.51.100.7", "angelina", ANGELINA_4).await;
    assert_eq!(other_v4.body["verified"], true);
}

#[tokio::test]
async fn a_session_token_field_that_is_not_text_or_too_long_is_a_clean_400() {
    let app = spawn_owned(&keyed(SECRET, CLIENT, &[]));
    let form = TestApp::form("angelina", face(ANGELINA_1)).part("session_token", Part::bytes(vec![b'x'; 5000]));
    let reply = app.post_form_as(CLIENT, "/api/verify", form).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_request"), "{:?}", reply.body);
    let reply = create_session(&app, json!({ "user_id": "a", "purpose": "verify", "nonce": "x".repeat(129) })).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_request"));
    let reply = create_session(&app, json!({ "user_id": "a", "purpose": "login" })).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_request"));
    assert_eq!(app.get_as(SECRET, "/api/sessions/0123456789abcdef0123456789abcdef").await.code(), "session_not_found");
}
