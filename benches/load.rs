//! End-to-end benchmark: model floor in-process, then the real service under closed-loop verify load.
//! `make bench-load` (release build). Environment: LOAD_REQUESTS (per concurrency level, 200),
//! LOAD_SOAK (verifies for the RSS check, 5000), INFERENCE_WORKERS / INFERENCE_THREADS /
//! INFERENCE_THREAD_POOL / PIPELINE (service config). The side-by-side run against the Python peer
//! is `benches/peer.rs`.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    OPEN_PACK, Service, client, closed_loop, cores, env_num, faces, median, model_floor, register, rss_kib,
    start_service,
};

const PROBE: &str = "dev/Angelina_Jolie/deepface_img1.jpg"; // 1382x1868, 2.3 MB
const REFERENCE: &str = "dev/Angelina_Jolie/deepface_img4.jpg";
/// 250x250 LFW crop (13 KB): decoding is negligible, so this isolates HTTP, JSON, queue and storage.
const SMALL_PROBE: &str = "dev/Adel_Al-Jubeir/Adel_Al-Jubeir_0002.jpg";
const SMALL_REFERENCE: &str = "dev/Adel_Al-Jubeir/Adel_Al-Jubeir_0001.jpg";

fn main() {
    let floor = model_floor(PROBE, 1, OPEN_PACK);
    let small_floor = model_floor(SMALL_PROBE, 1, OPEN_PACK);
    let requests = env_num("LOAD_REQUESTS", 200);
    let soak = env_num("LOAD_SOAK", 5000);
    let data = tempfile::tempdir().unwrap();
    let service = start_service(data.path(), &[]);
    let pid = service.child.id();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let client = client();
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
        let probe = [common::read(PROBE)];
        closed_loop(&client, base, "one-ref", &probe, 2, 20).await; // warm caches and connections

        println!("\nmachine: {} cores; default pack (open: BlazeFace + FaceMesh + SFace); model floor (in-process, median of 60): {floor:.1} ms", cores());
        println!("service ready (models loaded and warmed, storage checked) {:.0} ms after start\n", service.ready_ms);
        println!("| concurrency | requests/s | p50 ms | p90 ms | p99 ms | errors |\n|---|---|---|---|---|---|");
        let mut runs = Vec::new();
        for c in [1, 2, 4, 8] {
            let r = closed_loop(&client, base, "one-ref", &probe, c, requests).await;
            println!("| {c} | {:.1} | {:.1} | {:.1} | {:.1} | {} |", r.rps, r.p50, r.p90, r.p99, r.errors);
            runs.push((c, r));
        }
        let small_probe = [common::read(SMALL_PROBE)];
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
        let client = client();
        for (user, rel) in [("one-ref", REFERENCE), ("small", SMALL_REFERENCE)] {
            register(&client, &shared.base, user, rel).await;
        }
        let probe = [common::read(PROBE)];
        let small_probe = [common::read(SMALL_PROBE)];
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
