//! Boxes, landmarks, crops and embeddings against the reference outputs.

use faceauth::face::align::norm_crop;

use crate::support::*;

const THRESHOLD: f32 = 0.5;
/// Faces this close to the score threshold may legitimately flip between implementations.
const BORDERLINE: f32 = 0.02;

#[test]
fn every_dev_image_gives_the_same_faces_boxes_and_landmarks_as_the_reference() {
    let mut engine = engine(MOBILEFACENET);
    let mut checked = 0;
    for (path, _, entry) in dev_images() {
        let image = engine.decode(&read(path)).unwrap();
        assert_eq!((Some(image.width()), Some(image.height())), (entry.width, entry.height), "{path}");
        let ours = engine.detect(&image).unwrap();
        for r in entry.faces.iter().filter(|f| f.score >= THRESHOLD + BORDERLINE) {
            assert!(ours.iter().any(|d| iou(&d.bbox, &r.bbox) > 0.5), "{path}: reference face {:?} missing", r.bbox);
        }
        for d in ours.iter().filter(|d| d.score >= THRESHOLD + BORDERLINE) {
            assert!(entry.faces.iter().any(|r| iou(&d.bbox, &r.bbox) > 0.5), "{path}: extra face {:?}", d.bbox);
        }
        let Some(main) = entry.faces.first() else {
            continue;
        };
        let d = ours.iter().max_by(|a, b| iou(&a.bbox, &main.bbox).total_cmp(&iou(&b.bbox, &main.bbox))).unwrap();
        for (got, want) in d.bbox.iter().zip(&main.bbox) {
            assert!((got - want).abs() <= 1.5, "{path}: box {:?} vs reference {:?}", d.bbox, main.bbox);
        }
        for (got, want) in d.landmarks.iter().flatten().zip(main.kps.iter().flatten()) {
            assert!((got - want).abs() <= 1.5, "{path}: landmarks {:?} vs reference {:?}", d.landmarks, main.kps);
        }
        assert!((d.score - main.score).abs() < 0.01, "{path}: score {} vs {}", d.score, main.score);
        checked += 1;
    }
    assert_eq!(checked, 134, "134 of 135 dev images have a face in the reference");
}

#[test]
fn aligned_crops_are_within_2_of_255_of_the_reference_crops() {
    let engine = engine(MOBILEFACENET);
    let mut worst: f64 = 0.0;
    for (path, _, entry) in dev_images() {
        let (Some(main), Some(crop)) = (entry.faces.first(), &entry.crop) else {
            continue;
        };
        let image = engine.decode(&read(path)).unwrap();
        let ours = norm_crop(&image, &main.kps).unwrap();
        let want = image::open(faces_dir().join("reference").join(crop)).unwrap().into_rgb8();
        let mad = ours.as_raw().iter().zip(want.as_raw()).map(|(a, b)| (*a as f64 - *b as f64).abs()).sum::<f64>()
            / ours.as_raw().len() as f64;
        assert!(mad <= 2.0, "{path}: mean absolute difference {mad:.3} of 255");
        worst = worst.max(mad);
    }
    eprintln!("worst crop mean absolute difference: {worst:.3} / 255");
}

fn embeddings_match(recognizer: &str) {
    let mut engine = engine(recognizer);
    let mut worst = 1.0f32;
    for (path, _, entry) in dev_images() {
        let Some(want) = entry.embeddings.get(recognizer) else {
            continue;
        };
        let image = engine.decode(&read(path)).unwrap();
        let faces = engine.detect(&image).unwrap();
        let main = &entry.faces[0];
        let face = faces.iter().max_by(|a, b| iou(&a.bbox, &main.bbox).total_cmp(&iou(&b.bbox, &main.bbox))).unwrap();
        let (_, embedding) = engine.embed_face(&image, face).unwrap();
        let cos = dot(embedding.as_slice(), want);
        assert!(cos >= 0.995, "{path}: cosine {cos} to the reference embedding");
        worst = worst.min(cos);
    }
    eprintln!("{recognizer}: lowest cosine to the reference embedding {worst:.5}");
}

#[test]
fn mobilefacenet_embeddings_match_the_reference() {
    embeddings_match(MOBILEFACENET);
}

#[test]
fn sface_embeddings_match_the_reference() {
    embeddings_match(SFACE);
}
