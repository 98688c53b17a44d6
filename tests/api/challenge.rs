//! Challenge liveness through the real binary: one continuous capture that follows the server's
//! plan. Genuine captures come from a real recording (`capture.rs`); every refusal below is shown
//! against unsynthesised material except where the test says it synthesises the screen's light.

use faceauth::service::Step;
use faceauth::service::liveness::plan::Plan;
use faceauth::token::Hs256;
use hmac::{Hmac, Mac};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::capture::*;
use crate::helpers::*;

const SIGNING_KEY: &str = "challenge-test-signing-key-0123456789abcd";
const SECRET: &str = "backend-secret-key-0123456789";
const CLIENT: &str = "pk_frontend_0123456789";
/// Barack Obama facing the camera, turned to his own left, and the dev set's photo of him to enrol.
const FRONTAL: &str = "dev/Barack_Obama/facerec_obama.jpg";
const OBAMA: &str = "dev/Barack_Obama/facerec_obama3.jpg";
const LEFT: &str = "dev/Barack_Obama/facerec_knn_obama1.jpg";

fn env(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut env = CAPTURE_ENV.to_vec();
    env.push(("SECRET_KEY", SIGNING_KEY));
    env.extend_from_slice(extra);
    env
}

async fn challenge(app: &TestApp, user: &str) -> Value {
    let url = format!("{}/api/challenges", app.base);
    let reply = app.send(app.client.post(url).json(&json!({ "user_id": user }))).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

async fn answer(app: &TestApp, user: &str, challenge: &Value, capture: &Capture) -> Reply {
    let id = challenge["challenge_id"].as_str().unwrap();
    app.post_form("/api/verify", form(user, capture, None, Some(id))).await
}

/// A genuine capture of the woman in the recording answering `challenge`, its light synthesised
/// (the recording does not respond to screen colours): her face takes on up to a quarter of the
/// screen's colour by its surface's angle to the screen, the room behind her a fiftieth, 100 ms late.
fn genuine_lit(challenge: &Value) -> Capture {
    lit_shaped(&genuine(&steps_of(challenge)), &challenge["capture"], 0.25, 0.02, 100.0)
}

fn refused(reply: &Reply, status: u16, code: &str) {
    assert_eq!((reply.status, reply.code()), (status, code), "{:?}", reply.body);
    assert!(reply.body.get("token").is_none(), "{:?}", reply.body);
}

#[tokio::test]
async fn a_real_capture_that_follows_the_plan_passes_and_says_which_checks_ran() {
    // LIVENESS=challenge with the default light challenge and replay memory (24 h).
    let app = spawn(&env(&[("REPLAY_WINDOW_SECS", "")]));
    let register = app.post_form("/api/register", TestApp::form("maria", reference())).await;
    assert_eq!(register.status, 201, "{:?}", register.body);

    let plan = challenge(&app, "maria").await;
    assert!(plan["capture"]["light"].as_array().unwrap().len() >= 4, "{plan}");
    assert!(plan["capture"]["fps"].as_u64().unwrap() >= 10);
    let capture = genuine_lit(&plan);
    let passed = answer(&app, "maria", &plan, &capture).await;
    let refusal = app.logs().lines().filter(|l| l.contains("capture refused")).collect::<Vec<_>>().join("\n");
    assert_eq!((passed.status, &passed.body["verified"]), (200, &json!(true)), "{:?}\n{refusal}", passed.body);
    let liveness = &passed.body["liveness"];
    assert_eq!(liveness["checks"], json!(["movement", "light", "passive"]), "{liveness}");
    assert_eq!(liveness["frames"], json!(capture.frames.len()));
    for (step, got) in steps_of(&plan).iter().zip(liveness["steps"].as_array().unwrap()) {
        assert_eq!(&got["step"], step);
        let yaw = got["yaw"].as_f64().unwrap();
        assert!(if step == "turn_left" { yaw >= 18.0 } else { yaw <= -18.0 }, "{step}: {yaw}");
    }
    let claims = verify_with_jwks(&app, passed.body["token"].as_str().unwrap()).await.unwrap();
    assert!(claims.amr.iter().any(|m| m == "light_liveness"), "{:?}", claims.amr);

    // The same capture, sent again with the next plan: its exact frames are remembered.
    let next = challenge(&app, "maria").await;
    refused(&answer(&app, "maria", &next, &capture).await, 422, "replayed_image");
    // Its frames re-encoded, and lit again for the new plan by an attacker who knows it: the
    // content is remembered too. The attacker tints gently over the light already on the face (a
    // second full-strength tint leaves frames in which FaceMesh sees no face, and the capture would
    // be refused as no_face before the replay memory is asked: not the defence under test).
    let next = challenge(&app, "maria").await;
    let reencoded = Capture {
        frames: capture.frames.iter().map(|f| jpeg(&image::load_from_memory(f).unwrap().to_rgb8(), 93)).collect(),
        times: capture.times.clone(),
    };
    let relit = lit(&reencoded, &next["capture"], 0.12, 0.01, 100.0);
    refused(&answer(&app, "maria", &next, &relit).await, 422, "replayed_image");
}

/// The default plan's length (CHALLENGE_STEPS unset: 3 steps, 5.2 s) answered by a genuine capture
/// passes; the recording answers only turns, so the move set is the one setting changed. Both
/// orders the plan can draw are answered (the replay memory off: the same frames are sent twice).
#[tokio::test]
async fn a_genuine_capture_of_the_default_plans_length_passes() {
    let app = spawn(&[
        ("LIVENESS", "challenge"),
        ("CHALLENGE_MOVES", "turn_left,turn_right"),
        ("SECRET_KEY", SIGNING_KEY),
        ("REPLAY_WINDOW_SECS", "0"),
    ]);
    let register = app.post_form("/api/register", TestApp::form("maria", reference())).await;
    assert_eq!(register.status, 201, "{:?}", register.body);
    // A plan stays pending until answered, so each is answered; the order is drawn, and sixteen
    // draws miss one of two orders with odds of 1 in 32,768.
    let mut orders = std::collections::BTreeSet::new();
    for _ in 0..16 {
        let plan = challenge(&app, "maria").await;
        let steps = steps_of(&plan);
        assert_eq!(steps.len(), 3, "{plan}");
        let passed = answer(&app, "maria", &plan, &genuine_lit(&plan)).await;
        let refusal = app.logs().lines().filter(|l| l.contains("capture refused")).collect::<Vec<_>>().join("\n");
        assert_eq!(
            (passed.status, &passed.body["verified"]),
            (200, &json!(true)),
            "{steps:?}: {:?}\n{refusal}",
            passed.body
        );
        assert_eq!(passed.body["liveness"]["checks"], json!(["movement", "light", "passive"]));
        orders.insert(steps);
        if orders.len() == 2 {
            break;
        }
    }
    assert_eq!(orders.len(), 2, "{orders:?}");
}

#[tokio::test]
async fn a_recording_without_the_reflection_a_whole_frame_tint_and_a_reordered_capture_are_refused() {
    let app = spawn(&env(&[]));
    assert_eq!(app.post_form("/api/register", TestApp::form("maria", reference())).await.status, 201);

    // The recording as it is (unsynthesised): a real face, but no screen light on it.
    let plan = challenge(&app, "maria").await;
    let unlit = answer(&app, "maria", &plan, &genuine(&steps_of(&plan))).await;
    refused(&unlit, 422, "light_not_followed");
    // A refusal counts as a failed attempt, and says how many are left before the lockout.
    assert!(unlit.body["error"]["attempts_left"].is_u64(), "{:?}", unlit.body);
    // The colours laid over the whole frame, exactly in time: not a reflection.
    let plan = challenge(&app, "maria").await;
    let tinted = lit(&genuine(&steps_of(&plan)), &plan["capture"], 0.25, 0.25, 100.0);
    refused(&answer(&app, "maria", &plan, &tinted).await, 422, "light_not_reflected");
    // Real frames in a shuffled order, with their times in order.
    let plan = challenge(&app, "maria").await;
    let mut numbers = genuine_frames(&steps_of(&plan));
    let mut shuffled = Vec::with_capacity(numbers.len());
    while !numbers.is_empty() {
        shuffled.push(numbers.remove((shuffled.len() * 7919) % numbers.len()));
    }
    refused(&answer(&app, "maria", &plan, &at_native_rate(&shuffled)).await, 422, "capture_discontinuous");
    // The steps of another plan: the turns in the other order.
    let plan = challenge(&app, "maria").await;
    let mut other = steps_of(&plan);
    other.reverse();
    let wrong = lit(&genuine(&other), &plan["capture"], 0.25, 0.02, 100.0);
    refused(&answer(&app, "maria", &plan, &wrong).await, 422, "pose_mismatch");
}

#[tokio::test]
async fn three_photos_of_the_victim_do_not_make_a_capture() {
    let app = spawn(&env(&[]));
    assert_eq!(app.register("obama", OBAMA).await.status, 201);

    // As stills, in the old one-photo-per-step fields or as one photo: no answer to a challenge.
    let form = TestApp::form("obama", face(FRONTAL)).part("frame_1", Part::bytes(face(LEFT)).file_name("f.jpg"));
    refused(&app.post_form("/api/verify", form).await, 400, "invalid_request");
    refused(&app.verify("obama", FRONTAL).await, 400, "challenge_required");

    // A slideshow at 12 fps: the frontal photo, his real left turn, and that turn mirrored with a
    // brightness ramp across the face for the right turn; each frame shifted, scaled, noised and
    // re-encoded. Each still is shown from its prompt's reaction time on.
    let frontal = face(FRONTAL);
    let left = face(LEFT);
    let right = {
        let image = image::load_from_memory(&left).unwrap().fliph().to_rgb8();
        let w = image.width() as f32;
        let ramped = image::RgbImage::from_fn(image.width(), image.height(), |x, y| {
            let p = image.get_pixel(x, y).0;
            image::Rgb(p.map(|v| (v as f32 * (0.75 + 0.5 * x as f32 / w)).min(255.0) as u8))
        });
        jpeg(&ramped, 92)
    };
    let stills = [frontal, left, right];
    let plan = challenge(&app, "obama").await;
    let lit_show = lit(&slideshow_answer(&stills, &plan["capture"], 12.0), &plan["capture"], 0.25, 0.02, 100.0);
    let first = answer(&app, "obama", &plan, &lit_show).await;
    refused(&first, 422, "capture_discontinuous");

    // The same slideshow with its times rewritten to an even 12 fps, to look smooth.
    let plan = challenge(&app, "obama").await;
    let mut smooth = lit(&slideshow_answer(&stills, &plan["capture"], 12.0), &plan["capture"], 0.25, 0.02, 100.0);
    smooth.times = (0..smooth.times.len()).map(|k| k as f64 * 1000.0 / 12.0).collect();
    let second = answer(&app, "obama", &plan, &smooth).await;
    refused(&second, 422, "capture_discontinuous");
    // Refused for the jumps between stills, not for anything else about them (the reason is in
    // the log line of each request).
    for reply in [first, second] {
        let id = reply.body["error"]["request_id"].as_str().unwrap().to_string();
        let line =
            app.wait_for_line(|l| l.contains("capture refused") && l.contains(&id), std::time::Duration::from_secs(10));
        assert!(line.as_deref().is_some_and(|l| l.contains("jump")), "{line:?}");
    }
}

#[tokio::test]
async fn a_photo_turned_as_a_sheet_to_answer_the_moves_is_refused() {
    let app = spawn(&env(&[]));
    assert_eq!(app.register("obama", OBAMA).await.status, 201);
    let photo = image::load_from_memory(&face(FRONTAL)).unwrap().to_rgb8();
    // The photo held as a bowed sheet, turned toward each prompt's side at 15 fps (`sheet_answer`),
    // the plan's colours then synthesised on it as on a face (`lit`).
    let plan = challenge(&app, "obama").await;
    let capture = lit(&sheet_answer(&photo, &plan["capture"], 15.0), &plan["capture"], 0.25, 0.02, 100.0);
    // The pose check refuses it first: a sheet's nose never moves against its eyes as a turned
    // head's does (its yaw stays under 8°, `tests/pipeline/planarity.rs`); the planarity check
    // behind it would refuse what moved only as a plane (`capture_flat`).
    let reply = answer(&app, "obama", &plan, &capture).await;
    assert!(["pose_mismatch", "capture_flat"].contains(&reply.code()), "{:?}", reply.body);
    refused(&reply, 422, reply.code());
}

#[tokio::test]
async fn the_planarity_and_shading_checks_cannot_be_left_without_a_mesh() {
    // SCRFD gives no mesh: challenge liveness with the planarity or shading check on would refuse
    // every capture, so the server refuses the configuration before it listens, and says what to change.
    let scrfd = [("DETECTOR_MODEL".to_string(), "det_500m.onnx".to_string())];
    let mut env: Vec<(String, String)> = env(&[]).iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    env.extend(scrfd.iter().cloned());
    let failed = spawn_failing(&env);
    assert_eq!(failed.code, Some(1));
    assert!(failed.output.contains("CHALLENGE_MIN_PARALLAX"), "{}", failed.output);
    assert!(!failed.output.contains("listening on"), "{}", failed.output);
    // One of the two turned off is not enough.
    env.push(("CHALLENGE_MIN_PARALLAX".into(), "0".into()));
    let failed = spawn_failing(&env);
    assert!(failed.output.contains("CHALLENGE_MIN_SHADING=0"), "{}", failed.output);
    // Both turned off on purpose, it starts.
    env.push(("CHALLENGE_MIN_SHADING".into(), "0".into()));
    let app = spawn_owned(&env);
    assert_eq!(app.get("/ready").await.status, 200);
}

#[tokio::test]
async fn twenty_asks_give_one_plan_until_it_is_answered() {
    let mut with_keys = env(&[]);
    with_keys.extend([("API_KEYS", SECRET), ("CLIENT_API_KEYS", CLIENT), ("LOCKOUT_MAX_FAILURES", "100")]);
    let app = spawn(&with_keys);
    let url = format!("{}/api/sessions", app.base);
    let session = || {
        app.send(app.client.post(&url).bearer_auth(SECRET).json(&json!({ "user_id": "maria", "purpose": "verify" })))
    };
    let first = session().await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    for _ in 0..19 {
        let again = session().await;
        assert_eq!(again.body["capture"], first.body["capture"], "a re-draw");
    }
    // A standalone challenge gives the same plan too.
    let challenge_url = format!("{}/api/challenges", app.base);
    let challenge =
        app.send(app.client.post(challenge_url).bearer_auth(CLIENT).json(&json!({ "user_id": "maria" }))).await;
    assert_eq!(challenge.body["capture"], first.body["capture"]);
    // A decided attempt (a capture that fails) answers it: only then is a new plan drawn.
    let token = first.body["session_token"].as_str().unwrap();
    let still = at_native_rate(&[126; 100].iter().enumerate().map(|(i, f)| f + i % 2).collect::<Vec<_>>());
    let failed = app.post_form_as(CLIENT, "/api/verify", form("maria", &still, Some(token), None)).await;
    assert_eq!(failed.status, 422, "{:?}", failed.body);
    let plans: std::collections::BTreeSet<String> = futures::future::join_all((0..3).map(|_| session()))
        .await
        .iter()
        .map(|r| r.body["capture"].to_string())
        .collect();
    assert_eq!(plans.len(), 1, "concurrent asks share the new plan");
    assert!(!plans.contains(&first.body["capture"].to_string()), "a new plan after the answer");
}

/// The backend decides the liveness when it creates the session; the client answers the plan it is
/// handed and cannot lower it (an attacker's own client declining the colours is refused and
/// counted), and the result says exactly what ran.
#[tokio::test]
async fn the_backend_chooses_the_liveness_and_a_client_that_declines_the_colours_is_refused() {
    let mut with_keys = env(&[]);
    with_keys.extend([("API_KEYS", SECRET), ("CLIENT_API_KEYS", CLIENT)]);
    let app = spawn(&with_keys);
    assert_eq!(app.post_form_as(SECRET, "/api/register", TestApp::form("maria", reference())).await.status, 201);
    let url = format!("{}/api/sessions", app.base);
    let create = |body: Value| app.send(app.client.post(&url).bearer_auth(SECRET).json(&body));

    // The default (LIGHT_CHALLENGE=on): movement and light. The attacker's client says it showed
    // no colours, to skip the check that stops a replayed recording: refused, and counted.
    let created = create(json!({ "user_id": "maria", "purpose": "verify" })).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["liveness"], "movement_and_light");
    assert!(!created.body["capture"]["light"].as_array().unwrap().is_empty());
    let token = created.body["session_token"].as_str().unwrap();
    let capture = at_rate(&genuine(&steps_of(&created.body)), 15.0);
    let declined = form("maria", &capture, Some(token), None).text("capture_light", "declined");
    let downgraded = app.post_form_as(CLIENT, "/api/verify", declined).await;
    refused(&downgraded, 422, "light_required");
    assert!(downgraded.body["error"]["attempts_left"].is_u64(), "counted: {:?}", downgraded.body);
    let id = created.body["session_id"].as_str().unwrap();
    let outcome = app.get_as(SECRET, &format!("/api/sessions/{id}")).await.body;
    assert_eq!((&outcome["status"], &outcome["code"]), (&json!("completed"), &json!("light_required")));

    // The backend asks for the moves only (its user cannot take flashing light): the plan has no
    // colours and the recording, unsynthesised, at the SDK's rate and size (15 fps, 480 px), passes.
    let created = create(json!({ "user_id": "maria", "purpose": "verify", "liveness": "movement" })).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["liveness"], "movement");
    assert_eq!(created.body["capture"]["light"], json!([]), "no colours for movement");
    let token = created.body["session_token"].as_str().unwrap();
    let capture = at_rate(&genuine(&steps_of(&created.body)), 15.0);
    let verified = app.post_form_as(CLIENT, "/api/verify", form("maria", &capture, Some(token), None)).await;
    assert_eq!(verified.body["verified"], true, "{:?}", verified.body);
    assert_eq!(verified.body["liveness"], json!({ "passed": true }), "a client key learns pass or fail");
    let claims = verify_with_jwks(&app, verified.body["token"].as_str().unwrap()).await.unwrap();
    assert!(claims.amr.iter().any(|m| m == "challenge_liveness"));
    assert!(!claims.amr.iter().any(|m| m == "light_liveness"), "{:?}", claims.amr);
    let id = created.body["session_id"].as_str().unwrap();
    let outcome = app.get_as(SECRET, &format!("/api/sessions/{id}")).await.body;
    assert_eq!((&outcome["status"], &outcome["liveness_method"]), (&json!("completed"), &json!("challenge")));
    assert_eq!(outcome["liveness"], "movement", "the session view says what the backend required");

    // What the server does not offer is refused, not quietly changed.
    for body in [
        json!({ "user_id": "maria", "purpose": "verify", "liveness": "passive" }),
        json!({ "user_id": "maria", "purpose": "verify", "liveness": "none" }),
    ] {
        let reply = create(body.clone()).await;
        let expected =
            if body["liveness"] == "passive" { (422, "liveness_not_offered") } else { (400, "invalid_request") };
        assert_eq!((reply.status, reply.code()), expected, "{body}: {:?}", reply.body);
    }

    // An enrol session ignores it, as it does `factors`.
    let enrol = create(json!({ "user_id": "maria", "purpose": "enroll", "liveness": "movement" })).await;
    assert_eq!((enrol.status, enrol.body.get("liveness")), (201, None), "{:?}", enrol.body);

    // LIGHT_CHALLENGE=required: the operator forbids `movement`.
    let mut required = with_keys.clone();
    required.push(("LIGHT_CHALLENGE", "required"));
    let strict = spawn(&required);
    let url = format!("{}/api/sessions", strict.base);
    let body = json!({ "user_id": "maria", "purpose": "verify", "liveness": "movement" });
    let refused_movement = strict.send(strict.client.post(url).bearer_auth(SECRET).json(&body)).await;
    assert_eq!((refused_movement.status, refused_movement.code()), (422, "liveness_not_offered"));
}

/// One capture must not hold an instance: 360 frames of 40 MP lossless WebP (a flat picture, so a
/// few hundred KiB in all) are refused on their headers before any decode, counted, and cost the
/// server little, read from its own accounting (CPU seconds and peak memory in /proc). Before the
/// budget, this capture took ~119 CPU-seconds and 843 MiB.
#[tokio::test]
async fn a_capture_of_huge_frames_is_refused_unread_and_counted() {
    let app = spawn(&env(&[]));
    assert_eq!(app.post_form("/api/register", TestApp::form("maria", reference())).await.status, 201);
    let plan = challenge(&app, "maria").await;
    let huge = image::RgbImage::from_pixel(8000, 5000, image::Rgb([128, 120, 110]));
    let mut webp = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
        .encode(huge.as_raw(), 8000, 5000, image::ExtendedColorType::Rgb8)
        .unwrap();
    let capture = Capture { frames: vec![webp; 360], times: (0..360).map(|i| f64::from(i) * 33.4).collect() };
    let (cpu_before, peak_before) = app.usage();
    let reply = answer(&app, "maria", &plan, &capture).await;
    let (cpu_after, peak_after) = app.usage();
    refused(&reply, 413, "capture_too_large");
    assert!(reply.body["error"]["attempts_left"].is_u64(), "counted: {:?}", reply.body);
    assert!(cpu_after - cpu_before < 1.0, "{:.2} CPU-seconds", cpu_after - cpu_before);
    assert!(peak_after - peak_before < 100 * 1024, "peak memory grew by {} KiB", peak_after - peak_before);
    // A frame over the plan's side is refused too, alone among frames of the SDK's size.
    let plan = challenge(&app, "maria").await;
    let mut capture = genuine_lit(&plan);
    capture.frames[5] = jpeg(&image::RgbImage::from_pixel(1280, 720, image::Rgb([90, 80, 70])), 85);
    refused(&answer(&app, "maria", &plan, &capture).await, 413, "capture_too_large");
}

/// A challenge token as the service signs them (the key derivation is public; SECRET_KEY is not).
fn signed_challenge(user: &str, plan: &Plan, iat: u64, exp: u64) -> String {
    let mut derive = Hmac::<Sha256>::new_from_slice(SIGNING_KEY.as_bytes()).unwrap();
    derive.update(b"faceauth liveness challenge v1");
    let claims = json!({ "iss": "faceauth", "aud": "faceauth:challenge", "sub": user, "iat": iat, "exp": exp,
                         "jti": format!("j{iat}"), "plan": plan });
    Hs256::new(&derive.finalize().into_bytes()).sign(&claims)
}

#[tokio::test]
async fn unknown_expired_short_and_other_users_challenges_are_refused() {
    let app = spawn(&env(&[]));
    assert_eq!(app.post_form("/api/register", TestApp::form("maria", reference())).await.status, 201);
    let capture = genuine(&["turn_left".to_string(), "turn_right".to_string()]);
    let send = |id: String| app.post_form("/api/verify", form("maria", &capture, None, Some(&id)));
    refused(&send("not-a-challenge".into()).await, 404, "challenge_not_found");
    let plan = Plan::lay_out(vec![Step::TurnLeft, Step::TurnRight], true, 15, |_| 0);
    refused(&send(signed_challenge("maria", &plan, 1, 2)).await, 410, "challenge_expired");
    // Signed with the right key but one step short of CHALLENGE_STEPS: no challenge.
    let now = faceauth::token::now();
    let short = Plan::lay_out(vec![Step::TurnLeft], true, 15, |_| 0);
    refused(&send(signed_challenge("maria", &short, now, now + 60)).await, 404, "challenge_not_found");
    let someone_elses = challenge(&app, "alice").await["challenge_id"].as_str().unwrap().to_string();
    refused(&send(someone_elses).await, 409, "challenge_used");
    // Outside challenge mode a capture is not an answer to anything.
    let plain = spawn(&[]);
    refused(&plain.post_form("/api/verify", form("maria", &capture, None, None)).await, 400, "invalid_request");
    let url = format!("{}/api/challenges", plain.base);
    let reply = plain.send(plain.client.post(url).json(&json!({ "user_id": "marc" }))).await;
    assert_eq!((reply.status, reply.code()), (409, "challenges_disabled"));
}

/// Replays caught by content, for single photos (LIVENESS=off): a photo already verified comes
/// back re-encoded, rescaled, cropped, mirrored or brightened and is refused; a new photo of the
/// same person is not.
#[tokio::test]
async fn a_verified_photo_sent_again_disguised_is_a_replay_and_a_new_photo_is_not() {
    // The replays are failed attempts: enough of them allowed that the last request is answered.
    let app = spawn(&[("REPLAY_WINDOW_SECS", ""), ("LOCKOUT_MAX_FAILURES", "20")]);
    assert_eq!(app.register("obama", OBAMA).await.status, 201);
    let first = app.verify("obama", FRONTAL).await;
    assert_eq!(first.body["verified"], true, "{:?}", first.body);
    let image = image::load_from_memory(&face(FRONTAL)).unwrap().to_rgb8();
    let (w, h) = image.dimensions();
    let disguised = [
        ("re-encoded", jpeg(&image, 93)),
        (
            "rescaled",
            jpeg(&image::imageops::resize(&image, w * 3 / 4, h * 3 / 4, image::imageops::FilterType::Triangle), 92),
        ),
        ("cropped", jpeg(&image::imageops::crop_imm(&image, 4, 3, w - 8, h - 6).to_image(), 92)),
        ("mirrored", jpeg(&image::imageops::flip_horizontal(&image), 92)),
        ("brighter", jpeg(&image::DynamicImage::ImageRgb8(image.clone()).brighten(20).to_rgb8(), 92)),
    ];
    for (how, bytes) in disguised {
        let form = Form::new().text("user_id", "obama").part("image", Part::bytes(bytes).file_name("p.jpg"));
        let reply = app.post_form("/api/verify", form).await;
        assert_eq!((reply.status, reply.code()), (422, "replayed_image"), "{how}: {:?}", reply.body);
    }
    let new = app.verify("obama", LEFT).await;
    assert_eq!(new.status, 200, "a new photo of him: {:?}", new.body);

    // Two disguised copies of a photo not seen before, sent at once: at most one verifies.
    let fresh = image::load_from_memory(&face("dev/Barack_Obama/facerec_obama2.jpg")).unwrap().to_rgb8();
    let copies = [jpeg(&fresh, 94), jpeg(&image::imageops::flip_horizontal(&fresh), 93)];
    let sends = copies.iter().map(|bytes| {
        let form = Form::new().text("user_id", "obama").part("image", Part::bytes(bytes.clone()).file_name("p.jpg"));
        app.post_form("/api/verify", form)
    });
    let replies = futures::future::join_all(sends).await;
    let verified = replies.iter().filter(|r| r.body["verified"] == true).count();
    assert!(verified <= 1, "{:?}", replies.iter().map(|r| &r.body).collect::<Vec<_>>());
    assert!(
        replies.iter().any(|r| r.code() == "replayed_image"),
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
}

/// With SHARED_STATE_URL, the pending plan and the replay memory's fingerprints are the instances'
/// together: an attacker cannot re-draw on another instance, nor replay a capture there disguised.
#[tokio::test]
async fn two_instances_share_the_pending_plan_and_the_replay_memory() {
    let (moto, redis) = (Moto::start(), Redis::start());
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    env.push(("SHARED_STATE_URL".into(), redis.url.clone()));
    env.push(("REPLAY_WINDOW_SECS".into(), String::new()));
    env.extend(CAPTURE_ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env.push(("SECRET_KEY".into(), SIGNING_KEY.into()));
    let (a, b) = (spawn_owned(&env), spawn_owned(&env));
    assert_eq!(a.post_form("/api/register", TestApp::form("maria", reference())).await.status, 201);

    let on_a = challenge(&a, "maria").await;
    let on_b = challenge(&b, "maria").await;
    assert_eq!(on_a["capture"], on_b["capture"], "a re-draw through the other instance");
    let capture = genuine_lit(&on_a);
    let passed = answer(&a, "maria", &on_a, &capture).await;
    assert_eq!(passed.body["verified"], true, "{:?}", passed.body);

    // The next plan, through B; the capture's frames re-encoded and lit again for it.
    let next = challenge(&b, "maria").await;
    assert_ne!(next["capture"], on_a["capture"], "answered: a new plan");
    let reencoded = Capture {
        frames: capture.frames.iter().map(|f| jpeg(&image::load_from_memory(f).unwrap().to_rgb8(), 92)).collect(),
        times: capture.times.clone(),
    };
    let relit = lit(&reencoded, &next["capture"], 0.12, 0.01, 100.0);
    refused(&answer(&b, "maria", &next, &relit).await, 422, "replayed_image");
}
