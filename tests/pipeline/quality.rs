//! Capture quality at enrolment: ordinary dev photos pass, degraded copies of them are refused with
//! the code that names what is wrong.

use faceauth::face::policy::Rejection;
use faceauth::face::quality::QualityIssue;
use faceauth::face::{FaceEngine, Purpose};
use image::{Rgb, RgbImage};

use crate::support::*;

fn scaled(image: &RgbImage, gain: f32) -> RgbImage {
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        Rgb(image.get_pixel(x, y).0.map(|v| (v as f32 * gain).min(255.0) as u8))
    })
}

#[test]
fn dev_photos_pass_and_blurred_dark_and_overexposed_copies_are_refused_by_name() {
    let mut engine = FaceEngine::load(&spec(MOBILEFACENET)).unwrap();
    let (mut faces, mut refused, mut degraded) = (0, Vec::new(), 0);
    for (i, (rel, _, _)) in dev_images().into_iter().enumerate() {
        let image = engine.decode(&read(rel)).unwrap();
        let analysis = match engine.analyze_image(&image, Purpose::Enroll) {
            Ok(analysis) => analysis,
            Err(faceauth::face::FaceError::Rejected(Rejection::Quality(issue))) => {
                refused.push(format!("{rel}: {issue}"));
                continue;
            }
            Err(_) => continue, // no face, several faces: not the quality gate's business
        };
        faces += 1;
        if i % 3 != 0 {
            continue;
        }
        // A blur of a twelfth of the eye distance (at least 2 px), a fifth of the light, 2.5× the light.
        let sigma = (analysis.face.eye_distance() / 12.0).max(2.0);
        for (copy, expected) in [
            (image::imageops::blur(&image, sigma), "blurry"),
            (scaled(&image, 0.2), "too dark"),
            (scaled(&image, 2.5), "over-exposed"),
        ] {
            let got = engine.analyze_image(&copy, Purpose::Enroll);
            let ok = matches!(
                (&got, expected),
                (Err(faceauth::face::FaceError::Rejected(Rejection::Quality(QualityIssue::Blurry { .. }))), "blurry")
                    | (Err(faceauth::face::FaceError::Rejected(Rejection::Quality(QualityIssue::TooDark { .. }))), "too dark")
                    | (
                        Err(faceauth::face::FaceError::Rejected(Rejection::Quality(QualityIssue::Overexposed { .. }))),
                        "over-exposed"
                    )
                    // Too little light can also leave no face to find: refused all the same.
                    | (Err(faceauth::face::FaceError::Rejected(Rejection::NoFace)), "too dark")
            );
            assert!(ok, "{rel} {expected}: {:?}", got.map(|a| a.quality));
            degraded += 1;
        }
    }
    eprintln!(
        "quality: {} of {} dev faces refused; {degraded} degraded copies refused",
        refused.len(),
        faces + refused.len()
    );
    assert!(refused.len() * 50 <= faces + refused.len(), "{refused:#?}");
    let lfw: Vec<_> = refused.iter().filter(|r| r.contains("_0")).collect();
    assert!(lfw.is_empty(), "LFW photos refused: {lfw:#?}");
}

#[test]
fn the_pose_estimate_has_the_documented_sign_on_a_photo_and_its_mirror() {
    let mut engine = FaceEngine::load(&spec(MOBILEFACENET)).unwrap();
    let image = engine.decode(&read("dev/Marc_Grossman/Marc_Grossman_0003.jpg")).unwrap();
    let turned = engine.analyze_image(&image, Purpose::Verify).unwrap().quality.yaw;
    let mirror = engine.analyze_image(&image::imageops::flip_horizontal(&image), Purpose::Verify).unwrap().quality.yaw;
    assert!(turned > 15.0 && mirror < -15.0, "yaw {turned} and mirrored {mirror}");
}
