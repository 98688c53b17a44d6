//! Per-stage cost of the face pipeline, reference mode beside adaptive mode, on a 2.3 MB phone photo,
//! a 2500 px progressive JPEG and a 250 px LFW crop: decode, detect, align, embed, and all together.
//! One intra-op thread, so the figures are the work each stage does, not how it is spread over cores.
//! `make bench` (needs `scripts/setup-test.sh` for ONNX Runtime and the test models).

mod common;

use common::{root, spec};
use criterion::{Criterion, criterion_group, criterion_main};
use faceauth::face::align::norm_crop;
use faceauth::face::decode::{Scans, decode_reduced};
use faceauth::face::resolution::passes;
use faceauth::face::runtime::{self, Threads};
use faceauth::face::{FaceEngine, PipelineMode, Purpose};

fn engine(mode: PipelineMode) -> FaceEngine {
    runtime::init(&root().join(".ort/libonnxruntime.so.1.31.1"), Threads::PerSession(1))
        .expect("run scripts/setup-test.sh");
    FaceEngine::load(&spec("det_500m.onnx", "arcface_mobilefacenet_128d.onnx", mode)).unwrap()
}

fn stages(c: &mut Criterion) {
    let mut reference = engine(PipelineMode::Reference);
    let mut adaptive = engine(PipelineMode::Adaptive);
    for (name, rel) in [
        ("phone", "dev/Angelina_Jolie/deepface_img1.jpg"),
        ("progressive", "dev/Angelina_Jolie/deepface_img4.jpg"),
        ("lfw", "dev/Adel_Al-Jubeir/Adel_Al-Jubeir_0002.jpg"),
    ] {
        let photo = std::fs::read(root().join("../shared/faces").join(rel)).unwrap();
        let image = reference.decode(&photo).unwrap();
        let reduced = decode_reduced(&photo, 40_000_000, 480, Scans::SkipAcRefinements).unwrap().image;
        let face = reference.analyze_image(&image, Purpose::Verify).unwrap().face;
        let crop = norm_crop(&image, &face.landmarks).unwrap();
        // The adaptive pipeline's first pass (coarse for the phone photo, native for the LFW crop).
        let canvas = passes(reduced.width(), reduced.height(), 640).0[0];
        eprintln!(
            "{name}: {}x{} ({} bytes), reduced decode {}x{}, adaptive canvas {canvas:?}",
            image.width(),
            image.height(),
            photo.len(),
            reduced.width(),
            reduced.height()
        );
        let mut group = c.benchmark_group(name);
        group.sample_size(30);
        group.bench_function("decode/full", |b| b.iter(|| reference.decode(&photo).unwrap()));
        group.bench_function("decode/reduced", |b| {
            b.iter(|| decode_reduced(&photo, 40_000_000, 480, Scans::All).unwrap())
        });
        group.bench_function("decode/reduced-without-ac-refinements", |b| {
            b.iter(|| decode_reduced(&photo, 40_000_000, 480, Scans::SkipAcRefinements).unwrap())
        });
        group.bench_function("detect/640x640", |b| b.iter(|| reference.detect(&image).unwrap()));
        group.bench_function("detect/adaptive", |b| b.iter(|| adaptive.detect_at(&reduced, canvas).unwrap()));
        group.bench_function("align", |b| b.iter(|| norm_crop(&image, &face.landmarks).unwrap()));
        group.bench_function("embed", |b| b.iter(|| reference.embed_crop(&crop).unwrap()));
        group.bench_function("total/reference", |b| b.iter(|| reference.analyze(&photo, Purpose::Verify).unwrap()));
        group.bench_function("total/adaptive", |b| b.iter(|| adaptive.analyze(&photo, Purpose::Verify).unwrap()));
        group.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
