//! The real `faceauth` binary started on a free port, and typed requests to it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::*;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

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
