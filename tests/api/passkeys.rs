//! Face and device together: a passkey registered beside the face, a session that needs both, and
//! every way an assertion could be wrong, each refused with its code. Assertions come from a
//! software authenticator (`authenticator.rs`); the browser test runs Chromium's virtual one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::authenticator::{Authenticator, capture_challenge, challenge};
use crate::helpers::*;

const SECRET: &str = "backend-secret-key-0123456789";
const CLIENT: &str = "pk_frontend_0123456789";
/// The demo page's origin in development (PASSKEY_RP_ID defaults to localhost, any port).
const ORIGIN: &str = "http://localhost:5000";

async fn json_as(app: &TestApp, key: &str, path: &str, body: Value) -> Reply {
    app.send(app.client.post(format!("{}{path}", app.base)).bearer_auth(key).json(&body)).await
}

async fn register_face(app: &TestApp, user: &str, photo: &str) {
    let reply = app.post_form_as(SECRET, "/api/register", TestApp::form(user, face(photo))).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
}

/// Options, the authenticator's answer, the registration: as the SDK does it, with `key`.
async fn register_passkey(
    app: &TestApp,
    key: &str,
    user: &str,
    session: Option<&str>,
    device: &mut Authenticator,
) -> Reply {
    let mut start = json!({ "user_id": user });
    if let Some(token) = session {
        start["session_token"] = json!(token);
    }
    let options = json_as(app, key, "/api/passkeys/options", start.clone()).await;
    assert_eq!(options.status, 201, "{:?}", options.body);
    let credential = device.create(&options.body["public_key"]);
    let mut finish = start;
    finish["registration_id"] = options.body["registration_id"].clone();
    finish["credential"] = credential;
    json_as(app, key, "/api/passkeys", finish).await
}

async fn session(app: &TestApp, user: &str, factors: Value) -> Reply {
    let body = json!({ "user_id": user, "purpose": "verify", "factors": factors, "nonce": "n-1" });
    json_as(app, SECRET, "/api/sessions", body).await
}

async fn passkey_session(app: &TestApp, user: &str) -> (String, String, Value) {
    let reply = session(app, user, json!(["face", "passkey"])).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let id = reply.body["session_id"].as_str().unwrap().to_string();
    (id, reply.body["session_token"].as_str().unwrap().to_string(), reply.body["passkey"].clone())
}

async fn verify(app: &TestApp, user: &str, photo: &[u8], token: &str, assertion: Option<&str>) -> Reply {
    let mut form: Form = TestApp::form(user, photo.to_vec()).text("session_token", token.to_string());
    if let Some(assertion) = assertion {
        form = form.text("passkey", assertion.to_string());
    }
    app.post_form_as(CLIENT, "/api/verify", form).await
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn a_face_and_passkey_session_verifies_with_both_and_every_record_says_so() {
    let app = spawn_owned(&keyed(SECRET, CLIENT, &[]));
    register_face(&app, "angelina", ANGELINA_1).await;
    // The frontend registers the passkey with an enrol session, as the SDK does.
    let enrol = json_as(&app, SECRET, "/api/sessions", json!({ "user_id": "angelina", "purpose": "enroll" })).await;
    let enrol_token = enrol.body["session_token"].as_str().unwrap().to_string();
    let mut device = Authenticator::new(ORIGIN);
    let registered = register_passkey(&app, CLIENT, "angelina", Some(&enrol_token), &mut device).await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    assert_eq!(registered.body["credential_id"], device.id());
    assert_eq!(registered.body["user_verified"], true);

    let (session_id, token, options) = passkey_session(&app, "angelina").await;
    assert_eq!(options["rpId"], "localhost");
    assert_eq!(options["userVerification"], "required");
    assert_eq!(options["allowCredentials"][0]["id"], device.id());
    assert!(options.get("challenge").is_none(), "the client derives the challenge: {options}");

    let photo = face(ANGELINA_2);
    let assertion = device.get(&challenge(&token, &[&photo]));
    let reply = verify(&app, "angelina", &photo, &token, Some(&assertion)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["verified"], true);
    let result = claims(reply.body["token"].as_str().unwrap());
    assert_eq!(result["amr"], json!(["face", "hwk", "user"]));
    assert_eq!(result["passkey_id"], device.id());

    let view = app.get_as(SECRET, &format!("/api/sessions/{session_id}")).await;
    assert_eq!(view.body["amr"], json!(["face", "hwk", "user"]));
    assert_eq!(view.body["passkey_id"], device.id());
    let url = format!("{}/api/tokens/introspect", app.base);
    let body = json!({ "token": reply.body["token"] });
    let introspected = app.send(app.client.post(url).bearer_auth(SECRET).json(&body)).await;
    assert_eq!(introspected.body["amr"], json!(["face", "hwk", "user"]));
    assert_eq!(introspected.body["passkey_id"], device.id());

    let user = app.get_as(SECRET, "/api/users/angelina").await;
    assert_eq!(user.body["passkeys"][0]["credential_id"], device.id());
    assert_eq!(user.body["passkeys"][0]["counter"], 1, "the assertion's counter is kept");
    assert!(user.body["passkeys"][0]["last_used_at"].is_string());

    // A face-only session still works, and its result does not claim the device.
    let plain = session(&app, "angelina", json!(["face"])).await;
    let plain_token = plain.body["session_token"].as_str().unwrap();
    let reply = verify(&app, "angelina", &face(ANGELINA_4), plain_token, None).await;
    assert_eq!(claims(reply.body["token"].as_str().unwrap())["amr"], json!(["face"]));
    assert!(claims(reply.body["token"].as_str().unwrap()).get("passkey_id").is_none());
}

/// A capture's assertion covers everything that shapes the verdict: the frames, the times exactly
/// as sent, whether the colours were shown, and how many frames. The same assertion with retimed
/// frames or with the colours declined is refused before any inference, and counted.
#[tokio::test]
async fn a_capture_assertion_covers_its_times_its_light_and_its_frame_count() {
    let app =
        spawn_owned(&keyed(SECRET, CLIENT, &[("LIVENESS", "challenge"), ("CHALLENGE_MOVES", "turn_left,turn_right")]));
    register_face(&app, "angelina", ANGELINA_1).await;
    let mut device = Authenticator::new(ORIGIN);
    assert_eq!(register_passkey(&app, SECRET, "angelina", None, &mut device).await.status, 201);
    let frames = [face(ANGELINA_2), face(ANGELINA_4)];
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let send = |token: String, times: &'static str, light: &'static str, assertion: String, count: usize| {
        let mut form = Form::new().text("user_id", "angelina").text("session_token", token);
        for frame in &frames[..count] {
            form = form.part("capture", reqwest::multipart::Part::bytes(frame.clone()).file_name("frame.jpg"));
        }
        let form = form.text("capture_ms", times).text("capture_light", light).text("passkey", assertion);
        app.post_form_as(CLIENT, "/api/verify", form)
    };
    let signed =
        |device: &mut Authenticator, token: &str| device.get(&capture_challenge(token, &refs, "[0,66.6]", "shown"));

    // Signed over these frames at these times, shown: the device's part passes (the capture, two
    // frames, is then refused by the liveness checks, not by the passkey).
    let (_, token, _) = passkey_session(&app, "angelina").await;
    let assertion = signed(&mut device, &token);
    let honest = send(token, "[0,66.6]", "shown", assertion, 2).await;
    assert!(!honest.code().starts_with("passkey_"), "{:?}", honest.body);
    for (times, light, count, what) in [
        ("[0,70]", "shown", 2, "retimed"),
        ("[0, 66.6]", "shown", 2, "the same times written otherwise"),
        ("[0,66.6]", "declined", 2, "the colours declined"),
        ("[0]", "shown", 1, "a frame dropped"),
    ] {
        let (_, token, _) = passkey_session(&app, "angelina").await;
        let assertion = signed(&mut device, &token);
        let reply = send(token, times, light, assertion, count).await;
        assert_eq!((reply.status, reply.code()), (422, "passkey_challenge_mismatch"), "{what}: {:?}", reply.body);
        assert!(reply.body["error"]["attempts_left"].is_u64(), "{what}: counted");
    }
}

/// A cloned authenticator and the original signing at the same counter, sent at once: both read
/// the same stored counter, and the conditional write in the shared state lets only one move it.
/// The replay memory is off here so that only the counter can stop the second.
#[tokio::test]
async fn a_clone_and_the_original_racing_at_one_counter_never_both_pass() {
    let app = spawn_owned(&keyed(SECRET, CLIENT, &[("REPLAY_WINDOW_SECS", "0")]));
    register_face(&app, "angelina", ANGELINA_1).await;
    let mut device = Authenticator::new(ORIGIN);
    assert_eq!(register_passkey(&app, SECRET, "angelina", None, &mut device).await.status, 201);
    let photo = face(ANGELINA_2);
    for trial in 0..6 {
        let ((_, first, _), (_, second, _)) =
            tokio::join!(passkey_session(&app, "angelina"), passkey_session(&app, "angelina"));
        let counter = device.counter;
        let original = device.get(&challenge(&first, &[&photo]));
        device.counter = counter;
        let clone = device.get(&challenge(&second, &[&photo]));
        let (a, b) = tokio::join!(
            verify(&app, "angelina", &photo, &first, Some(&original)),
            verify(&app, "angelina", &photo, &second, Some(&clone))
        );
        let passed = [&a, &b].iter().filter(|r| r.body["verified"] == true).count();
        assert_eq!(passed, 1, "trial {trial}: {:?} {:?}", a.body, b.body);
        let refused = if a.body["verified"] == true { &b } else { &a };
        assert_eq!(refused.code(), "passkey_counter_regressed", "trial {trial}: {:?}", refused.body);
    }
}

#[tokio::test]
async fn every_wrong_assertion_is_refused_with_its_code_and_counts_as_a_failure() {
    // Many refusals for one user from one client: the lockout is raised so each is seen (the
    // refusals are what is tested; that they count is asserted through attempts_left).
    let app =
        spawn_owned(&keyed(SECRET, CLIENT, &[("LOCKOUT_MAX_FAILURES", "50"), ("LOCKOUT_USER_MAX_FAILURES", "100")]));
    register_face(&app, "angelina", ANGELINA_1).await;
    register_face(&app, "aniston", ANISTON).await;
    let mut device = Authenticator::new(ORIGIN);
    assert_eq!(register_passkey(&app, SECRET, "angelina", None, &mut device).await.status, 201);
    let mut other_users = Authenticator::new(ORIGIN);
    assert_eq!(register_passkey(&app, SECRET, "aniston", None, &mut other_users).await.status, 201);
    let photo = face(ANGELINA_2);

    // No assertion: refused before anything is counted or spent.
    let (_, token, _) = passkey_session(&app, "angelina").await;
    let reply = verify(&app, "angelina", &photo, &token, None).await;
    assert_eq!((reply.status, reply.code()), (400, "passkey_required"), "{:?}", reply.body);

    let refused = |reply: &Reply, code: &str| {
        assert_eq!((reply.status, reply.code()), (422, code), "{:?}", reply.body);
        assert!(reply.body["error"]["attempts_left"].is_u64(), "a checked assertion decides the attempt");
    };
    // Another user's credential, over the right challenge.
    let (_, token, _) = passkey_session(&app, "angelina").await;
    let reply = verify(&app, "angelina", &photo, &token, Some(&other_users.get(&challenge(&token, &[&photo])))).await;
    refused(&reply, "passkey_not_recognised");
    // Signed over another capture, then sent with this one.
    let (_, token, _) = passkey_session(&app, "angelina").await;
    let signed_over_other = device.get(&challenge(&token, &[&face(ANGELINA_4)]));
    refused(&verify(&app, "angelina", &photo, &token, Some(&signed_over_other)).await, "passkey_challenge_mismatch");
    // A good assertion moved to another session.
    let (_, first, _) = passkey_session(&app, "angelina").await;
    let (_, second, _) = passkey_session(&app, "angelina").await;
    let for_first = device.get(&challenge(&first, &[&photo]));
    refused(&verify(&app, "angelina", &photo, &second, Some(&for_first)).await, "passkey_challenge_mismatch");
    // The same assertion replayed on its own session after it was used: the session is spent.
    assert_eq!(verify(&app, "angelina", &photo, &first, Some(&for_first)).await.body["verified"], true);
    let replayed = verify(&app, "angelina", &photo, &first, Some(&for_first)).await;
    assert_eq!((replayed.status, replayed.code()), (401, "invalid_session"));
    // A cloned authenticator: its counter behind the one stored.
    let (_, token, _) = passkey_session(&app, "angelina").await;
    let stored = device.counter;
    device.counter = 0;
    refused(
        &verify(&app, "angelina", &photo, &token, Some(&device.get(&challenge(&token, &[&photo])))).await,
        "passkey_counter_regressed",
    );
    device.counter = stored + 1;
    // Another origin, and another relying party's id.
    let (_, token, _) = passkey_session(&app, "angelina").await;
    device.origin = "https://phishing.example".into();
    refused(
        &verify(&app, "angelina", &photo, &token, Some(&device.get(&challenge(&token, &[&photo])))).await,
        "passkey_origin_mismatch",
    );
    device.origin = ORIGIN.into();
    let (_, token, _) = passkey_session(&app, "angelina").await;
    device.rp_id = "phishing.example".into();
    refused(
        &verify(&app, "angelina", &photo, &token, Some(&device.get(&challenge(&token, &[&photo])))).await,
        "passkey_origin_mismatch",
    );
    device.rp_id = "localhost".into();
    // No user verification on the device.
    let (_, token, _) = passkey_session(&app, "angelina").await;
    device.verifies_user = false;
    refused(
        &verify(&app, "angelina", &photo, &token, Some(&device.get(&challenge(&token, &[&photo])))).await,
        "passkey_user_not_verified",
    );
    device.verifies_user = true;
    // And the right one still passes (with a new photo: the first verified one is remembered).
    let (_, token, _) = passkey_session(&app, "angelina").await;
    let photo = face(ANGELINA_4);
    let reply = verify(&app, "angelina", &photo, &token, Some(&device.get(&challenge(&token, &[&photo])))).await;
    assert_eq!(reply.body["verified"], true, "{:?}", reply.body);

    // A passkey on a session that asks for none is a mistake, not a second factor.
    let plain = session(&app, "angelina", json!(["face"])).await;
    let plain_token = plain.body["session_token"].as_str().unwrap();
    let reply =
        verify(&app, "angelina", &photo, plain_token, Some(&device.get(&challenge(plain_token, &[&photo])))).await;
    assert_eq!((reply.status, reply.code()), (400, "passkey_not_asked"));
}

#[tokio::test]
async fn registration_needs_authority_user_verification_and_is_used_once() {
    let app = spawn_owned(&keyed(SECRET, CLIENT, &[]));
    register_face(&app, "angelina", ANGELINA_1).await;
    // A device joins a face: none for a user who has none.
    let reply = json_as(&app, SECRET, "/api/passkeys/options", json!({ "user_id": "nobody" })).await;
    assert_eq!((reply.status, reply.code()), (404, "user_not_found"));
    // A body over the routes' 16 KiB is refused, and the answer names that limit.
    let huge = json!({ "user_id": "angelina", "registration_id": "r", "credential": { "pad": "x".repeat(20_000) } });
    let reply = json_as(&app, SECRET, "/api/passkeys", huge).await;
    assert_eq!((reply.status, reply.code()), (413, "payload_too_large"));
    assert!(reply.body["error"]["message"].as_str().unwrap().contains("16384"), "{:?}", reply.body);
    // A client key alone may not add a device to someone's account.
    let reply = json_as(&app, CLIENT, "/api/passkeys/options", json!({ "user_id": "angelina" })).await;
    assert_eq!((reply.status, reply.code()), (403, "session_required"));
    // No passkey yet: a face + passkey session cannot be started.
    let reply = session(&app, "angelina", json!(["face", "passkey"])).await;
    assert_eq!((reply.status, reply.code()), (409, "no_passkey"), "{:?}", reply.body);
    // An authenticator that cannot verify its user is not registered.
    let mut weak = Authenticator::new(ORIGIN);
    weak.verifies_user = false;
    let reply = register_passkey(&app, SECRET, "angelina", None, &mut weak).await;
    assert_eq!((reply.status, reply.code()), (422, "passkey_registration_refused"), "{:?}", reply.body);
    // A registration answered once cannot be answered again.
    let options = json_as(&app, SECRET, "/api/passkeys/options", json!({ "user_id": "angelina" })).await;
    let mut device = Authenticator::new(ORIGIN);
    let finish = json!({ "user_id": "angelina", "registration_id": options.body["registration_id"],
        "credential": device.create(&options.body["public_key"]) });
    assert_eq!(json_as(&app, SECRET, "/api/passkeys", finish.clone()).await.status, 201);
    let again = json_as(&app, SECRET, "/api/passkeys", finish).await;
    assert_eq!((again.status, again.code()), (404, "passkey_registration_not_found"));
    // Nor for another user.
    let options = json_as(&app, SECRET, "/api/passkeys/options", json!({ "user_id": "angelina" })).await;
    let finish = json!({ "user_id": "aniston", "registration_id": options.body["registration_id"],
        "credential": Authenticator::new(ORIGIN).create(&options.body["public_key"]) });
    assert_eq!(json_as(&app, SECRET, "/api/passkeys", finish).await.code(), "passkey_registration_not_found");
}

#[tokio::test]
async fn a_deleted_users_passkey_stays_refused_after_the_shared_state_is_flushed() {
    let (moto, redis) = (Moto::start(), Redis::start());
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    env.extend(keyed(SECRET, CLIENT, &[("SHARED_STATE_URL", redis.url.as_str())]));
    let app = spawn_owned(&env);
    register_face(&app, "angelina", ANGELINA_1).await;
    let mut device = Authenticator::new(ORIGIN);
    assert_eq!(register_passkey(&app, SECRET, "angelina", None, &mut device).await.status, 201);
    assert!(moto.keys(&bucket).await.iter().any(|k| k.starts_with("passkeys/angelina/")), "stored in the bucket");
    let (_, before, _) = passkey_session(&app, "angelina").await;

    assert_eq!(app.delete_as(SECRET, "/api/users/angelina").await.status, 200);
    assert!(!moto.keys(&bucket).await.iter().any(|k| k.starts_with("passkeys/")), "deleted with the user");
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut client.get_multiplexed_async_connection().await.unwrap())
        .await
        .unwrap();

    // The session issued before the delete, with a good assertion: refused.
    let photo = face(ANGELINA_2);
    let reply = verify(&app, "angelina", &photo, &before, Some(&device.get(&challenge(&before, &[&photo])))).await;
    assert_eq!((reply.status, reply.code()), (401, "invalid_session"), "{:?}", reply.body);
    // Re-enrolled by the same name: the old device is not the user's.
    register_face(&app, "angelina", ANGELINA_1).await;
    let reply = session(&app, "angelina", json!(["face", "passkey"])).await;
    assert_eq!((reply.status, reply.code()), (409, "no_passkey"));
    let mut new_device = Authenticator::new(ORIGIN);
    assert_eq!(register_passkey(&app, SECRET, "angelina", None, &mut new_device).await.status, 201);
    let (_, token, _) = passkey_session(&app, "angelina").await;
    let reply = verify(&app, "angelina", &photo, &token, Some(&device.get(&challenge(&token, &[&photo])))).await;
    assert_eq!((reply.status, reply.code()), (422, "passkey_not_recognised"), "{:?}", reply.body);
}

#[tokio::test]
async fn a_passkey_is_sealed_under_the_template_key_and_listed_exported_and_used_by_another_instance() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    let created = moto.call("TrentService.CreateKey", json!({ "Description": "faceauth templates" })).await;
    let mut env = moto.env(&bucket);
    env.extend(keyed(SECRET, CLIENT, &[("TEMPLATE_KMS_KEY_ID", created["KeyMetadata"]["KeyId"].as_str().unwrap())]));
    let app = spawn_owned(&env);
    register_face(&app, "angelina", ANGELINA_1).await;
    let mut device = Authenticator::new(ORIGIN);
    assert_eq!(register_passkey(&app, SECRET, "angelina", None, &mut device).await.status, 201);

    // A bucket reader without the key sees no credential: not JSON, no id, no public key.
    let key = moto.keys(&bucket).await.into_iter().find(|k| k.starts_with("passkeys/angelina/")).expect("stored");
    let out = moto.s3().get_object().bucket(&bucket).key(&key).send().await.unwrap();
    let stored = out.body.collect().await.unwrap().into_bytes().to_vec();
    assert!(serde_json::from_slice::<Value>(&stored).is_err(), "sealed, not JSON");
    assert!(!stored.windows(device.id().len()).any(|w| w == device.id().as_bytes()), "the credential id is sealed too");

    // Another instance, through the key: the session's options, the assertion, the counter kept.
    let other = spawn_owned(&env);
    let (_, token, options) = passkey_session(&other, "angelina").await;
    assert_eq!(options["allowCredentials"][0]["id"], device.id());
    let photo = face(ANGELINA_2);
    let reply = verify(&other, "angelina", &photo, &token, Some(&device.get(&challenge(&token, &[&photo])))).await;
    assert_eq!(reply.body["verified"], true, "{:?}", reply.body);
    let listed = app.get_as(SECRET, "/api/users/angelina").await;
    assert_eq!(listed.body["passkeys"][0]["counter"], 1);
    // Her export names the passkey (Art. 15: the data kept about her).
    let export =
        app.client.get(format!("{}/api/users/angelina/export", app.base)).bearer_auth(SECRET).send().await.unwrap();
    let zip = export.bytes().await.unwrap();
    assert!(zip.windows(device.id().len()).any(|w| w == device.id().as_bytes()), "the manifest lists the credential");
}
