//! What a client can do to connections and labels: slow headers, floods of uploads, made-up methods.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::*;

fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).unwrap()
}

#[test]
fn a_client_that_stops_sending_its_headers_is_disconnected() {
    let app = spawn(&[("HTTP_HEADER_TIMEOUT_SECS", "2")]);
    let mut stream = connect(&app);
    // Part of a request line, then nothing.
    stream.write_all(b"GET /hea").unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(2 + 2))).unwrap();
    let start = Instant::now();
    let mut rest = Vec::new();
    let closed = stream.read_to_end(&mut rest);
    assert!(closed.is_ok(), "still connected after {:?}: {closed:?}", start.elapsed());
}

/// Request headers for a verify upload that declares a body and waits for permission to send it.
fn upload_headers(app: &TestApp) -> String {
    let host = app.base.trim_start_matches("http://");
    format!(
        "POST /api/verify HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n\
         Content-Length: 200000\r\nExpect: 100-continue\r\n\r\n"
    )
}

#[test]
fn with_the_upload_admission_full_a_further_upload_is_refused_before_its_body_is_sent() {
    let app = spawn(&[("MAX_CONCURRENT_UPLOADS", "1")]);
    // The first upload is admitted: the service asks for its body (100 Continue) and so holds the place.
    let mut first = connect(&app);
    first.write_all(upload_headers(&app).as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(first.try_clone().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 100"), "{line}");

    let mut second = connect(&app);
    second.write_all(upload_headers(&app).as_bytes()).unwrap();
    second.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    let _ = second.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("retry-after: 1") && lower.contains("connection: close"), "{answer}");
    assert!(answer.contains("\"overloaded\""), "{answer}");
    drop(first);
}

fn series(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("faceauth_http_request")).count()
}

#[tokio::test]
async fn made_up_methods_do_not_create_metric_series() {
    let app = spawn(&[]);
    let metrics =
        || async { app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap() };
    let made_up = |i: usize| reqwest::Method::from_bytes(format!("FOO{i}").as_bytes()).unwrap();
    // One of each first: the scrape's own series and the shared label for unknown methods.
    metrics().await;
    app.client.request(made_up(0), format!("{}/health", app.base)).send().await.unwrap();
    let before = series(&metrics().await);
    for i in 1..=50 {
        let reply = app.client.request(made_up(i), format!("{}/health", app.base)).send().await.unwrap();
        assert_eq!(reply.status(), 405);
    }
    let after = metrics().await;
    assert_eq!(series(&after), before, "{after}");
    assert!(after.contains(r#"method="OTHER""#), "{after}");
}
