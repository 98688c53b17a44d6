//! What operators rely on: metrics, the API contract, and machine-readable logs.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn metrics_count_requests_stages_and_outcomes_behind_their_token() {
    let app = spawn(&[("METRICS_TOKEN", "scrape-token")]);
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    assert_eq!(app.verify("angelina", ANGELINA_2).await.body["verified"], true);
    assert_eq!(app.verify("angelina", ANISTON).await.body["verified"], false);
    assert_eq!(app.verify("angelina", "special/no_face_rocket_launch.jpg").await.code(), "no_face");

    let anonymous = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .bearer_auth("scrape-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        r#"faceauth_http_requests_total{route="/api/verify",method="POST",status="200"} 2"#,
        r#"faceauth_http_requests_total{route="/api/register",method="POST",status="201"} 1"#,
        r#"faceauth_http_request_duration_seconds_bucket{route="/api/verify",method="POST",le="#,
        r#"faceauth_stage_duration_seconds_bucket{stage="detect",le="#,
        r#"faceauth_stage_duration_seconds_bucket{stage="decode",le="#,
        r#"faceauth_verify_total{outcome="verified",reason=""} 1"#,
        r#"faceauth_verify_total{outcome="not_verified",reason=""} 1"#,
        r#"faceauth_verify_total{outcome="rejected",reason="no_face"} 1"#,
        "faceauth_inference_queue_depth 0",
    ] {
        assert!(text.contains(series), "missing {series} in\n{text}");
    }
}

#[tokio::test]
async fn the_openapi_document_matches_the_committed_snapshot() {
    let document = serde_json::to_value(faceauth::api::openapi::document(16 * 1024 * 1024)).unwrap();
    let pretty = serde_json::to_string_pretty(&document).unwrap() + "\n";
    let path = root().join("tests/snapshots/openapi.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &pretty).unwrap();
    }
    let committed =
        std::fs::read_to_string(&path).expect("tests/snapshots/openapi.json (UPDATE_SNAPSHOTS=1 writes it)");
    assert!(committed == pretty, "the API contract changed: review, then rerun with UPDATE_SNAPSHOTS=1");

    for (path, method) in [
        ("/api/register", "post"),
        ("/api/enrollments", "post"),
        ("/api/verify", "post"),
        ("/api/users/{user_id}", "get"),
        ("/api/users/{user_id}", "delete"),
        ("/health", "get"),
        ("/ready", "get"),
        ("/metrics", "get"),
    ] {
        assert!(document["paths"][path][method].is_object(), "{method} {path} is not documented");
    }
    // What the server enforces is in the contract: the user id's form, and where a user comes from.
    let param = &document["paths"]["/api/users/{user_id}"]["get"]["parameters"][0]["schema"];
    assert_eq!((param["minLength"].as_u64(), param["maxLength"].as_u64()), (Some(1), Some(128)), "{param}");
    assert!(param["pattern"].as_str().is_some_and(|p| p.contains("A-Za-z0-9._@-")), "{param}");
    let form_id = &document["components"]["schemas"]["RegisterForm"]["properties"]["user_id"];
    assert_eq!(form_id["maxLength"].as_u64(), Some(128), "{form_id}");
    let links = &document["paths"]["/api/register"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["GetUser"]["operationId"], "get_user", "{links}");
    let metrics_security = &document["paths"]["/metrics"]["get"]["security"];
    assert_eq!(metrics_security[0], serde_json::json!({}), "/metrics is open without METRICS_TOKEN");
    let verify = &document["components"]["schemas"]["VerifyResponse"]["properties"];
    for field in ["verified", "similarity", "threshold", "reference_id", "references_compared", "timings_ms", "token"] {
        assert!(verify[field].is_object(), "VerifyResponse.{field}");
    }
    let app = spawn(&[]);
    let served: serde_json::Value =
        app.client.get(format!("{}/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(served, document);
}

#[tokio::test]
async fn json_logs_carry_request_fields_and_never_embeddings_or_keys() {
    let app = spawn(&[("LOG_FORMAT", "json"), ("API_KEYS", "log-test-key-0123456789")]);
    let reply = app
        .send(
            app.client
                .post(format!("{}/api/register", app.base))
                .bearer_auth("log-test-key-0123456789")
                .header("X-Request-Id", "json-log-check")
                .multipart(TestApp::form("angelina", face(ANGELINA_1))),
        )
        .await;
    assert_eq!(reply.status, 201);
    // The access line is written after the response: wait for it, not for any line of the request.
    let line = app
        .wait_for_line(|l| l.contains("json-log-check") && l.contains("request completed"), Duration::from_secs(10))
        .expect("an access line");
    let logs = app.logs();
    let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON object per line");
    let span = &v["span"];
    assert_eq!(span["request_id"], "json-log-check");
    assert_eq!(span["route"], "/api/register");
    assert_eq!(span["status"], 201);
    assert!(span["detect_ms"].is_number() && span["embed_ms"].is_number() && span["storage_ms"].is_number(), "{line}");
    assert!(logs.contains(r#""target":"audit""#), "register writes an audit line");
    assert!(!logs.contains("log-test-key-0123456789"), "keys are never logged");
    assert!(!logs.contains("\"embedding\""), "embeddings are never logged");
}

/// NIST SP 800-63B-4: FMR 1e-4 or better. With no threshold setting the service runs at the
/// threshold measured for it there, and says so at startup, in /ready and in verify's answer.
#[tokio::test]
async fn with_no_threshold_setting_the_service_runs_at_fmr_1e_4_and_says_so() {
    let app = spawn(&[]);
    let ready = app.get("/ready").await.body;
    let point = &ready["operating_point"];
    // The open pack's own point, measured here for BlazeFace + FaceMesh with SFace together.
    assert_eq!(
        (&point["model"], &point["threshold"], &point["measured"]),
        (&json!("sface"), &json!(0.472), &json!(true)),
        "{ready}"
    );
    let (value, upper) = (point["fmr"]["value"].as_f64().unwrap(), point["fmr"]["upper_95"].as_f64().unwrap());
    assert!(value <= 1e-4 && upper < 2e-4, "{point}");
    assert!(point["fmr"]["source"].as_str().unwrap().contains("FairFace"));
    assert!(app.logs().contains("operating point"), "{}", app.logs());
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    let verified = app.verify("angelina", ANGELINA_2).await.body;
    assert_eq!((&verified["threshold"], &verified["threshold_fmr"]), (&json!(0.472), &point["fmr"]));

    // Another pair of models runs on the recognizer's points measured with SCRFD det_500m.
    let scrfd = spawn(&[("DETECTOR_MODEL", "det_500m.onnx")]);
    assert_eq!(scrfd.get("/ready").await.body["operating_point"]["threshold"], json!(0.4365));
    let mobilefacenet = spawn(&[("RECOGNIZER_MODEL", "arcface_mobilefacenet_128d.onnx")]);
    let point = &mobilefacenet.get("/ready").await.body["operating_point"];
    assert_eq!(point["threshold"], json!(0.4104));
    assert!(point["fmr"]["source"].as_str().unwrap().contains("det_500m"), "{point}");

    // A target stricter than anything measured stops startup, naming the supported range.
    let failed = spawn_failing(&[("MATCH_FMR".to_string(), "1e-6".to_string())]);
    assert!(failed.output.contains("MATCH_FMR") && failed.output.contains("9.9e-5 to 1"), "{}", failed.output);
    // MATCH_THRESHOLD overrides, and the FMR is then not claimed.
    let fixed = spawn(&[("MATCH_THRESHOLD", "0.5")]);
    let point = &fixed.get("/ready").await.body["operating_point"];
    assert_eq!(point["threshold"], json!(0.5));
    assert!(point.get("fmr").is_none(), "{point}");
}

/// Licences are part of the product: the default pack may be used commercially and says so; an
/// InsightFace model makes the answer `false`, with a warning at startup naming the file.
#[tokio::test]
async fn ready_and_the_startup_log_name_each_models_licence_and_warn_of_a_non_commercial_one() {
    let app = spawn(&[]);
    let models = &app.get("/ready").await.body["models"];
    assert_eq!((&models["pack"], &models["commercial_use"]), (&json!("open"), &json!(true)), "{models}");
    let files: Vec<(&str, &str)> = models["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["stage"].as_str().unwrap(), f["licence"].as_str().unwrap()))
        .collect();
    assert_eq!(
        files,
        [("detector", "Apache-2.0"), ("landmarks", "Apache-2.0"), ("recognizer", "Apache-2.0")],
        "{models}"
    );
    assert!(models["files"].as_array().unwrap().iter().all(|f| !f["training_data"].as_str().unwrap().is_empty()));
    assert!(app.logs().contains("MediaPipe BlazeFace short-range") && !app.logs().contains("NOT FOR COMMERCIAL USE"));
    // The shipped pack's per-group report is named, and exists.
    let report = models["fairness"]["report"].as_str().expect("a fairness report for the default pack");
    assert!(root().join(report).exists(), "{report}");
    assert!(models["fairness"]["data"].as_str().unwrap().contains("FairFace"));

    let scrfd = spawn(&[("DETECTOR_MODEL", "det_500m.onnx")]);
    let models = &scrfd.get("/ready").await.body["models"];
    assert_eq!(models["commercial_use"], json!(false), "{models}");
    assert_eq!(models["files"][0]["commercial_use"], json!(false));
    assert!(models["files"][0]["licence"].as_str().unwrap().contains("non-commercial"));
    assert!(models.get("fairness").is_none(), "another detector: the published rates do not apply");
    let warning = scrfd.logs().lines().find(|l| l.contains("NOT FOR COMMERCIAL USE")).map(str::to_string);
    assert!(warning.as_deref().is_some_and(|l| l.contains("WARN") && l.contains("det_500m.onnx")), "{}", scrfd.logs());
}
