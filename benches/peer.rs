//! faceauth beside Python peers, in one run on one machine, rounds interleaved so every server sees
//! the same machine state; one client and four. The headline: faceauth at its defaults (the open
//! pack: BlazeFace + FaceMesh + SFace, its graphs rewritten) against OpenCV's own face stack on the
//! same SFace file (`scripts/peer_opencv.py`: YuNet, alignCrop, SFace on onnxruntime). Beside it,
//! labelled, the SCRFD-500M + MobileFaceNet test pair (not for commercial use) against InsightFace's
//! FaceAnalysis on those models (`scripts/peer.py`). `make bench-load` (the peers need
//! `scripts/setup-peer.sh`). Environment: PEER_REQUESTS (per server, level and round; 60), PEER_ROUNDS (3).

mod common;

use common::{
    OPEN_PACK, Peer, Run, Service, TEST_FILES, TEST_PAIR, client, closed_loop, cores, env_num, median, model_floor,
    read, register, start_peer, start_service,
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
    let floor_1 = model_floor(LARGE_PROBE, 1, OPEN_PACK);
    let floor_2 = model_floor(LARGE_PROBE, 2, OPEN_PACK);
    let test_floor = model_floor(LARGE_PROBE, 1, TEST_FILES);
    let requests = env_num("PEER_REQUESTS", 60);
    let rounds = env_num("PEER_ROUNDS", 3);
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut targets = vec![Target {
        name: "faceauth, defaults (open pack: BlazeFace + FaceMesh + SFace)",
        service: start_service(dirs[0].path(), &[]),
    }];
    let opencv = start_peer(Peer::OpenCv);
    let has_opencv = opencv.is_some();
    match opencv {
        Some(service) => {
            targets.push(Target { name: "Python peer: OpenCV YuNet + alignCrop + SFace (FastAPI)", service })
        }
        None => println!("the OpenCV peer is not installed (scripts/setup-peer.sh): faceauth figures only"),
    }
    targets.push(Target {
        name: "faceauth, test pair (SCRFD-500M + MobileFaceNet; not for commercial use)",
        service: start_service(dirs[1].path(), &TEST_PAIR),
    });
    let insightface = start_peer(Peer::InsightFace);
    let has_insightface = insightface.is_some();
    if let Some(service) = insightface {
        targets.push(Target { name: "Python peer: InsightFace on the test pair (FastAPI)", service });
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
            "open pack model floor (BlazeFace at 128² + FaceMesh + SFace, in-process, decoded photo): {floor_1:.1} ms on 1 thread, {floor_2:.1} ms on 2; test pair's (det_500m at 640² + MobileFaceNet): {test_floor:.1} ms on 1"
        );
        let (ours, four, large) = summary[0];
        println!("\n| ratio (faceauth at its defaults, open pack) | measured | target |\n|---|---|---|");
        if has_opencv {
            let (peer_one, peer_four, _) = summary[1];
            println!("| faceauth p50 / OpenCV peer p50, 1 client | {:.2} | <= 0.5 |", ours.1 / peer_one.1);
            println!("| faceauth / OpenCV peer throughput, 4 clients | {:.2} | >= 3 |", four.0 / peer_four.0);
        }
        println!("| p99 / p50 at 4 clients | {:.2} | <= 2 |", four.2 / four.1);
        println!("| 2.3 MB probe p50 / model floor (1 thread, 2 threads) | {:.2}, {:.2} | <= 1.0 |", large.1 / floor_1, large.1 / floor_2);
        let pair = if has_opencv { 2 } else { 1 };
        println!("| open pack p50 / test pair p50, 1 client | {:.2} | <= 1.2 |", ours.1 / summary[pair].0.1);
        if has_insightface {
            let (pair_one, pair_four, _) = summary[pair];
            let (peer_one, peer_four, _) = summary[pair + 1];
            println!("| test pair: faceauth p50 / InsightFace peer p50, 1 client | {:.2} | |", pair_one.1 / peer_one.1);
            println!("| test pair: faceauth / InsightFace peer throughput, 4 clients | {:.2} | |", pair_four.0 / peer_four.0);
        }
    });
}
