//! The model packs side by side: per-stage cost in the engine and verify p50 through HTTP, for the
//! default, open pack (BlazeFace + FaceMesh, SFace; the rewritten graphs faceauth serves) beside
//! SCRFD det_500m with the same recognizer and the SCRFD-500M + MobileFaceNet test pair (not for
//! commercial use), labelled. `make bench-packs`.
//!
//! Engine figures: the adaptive pipeline (the default) on one intra-op thread, median of
//! PACKS_RUNS (40) runs per photo, the packs taking turns so drift in the machine's load hits all
//! alike. HTTP figures: the release binary on the local store, one client, the packs' services
//! taking turns, median of PACKS_REQUESTS (60) verifies each. Ratios are against the default pack.

mod common;

use std::time::Instant;

use common::{client, env_num, median, read, root, spec, start_service};
use faceauth::face::runtime::{self, Threads};
use faceauth::face::{FaceEngine, PipelineMode, Purpose};

const SFACE: &str = "face_recognition_sface_2021dec_int8bq.onnx";
const MOBILEFACENET: &str = "arcface_mobilefacenet_128d.onnx";
/// (label, detector, recognizer)
const PACKS: [(&str, &str, &str); 3] = [
    ("default, open: BlazeFace + FaceMesh + SFace", "face_detection_short_range.onnx", SFACE),
    ("SCRFD-500M + SFace (non-commercial)", "det_500m.onnx", SFACE),
    ("test pair: SCRFD-500M + MobileFaceNet", "det_500m.onnx", MOBILEFACENET),
];
const PHOTOS: [(&str, &str); 3] = [
    ("phone photo", "dev/Angelina_Jolie/deepface_img1.jpg"),
    ("2500 px progressive", "dev/Angelina_Jolie/deepface_img4.jpg"),
    ("LFW crop", "dev/Adel_Al-Jubeir/Adel_Al-Jubeir_0002.jpg"),
];

fn engine(detector: &str, recognizer: &str) -> FaceEngine {
    FaceEngine::load(&spec(detector, recognizer, PipelineMode::Adaptive)).unwrap()
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let runs = env_num("PACKS_RUNS", 40);
    runtime::init(&root().join(".ort/libonnxruntime.so.1.31.1"), Threads::PerSession(1))
        .expect("run scripts/setup-test.sh");
    let mut engines: Vec<FaceEngine> = PACKS.iter().map(|(_, d, r)| engine(d, r)).collect();
    println!(
        "engine, adaptive pipeline, 1 thread, median of {runs} (ms): detect (incl. landmarks) | embed | whole analysis"
    );
    for (name, rel) in PHOTOS {
        let photo = read(rel);
        let mut detect = vec![Vec::new(); PACKS.len()];
        let mut embed = vec![Vec::new(); PACKS.len()];
        let mut total = vec![Vec::new(); PACKS.len()];
        for _ in 0..runs {
            for (i, engine) in engines.iter_mut().enumerate() {
                let started = Instant::now();
                let a = engine.analyze(&photo, Purpose::Verify).unwrap();
                total[i].push(ms(started));
                detect[i].push(a.timings.detect_ms);
                embed[i].push(a.timings.embed_ms);
            }
        }
        println!("  {name}");
        let base = median(total[0].clone());
        for (i, (label, _, _)) in PACKS.iter().enumerate() {
            let t = median(total[i].clone());
            println!(
                "    {label:<44} {:>6.1} | {:>5.1} | {t:>6.1}   ({:.2}x)",
                median(detect[i].clone()),
                median(embed[i].clone()),
                t / base
            );
        }
    }

    let requests = env_num("PACKS_REQUESTS", 60);
    let dirs: Vec<tempfile::TempDir> = PACKS.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    let services: Vec<_> = PACKS
        .iter()
        .zip(&dirs)
        .map(|((_, d, r), dir)| {
            start_service(dir.path(), &[("DETECTOR_MODEL", d), ("RECOGNIZER_MODEL", r), ("REPLAY_WINDOW_SECS", "0")])
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let probe = read("dev/Angelina_Jolie/deepface_img4.jpg");
    let p50: Vec<f64> = rt.block_on(async {
        let client = client();
        for s in &services {
            common::register(&client, &s.base, "angelina", "dev/Angelina_Jolie/deepface_img1.jpg").await;
        }
        let mut times = vec![Vec::new(); services.len()];
        for round in 0..requests + 5 {
            for (i, s) in services.iter().enumerate() {
                let form = reqwest::multipart::Form::new()
                    .text("user_id", "angelina")
                    .part("image", reqwest::multipart::Part::bytes(probe.clone()).file_name("p.jpg"));
                let started = Instant::now();
                let reply = client.post(format!("{}/api/verify", s.base)).multipart(form).send().await.unwrap();
                assert_eq!(reply.status(), 200);
                reply.bytes().await.unwrap();
                if round >= 5 {
                    times[i].push(ms(started));
                }
            }
        }
        times.into_iter().map(median).collect()
    });
    println!("HTTP verify p50, one client, {requests} each (2500 px progressive JPEG):");
    for (i, (label, _, _)) in PACKS.iter().enumerate() {
        println!("  {label:<44} {:>6.1} ms   ({:.2}x)", p50[i], p50[i] / p50[0]);
    }
}
