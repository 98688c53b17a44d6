//! A face in the background is not a second subject (`face::policy`: `MIN_RIVAL_SCALE`), with either
//! detector: a press photo's bystander or a poster behind the user, a third of the subject's size
//! just beside them, leaves the subject enrolled with the embedding of the subject alone; a second
//! face of comparable size beside them is still `multiple_faces`, as are the set's group photos.

use faceauth::face::policy::Rejection;
use faceauth::face::{FaceEngine, FaceError, PipelineMode, Purpose};
use image::imageops::FilterType;
use image::{Rgb, RgbImage};

use crate::support::*;

const SUBJECT: &str = "dev/Adel_Al-Jubeir/Adel_Al-Jubeir_0002.jpg";
const OTHERS: [&str; 3] = [
    "dev/Vicki_Zhao_Wei/Vicki_Zhao_Wei_0001.jpg",
    "dev/Marc_Grossman/Marc_Grossman_0001.jpg",
    "dev/Martha_Burk/Martha_Burk_0001.jpg",
];

fn engines() -> Vec<(&'static str, FaceEngine)> {
    let scrfd = spec(SFACE);
    let open = faceauth::face::engine::EngineSpec {
        detector_path: model_dir().join("face_detection_short_range.onnx"),
        mode: PipelineMode::Adaptive,
        ..spec(SFACE)
    };
    vec![("SCRFD-500M", FaceEngine::load(&scrfd).unwrap()), ("BlazeFace + FaceMesh", FaceEngine::load(&open).unwrap())]
}

/// The subject's photo at 360 px centred at (`subject_x`, 400) in a 1200x800 scene, and `other` at
/// `side` px centred at (x, y).
fn scene(subject_x: i64, other: &str, side: u32, x: i64, y: i64) -> Vec<u8> {
    let mut canvas = RgbImage::from_pixel(1200, 800, Rgb([118, 124, 130]));
    let subject = image::load_from_memory(&read(SUBJECT)).unwrap().resize(360, 360, FilterType::Triangle).to_rgb8();
    image::imageops::overlay(&mut canvas, &subject, subject_x - 180, 220);
    let small = image::load_from_memory(&read(other)).unwrap().resize(side, side, FilterType::Triangle).to_rgb8();
    image::imageops::overlay(&mut canvas, &small, x - side as i64 / 2, y - side as i64 / 2);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92).encode_image(&canvas).unwrap();
    out
}

#[test]
fn a_small_face_beside_the_subject_is_a_bystander_and_a_comparable_one_is_a_second_subject() {
    for (name, mut engine) in engines() {
        let alone = {
            let mut canvas = RgbImage::from_pixel(1200, 800, Rgb([118, 124, 130]));
            let subject =
                image::load_from_memory(&read(SUBJECT)).unwrap().resize(360, 360, FilterType::Triangle).to_rgb8();
            image::imageops::overlay(&mut canvas, &subject, 420, 220);
            engine.analyze_image(&canvas, Purpose::Enroll).unwrap_or_else(|e| panic!("{name}: the subject alone: {e}"))
        };
        for other in OTHERS {
            // A third of the subject's size, just beside their head: within the prominence margins
            // (near the centre), so the size rule alone keeps it a bystander.
            let with_bystander = scene(600, other, 120, 400, 300);
            let a = engine
                .analyze(&with_bystander, Purpose::Enroll)
                .unwrap_or_else(|e| panic!("{name}, {other} as a bystander: {e}"));
            let similarity = a.embedding.cosine(&alone.embedding);
            assert!(similarity > 0.9, "{name}, {other}: the bystander was embedded ({similarity})");
            // The same face at the subject's own size, the two side by side about the centre: two
            // people, refused.
            let two = scene(420, other, 360, 780, 400);
            match engine.analyze(&two, Purpose::Enroll) {
                Err(FaceError::Rejected(Rejection::MultipleFaces { .. })) => {}
                other_answer => panic!("{name}, {other} beside: {:?}", other_answer.map(|a| a.face.bbox)),
            }
        }
        for group in ["special/group_obama_biden_two_people.jpg", "special/group_friends_cast_t1.jpg"] {
            let answer = engine.analyze(&read(group), Purpose::Enroll);
            assert!(
                matches!(answer, Err(FaceError::Rejected(Rejection::MultipleFaces { .. }))),
                "{name}, {group}: {:?}",
                answer.map(|a| a.face.bbox)
            );
        }
    }
}
