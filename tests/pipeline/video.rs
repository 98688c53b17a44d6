//! The real recordings in `../shared/faces/video/`: what a genuine continuous capture looks like to
//! the checks of `service::liveness::capture` — the fastest turn, shift and scale change between
//! consecutive frames, the lowest similarity of neighbouring frames and of every frame to the
//! recording's reference frame, and the poses reached. Every recording must stay inside the bounds
//! the service applies (at its native frame rate and at half of it, as a 12–15 fps capture is).

use faceauth::face::{Analysis, Purpose};
use faceauth::service::liveness::capture::{self, Observation};
use faceauth::service::liveness::sampling::IDENTITY_STRIDE_MS;
use faceauth::service::liveness::{CAPTURE_IDENTITY, NEIGHBOUR_SIMILARITY};

use crate::support::*;

pub struct Recording {
    pub fps: f32,
    pub frames: Vec<Analysis>,
    pub reference: Analysis,
}

pub fn recording(name: &'static str) -> Recording {
    let dir = faces_dir().join("video").join(name);
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    let count = meta["frames"].as_u64().unwrap() as usize;
    let mut engine = adaptive_engine();
    let frames = (0..count)
        .map(|i| {
            let bytes = std::fs::read(dir.join(format!("frame_{i:04}.jpg"))).unwrap();
            engine.analyze(&bytes, Purpose::Verify).unwrap_or_else(|e| panic!("{name} frame {i}: {e}"))
        })
        .collect();
    let reference = engine.analyze(&std::fs::read(dir.join("reference.jpg")).unwrap(), Purpose::Enroll).unwrap();
    Recording { fps: meta["fps"].as_f64().unwrap() as f32, frames, reference }
}

fn observations(r: &Recording, every: usize) -> Vec<Observation> {
    r.frames
        .iter()
        .enumerate()
        .step_by(every)
        .map(|(i, a)| Observation {
            t_ms: i as f32 * 1000.0 / r.fps,
            face: a.face.clone(),
            yaw: a.quality.yaw,
            pitch: a.quality.pitch,
        })
        .collect()
}

#[test]
fn real_recordings_move_within_the_capture_bounds_and_stay_one_person() {
    for name in ["pexels_woman", "carphone"] {
        let r = recording(name);
        for every in [1, 2] {
            let observed = observations(&r, every);
            let digests: Vec<String> = (0..observed.len()).map(|i| i.to_string()).collect();
            let ((turn, shift, scale), raw) = capture::motion_rates(&observed);
            eprintln!(
                "{name} every {every}: fastest turn {turn:.0}°/s (limit {}), shift {shift:.2} faces/s (limit {}), scale {scale:.2}/s (limit {})",
                capture::MAX_TURN_RATE,
                capture::MAX_SHIFT_RATE,
                capture::MAX_SCALE_RATE
            );
            eprintln!(
                "{name} every {every}: largest change between frames: turn {:.1}°, shift {:.3} faces, scale {:.3}",
                raw.0, raw.1, raw.2
            );
            assert_eq!(capture::check_motion(&observed, &digests), Ok(()), "{name} every {every}");
        }
        if let Some(dir) = std::env::var_os("VIDEO_DUMP") {
            let rows: Vec<String> = r
                .frames
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let b = f.face.bbox;
                    format!(
                        "{i}\t{:.1}\t{:.1}\t{:.3}\t{:.1}\t{:.1}\t{:.2}",
                        f.quality.yaw,
                        f.quality.pitch,
                        f.embedding.cosine(&r.reference.embedding),
                        (b[0] + b[2]) / 2.0,
                        (b[1] + b[3]) / 2.0,
                        f.face.face_scale()
                    )
                })
                .collect();
            std::fs::write(std::path::Path::new(&dir).join(format!("{name}.tsv")), rows.join("\n")).unwrap();
        }
        let neighbour = r.frames.windows(2).map(|w| w[0].embedding.cosine(&w[1].embedding)).fold(1.0f32, f32::min);
        // A capture's identified frames are up to IDENTITY_STRIDE_MS apart (`sampling.rs`): the
        // neighbour check compares frames that far apart, so the real recordings must pass it there.
        let gap = ((IDENTITY_STRIDE_MS / 1000.0 * r.fps).floor() as usize).max(1);
        let strided = r
            .frames
            .iter()
            .zip(r.frames.iter().skip(gap))
            .map(|(a, b)| a.embedding.cosine(&b.embedding))
            .fold(1.0f32, f32::min);
        let to_reference = r.frames.iter().map(|f| f.embedding.cosine(&r.reference.embedding)).fold(1.0f32, f32::min);
        let yaw = r.frames.iter().map(|f| f.quality.yaw).fold((f32::MAX, f32::MIN), |(a, b), y| (a.min(y), b.max(y)));
        let pitch =
            r.frames.iter().map(|f| f.quality.pitch).fold((f32::MAX, f32::MIN), |(a, b), y| (a.min(y), b.max(y)));
        eprintln!(
            "{name}: neighbours >= {neighbour:.3}, {gap} frames apart >= {strided:.3} (limit {NEIGHBOUR_SIMILARITY}), to the reference >= {to_reference:.3} (limit {CAPTURE_IDENTITY}), yaw {yaw:?}, pitch {pitch:?}"
        );
        assert!(
            neighbour >= NEIGHBOUR_SIMILARITY && strided >= NEIGHBOUR_SIMILARITY && to_reference >= CAPTURE_IDENTITY,
            "{name}"
        );
    }
}
