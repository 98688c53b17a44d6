//! Authentication and response headers.

use crate::helpers::*;

const KEY: &str = "test-api-key-0123456789";

#[tokio::test]
async fn api_routes_need_a_valid_key_but_health_does_not() {
    let app = spawn(&[("API_KEYS", KEY)]);
    let anonymous = app.register("angelina", ANGELINA_1).await;
    assert_eq!((anonymous.status, anonymous.code()), (401, "unauthorized"));
    let wrong = app.send(app.client.get(format!("{}/api/users/x", app.base)).bearer_auth("wrong-key-0123456789")).await;
    assert_eq!(wrong.status, 401);
    let bearer = app.send(app.client.get(format!("{}/api/users/x", app.base)).bearer_auth(KEY)).await;
    assert_eq!(bearer.status, 404, "authenticated: the user simply does not exist");
    let header = app.send(app.client.get(format!("{}/api/users/x", app.base)).header("X-API-Key", KEY)).await;
    assert_eq!(header.status, 404);
    assert_eq!(app.get("/health").await.status, 200);
    assert!(!app.logs().contains(KEY), "keys are never logged");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn(&[]);
    for reply in [app.get("/health").await, app.get("/api/users/nobody").await, app.get("/missing").await] {
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("cache-control", "no-store"),
            ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
            ("referrer-policy", "no-referrer"),
        ] {
            assert_eq!(reply.headers.get(name).map(|v| v.to_str().unwrap()), Some(value), "{name}");
        }
        assert!(reply.headers.get("strict-transport-security").is_none(), "HSTS only in production");
    }
}

#[tokio::test]
async fn sigterm_during_a_burst_completes_every_request_and_exits_0() {
    let app = spawn(&[]);
    assert_eq!(app.register("clooney", "dev/George_Clooney/deepface_img38.jpg").await.status, 201);
    let photo = face("special/large_4600px_george_clooney.jpg");
    let (base, client) = (app.base.clone(), app.client.clone());
    let burst: Vec<_> = (0..6)
        .map(|_| {
            let request = client.post(format!("{base}/api/verify")).multipart(TestApp::form("clooney", photo.clone()));
            tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    // Signal once the burst is inside the service: the worker is busy and more wait in its queue.
    let mut queued = 0;
    for _ in 0..2000 {
        queued = app.get("/ready").await.body["inference_queue"].as_u64().unwrap_or(0);
        if queued >= 2 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(queued >= 2, "the burst never queued up");
    let status = std::process::Command::new("kill").args(["-TERM", &app.pid().to_string()]).status().unwrap();
    assert!(status.success());
    let mut answered = Vec::new();
    for handle in burst {
        answered.push(handle.await.unwrap().expect("no request is dropped during shutdown"));
    }
    assert_eq!(answered, vec![200; 6]);
    let logs_before_exit = app.logs();
    assert_eq!(app.wait(), Some(0), "exit status after SIGTERM\n{logs_before_exit}");
}
