//! The shading check (`src/service/liveness/shading.rs`) at the defaults, on the default pack: the
//! screen's light must fall on the face as on a head turning under it, not as colours painted over
//! a picture. Measured with `faceauth liveness-eval` on both sides, then shown through HTTP.
//!
//! Genuine: the real recording, its light SYNTHESISED by the surface's angle to the screen
//! (`lit_shaped`: the recording does not respond to colours). Attack: one frontal photo animated as
//! a 2.5-D surface through the prompted moves (`warped_answer`), the plan's colours painted over the
//! face uniformly (`lit`) or fading from its centre (`painted_falloff`).

use base64::Engine as _;
use serde_json::{Value, json};

use crate::capture::*;
use crate::cli::faceauth;
use crate::helpers::*;

const SIGNING_KEY: &str = "shading-test-signing-key-0123456789abcdef";

async fn challenge(app: &TestApp, user: &str) -> Value {
    let url = format!("{}/api/challenges", app.base);
    let reply = app.send(app.client.post(url).json(&json!({ "user_id": user }))).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

fn save(dir: &std::path::Path, label: &str, name: &str, plan: &Value, capture: &Capture) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let file = json!({
        "format": "faceauth-capture/1", "label": label, "plan": plan, "times": capture.times, "light": "shown",
        "frames": capture.frames.iter().map(|f| b64.encode(f)).collect::<Vec<_>>(),
    });
    std::fs::create_dir_all(dir.join(label)).unwrap();
    std::fs::write(dir.join(label).join(format!("{name}.json")), file.to_string()).unwrap();
}

#[tokio::test]
async fn light_that_follows_the_head_passes_and_a_photo_warped_as_a_surface_with_painted_colours_does_not() {
    let mut env = CAPTURE_ENV.to_vec();
    env.push(("SECRET_KEY", SIGNING_KEY));
    let app = spawn(&env);
    assert_eq!(app.post_form("/api/register", TestApp::form("maria", reference())).await.status, 201);
    // Through HTTP at the defaults: her warped enrolment photo, painted with a falloff, is refused.
    let reply = challenge(&app, "maria").await;
    let image = image::load_from_memory(&reference()).unwrap().to_rgb8();
    let warped = painted_falloff(&warped_answer(&image, &reply["capture"], 15.0), &reply["capture"], 0.3, 0.02, 100.0);
    let id = reply["challenge_id"].as_str().unwrap();
    let answered = app.post_form("/api/verify", form("maria", &warped, None, Some(id))).await;
    assert_eq!(answered.status, 422, "{:?}", answered.body);
    assert!(answered.body.get("token").is_none());

    let set = tempfile::tempdir().unwrap();

    for (face, lag) in [(0.15, 60.0), (0.2, 130.0), (0.3, 200.0)] {
        let reply = challenge(&app, "maria").await;
        let capture = lit_shaped(&genuine(&steps_of(&reply)), &reply["capture"], face, 0.02, lag);
        save(set.path(), "bona_fide", &format!("shaped-{face}-{lag}"), &reply["capture"], &capture);
    }
    // Her own enrolment photo and two dev photos, warped, then painted both ways.
    let photos =
        [("maria", reference()), ("obama", face("dev/Barack_Obama/facerec_obama.jpg")), ("aniston", face(ANISTON))];
    for (who, photo) in &photos {
        let image = image::load_from_memory(photo).unwrap().to_rgb8();
        let reply = challenge(&app, "maria").await;
        let warped = warped_answer(&image, &reply["capture"], 15.0);
        save(
            set.path(),
            "warp",
            &format!("{who}-uniform"),
            &reply["capture"],
            &lit(&warped, &reply["capture"], 0.25, 0.02, 100.0),
        );
        let reply = challenge(&app, "maria").await;
        let warped = warped_answer(&image, &reply["capture"], 15.0);
        let falloff = painted_falloff(&warped, &reply["capture"], 0.3, 0.02, 100.0);
        save(set.path(), "warp", &format!("{who}-falloff"), &reply["capture"], &falloff);
    }

    let out = set.path().join("report.json");
    let env_owned: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let (code, stdout, stderr) =
        faceauth(&["liveness-eval", set.path().to_str().unwrap(), "--out", out.to_str().unwrap()], &env_owned);
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let rows = report["captures"].as_array().unwrap();
    // Both sides' values, for the margin (docs/liveness.md).
    for row in rows {
        println!(
            "{:<28} {:>6} {:<22} shading {}",
            row["capture"].as_str().unwrap(),
            row["label"],
            row["code"],
            row["shading"]
        );
    }
    println!("{stdout}");
    let limit = faceauth::service::liveness::shading::MIN_SHADING as f64;
    for row in rows.iter().filter(|r| r["label"] == "bona_fide") {
        assert!(row["code"].is_null(), "a genuine capture was refused: {row}\n{stdout}");
        assert!(row["shading"].as_f64().unwrap() >= limit, "{row}");
    }
    // Every warp refused, and each would be by the shading check alone, whichever check came first.
    for row in rows.iter().filter(|r| r["label"] == "warp") {
        assert!(!row["code"].is_null(), "a warped photo was accepted: {row}\n{stdout}");
        assert!(row["shading"].as_f64().is_none_or(|s| s < limit), "{row}");
    }
}
