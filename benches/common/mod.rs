//! What the end-to-end benchmarks share: paths, the model floor, starting the real service (or the
//! Python peer) as a child process, and a closed-loop load generator.

#![allow(dead_code)] // each benchmark uses its own subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[path = "../../tests/api/relay.rs"]
pub mod relay;

use faceauth::face::align::norm_crop;
use faceauth::face::engine::EngineSpec;
use faceauth::face::runtime::{self, Threads};
use faceauth::face::{FaceEngine, ModelProfile, PipelineMode, Purpose};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn faces() -> PathBuf {
    std::env::var_os("FACES_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/faces"))
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(faces().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
}

/// An engine on `detector` and `recognizer` (files in models/, the recognizer's profile by its
/// digest), one intra-op thread, no passive liveness, default settings.
pub fn spec(detector: &str, recognizer: &str, mode: PipelineMode) -> EngineSpec {
    let models = root().join("models");
    let path = models.join(recognizer);
    let sha = faceauth::face::models::sha256_file(&path).expect("models: run scripts/setup-test.sh");
    EngineSpec {
        mode,
        ..EngineSpec::with_defaults(
            models.join(detector),
            models.join("face_landmark.onnx"),
            path,
            ModelProfile::by_sha256(&sha).expect("a pinned recognizer").clone(),
        )
    }
}

/// The default pack's files: BlazeFace (with FaceMesh) and SFace.
pub const OPEN_PACK: (&str, &str) = ("face_detection_short_range.onnx", "face_recognition_sface_2021dec_int8bq.onnx");
/// The SCRFD-500M + MobileFaceNet test pair.
pub const TEST_FILES: (&str, &str) = ("det_500m.onnx", "arcface_mobilefacenet_128d.onnx");

/// The detector (on the reference canvas: det_500m at 640², BlazeFace at 128² then FaceMesh) then
/// the recognizer, back to back on an already decoded photo, with `threads` intra-op threads:
/// inference alone, which no request can beat. Median of 60.
pub fn model_floor(photo: &str, threads: usize, (detector, recognizer): (&str, &str)) -> f64 {
    runtime::init(&root().join(".ort/libonnxruntime.so.1.31.1"), Threads::PerSession(1))
        .expect("run scripts/setup-test.sh");
    let spec = EngineSpec { intra_threads: threads, ..spec(detector, recognizer, PipelineMode::Reference) };
    let mut engine = FaceEngine::load(&spec).unwrap();
    let image = engine.decode(&read(photo)).unwrap();
    let face = engine.analyze_image(&image, Purpose::Verify).unwrap().face;
    let crop = norm_crop(&image, &face.landmarks).unwrap();
    let runs = (0..60)
        .map(|_| {
            let t = Instant::now();
            engine.detect(&image).unwrap();
            engine.embed_crop(&crop).unwrap();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    median(runs)
}

/// A server under test, killed when dropped.
pub struct Service {
    pub child: Child,
    pub base: String,
    pub ready_ms: f64,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` and waits for its "listening on http://…" line.
fn spawn_listening(mut command: Command) -> Service {
    let started = Instant::now();
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = stdout.lines();
    let base = loop {
        let line = lines.next().expect("server output").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
    std::thread::spawn(move || for _ in lines {});
    Service { child, base, ready_ms }
}

/// The variables for an S3 store in `bucket` on a moto endpoint.
pub fn s3_env<'a>(bucket: &'a str, endpoint: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("S3_BUCKET", bucket),
        ("AWS_ENDPOINT_URL", endpoint),
        ("S3_FORCE_PATH_STYLE", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
}

/// The SCRFD-500M + MobileFaceNet test pair (not for commercial use): set beside the default pack
/// where a figure compares with it, and labelled so.
pub const TEST_PAIR: [(&str, &str); 2] =
    [("DETECTOR_MODEL", "det_500m.onnx"), ("RECOGNIZER_MODEL", "arcface_mobilefacenet_128d.onnx")];

/// The release binary with the local store and the default pack (MODEL_PACK=open, the rewritten
/// graphs `scripts/fetch-models.sh` made), limits off, `extra` on top ([`TEST_PAIR`] for the test pair).
pub fn start_service(data: &Path, extra: &[(&str, &str)]) -> Service {
    let mut command = Command::new(env!("CARGO_BIN_EXE_faceauth"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(
            ["INFERENCE_WORKERS", "INFERENCE_THREADS", "INFERENCE_THREAD_POOL", "PIPELINE"]
                .iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (*k, v))),
        )
        .env("PORT", "0")
        .env("LOG_LEVEL", "warn,faceauth::startup=info")
        .env("DATA_DIR", data)
        .env("MODEL_DIR", root().join("models"))
        .env("ORT_DYLIB_PATH", root().join(".ort/libonnxruntime.so.1.31.1"))
        .env("RATE_LIMIT_PER_IP", "0")
        .env("LOCKOUT_MAX_FAILURES", "0")
        .env("LOCKOUT_USER_MAX_FAILURES", "0")
        .env("INFERENCE_QUEUE", "64")
        // The same photos are verified again and again: the replay memory (on by default, its own
        // tests) would refuse every one after the first.
        .env("REPLAY_WINDOW_SECS", "0")
        .envs(extra.iter().copied())
        .current_dir(data)
        .stderr(Stdio::null());
    spawn_listening(command)
}

/// A Python peer, from the test venv (`scripts/setup-peer.sh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// OpenCV's face stack on the default pack's recognizer (`scripts/peer_opencv.py`: YuNet,
    /// alignCrop, SFace on onnxruntime).
    OpenCv,
    /// InsightFace FaceAnalysis on the test pair (`scripts/peer.py`).
    InsightFace,
}

/// The peer behind FastAPI/uvicorn. None when it is not installed.
pub fn start_peer(peer: Peer) -> Option<Service> {
    let python = root().join(".venv/bin/python");
    let (script, needs, model) = match peer {
        Peer::OpenCv => {
            ("scripts/peer_opencv.py", "import cv2, onnxruntime, fastapi, uvicorn", "face_detection_yunet_2023mar.onnx")
        }
        Peer::InsightFace => ("scripts/peer.py", "import insightface, fastapi, uvicorn", "det_500m.onnx"),
    };
    let probe = Command::new(&python).args(["-c", needs]).output().ok()?;
    if !probe.status.success() || !root().join("models").join(model).is_file() {
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = Command::new(python);
    command.arg(root().join(script)).arg(root().join("models")).arg(port.to_string()).stderr(Stdio::null());
    let service = spawn_listening(command);
    // The line comes before uvicorn binds (it logs nothing at level warning): wait for the port.
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(service)
}

pub fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)).unwrap().parse().unwrap()
}

pub struct Run {
    pub rps: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub errors: usize,
}

/// `concurrency` clients, each sending its next verify as soon as the last is answered, until
/// `total` have been sent; the photos are used in turn.
pub async fn closed_loop(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    photos: &[Vec<u8>],
    concurrency: usize,
    total: usize,
) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let photos = Arc::new(photos.to_vec());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, user, photos, next) =
            (client.clone(), format!("{base}/api/verify"), user.to_string(), photos.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let form = reqwest::multipart::Form::new().text("user_id", user.clone()).part(
                    "image",
                    reqwest::multipart::Part::bytes(photos[n % photos.len()].clone()).file_name("p.jpg"),
                );
                let t = Instant::now();
                let ok = client.post(&url).multipart(form).send().await.is_ok_and(|r| r.status() == 200);
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                errors += usize::from(!ok);
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    Run {
        rps: all.len() as f64 / secs,
        p50: percentile(&all, 0.5),
        p90: percentile(&all, 0.9),
        p99: percentile(&all, 0.99),
        errors,
    }
}

pub async fn register(client: &reqwest::Client, base: &str, user: &str, rel: &str) {
    let form = reqwest::multipart::Form::new()
        .text("user_id", user.to_string())
        .part("image", reqwest::multipart::Part::bytes(read(rel)).file_name("p.jpg"));
    let status = client.post(format!("{base}/api/register")).multipart(form).send().await.unwrap().status();
    assert!(status == 201 || status == 422, "register {rel}: {status}");
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(16).timeout(Duration::from_secs(60)).build().unwrap()
}

/// A moto server (S3, KMS, Secrets Manager) on a free loopback port, from the test venv; killed on drop.
pub struct Moto(Child, pub u16);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(root().join(".venv/bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (scripts/setup-test.sh)");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(25));
    }
    Moto(child, port)
}
