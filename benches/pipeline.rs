//! Per-stage cost of the face pipeline on a dev photo: decode, detect, align, embed, and all together.
//! `make bench` (needs `scripts/setup-test.sh` for ONNX Runtime and the test models).

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use faceauth::face::align::norm_crop;
use faceauth::face::detect::DetectorSettings;
use faceauth::face::engine::EngineSpec;
use faceauth::face::{FaceEngine, FacePolicy, ModelProfile, Purpose, runtime};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn engine() -> FaceEngine {
    runtime::init(&root().join(".ort/libonnxruntime.so.1.31.1")).expect("run scripts/setup-test.sh");
    let models = root().join("models");
    let spec = EngineSpec {
        detector_path: models.join("det_500m.onnx"),
        recognizer_path: models.join("arcface_mobilefacenet_128d.onnx"),
        profile: ModelProfile::by_name("arcface_mobilefacenet_128d").unwrap().clone(),
        detector: DetectorSettings::default(),
        policy: FacePolicy::default(),
        max_pixels: 40_000_000,
        intra_threads: 1,
        liveness: Vec::new(),
    };
    FaceEngine::load(&spec).unwrap()
}

fn stages(c: &mut Criterion) {
    let mut engine = engine();
    // 1200x1600 JPEG, one face: a typical phone-camera upload after resizing.
    let photo = std::fs::read(root().join("../shared/faces/dev/Angelina_Jolie/deepface_img1.jpg")).unwrap();
    let image = engine.decode(&photo).unwrap();
    let face = engine.analyze_image(&image, Purpose::Verify).unwrap().face;
    let crop = norm_crop(&image, &face.landmarks).unwrap();
    eprintln!("photo: {}x{}, {} bytes", image.width(), image.height(), photo.len());

    let mut group = c.benchmark_group("pipeline");
    group.sample_size(30);
    group.bench_function("decode", |b| b.iter(|| engine.decode(&photo).unwrap()));
    group.bench_function("detect", |b| b.iter(|| engine.detect(&image).unwrap()));
    group.bench_function("align", |b| b.iter(|| norm_crop(&image, &face.landmarks).unwrap()));
    group.bench_function("embed", |b| b.iter(|| engine.embed_crop(&crop).unwrap()));
    group.bench_function("total", |b| b.iter(|| engine.analyze(&photo, Purpose::Verify).unwrap()));
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
