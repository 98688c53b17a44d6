//! The planarity check (`service::liveness::planarity`) at the defaults, on the default pack's
//! detection stage (BlazeFace + FaceMesh): the real recordings in `../shared/faces/video/` turning
//! and nodding show parallax above [`MIN_PARALLAX`]; flat presentations of the dev photos turned
//! and tilted as a plane (`flat.rs`: noise, blur, re-encoding, a tint, a bend) stay under it. Both
//! sides and the margin are printed.

use faceauth::face::frame::FrameWork;
use faceauth::face::{FaceEngine, PipelineMode};
use faceauth::service::liveness::capture::Observation;
use faceauth::service::liveness::planarity::{MIN_PARALLAX, parallax};

use crate::flat::{Sheet, render};
use crate::support::*;

fn open_engine() -> FaceEngine {
    FaceEngine::load(&faceauth::face::engine::EngineSpec {
        detector_path: model_dir().join("face_detection_short_range.onnx"),
        mode: PipelineMode::Adaptive,
        ..spec(SFACE)
    })
    .unwrap()
}

fn observe(engine: &mut FaceEngine, bytes: &[u8], t_ms: f32) -> Option<Observation> {
    let frame = engine.analyze_frame(bytes, FrameWork::Locate).ok()?;
    Some(Observation { t_ms, face: frame.face, yaw: frame.quality.yaw, pitch: frame.quality.pitch })
}

fn jpeg(image: &image::RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(image).unwrap();
    out
}

/// Every frame of a recording that answers a move as the pose check asks it (|yaw| ≥ 18° or a nod
/// of 15°), against the most level frame of the two seconds before it (when that one is level):
/// the lowest parallax any answered move shows, and how many were measured.
fn genuine_lowest(engine: &mut FaceEngine, name: &str) -> (f32, usize, f32) {
    let dir = faces_dir().join("video").join(name);
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    let (count, fps) = (meta["frames"].as_u64().unwrap() as usize, meta["fps"].as_f64().unwrap() as f32);
    let frames: Vec<Option<Observation>> = (0..count)
        .map(|i| {
            observe(engine, &std::fs::read(dir.join(format!("frame_{i:04}.jpg"))).unwrap(), i as f32 * 1000.0 / fps)
        })
        .collect();
    let (mut lowest, mut highest, mut measured) = (f32::MAX, 0.0f32, 0);
    for (i, frame) in frames.iter().enumerate() {
        let Some(moved) = frame else { continue };
        let since = i.saturating_sub((2.0 * fps) as usize);
        let level = frames[since..i]
            .iter()
            .flatten()
            .min_by(|a, b| (a.yaw.abs() + a.pitch.abs()).total_cmp(&(b.yaw.abs() + b.pitch.abs())));
        let Some(level) = level.filter(|l| l.yaw.abs() <= 12.0 && l.pitch.abs() <= 18.0) else { continue };
        if (moved.yaw - level.yaw).abs() < 18.0 && (moved.pitch - level.pitch).abs() < 15.0 {
            continue;
        }
        let score = parallax(level, moved).unwrap();
        lowest = lowest.min(score);
        highest = highest.max(score);
        measured += 1;
    }
    (lowest, measured, highest)
}

#[test]
fn real_heads_show_parallax_and_flat_pictures_do_not() {
    let mut engine = open_engine();
    let mut genuine_min = f32::MAX;
    for name in ["pexels_woman", "carphone"] {
        let (lowest, measured, highest) = genuine_lowest(&mut engine, name);
        eprintln!("{name}: {measured} answered moves, parallax {lowest:.3}–{highest:.3} eye distances");
        assert!(measured > 0, "{name}: no move measured");
        genuine_min = genuine_min.min(lowest);
    }
    let identities =
        ["Angelina_Jolie", "Barack_Obama", "Elon_Musk", "George_Clooney", "Jennifer_Aniston", "Katy_Perry"];
    let (mut flat_max, mut seen_max, mut presented, mut flat_refused) = (0.0f32, 0.0f32, 0, 0);
    for identity in identities {
        let dir = faces_dir().join("dev").join(identity);
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let photo = image::open(&files[0]).unwrap().to_rgb8();
        let variants: [(&str, Sheet); 5] = [
            ("clean", Sheet::default()),
            ("noised, blurred, q70", Sheet { noise: 8.0, blur: true, ..Sheet::default() }),
            ("tinted", Sheet { tint: Some([255.0, 40.0, 200.0]), ..Sheet::default() }),
            ("bent", Sheet { bend: 0.4, ..Sheet::default() }),
            ("bent, noised", Sheet { bend: 0.4, noise: 6.0, blur: true, ..Sheet::default() }),
        ];
        for (label, base) in variants {
            let quality = if base.blur { 70 } else { 92 };
            let Some(level) = observe(&mut engine, &jpeg(&render(&photo, &base), quality), 0.0) else {
                eprintln!("{identity} {label}: no face level");
                continue;
            };
            for (yaw, pitch) in
                [(15.0, 0.0), (25.0, 0.0), (35.0, 0.0), (-30.0, 0.0), (0.0, 20.0), (0.0, -25.0), (20.0, 15.0)]
            {
                let sheet = Sheet { yaw, pitch, seed: (yaw * 7.0 + pitch) as u32 + 3, ..base };
                let Some(moved) = observe(&mut engine, &jpeg(&render(&photo, &sheet), quality), 500.0) else {
                    eprintln!("{identity} {label} yaw {yaw} pitch {pitch}: no face");
                    continue;
                };
                let score = parallax(&level, &moved).unwrap();
                let (seen_yaw, seen_pitch) = (moved.yaw - level.yaw, moved.pitch - level.pitch);
                eprintln!(
                    "{identity} {label} yaw {yaw} pitch {pitch}: parallax {score:.3} (seen yaw {seen_yaw:.1} pitch {seen_pitch:.1})"
                );
                flat_max = flat_max.max(score);
                seen_max = seen_max.max(seen_yaw.abs()).max(seen_pitch.abs());
                // The pose check (CHALLENGE_MIN_YAW 18°, CHALLENGE_MIN_PITCH 15°) or the planarity
                // check: a sheet must fail at least one, at the defaults.
                let answers_the_pose = seen_yaw.abs() >= 18.0 || seen_pitch.abs() >= 15.0;
                assert!(!answers_the_pose || score < MIN_PARALLAX, "{identity} {label} {yaw}/{pitch} passes both");
                presented += 1;
                flat_refused += usize::from(score < MIN_PARALLAX);
            }
        }
    }
    eprintln!(
        "genuine lowest {genuine_min:.3}, flat highest {flat_max:.3}, limit {MIN_PARALLAX}; {flat_refused} of \
         {presented} flat presentations under it; the largest turn or nod a sheet showed: {seen_max:.1}°"
    );
    assert!(genuine_min >= MIN_PARALLAX, "a real move would be refused: {genuine_min}");
    assert!(presented >= 150, "{presented} flat presentations measured");
}
