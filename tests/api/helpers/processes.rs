//! The real servers a test runs beside faceauth: moto (S3, Secrets Manager, KMS) and Redis.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::*;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use serde_json::Value;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A moto server on loopback: S3, Secrets Manager and KMS over their real HTTP protocols.
pub struct Moto {
    pub endpoint: String,
    port: u16,
    child: Option<Child>,
}

impl Moto {
    pub fn start() -> Self {
        let port = free_port();
        let mut moto = Moto { endpoint: format!("http://127.0.0.1:{port}"), port, child: None };
        moto.resume();
        moto
    }

    /// Starts (again) on the same port; moto keeps its data in memory, so a restart starts empty.
    pub fn resume(&mut self) {
        let bin =
            std::env::var_os("MOTO_SERVER").map(PathBuf::from).unwrap_or_else(|| root().join(".venv/bin/moto_server"));
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup-test.sh)", bin.display()));
        self.child = Some(child);
        listening(self.port, 600, "moto_server");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub async fn create_bucket(&self) -> String {
        let bucket = format!("faces-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        self.s3().create_bucket().bucket(&bucket).send().await.unwrap();
        bucket
    }

    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let out = self.s3().list_objects_v2().bucket(bucket).send().await.unwrap();
        let mut keys: Vec<String> = out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
        keys.sort();
        keys
    }

    /// moto does not check signatures, so its JSON-protocol services take plain requests.
    pub async fn call(&self, target: &str, body: Value) -> Value {
        // moto routes JSON-protocol calls by the service named in the credential scope.
        let service = if target.starts_with("TrentService") { "kms" } else { "secretsmanager" };
        let response = reqwest::Client::new()
            .post(&self.endpoint)
            .header("X-Amz-Target", target)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                format!("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"),
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{target}: {}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    /// Environment for a service that stores into `bucket` here.
    pub fn env(&self, bucket: &str) -> Vec<(String, String)> {
        [
            ("S3_BUCKET", bucket),
            ("AWS_ENDPOINT_URL", &self.endpoint),
            ("S3_FORCE_PATH_STYLE", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A real redis-server on a free loopback port, keeping nothing on disk.
pub struct Redis {
    pub url: String,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Self {
        let port = free_port();
        let mut redis =
            Redis { url: format!("redis://127.0.0.1:{port}"), port, dir: tempfile::tempdir().unwrap(), child: None };
        redis.resume();
        redis
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts (again) on the same port, empty.
    pub fn resume(&mut self) {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin}: {e} (run scripts/setup-test.sh)"));
        self.child = Some(child);
        listening(self.port, 400, "redis-server");
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until something listens on `port` (polled every 25 ms, at most `tries` times): readiness
/// by the port, bounded, with no fixed sleep.
fn listening(port: u16, tries: u32, what: &str) {
    for _ in 0..tries {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{what} did not start");
}
