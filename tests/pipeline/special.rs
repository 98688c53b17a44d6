//! Every file in `special/` gets the outcome a face-auth service owes it.

use faceauth::face::policy::Rejection;
use faceauth::face::{Analysis, DecodeError, FaceError, Purpose};

use crate::support::*;

fn enroll(name: &str) -> Result<Analysis, FaceError> {
    engine(MOBILEFACENET).analyze(&read(&format!("special/{name}")), Purpose::Enroll)
}

fn one_face(name: &str) -> Analysis {
    enroll(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn dev_embedding(rel: &str) -> Analysis {
    engine(MOBILEFACENET).analyze(&read(rel), Purpose::Enroll).unwrap()
}

fn assert_no_face(name: &str) {
    assert!(matches!(enroll(name), Err(FaceError::Rejected(Rejection::NoFace))), "{name}");
}

fn assert_multiple(name: &str) {
    match enroll(name) {
        Err(FaceError::Rejected(Rejection::MultipleFaces { count })) => assert!(count >= 2),
        other => panic!("{name}: expected multiple_faces, got {other:?}"),
    }
}

#[test]
fn rocket_launch_has_no_face() {
    assert_no_face("no_face_rocket_launch.jpg");
}

#[test]
fn mountain_landscape_has_no_face() {
    assert_no_face("no_face_mountain_landscape.jpg");
}

#[test]
fn coffee_cup_has_no_face() {
    assert_no_face("no_face_coffee_cup.png");
}

#[test]
fn cat_has_no_human_face() {
    assert_no_face("no_human_face_cat.png");
}

/// SCRFD-500M scores one of the four dog faces at 0.64, above the 0.5 threshold (the reference
/// pipeline does the same). It is enrolled as a "face"; the README documents this limit: liveness
/// and human-face checks are not part of detection.
#[test]
fn the_dog_collage_yields_at_most_one_low_scoring_face() {
    let mut engine = engine(MOBILEFACENET);
    let image = engine.decode(&read("special/no_human_face_dogs.jpg")).unwrap();
    let faces = engine.detect(&image).unwrap();
    assert!(faces.len() <= 1);
    assert!(faces.iter().all(|f| f.score >= 0.5 && f.score < 0.7), "{faces:?}");
}

#[test]
fn friends_cast_group_photo_is_refused_at_enrolment() {
    assert_multiple("group_friends_cast_t1.jpg");
}

#[test]
fn obama_and_biden_side_by_side_are_refused_at_enrolment_and_verification() {
    assert_multiple("group_obama_biden_two_people.jpg");
    let got = engine(MOBILEFACENET).analyze(&read("special/group_obama_biden_two_people.jpg"), Purpose::Verify);
    assert!(matches!(got, Err(FaceError::Rejected(Rejection::MultipleFaces { .. }))));
}

#[test]
fn pascal_group_at_a_table_is_refused_at_enrolment() {
    assert_multiple("group_pascal_voc_2008_002470.jpg");
}

#[test]
fn pascal_crowd_of_small_faces_is_refused_at_enrolment() {
    assert_multiple("small_faces_pascal_voc_2008_004176.jpg");
}

#[test]
fn a_profile_face_behind_a_camera_is_measured_by_its_height_and_reported_turned() {
    // Eyes 14 px apart, but 33 px from eyes to mouth: a turned head of a usable size, not a small one.
    let a = one_face("grayscale_camera_man.png");
    assert!(a.face.eye_distance() < 20.0 && a.face.face_scale() >= 20.0, "{:?}", a.face);
    assert!(a.quality.yaw.abs() > 30.0, "yaw {}", a.quality.yaw);
}

#[test]
fn grayscale_and_exif_rotated_grace_hopper_are_the_same_face_as_the_colour_photo() {
    let colour = one_face("color_grace_hopper.jpg");
    for name in ["grayscale_grace_hopper.jpg", "rotated_exif6_grace_hopper.jpg", "rotated_exif8_grace_hopper.jpg"] {
        let a = one_face(name);
        assert_eq!((a.width, a.height), (128, 128), "{name}");
        // Upright after the EXIF transpose: eyes level, above the mouth.
        let l = a.face.landmarks;
        assert!(l[0][1] < l[3][1] && (l[0][1] - l[1][1]).abs() < 8.0, "{name}: {l:?}");
        let sim = a.embedding.cosine(&colour.embedding);
        assert!(sim > 0.8, "{name}: similarity {sim} to the colour photo");
    }
}

#[test]
fn rgba_pngs_give_one_face_of_the_right_person() {
    let alex = one_face("png_rgba_alex_lacamoire.png");
    let threshold = dev_threshold(MOBILEFACENET);
    let dev = dev_embedding("dev/Alex_Lacamoire/facerec_alex_lacamoire1.jpg");
    assert!(alex.embedding.cosine(&dev.embedding) >= threshold);
    let obama = one_face("png_rgba_32bit_obama.png");
    let dev = dev_embedding("dev/Barack_Obama/facerec_obama2.jpg");
    assert!(obama.embedding.cosine(&dev.embedding) >= threshold);
}

#[test]
fn rgb_png_astronaut_gives_one_face() {
    one_face("png_rgb_astronaut_eileen_collins.png");
}

#[test]
fn webp_bytes_named_jpg_are_decoded_by_content() {
    let a = one_face("webp_disguised_as_jpg_scarlett_johansson.jpg");
    assert_eq!((a.width, a.height), (1350, 1800));
}

#[test]
fn a_4600_px_photo_gives_one_face_of_george_clooney() {
    let a = one_face("large_4600px_george_clooney.jpg");
    assert_eq!((a.width, a.height), (3061, 4600));
    let dev = dev_embedding("dev/George_Clooney/deepface_img38.jpg");
    assert!(a.embedding.cosine(&dev.embedding) >= dev_threshold(MOBILEFACENET));
}

#[test]
fn mirrored_and_partial_faces_are_still_one_face() {
    one_face("mirrored_angelina_jolie.jpg");
    one_face("partial_face_obama.jpg");
}

#[test]
fn a_small_letterboxed_face_is_still_usable() {
    let a = one_face("small_face_obama_240p.jpg");
    assert!(a.face.eye_distance() >= 20.0);
}

#[test]
fn the_truncated_jpeg_is_an_invalid_image() {
    assert!(matches!(enroll("corrupt_truncated.jpg"), Err(FaceError::Decode(DecodeError::Corrupt(_)))));
}
