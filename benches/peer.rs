//! faceauth beside the Python peer (InsightFace FaceAnalysis + FastAPI/uvicorn, `scripts/peer.py`), in
//! one run on one machine: same models (det_500m + arcface_mobilefacenet_128d), same probes, one
//! client and four, rounds interleaved so every server sees the same machine state. Also faceauth as
//! it was (reference pipeline, a thread pool per worker) and with only the shared thread pool, to
//! show what each change bought. `make bench-load` (the peer needs `scripts/setup-peer.sh`).
//! Environment: PEER_REQUESTS (per server, level and round; 60), PEER_ROUNDS (3).

mod common;

use common::{
    Run, Service, client, closed_loop, cores, env_num, median, model_floor, read, register, start_peer, start_service,
};

/// The probe photos of the measurement: 750–2500 px, three of them progressive JPEGs.
const PROBES: [&str; 4] = [
    "dev/Angelina_Jolie/deepface_img2.jpg",
    "dev/Angelina_Jolie/deepface_img4.jpg",
    "dev/Angelina_Jolie/deepface_img6.jpg",
    "dev/Angelina_Jolie/deepface_img7.jpg",
];
const REFERENCE: &str = "dev/Angelina_Jolie/deepface_img5.jpg";
/// 1382x1868, 2.3 MB: the photo whose decode costs as much as both models.
const LARGE_PROBE: &str = "dev/Angelina_Jolie/deepface_img1.jpg";

struct Target {
    name: &'static str,
    service: Service,
}

fn summarize(runs: Vec<Run>) -> (f64, f64, f64, usize) {
    let errors = runs.iter().map(|r| r.errors).sum();
    let rps = median(runs.iter().map(|r| r.rps).collect());
    let p50 = median(runs.iter().map(|r| r.p50).collect());
    let p99 = median(runs.iter().map(|r| r.p99).collect());
    (rps, p50, p99, errors)
}

fn main() {
    let floor_1 = model_floor(LARGE_PROBE, 1);
    let floor_2 = model_floor(LARGE_PROBE, 2);
    let requests = env_num("PEER_REQUESTS", 60);
    let rounds = env_num("PEER_ROUNDS", 3);
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut targets = vec![
        Target {
            name: "faceauth (default: adaptive, shared pool)",
            service: start_service(dirs[0].path(), &[("PIPELINE", "adaptive"), ("INFERENCE_THREAD_POOL", "shared")]),
        },
        Target {
            name: "faceauth adaptive, pool per worker",
            service: start_service(
                dirs[1].path(),
                &[("PIPELINE", "adaptive"), ("INFERENCE_THREAD_POOL", "per-worker")],
            ),
        },
        Target {
            name: "faceauth as before (reference, pool per worker)",
            service: start_service(
                dirs[2].path(),
                &[("PIPELINE", "reference"), ("INFERENCE_THREAD_POOL", "per-worker")],
            ),
        },
    ];
    match start_peer() {
        Some(service) => targets.push(Target { name: "Python peer (InsightFace + FastAPI)", service }),
        None => println!("the Python peer is not installed (scripts/setup-peer.sh): faceauth figures only"),
    }
    let probes: Vec<Vec<u8>> = PROBES.iter().map(|p| read(p)).collect();
    let large = [read(LARGE_PROBE)];
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let client = client();
        for t in &targets {
            register(&client, &t.service.base, "angelina", REFERENCE).await;
            closed_loop(&client, &t.service.base, "angelina", &probes, 2, 16).await;
        }
        // results[target][level] = runs over the rounds
        let levels = [1usize, 4];
        let mut results: Vec<Vec<Vec<Run>>> = targets.iter().map(|_| levels.iter().map(|_| Vec::new()).collect()).collect();
        let mut large_runs: Vec<Vec<Run>> = targets.iter().map(|_| Vec::new()).collect();
        for _ in 0..rounds {
            for (i, t) in targets.iter().enumerate() {
                for (j, &c) in levels.iter().enumerate() {
                    results[i][j].push(closed_loop(&client, &t.service.base, "angelina", &probes, c, requests).await);
                }
                large_runs[i].push(closed_loop(&client, &t.service.base, "angelina", &large, 1, requests / 2).await);
            }
        }
        println!("\nmachine: {} cores; {rounds} interleaved rounds of {requests} verifies per server and level", cores());
        println!("probes: deepface_img{{2,4,6,7}}.jpg in turn; reference deepface_img5.jpg\n");
        println!("| server | 1 client: req/s | p50 ms | 4 clients: req/s | p50 ms | p99 ms | p99/p50 | errors |");
        println!("|---|---|---|---|---|---|---|---|");
        let mut summary = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let one = summarize(std::mem::take(&mut results[i][0]));
            let four = summarize(std::mem::take(&mut results[i][1]));
            let large = summarize(std::mem::take(&mut large_runs[i]));
            println!(
                "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {} |",
                t.name,
                one.0,
                one.1,
                four.0,
                four.1,
                four.2,
                four.2 / four.1,
                one.3 + four.3 + large.3
            );
            summary.push((one, four, large));
        }
        println!("\n2.3 MB probe ({LARGE_PROBE}), one client, p50:");
        for (t, (_, _, large)) in targets.iter().zip(&summary) {
            println!("  {}: {:.1} ms", t.name, large.1);
        }
        println!(
            "reference model floor (det_500m at 640² + recognizer, in-process, decoded photo): {floor_1:.1} ms on 1 thread, {floor_2:.1} ms on 2"
        );
        let (ours, _, large) = summary[0];
        println!("\n| ratio | measured | target |\n|---|---|---|");
        if let Some((peer_one, peer_four, _)) = summary.last().filter(|_| targets.len() == 4) {
            println!("| faceauth p50 / peer p50, 1 client | {:.2} | <= 0.5 |", ours.1 / peer_one.1);
            println!("| faceauth / peer throughput, 4 clients | {:.2} | >= 3 |", summary[0].1.0 / peer_four.0);
        }
        println!("| p99 / p50 at 4 clients | {:.2} | <= 2 |", summary[0].1.2 / summary[0].1.1);
        println!("| 2.3 MB probe p50 / model floor (1 thread, 2 threads) | {:.2}, {:.2} | <= 1.0 |", large.1 / floor_1, large.1 / floor_2);
        let before = summary[2].0;
        println!("| default / as before, p50 at 1 client | {:.2} | |", ours.1 / before.1);
    });
}
