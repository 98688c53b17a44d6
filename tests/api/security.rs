//! Authentication and response headers.

use crate::helpers::*;

const KEY: &str = "test-api-key-0123456789";

#[tokio::test]
async fn api_routes_need_a_valid_key_but_health_does_not() {
    let app = spawn(&[("API_KEYS", KEY)]);
    let anonymous = app.register("angelina", ANGELINA_1).await;
    assert_eq!((anonymous.status, anonymous.code()), (401, "unauthorized"));
    // Refused before its body was read: the rest was drained, so the answer arrived whole and the
    // connection stays usable (the next requests below reuse it).
    assert!(anonymous.headers.get("connection").is_none());
    let wrong = app.send(app.client.get(format!("{}/api/users/x", app.base)).bearer_auth("wrong-key-0123456789")).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.headers.get("connection").is_none(), "a bodiless request keeps its connection");
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
    // Six parallel verifies of one user would trip the lockout (pending attempts count): not the subject here.
    let app = spawn(&[("LOCKOUT_MAX_FAILURES", "0")]);
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

#[tokio::test]
async fn after_n_failed_verifications_the_user_is_locked_out_without_revealing_matches() {
    let app = spawn(&[("LOCKOUT_MAX_FAILURES", "3"), ("LOCKOUT_WINDOW_SECS", "300")]);
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    for _ in 0..3 {
        let reply = app.verify("angelina", ANISTON).await;
        assert_eq!((reply.status, reply.body["verified"].as_bool()), (200, Some(false)));
    }
    let genuine = app.verify("angelina", ANGELINA_2).await;
    let impostor = app.verify("angelina", ANISTON).await;
    for reply in [&genuine, &impostor] {
        assert_eq!((reply.status, reply.code()), (429, "too_many_attempts"), "{:?}", reply.body);
        let wait: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(wait > 250 && wait <= 300, "{wait}");
    }
    assert_eq!(genuine.body["error"]["message"], impostor.body["error"]["message"], "same answer, match or not");
    // Other users are unaffected.
    assert_eq!(app.register("jennifer", ANISTON).await.status, 201);
    assert_eq!(app.verify("jennifer", ANISTON).await.body["verified"], true);
}

#[tokio::test]
async fn clients_over_their_rate_get_429_and_forwarded_for_counts_only_from_trusted_proxies() {
    let app = spawn(&[("RATE_LIMIT_PER_IP", "6")]);
    let first = app.get("/api/users/x").await;
    let second = app.get("/api/users/x").await;
    assert_eq!(first.status, 404);
    assert_eq!((second.status, second.code()), (429, "rate_limited"));
    assert!(second.headers.contains_key("retry-after"));
    let spoofed =
        app.send(app.client.get(format!("{}/api/users/x", app.base)).header("X-Forwarded-For", "203.0.113.7")).await;
    assert_eq!(spoofed.status, 429, "an untrusted peer cannot choose its bucket");
    assert_eq!(app.get("/health").await.status, 200, "health is never limited");

    let proxied = spawn(&[("RATE_LIMIT_PER_IP", "6"), ("TRUSTED_PROXIES", "127.0.0.1")]);
    for client in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let r = proxied
            .send(proxied.client.get(format!("{}/api/users/x", proxied.base)).header("X-Forwarded-For", client))
            .await;
        assert_eq!(r.status, 404, "{client} has its own allowance behind the trusted proxy");
    }
    let again = proxied
        .send(proxied.client.get(format!("{}/api/users/x", proxied.base)).header("X-Forwarded-For", "203.0.113.1"))
        .await;
    assert_eq!(again.status, 429);
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app = spawn(&[("CORS_ORIGINS", "https://app.example.com")]);
    let get = |origin: &'static str| app.client.get(format!("{}/health", app.base)).header("Origin", origin);
    let allowed = app.send(get("https://app.example.com")).await;
    assert_eq!(allowed.headers["access-control-allow-origin"], "https://app.example.com");
    let other = app.send(get("https://evil.example.net")).await;
    assert!(other.headers.get("access-control-allow-origin").is_none());
}
