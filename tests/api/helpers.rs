//! Starts the real `faceauth` binary on a free port, against a real S3 emulator (moto server) or a
//! temporary folder, with the real test models; typed request helpers for the tests.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub use crate::relay::Relay;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
pub use faceauth::token::TokenError;
use faceauth::token::keys::{Algorithm, SigningKey};
pub use faceauth::token::result::ResultClaims;
use faceauth::token::result::{ResultKey, ResultSigner};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn face(rel: &str) -> Vec<u8> {
    let dir = std::env::var_os("FACES_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/faces"));
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A photo scaled down to `side` pixels square, as a JPEG: an LFW face 100 px across becomes one
/// 16 px between the eyes.
pub fn shrunk(rel: &str, side: u32) -> Vec<u8> {
    let photo = image::load_from_memory(&face(rel)).unwrap();
    let small = photo.resize_exact(side, side, image::imageops::FilterType::Triangle).into_rgb8();
    let mut out = Vec::new();
    small.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Jpeg).unwrap();
    out
}

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
        // Readiness by polling the port, bounded: no fixed sleep.
        for _ in 0..600 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("moto_server did not start");
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
        // Readiness by polling the port, bounded: no fixed sleep.
        for _ in 0..400 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server did not start");
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

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    child: Child,
    logs: Logs,
}

/// The child's output lines, with a condition variable so tests wait for a line instead of sleeping.
type Logs = Arc<(Mutex<Vec<String>>, Condvar)>;

/// What a failed start printed, and how it exited.
pub struct Failed {
    pub code: Option<i32>,
    pub output: String,
}

fn command(env: &[(String, String)], dir: &tempfile::TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faceauth"));
    // A clean environment: nothing of the developer's AWS setup leaks into the test.
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("LOG_FORMAT", "text")
        .env("DATA_DIR", dir.path().join("data"))
        // The default pack (open: BlazeFace + FaceMesh, SFace, MiniFASNet), as shipped.
        .env("MODEL_DIR", root().join("models"))
        .env(
            "ORT_DYLIB_PATH",
            std::env::var("ORT_DYLIB_PATH")
                .unwrap_or_else(|_| root().join(".ort/libonnxruntime.so.1.31.1").display().to_string()),
        )
        .env("INFERENCE_WORKERS", "1")
        // Limits are off unless a test is about them: many quick requests come from one address here.
        .env("RATE_LIMIT_PER_IP", "0")
        .env("RATE_LIMIT_PER_KEY", "0")
        // So is the replay memory: many tests verify the same photo again. The tests about it set
        // REPLAY_WINDOW_SECS="" (the default, 24 h).
        .env("REPLAY_WINDOW_SECS", "0")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn owned(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Starts the service; `Err` with its output if it exits instead of listening.
pub fn try_spawn(env: &[(String, String)]) -> Result<TestApp, Failed> {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(env, &dir).spawn().expect("the faceauth binary starts");
    let logs: Logs = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
    let (tx, rx) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let (logs, tx) = (logs.clone(), tx.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ =
                        tx.send(rest.split(|c: char| c.is_whitespace() || c == '"').next().unwrap_or("").to_string());
                }
                logs.0.lock().unwrap().push(line);
                logs.1.notify_all();
            }
            let _ = tx.send(String::new()); // stream closed: the process is gone
        });
    }
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(addr) if !addr.is_empty() => Ok(TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
            data_dir: dir,
            child,
            logs,
        }),
        _ => {
            let status = child.wait().ok();
            let _ = rx.recv_timeout(Duration::from_secs(5));
            let output = logs.0.lock().unwrap().join("\n");
            Err(Failed { code: status.and_then(|s| s.code()), output })
        }
    }
}

pub fn spawn(env: &[(&str, &str)]) -> TestApp {
    spawn_owned(&owned(env))
}

pub fn spawn_owned(env: &[(String, String)]) -> TestApp {
    try_spawn(env).unwrap_or_else(|f| panic!("service did not start (exit {:?}):\n{}", f.code, f.output))
}

pub fn spawn_failing(env: &[(String, String)]) -> Failed {
    match try_spawn(env) {
        Ok(app) => panic!("service started on {} but should have refused", app.base),
        Err(f) => f,
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// The server process's CPU seconds so far (user + system) and its peak resident memory in
    /// KiB, from the kernel's accounting in /proc: what requests cost it, read rather than timed.
    pub fn usage(&self) -> (f64, u64) {
        let pid = self.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        let hz = std::process::Command::new("getconf").arg("CLK_TCK").output().unwrap();
        let hz: f64 = String::from_utf8_lossy(&hz.stdout).trim().parse().unwrap_or(100.0);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let peak = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        (ticks / hz, peak)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request reaches the service");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
        Reply { status, headers, body }
    }

    pub fn form(user_id: &str, image: Vec<u8>) -> Form {
        Form::new().text("user_id", user_id.to_string()).part("image", Part::bytes(image).file_name("photo.jpg"))
    }

    pub async fn post_form(&self, path: &str, form: Form) -> Reply {
        self.send(self.client.post(format!("{}{path}", self.base)).multipart(form)).await
    }

    pub async fn register(&self, user_id: &str, photo: &str) -> Reply {
        self.post_form("/api/register", Self::form(user_id, face(photo))).await
    }

    pub async fn verify(&self, user_id: &str, photo: &str) -> Reply {
        self.post_form("/api/verify", Self::form(user_id, face(photo))).await
    }

    pub async fn post_form_as(&self, key: &str, path: &str, form: Form) -> Reply {
        self.send(self.client.post(format!("{}{path}", self.base)).bearer_auth(key).multipart(form)).await
    }

    pub async fn get_as(&self, key: &str, path: &str) -> Reply {
        self.send(self.client.get(format!("{}{path}", self.base)).bearer_auth(key)).await
    }

    pub async fn delete_as(&self, key: &str, path: &str) -> Reply {
        self.send(self.client.delete(format!("{}{path}", self.base)).bearer_auth(key)).await
    }

    /// `POST /api/enrollments` for `user_id` with `key`.
    pub async fn enrollment(&self, key: &str, user_id: &str) -> Reply {
        let url = format!("{}/api/enrollments", self.base);
        self.send(self.client.post(url).bearer_auth(key).json(&serde_json::json!({ "user_id": user_id }))).await
    }

    /// A verify that claims, through the trusted local proxy, to come from `client`.
    pub async fn verify_from(&self, client: &str, user_id: &str, photo: &str) -> Reply {
        let request = self.client.post(format!("{}/api/verify", self.base)).header("X-Forwarded-For", client);
        self.send(request.multipart(Self::form(user_id, face(photo)))).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(format!("{}{path}", self.base))).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.client.delete(format!("{}{path}", self.base))).await
    }

    pub fn logs(&self) -> String {
        self.logs.0.lock().unwrap().join("\n")
    }

    /// Whether a line containing `needle` is logged within `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_for_line(|line| line.contains(needle), timeout).is_some()
    }

    /// The first logged line that satisfies `wanted`, waiting up to `timeout` for it.
    pub fn wait_for_line(&self, wanted: impl Fn(&str) -> bool, timeout: Duration) -> Option<String> {
        let (lines, more) = &*self.logs;
        let guard = lines.lock().unwrap();
        let (guard, _) = more.wait_timeout_while(guard, timeout, |l| !l.iter().any(|x| wanted(x))).unwrap();
        guard.iter().find(|x| wanted(x)).cloned()
    }

    /// Waits until `n` logged lines satisfy `wanted` (or `timeout`); returns how many do.
    pub fn wait_for_lines(&self, wanted: impl Fn(&str) -> bool, n: usize, timeout: Duration) -> usize {
        let (lines, more) = &*self.logs;
        let guard = lines.lock().unwrap();
        let count = |l: &Vec<String>| l.iter().filter(|x| wanted(x)).count();
        let (guard, _) = more.wait_timeout_while(guard, timeout, |l| count(l) < n).unwrap();
        count(&guard)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit on its own (after a signal) and returns its exit code.
    pub fn wait(mut self) -> Option<i32> {
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Photos used across tests.
pub const ANGELINA_1: &str = "dev/Angelina_Jolie/deepface_img1.jpg";
pub const ANGELINA_2: &str = "dev/Angelina_Jolie/deepface_img2.jpg";
pub const ANGELINA_4: &str = "dev/Angelina_Jolie/deepface_img4.jpg";
pub const ANISTON: &str = "dev/Jennifer_Aniston/deepface_img3.jpg";
pub const ANISTON_2: &str = "dev/Jennifer_Aniston/deepface_img12.jpg";

/// A fresh P-256 signing key as PKCS#8 PEM, as `openssl genpkey` writes one.
pub fn signing_key_pem() -> String {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).unwrap();
    p256::SecretKey::from_slice(&bytes).unwrap().to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
}

/// What a relying party does with a verification token: fetch the service's JWK set and check
/// the token against it (issuer `faceauth`, as the service's default).
pub async fn verify_with_jwks(app: &TestApp, token: &str) -> Result<ResultClaims, TokenError> {
    let jwks = app.get("/.well-known/jwks.json").await.body;
    let keys = faceauth::token::keys::parse_public_keys(&jwks.to_string()).unwrap();
    // The relying party holds no private key: a throwaway one stands in for the signer's slot.
    let unrelated = SigningKey::generate(Algorithm::Es256).unwrap();
    let checker = ResultSigner::new(
        ResultKey::Asymmetric(unrelated),
        keys,
        "faceauth".into(),
        "faceauth".into(),
        Duration::from_secs(60),
    );
    checker.verify(token)
}
