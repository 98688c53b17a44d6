//! Challenge–response liveness through the real binary: head turns a still photo cannot answer.

use faceauth::token::Hs256;
use hmac::{Hmac, Mac};
use reqwest::multipart::{Form, Part};
use serde_json::json;
use sha2::Sha256;

use crate::helpers::*;

const SIGNING_KEY: &str = "challenge-test-signing-key-0123456789abcd";
const FRONTAL: &str = "dev/Marc_Grossman/Marc_Grossman_0004.jpg";
const REFERENCE: &str = "dev/Marc_Grossman/Marc_Grossman_0002.jpg";
/// Marc turned to his own left (yaw about +30°); its mirror image is the same turn to his right.
const TURNED: &str = "dev/Marc_Grossman/Marc_Grossman_0003.jpg";
/// Another person turned to her own right (yaw about −41°); mirrored, to her left.
const OTHER_TURNED: &str = "dev/Maria_Soledad_Alvear_Valenzuela/Maria_Soledad_Alvear_Valenzuela_0001.jpg";

fn mirrored(rel: &str) -> Vec<u8> {
    let image = image::load_from_memory(&face(rel)).unwrap();
    let mut png = Vec::new();
    image::imageops::flip_horizontal(&image.to_rgb8())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

/// A photo whose yaw has the sign `step` asks for, of Marc or of someone else.
fn turn(step: &str, marc: bool) -> Vec<u8> {
    match (step, marc) {
        ("turn_left", true) => face(TURNED),
        ("turn_right", true) => mirrored(TURNED),
        ("turn_left", false) => mirrored(OTHER_TURNED),
        (_, false) => face(OTHER_TURNED),
        _ => unreachable!(),
    }
}

fn opposite(step: &str) -> &'static str {
    if step == "turn_left" { "turn_right" } else { "turn_left" }
}

async fn challenge(app: &TestApp, user: &str) -> (String, Vec<String>) {
    let url = format!("{}/api/challenges", app.base);
    let reply = app.send(app.client.post(url).json(&json!({ "user_id": user }))).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let steps = reply.body["steps"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    (reply.body["challenge_id"].as_str().unwrap().to_string(), steps)
}

async fn answer(app: &TestApp, user: &str, id: &str, image: Vec<u8>, frames: Vec<Vec<u8>>) -> Reply {
    let mut form = Form::new()
        .text("user_id", user.to_string())
        .text("challenge_id", id.to_string())
        .part("image", Part::bytes(image).file_name("image.jpg"));
    for (i, frame) in frames.into_iter().enumerate() {
        form = form.part(format!("frame_{}", i + 1), Part::bytes(frame).file_name("frame.png"));
    }
    app.post_form("/api/verify", form).await
}

/// A challenge as the service signs them, for one that has already expired.
fn expired_challenge(user: &str) -> String {
    let mut derive = Hmac::<Sha256>::new_from_slice(SIGNING_KEY.as_bytes()).unwrap();
    derive.update(b"faceauth liveness challenge v1");
    let claims = json!({ "iss": "faceauth", "aud": "faceauth:challenge", "sub": user, "iat": 1, "exp": 2,
                         "jti": "expired", "steps": ["turn_left"] });
    Hs256::new(&derive.finalize().into_bytes()).sign(&claims)
}

fn no_token(reply: &Reply) {
    assert!(reply.body.get("token").is_none() && reply.body["verified"] != json!(true), "{:?}", reply.body);
}

#[tokio::test]
async fn a_sequence_that_follows_the_steps_passes_and_every_other_answer_is_refused_by_name() {
    let app = spawn(&[("LIVENESS", "challenge"), ("SECRET_KEY", SIGNING_KEY), ("CHALLENGE_STEPS", "2")]);
    assert_eq!(app.register("marc", REFERENCE).await.status, 201);

    // Without a challenge, verify is refused.
    let plain = app.verify("marc", FRONTAL).await;
    assert_eq!((plain.status, plain.code()), (400, "challenge_required"));

    // The right turns, in order, by Marc: verified, each step with its measured yaw.
    let (id, steps) = challenge(&app, "marc").await;
    let frames = steps.iter().map(|s| turn(s, true)).collect();
    let passed = answer(&app, "marc", &id, face(FRONTAL), frames).await;
    assert_eq!((passed.status, passed.body["verified"].clone()), (200, json!(true)), "{:?}", passed.body);
    let measured = passed.body["liveness"]["steps"].as_array().unwrap();
    for (step, got) in steps.iter().zip(measured) {
        assert_eq!(got["step"], json!(step));
        let yaw = got["yaw"].as_f64().unwrap();
        assert!(if step == "turn_left" { yaw > 18.0 } else { yaw < -18.0 }, "{step}: {yaw}");
    }
    // Used once, whatever comes next.
    let frames = steps.iter().map(|s| turn(s, true)).collect();
    let reused = answer(&app, "marc", &id, face(FRONTAL), frames).await;
    assert_eq!((reused.status, reused.code()), (409, "challenge_used"));

    // The turns the other way round, a frontal photo for every step, another person's turns.
    let wrong_order = |steps: &[String]| steps.iter().map(|s| turn(opposite(s), true)).collect::<Vec<_>>();
    let (id, steps) = challenge(&app, "marc").await;
    let reply = answer(&app, "marc", &id, face(FRONTAL), wrong_order(&steps)).await;
    assert_eq!((reply.status, reply.code()), (422, "pose_mismatch"));
    no_token(&reply);
    let (id, steps) = challenge(&app, "marc").await;
    let reply = answer(&app, "marc", &id, face(FRONTAL), steps.iter().map(|_| face(FRONTAL)).collect()).await;
    assert_eq!((reply.status, reply.code()), (422, "pose_mismatch"));
    assert!(reply.body["error"]["message"].as_str().unwrap().contains("frame_1"), "{:?}", reply.body);
    let (id, steps) = challenge(&app, "marc").await;
    let mut frames: Vec<Vec<u8>> = steps.iter().map(|s| turn(s, true)).collect();
    let last = steps.len() - 1;
    frames[last] = turn(&steps[last], false);
    let reply = answer(&app, "marc", &id, face(FRONTAL), frames).await;
    assert_eq!((reply.status, reply.code()), (422, "identity_changed"));
    assert!(reply.body["error"]["message"].as_str().unwrap().contains(&format!("frame_{}", last + 1)));

    // Unknown, expired, and another user's challenges.
    let frames = || steps.iter().map(|s| turn(s, true)).collect::<Vec<_>>();
    let reply = answer(&app, "marc", "not-a-challenge", face(FRONTAL), frames()).await;
    assert_eq!((reply.status, reply.code()), (404, "challenge_not_found"));
    let reply = answer(&app, "marc", &expired_challenge("marc"), face(FRONTAL), vec![face(TURNED)]).await;
    assert_eq!((reply.status, reply.code()), (410, "challenge_expired"));
    let (someone_elses, steps) = challenge(&app, "alice").await;
    let reply =
        answer(&app, "marc", &someone_elses, face(FRONTAL), steps.iter().map(|s| turn(s, true)).collect()).await;
    assert_eq!((reply.status, reply.code()), (409, "challenge_used"));
}

#[tokio::test]
async fn challenges_are_issued_only_in_challenge_mode() {
    let app = spawn(&[]);
    let url = format!("{}/api/challenges", app.base);
    let reply = app.send(app.client.post(url).json(&json!({ "user_id": "marc" }))).await;
    assert_eq!((reply.status, reply.code()), (409, "challenges_disabled"));
}
