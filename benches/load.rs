//! End-to-end benchmark: model floor in-process, then the real service under closed-loop verify load.
//! `make bench-load` (release build). Environment: LOAD_REQUESTS (per concurrency level, 200),
//! LOAD_SOAK (verifies for the RSS check, 5000), INFERENCE_WORKERS / INFERENCE_THREADS (service config).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use faceauth::face::align::norm_crop;
use faceauth::face::detect::DetectorSettings;
use faceauth::face::engine::EngineSpec;
use faceauth::face::{FaceEngine, FacePolicy, ModelProfile, Purpose, runtime};

const PROBE: &str = "dev/Angelina_Jolie/deepface_img1.jpg"; // 1382x1868, 2.3 MB
const REFERENCE: &str = "dev/Angelina_Jolie/deepface_img4.jpg";
/// 250x250 LFW crop (13 KB): decoding is negligible, so this isolates HTTP, JSON, queue and storage.
const SMALL_PROBE: &str = "dev/Adel_Al-Jubeir/Adel_Al-Jubeir_0002.jpg";
const SMALL_REFERENCE: &str = "dev/Adel_Al-Jubeir/Adel_Al-Jubeir_0001.jpg";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn faces() -> PathBuf {
    std::env::var_os("FACES_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/faces"))
}

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
}

/// Detector then recognizer, back to back, on an already decoded photo: what no request can beat.
fn model_floor(photo: &str) -> f64 {
    runtime::init(&root().join(".ort/libonnxruntime.so.1.31.1")).expect("run scripts/setup-test.sh");
    let threads = env_num("INFERENCE_THREADS", 1);
    let spec = EngineSpec {
        detector_path: root().join("models/det_500m.onnx"),
        recognizer_path: root().join("models/arcface_mobilefacenet_128d.onnx"),
        profile: ModelProfile::by_name("arcface_mobilefacenet_128d").unwrap().clone(),
        detector: DetectorSettings::default(),
        policy: FacePolicy::default(),
        max_pixels: 40_000_000,
        intra_threads: threads,
        liveness: Vec::new(),
    };
    let mut engine = FaceEngine::load(&spec).unwrap();
    let image = engine.decode(&std::fs::read(faces().join(photo)).unwrap()).unwrap();
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

struct Service {
    child: Child,
    base: String,
    ready_ms: f64,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_service(data: &std::path::Path, extra: &[(&str, &str)]) -> Service {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_faceauth"))
        .env_clear()
        .envs(extra.iter().copied())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(["INFERENCE_WORKERS", "INFERENCE_THREADS"].iter().filter_map(|k| std::env::var(k).ok().map(|v| (*k, v))))
        .env("PORT", "0")
        .env("LOG_LEVEL", "warn,faceauth::startup=info")
        .env("DATA_DIR", data)
        .env("MODEL_DIR", root().join("models"))
        .env("DETECTOR_MODEL", "det_500m.onnx")
        .env("RECOGNIZER_MODEL", "arcface_mobilefacenet_128d.onnx")
        .env("ORT_DYLIB_PATH", root().join(".ort/libonnxruntime.so.1.31.1"))
        .env("RATE_LIMIT_PER_IP", "0")
        .env("LOCKOUT_MAX_FAILURES", "0")
        .env("LOCKOUT_USER_MAX_FAILURES", "0")
        .env("INFERENCE_QUEUE", "64")
        .current_dir(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = stdout.lines();
    let base = loop {
        let line = lines.next().expect("service output").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
    std::thread::spawn(move || for _ in lines {});
    Service { child, base, ready_ms }
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)).unwrap().parse().unwrap()
}

struct Run {
    rps: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    errors: usize,
}

async fn closed_loop(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    photo: &[u8],
    concurrency: usize,
    total: usize,
) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, user, photo, next) =
            (client.clone(), format!("{base}/api/verify"), user.to_string(), photo.to_vec(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let form = reqwest::multipart::Form::new()
                    .text("user_id", user.clone())
                    .part("image", reqwest::multipart::Part::bytes(photo.clone()).file_name("p.jpg"));
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

async fn register(client: &reqwest::Client, base: &str, user: &str, rel: &str) {
    let form = reqwest::multipart::Form::new()
        .text("user_id", user.to_string())
        .part("image", reqwest::multipart::Part::bytes(std::fs::read(faces().join(rel)).unwrap()).file_name("p.jpg"));
    let status = client.post(format!("{base}/api/register")).multipart(form).send().await.unwrap().status();
    assert!(status == 201 || status == 422, "register {rel}: {status}");
}

fn main() {
    let floor = model_floor(PROBE);
    let small_floor = model_floor(SMALL_PROBE);
    let requests = env_num("LOAD_REQUESTS", 200);
    let soak = env_num("LOAD_SOAK", 5000);
    let data = tempfile::tempdir().unwrap();
    let service = start_service(data.path(), &[]);
    let pid = service.child.id();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(16).timeout(Duration::from_secs(60)).build().unwrap();
        let base = &service.base;
        // Every dev identity, one photo each; a user with 1 reference; a user with 20.
        let mut dev: Vec<(String, String)> = Vec::new();
        for entry in std::fs::read_dir(faces().join("dev")).unwrap().flatten() {
            let identity = entry.file_name().to_string_lossy().into_owned();
            let mut photos: Vec<String> = std::fs::read_dir(entry.path()).unwrap().flatten().map(|f| f.file_name().to_string_lossy().into_owned()).collect();
            photos.sort();
            dev.extend(photos.into_iter().map(|p| (identity.clone(), format!("dev/{identity}/{p}"))));
        }
        for (identity, rel) in dev.iter().filter(|(_, r)| r.ends_with("1.jpg")) {
            register(&client, base, identity, rel).await;
        }
        register(&client, base, "one-ref", REFERENCE).await;
        register(&client, base, "small", SMALL_REFERENCE).await;
        register(&client, base, "twenty-refs", REFERENCE).await;
        // Twenty references of one face (the template guard refuses other people's): the cost of
        // comparing against twenty, not of finding who they are.
        for _ in 0..19 {
            register(&client, base, "twenty-refs", REFERENCE).await;
        }
        let probe = std::fs::read(faces().join(PROBE)).unwrap();
        closed_loop(&client, base, "one-ref", &probe, 2, 20).await; // warm caches and connections

        println!("\nmachine: {} cores; model floor (det_500m + mobilefacenet, in-process, median of 60): {floor:.1} ms", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
        println!("service ready (models loaded and warmed, storage checked) {:.0} ms after start\n", service.ready_ms);
        println!("| concurrency | requests/s | p50 ms | p90 ms | p99 ms | errors |\n|---|---|---|---|---|---|");
        let mut runs = Vec::new();
        for c in [1, 2, 4, 8] {
            let r = closed_loop(&client, base, "one-ref", &probe, c, requests).await;
            println!("| {c} | {:.1} | {:.1} | {:.1} | {:.1} | {} |", r.rps, r.p50, r.p90, r.p99, r.errors);
            runs.push((c, r));
        }
        let small_probe = std::fs::read(faces().join(SMALL_PROBE)).unwrap();
        let small = closed_loop(&client, base, "small", &small_probe, 1, requests).await;
        let one = closed_loop(&client, base, "one-ref", &probe, 1, requests / 2).await;
        let twenty = closed_loop(&client, base, "twenty-refs", &probe, 1, requests / 2).await;
        let peak = rss_kib(pid, "VmHWM:");
        let warm = closed_loop(&client, base, "one-ref", &probe, 2, 500).await;
        let rss_500 = rss_kib(pid, "VmRSS:");
        let rest = closed_loop(&client, base, "one-ref", &probe, 2, soak.saturating_sub(500)).await;
        let rss_soak = rss_kib(pid, "VmRSS:");
        let c1 = &runs[0].1;
        let c4 = &runs[2].1;
        println!("\npeak RSS during the sweep: {} MiB", peak / 1024);
        println!("1 reference p50 {:.1} ms; 20 references p50 {:.1} ms", one.p50, twenty.p50);
        println!("RSS after 500 verifies {} MiB, after {soak}: {} MiB (errors {})", rss_500 / 1024, rss_soak / 1024, warm.errors + rest.errors);
        println!("\n| ratio | measured | target |\n|---|---|---|");
        println!("| verify p50 at concurrency 1 / model floor, 2.3 MB photo | {:.2} | <= 1.15 |", c1.p50 / floor);
        println!(
            "| verify p50 at concurrency 1 / model floor, 250 px LFW photo | {:.2} ({:.1} / {small_floor:.1} ms) | <= 1.15 |",
            small.p50 / small_floor,
            small.p50
        );
        println!("| p99 / p50 at concurrency 4 | {:.2} | <= 2 |", c4.p99 / c4.p50);
        println!("| 20-reference / 1-reference p50 | {:.2} | <= 1.10 |", twenty.p50 / one.p50);
        println!("| throughput at 4 and 8 / at 1 | {:.2}, {:.2} | >= 1 |", runs[2].1.rps / c1.rps, runs[3].1.rps / c1.rps);
        println!("| RSS after {soak} / after 500 | {:.3} | <= 1.05 |", rss_soak as f64 / rss_500 as f64);
        println!("| ready after start | {:.2} s | <= 3 s |", service.ready_ms / 1000.0);
    });
    shared_state_cost(&rt, &service, requests);
}

/// The same verifies against a second instance whose lockout, rate limits and cache versions live
/// in a local redis-server: what several instances cost per request. Interleaved in rounds, so
/// both see the same machine state.
fn shared_state_cost(rt: &tokio::runtime::Runtime, local: &Service, requests: usize) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let Ok(mut redis) = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
    else {
        println!("\nredis-server not found: shared-state figures skipped (scripts/setup-test.sh installs it)");
        return;
    };
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let data = tempfile::tempdir().unwrap();
    let url = format!("redis://127.0.0.1:{port}");
    // Rate limits on (generously), as production runs them: each request then costs the per-IP
    // check too.
    let shared = start_service(data.path(), &[("SHARED_STATE_URL", url.as_str()), ("RATE_LIMIT_PER_IP", "1000000")]);
    rt.block_on(async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(16).timeout(Duration::from_secs(60)).build().unwrap();
        for (user, rel) in [("one-ref", REFERENCE), ("small", SMALL_REFERENCE)] {
            register(&client, &shared.base, user, rel).await;
        }
        let probe = std::fs::read(faces().join(PROBE)).unwrap();
        let small_probe = std::fs::read(faces().join(SMALL_PROBE)).unwrap();
        closed_loop(&client, &shared.base, "one-ref", &probe, 2, 20).await;
        println!("\n| verify p50, concurrency 1 | in process | shared state (redis-server on loopback) | ratio |\n|---|---|---|---|");
        for (name, user, photo) in [("250 px LFW photo", "small", &small_probe), ("2.3 MB photo", "one-ref", &probe)] {
            let (mut without, mut with) = (Vec::new(), Vec::new());
            for _ in 0..4 {
                without.push(closed_loop(&client, &local.base, user, photo, 1, requests / 4).await.p50);
                with.push(closed_loop(&client, &shared.base, user, photo, 1, requests / 4).await.p50);
            }
            let (a, b) = (median(without), median(with));
            println!("| {name} | {a:.2} ms | {b:.2} ms | {:.3} ({:+.2} ms) |", b / a, b - a);
        }
    });
    let _ = redis.kill();
    let _ = redis.wait();
}
