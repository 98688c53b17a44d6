//! The binary's other subcommands and the model-change path.

use std::process::Command;

use crate::helpers::*;

pub fn faceauth(args: &[&str], env: &[(String, String)]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faceauth"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LOG_LEVEL", "warn")
        .env("DATA_DIR", dir.path().join("data"))
        // The default pack, as shipped.
        .env("MODEL_DIR", root().join("models"))
        .env("ORT_DYLIB_PATH", root().join(".ort/libonnxruntime.so.1.31.1"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn faces_path(rel: &str) -> String {
    let dir = std::env::var("FACES_DIR").unwrap_or_else(|_| root().join("../shared/faces").display().to_string());
    format!("{dir}/{rel}")
}

#[test]
fn compare_prints_faces_similarity_and_the_verdict_as_json() {
    let (code, stdout, stderr) = faceauth(&["compare", &faces_path(ANGELINA_1), &faces_path(ANGELINA_2)], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["same_person"], true);
    assert!(v["similarity"].as_f64().unwrap() > v["threshold"].as_f64().unwrap());
    assert_eq!(v["first"]["faces"].as_array().unwrap().len(), 1);
    assert!(v["second"]["timings_ms"]["detect"].is_number());

    let (_, stdout, _) = faceauth(&["compare", &faces_path(ANGELINA_1), &faces_path(ANISTON)], &[]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["same_person"], false);
    let (_, stdout, _) =
        faceauth(&["compare", &faces_path(ANGELINA_1), &faces_path("special/corrupt_truncated.jpg")], &[]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["second"]["error"].as_str().unwrap().contains("could not be decoded"));
    assert!(v["similarity"].is_null());
}

#[tokio::test]
async fn check_runs_the_startup_checks_and_exits_0_or_1_without_serving() {
    let (code, stdout, stderr) = faceauth(&["check"], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("PASS"), "{stdout}");
    // Each model with its licence: the open pack may be used commercially.
    assert!(stdout.contains("MODEL_PACK=open; commercial use permitted by every model's licence"), "{stdout}");
    assert!(stdout.contains("face_landmark.onnx (MediaPipe FaceMesh (468 points)): Apache-2.0"), "{stdout}");
    let (_, stdout, _) = faceauth(&["check"], &[("DETECTOR_MODEL".into(), "det_500m.onnx".into())]);
    assert!(stdout.contains("commercial use NOT permitted") && stdout.contains("det_500m.onnx"), "{stdout}");
    let (code, _, stderr) = faceauth(&["check"], &[("RECOGNIZER_MODEL".into(), "missing.onnx".into())]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("missing.onnx") && stderr.contains("make models"), "{stderr}");
    let moto = Moto::start();
    let (code, _, stderr) = faceauth(&["check"], &moto.env("no-such-bucket"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("create the bucket"), "{stderr}");
}

#[tokio::test]
async fn references_made_by_another_model_are_re_embedded_once_from_their_photo() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().display().to_string();
    let first = spawn(&[("DATA_DIR", &data_dir), ("RECOGNIZER_MODEL", MOBILEFACENET)]);
    assert_eq!(first.register("angelina", ANGELINA_1).await.status, 201);
    drop(first);
    let sidecar_path = std::fs::read_dir(data.path().join("users/angelina"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let before: serde_json::Value = serde_json::from_slice(&std::fs::read(&sidecar_path).unwrap()).unwrap();
    assert_eq!(before["model"]["name"], "arcface_mobilefacenet_128d");

    // The operator switches recognizers: stored embeddings are from the old model.
    let second = spawn(&[("DATA_DIR", &data_dir), ("RECOGNIZER_MODEL", "face_recognition_sface_2021dec_int8bq.onnx")]);
    let reply = second.verify("angelina", ANGELINA_2).await;
    assert_eq!(reply.body["verified"], true, "{:?}", reply.body);
    assert_eq!(reply.body["model"], "sface");
    let after: serde_json::Value = serde_json::from_slice(&std::fs::read(&sidecar_path).unwrap()).unwrap();
    assert_eq!(after["model"]["name"], "face_recognition_sface_2021dec_int8bq");
    assert_eq!(after["embedding"].as_array().unwrap().len(), 128);
    assert_ne!(after["embedding"], before["embedding"]);
    assert!(second.wait_for_log("re-embedded reference", std::time::Duration::from_secs(10)));
}

const SFACE: &str = "face_recognition_sface_2021dec_int8bq.onnx";
const MOBILEFACENET: &str = "arcface_mobilefacenet_128d.onnx";

/// Two users enrolled with MobileFaceNet; `faceauth reembed` with SFace loaded rewrites both
/// sidecars, and a second run (or a resumed one) finds nothing left to do.
async fn enroll_then_reembed_twice(env: &[(String, String)]) {
    let mut old = env.to_vec();
    old.push(("RECOGNIZER_MODEL".into(), MOBILEFACENET.into()));
    let app = spawn_owned(&old);
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    assert_eq!(app.register("jennifer", ANISTON).await.status, 201);
    drop(app);
    let mut switched = env.to_vec();
    switched.push(("RECOGNIZER_MODEL".into(), SFACE.into()));
    let (code, stdout, stderr) = faceauth(&["reembed"], &switched);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("re-embedded 2 references of 2 users for sface (0 already current"), "{stdout}");
    let (code, stdout, stderr) = faceauth(&["reembed"], &switched);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("re-embedded 0 references of 2 users for sface (2 already current"), "{stdout}");
}

fn assert_sface(sidecars: &[serde_json::Value]) {
    assert_eq!(sidecars.len(), 2);
    for s in sidecars {
        assert_eq!(s["model"]["name"], "face_recognition_sface_2021dec_int8bq", "{s}");
        assert_eq!(s["embedding"].as_array().unwrap().len(), 128);
    }
}

#[tokio::test]
async fn reembed_migrates_every_reference_of_a_local_store_once() {
    let data = tempfile::tempdir().unwrap();
    let env = vec![("DATA_DIR".to_string(), data.path().display().to_string())];
    enroll_then_reembed_twice(&env).await;
    let sidecars: Vec<serde_json::Value> = ["angelina", "jennifer"]
        .iter()
        .flat_map(|u| std::fs::read_dir(data.path().join("users").join(u)).unwrap().flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    assert_sface(&sidecars);

    // The service with SFace verifies on the migrated references without converting anything.
    let mut env = env;
    env.push(("RECOGNIZER_MODEL".into(), SFACE.into()));
    let app = spawn_owned(&env);
    assert_eq!(app.verify("angelina", ANGELINA_2).await.body["verified"], true);
    assert!(!app.logs().contains("re-embedded reference"));
}

#[tokio::test]
async fn reembed_migrates_every_reference_of_an_s3_bucket_once() {
    let moto = Moto::start();
    let bucket = moto.create_bucket().await;
    enroll_then_reembed_twice(&moto.env(&bucket)).await;
    let mut sidecars = Vec::new();
    for key in moto.keys(&bucket).await.iter().filter(|k| k.ends_with(".json")) {
        let object = moto.s3().get_object().bucket(&bucket).key(key).send().await.unwrap();
        let bytes = object.body.collect().await.unwrap().into_bytes();
        sidecars.push(serde_json::from_slice(&bytes).unwrap());
    }
    assert_sface(&sidecars);
}

#[test]
fn inspect_reports_faces_quality_liveness_and_what_register_would_answer() {
    let photos =
        [faces_path(ANGELINA_1), faces_path("special/no_face_rocket_launch.jpg"), faces_path("liveness/image_F2.jpg")];
    let args: Vec<&str> = std::iter::once("inspect").chain(photos.iter().map(String::as_str)).collect();
    let (code, stdout, stderr) = faceauth(&args, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let (angelina, rocket, tablet) = (&v[0], &v[1], &v[2]);
    assert_eq!((angelina["register"].as_str(), angelina["faces"].as_array().unwrap().len()), (Some("ok"), 1));
    assert!(angelina["quality"]["sharpness"].as_f64().unwrap() > 15.0);
    assert!(angelina["liveness"]["p_real"].as_f64().unwrap() > 0.5, "{angelina}");
    assert_eq!((rocket["register"].as_str(), rocket["verify"].as_str()), (Some("no_face"), Some("no_face")));
    assert_eq!(tablet["liveness"]["live"], false, "{tablet}");
}

#[test]
fn calibrate_counts_the_dev_pairs_and_its_thresholds_reproduce_their_fmr() {
    let out = tempfile::tempdir().unwrap();
    let dev = faces_path("dev");
    let out_dir = out.path().display().to_string();
    let (code, stdout, stderr) = faceauth(&["calibrate", &dev, "--target-fmr", "0.01", "--out", &out_dir], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();

    // Every same-folder pair genuine, every cross-folder pair impostor, among the usable photos.
    let unusable: Vec<String> =
        summary["unusable"].as_array().unwrap().iter().map(|u| u["photo"].as_str().unwrap().to_string()).collect();
    let mut per_identity = Vec::new();
    for folder in std::fs::read_dir(&dev).unwrap().flatten() {
        let usable = std::fs::read_dir(folder.path())
            .unwrap()
            .flatten()
            .filter(|f| !unusable.contains(&f.path().display().to_string()))
            .count();
        per_identity.push(usable);
    }
    let total: usize = per_identity.iter().sum();
    let genuine: usize = per_identity.iter().map(|n| n * n.saturating_sub(1) / 2).sum();
    assert_eq!(summary["genuine"], genuine);
    assert_eq!(summary["impostor"], total * (total - 1) / 2 - genuine);
    assert!(stdout.contains(&format!("{genuine} genuine")), "{stdout}");

    // Each threshold gives at most its FMR on the scores written, and is the lowest that does.
    let scores: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("scores.json")).unwrap()).unwrap();
    let impostor: Vec<f32> =
        scores["impostor"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let fmr = |t: f32| impostor.iter().filter(|s| **s >= t).count() as f64 / impostor.len() as f64;
    for row in summary["table"].as_array().unwrap() {
        let (target, threshold) = (row["target_fmr"].as_f64().unwrap(), row["threshold"].as_f64().unwrap() as f32);
        // Each rate with its 95 % interval; a target is vouched for when the upper bound is under
        // twice it; the rule of 30 says how many impostor comparisons it needs.
        let (value, lower, upper) = (
            row["fmr_interval"]["value"].as_f64().unwrap(),
            row["fmr_interval"]["lower"].as_f64().unwrap(),
            row["fmr_interval"]["upper"].as_f64().unwrap(),
        );
        assert!(lower <= value && value <= upper && upper > 0.0, "{row}");
        assert!(row["fnmr_interval"]["upper"].as_f64().unwrap() >= row["fnmr"].as_f64().unwrap(), "{row}");
        assert_eq!(row["supported"], upper < 2.0 * target, "{row}");
        assert_eq!(row["impostors_needed"], (30.0 / target).ceil() as u64, "{row}");
        assert!(fmr(threshold) <= target, "{row}");
        if fmr(threshold) > 0.0 {
            assert!(fmr(threshold.next_down()) > target, "the lowest threshold that meets it: {row}");
        }
    }
    assert_eq!(summary["table"][0]["supported"], true);
    assert_eq!(summary["table"][2]["supported"], false, "8,716 impostor pairs cannot vouch for 1e-4");
    assert!(stdout.contains("no: too few impostor pairs") && stdout.contains("[95 % interval]"), "{stdout}");
    let det = std::fs::read_to_string(out.path().join("det.svg")).unwrap();
    assert!(det.starts_with("<svg") && det.matches("<polyline").count() > 3, "a DET curve and its band");
}
