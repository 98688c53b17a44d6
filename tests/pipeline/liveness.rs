//! Passive liveness (MiniFASNet V2 + V1SE) against the reference pipeline's numbers in
//! `../shared/faces/liveness/reference.json`.

use std::collections::BTreeMap;

use faceauth::face::liveness::AntiSpoof;
use faceauth::face::{Detection, FaceEngine};
use serde::Deserialize;

use crate::support::*;

#[derive(Deserialize)]
struct Scrfd {
    label: u8,
    p_real: f64,
}

#[derive(Deserialize)]
struct LiveRef {
    int_margin: Option<f64>,
    scrfd: Option<Scrfd>,
}

fn anti_spoof() -> AntiSpoof {
    let (v2, v1se) =
        (model_dir().join("2.7_80x80_MiniFASNetV2.onnx"), model_dir().join("4_0_0_80x80_MiniFASNetV1SE.onnx"));
    AntiSpoof::load(&[&v2, &v1se]).expect("liveness models: run scripts/setup-test.sh")
}

/// The reference takes the largest box as the subject.
fn largest(faces: &[Detection]) -> &Detection {
    faces.iter().max_by(|a, b| a.area().total_cmp(&b.area())).expect("a face")
}

fn score(engine: &mut FaceEngine, anti: &mut AntiSpoof, rel: &str) -> faceauth::face::liveness::LivenessScore {
    let image = engine.decode(&read(rel)).unwrap();
    let faces = engine.detect(&image).unwrap();
    anti.score(&image, largest(&faces)).unwrap()
}

/// Every photo whose box is unambiguous: the same label and P(real) within 0.02. This holds because
/// the pixels are the reference's (libjpeg-turbo decoding, OpenCV's two-stage bilinear rounding).
#[test]
fn passive_liveness_matches_the_reference_on_every_photo_with_an_unambiguous_box() {
    let path = faces_dir().join("liveness/reference.json");
    let reference: BTreeMap<String, LiveRef> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut engine = FaceEngine::load(&spec(MOBILEFACENET)).unwrap();
    let mut anti = anti_spoof();
    let (mut compared, mut worst) = (0, 0.0f64);
    for (rel, entry) in &reference {
        // A box within 0.01 px of an integer may round the other way here (the README's advice).
        let (Some(expected), Some(margin)) = (&entry.scrfd, entry.int_margin) else { continue };
        if margin < 0.01 {
            continue;
        }
        let got = score(&mut engine, &mut anti, rel);
        let diff = (got.p_real - expected.p_real).abs();
        assert_eq!(got.label, expected.label, "{rel}: P(real) {:.4} vs {:.4}", got.p_real, expected.p_real);
        assert!(diff <= 0.02, "{rel}: P(real) {:.4}, reference {:.4}", got.p_real, expected.p_real);
        worst = worst.max(diff);
        compared += 1;
    }
    eprintln!("liveness: {compared} photos, same label and P(real) within 0.02 on all; largest difference {worst:.5}");
    assert!(compared >= 130, "{compared}");
}

#[test]
fn the_three_samples_are_spoof_spoof_live() {
    let mut engine = FaceEngine::load(&spec(MOBILEFACENET)).unwrap();
    let mut anti = anti_spoof();
    let labels: Vec<u8> = ["image_F1.jpg", "image_F2.jpg", "image_T1.jpg"]
        .iter()
        .map(|f| score(&mut engine, &mut anti, &format!("liveness/{f}")).label)
        .collect();
    assert_ne!(labels[0], 1, "printed photo");
    assert_ne!(labels[1], 1, "tablet replay");
    assert_eq!(labels[2], 1, "live");
}

/// The default (adaptive) pipeline scores passive liveness as it was validated: MiniFASNet's crop is
/// cut around the reference canvas's box, so every photo the service scores matches the reference
/// (same label, P(real) within 0.02) wherever the reference's box is unambiguous. Photos the face
/// policy refuses before liveness is asked (too small, several faces) are counted, not scored.
#[test]
fn passive_liveness_in_the_default_pipeline_matches_the_reference() {
    let path = faces_dir().join("liveness/reference.json");
    let reference: BTreeMap<String, LiveRef> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut spec = spec(MOBILEFACENET);
    spec.mode = faceauth::face::PipelineMode::Adaptive;
    spec.liveness =
        vec![model_dir().join("2.7_80x80_MiniFASNetV2.onnx"), model_dir().join("4_0_0_80x80_MiniFASNetV1SE.onnx")];
    let mut engine = FaceEngine::load(&spec).unwrap();
    let (mut compared, mut refused, mut worst) = (0, 0, 0.0f64);
    let (mut seconds, mut box_seconds) = (0.0, 0.0);
    for (rel, entry) in &reference {
        let (Some(expected), Some(margin)) = (&entry.scrfd, entry.int_margin) else { continue };
        if margin < 0.01 {
            continue;
        }
        let started = std::time::Instant::now();
        let analysis = match engine.analyze(&read(rel), faceauth::face::Purpose::Verify) {
            Ok(analysis) => analysis,
            Err(faceauth::face::FaceError::Rejected(_)) => {
                refused += 1;
                continue;
            }
            Err(e) => panic!("{rel}: {e}"),
        };
        seconds += started.elapsed().as_secs_f64();
        // What choosing the box costs: one detection on the reference canvas over the full decode.
        let image = engine.decode(&read(rel)).unwrap();
        let started = std::time::Instant::now();
        engine.detect(&image).unwrap();
        box_seconds += started.elapsed().as_secs_f64();
        let got = analysis.liveness.expect("scored");
        let diff = (got.p_real - expected.p_real).abs();
        assert_eq!(got.label, expected.label, "{rel}: P(real) {:.4} vs {:.4}", got.p_real, expected.p_real);
        assert!(diff <= 0.02, "{rel}: P(real) {:.4}, reference {:.4}", got.p_real, expected.p_real);
        worst = worst.max(diff);
        compared += 1;
    }
    eprintln!(
        "liveness, default pipeline: {compared} photos scored, all within 0.02 (largest {worst:.5}); {refused} refused \
         by the face policy before liveness; {:.1} ms a photo, of which the reference-canvas box {:.1} ms",
        seconds * 1000.0 / compared as f64,
        box_seconds * 1000.0 / compared as f64
    );
    assert!(compared >= 120, "{compared}");
}

/// The open pack's boxes are drawn from the mesh to SCRFD's proportions, but they are not SCRFD's,
/// so MiniFASNet's crops differ by a few pixels and parity with the reference numbers (SCRFD boxes)
/// does not hold to 0.02 everywhere (median 0.008, p90 0.10 on the dev photos). What must hold is
/// what the threshold means: the three samples keep their labels, and on the dev photos the share
/// scored real at LIVENESS_THRESHOLD (0.5) stays within 5 points of the reference's.
#[test]
fn passive_liveness_on_the_open_packs_boxes_keeps_the_thresholds_meaning() {
    let path = faces_dir().join("liveness/reference.json");
    let reference: BTreeMap<String, LiveRef> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let spec = faceauth::face::engine::EngineSpec {
        detector_path: model_dir().join("face_detection_short_range.onnx"),
        ..spec(SFACE)
    };
    let mut engine = FaceEngine::load(&spec).unwrap();
    let mut anti = anti_spoof();
    let labels: Vec<u8> = ["image_F1.jpg", "image_F2.jpg", "image_T1.jpg"]
        .iter()
        .map(|f| score(&mut engine, &mut anti, &format!("liveness/{f}")).label)
        .collect();
    assert_eq!((labels[0] != 1, labels[1] != 1, labels[2] == 1), (true, true, true), "{labels:?}");
    let (mut diffs, mut ours_real, mut theirs_real, mut same_label) = (Vec::new(), 0, 0, 0);
    for (rel, entry) in reference.iter().filter(|(k, _)| k.starts_with("dev/")) {
        let Some(expected) = &entry.scrfd else { continue };
        let image = engine.decode(&read(rel)).unwrap();
        let faces = engine.detect(&image).unwrap();
        if faces.is_empty() {
            continue;
        }
        let got = anti.score(&image, largest(&faces)).unwrap();
        diffs.push((got.p_real - expected.p_real).abs());
        ours_real += usize::from(got.p_real >= 0.5);
        theirs_real += usize::from(expected.p_real >= 0.5);
        same_label += usize::from(got.label == expected.label);
    }
    diffs.sort_by(f64::total_cmp);
    let n = diffs.len();
    eprintln!(
        "liveness on the open pack's boxes (from the mesh), {n} dev photos: same label {same_label}; P(real) difference median {:.3}, \
         p90 {:.3}, max {:.3}; real at 0.5: {ours_real} (reference boxes: {theirs_real})",
        diffs[n / 2],
        diffs[n * 9 / 10],
        diffs[n - 1]
    );
    assert!(n >= 130, "{n}");
    assert!(ours_real.abs_diff(theirs_real) * 20 <= n, "{ours_real} vs {theirs_real} of {n}");
}
