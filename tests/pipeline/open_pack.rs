//! The open pack's detection stage (BlazeFace + FaceMesh, Apache-2.0) on the dev photos, beside the
//! reference pipeline's SCRFD: a face in every photo, alignment points where SCRFD puts them, and
//! the error counts each recognizer gives on top of it.

use faceauth::face::{FaceEngine, PipelineMode, Purpose};

use crate::support::*;

fn open_engine(recognizer: &str) -> FaceEngine {
    let spec = spec(recognizer);
    FaceEngine::load(&faceauth::face::engine::EngineSpec {
        detector_path: model_dir().join("face_detection_short_range.onnx"),
        mode: PipelineMode::Adaptive,
        ..spec
    })
    .unwrap()
}

#[test]
fn blazeface_and_facemesh_find_every_dev_face_and_align_it_where_scrfd_does() {
    let mut engine = open_engine(MOBILEFACENET);
    let (mut found, mut errors) = (0, Vec::new());
    let mut embedded = Vec::new();
    for (path, identity, entry) in dev_images() {
        match engine.analyze(&read(path), Purpose::Verify) {
            Ok(a) => {
                found += 1;
                if let Some(r) = entry.faces.first() {
                    let eyes = ((r.kps[0][0] - r.kps[1][0]).powi(2) + (r.kps[0][1] - r.kps[1][1]).powi(2)).sqrt();
                    let mean = (0..5)
                        .map(|i| {
                            let (p, q) = (a.face.landmarks[i], r.kps[i]);
                            ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt()
                        })
                        .sum::<f32>()
                        / 5.0;
                    errors.push(mean / eyes);
                }
                embedded.push((identity, a.embedding.as_slice().to_vec()));
            }
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
    errors.sort_by(f32::total_cmp);
    let median = errors[errors.len() / 2];
    let p90 = errors[errors.len() * 9 / 10];
    eprintln!(
        "open pack: {found}/135 found; landmark error vs SCRFD in eye distances: median {median:.3}, p90 {p90:.3}"
    );
    for t in [0.30, 0.35, 0.40, 0.4104] {
        let c = count(&embedded, t);
        eprintln!(
            "  mobilefacenet at {t}: FRR {}/{} FAR {}/{}",
            c.false_rejects, c.genuine, c.false_accepts, c.impostor
        );
    }
    assert_eq!(found, 135);
}

/// The outcome each special photo gets from the open pack, as the SCRFD pack's tests
/// (`special.rs`) ask of it: no face where there is none, several where there are several, one where
/// there is one.
#[test]
fn special_photos_get_the_same_outcomes_from_the_open_pack() {
    use faceauth::face::FaceError;
    use faceauth::face::policy::Rejection;
    let mut engine = open_engine(SFACE);
    let mut enroll = |name: &str| engine.analyze(&read(&format!("special/{name}")), Purpose::Enroll);
    for name in [
        "no_face_rocket_launch.jpg",
        "no_face_mountain_landscape.jpg",
        "no_face_coffee_cup.png",
        "no_human_face_cat.png",
    ] {
        assert!(matches!(enroll(name), Err(FaceError::Rejected(Rejection::NoFace))), "{name}");
    }
    for name in ["group_friends_cast_t1.jpg", "group_obama_biden_two_people.jpg", "group_pascal_voc_2008_002470.jpg"] {
        let got = enroll(name);
        assert!(matches!(got, Err(FaceError::Rejected(Rejection::MultipleFaces { .. }))), "{name}: {got:?}");
    }
    for name in [
        "color_grace_hopper.jpg",
        "grayscale_grace_hopper.jpg",
        "rotated_exif6_grace_hopper.jpg",
        "png_rgba_alex_lacamoire.png",
        "png_rgb_astronaut_eileen_collins.png",
        "large_4600px_george_clooney.jpg",
        "webp_disguised_as_jpg_scarlett_johansson.jpg",
        "mirrored_angelina_jolie.jpg",
        // About 25 px across in a 427×240 frame: found on a tile, and still large enough to use.
        "small_face_obama_240p.jpg",
    ] {
        assert!(enroll(name).is_ok(), "{name}: {:?}", enroll(name).err());
    }
}
