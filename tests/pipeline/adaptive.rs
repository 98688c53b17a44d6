//! The adaptive pipeline (the default) against the reference mode on the dev set: it must find at
//! least the same faces and reject and accept no more pairs at the profile's threshold.

use std::collections::BTreeMap;

use faceauth::face::{FaceEngine, FaceError, Purpose};

use crate::support::*;

/// Every dev photo (the reference's list plus any photo it has no entry for), sorted.
fn dev_photos() -> Vec<(String, String)> {
    let mut photos = Vec::new();
    for identity in std::fs::read_dir(faces_dir().join("dev")).unwrap().flatten() {
        let name = identity.file_name().to_string_lossy().into_owned();
        for photo in std::fs::read_dir(identity.path()).unwrap().flatten() {
            photos.push((name.clone(), format!("dev/{name}/{}", photo.file_name().to_string_lossy())));
        }
    }
    photos.sort();
    photos
}

struct Outcome {
    embeddings: Vec<(String, Vec<f32>)>,
    misses: BTreeMap<String, FaceError>,
}

fn run(engine: &mut FaceEngine, photos: &[(String, String)], purpose: Purpose) -> Outcome {
    let mut out = Outcome { embeddings: Vec::new(), misses: BTreeMap::new() };
    for (identity, path) in photos {
        match engine.analyze(&read(path), purpose) {
            Ok(a) => out.embeddings.push((identity.clone(), a.embedding.as_slice().to_vec())),
            Err(e) => {
                out.misses.insert(path.clone(), e);
            }
        }
    }
    out
}

#[test]
fn the_adaptive_pipeline_finds_as_many_faces_and_errs_no_more_than_the_reference_mode() {
    let photos = dev_photos();
    let threshold = dev_threshold(MOBILEFACENET);
    let reference = run(&mut engine(MOBILEFACENET), &photos, Purpose::Verify);
    let adaptive = run(&mut adaptive_engine(), &photos, Purpose::Verify);
    let [r, a] = [&reference, &adaptive].map(|o| {
        let c = count(&o.embeddings, threshold);
        (c.false_rejects, c.genuine, c.false_accepts, c.impostor)
    });
    eprintln!(
        "{} photos at {threshold}: reference FRR {}/{} FAR {}/{}, misses {:?}",
        photos.len(),
        r.0,
        r.1,
        r.2,
        r.3,
        reference.misses
    );
    eprintln!("adaptive FRR {}/{} FAR {}/{}, misses {:?}", a.0, a.1, a.2, a.3, adaptive.misses);
    assert!(
        adaptive.misses.keys().all(|p| reference.misses.contains_key(p)),
        "a face the reference mode finds is missed"
    );
    assert!(adaptive.embeddings.len() >= reference.embeddings.len());
    assert!(a.0 * r.1 <= r.0 * a.1, "false-reject rate {}/{} above the reference's {}/{}", a.0, a.1, r.0, r.1);
    assert!(a.2 * r.3 <= r.2 * a.3, "false-accept rate {}/{} above the reference's {}/{}", a.2, a.3, r.2, r.3);
}

#[test]
fn every_lfw_photo_in_dev_yields_its_subject_at_enrolment() {
    // LFW crops are named Identity_0001.jpg; the others (deepface_img*) are full photos.
    let lfw: Vec<_> = dev_photos().into_iter().filter(|(_, p)| !p.contains("/deepface_")).collect();
    let enrolled = run(&mut adaptive_engine(), &lfw, Purpose::Enroll);
    assert!(enrolled.misses.is_empty(), "refused: {:?}", enrolled.misses);
    // The embedded face is the subject's: nearer on average to the identity's other photos than to
    // any other identity's.
    let mut by_identity: BTreeMap<&str, Vec<&Vec<f32>>> = BTreeMap::new();
    for (identity, e) in &enrolled.embeddings {
        by_identity.entry(identity).or_default().push(e);
    }
    for (identity, e) in &enrolled.embeddings {
        let mean = |id: &str| {
            let others: Vec<f32> =
                by_identity[id].iter().filter(|o| !std::ptr::eq(**o, e)).map(|o| dot(e, o)).collect();
            if others.is_empty() { None } else { Some(others.iter().sum::<f32>() / others.len() as f32) }
        };
        let Some(own) = mean(identity) else { continue };
        for other in by_identity.keys().filter(|k| **k != identity.as_str()) {
            let theirs = mean(other).unwrap_or(f32::MIN);
            assert!(own > theirs, "{identity}: a photo nearer to {other} ({theirs:.3}) than to its own ({own:.3})");
        }
    }
}

#[test]
fn on_large_photos_the_adaptive_embedding_stays_close_to_the_reference_modes() {
    // The photos the adaptive pipeline decodes reduced and detects coarsely: its crop comes from a
    // DCT-scaled image and a coarse or refined detection, where the reference's comes from the full
    // photo at 640.
    let large: Vec<_> = dev_photos().into_iter().filter(|(_, p)| p.contains("/deepface_")).collect();
    let reference = run(&mut engine(MOBILEFACENET), &large, Purpose::Verify);
    let adaptive = run(&mut adaptive_engine(), &large, Purpose::Verify);
    assert_eq!(reference.embeddings.len(), adaptive.embeddings.len());
    let mut lowest = f32::MAX;
    for (((_, a), (_, b)), (_, path)) in adaptive.embeddings.iter().zip(&reference.embeddings).zip(&large) {
        let cosine = dot(a, b);
        lowest = lowest.min(cosine);
        eprintln!("{path}: {cosine:.4}");
    }
    eprintln!("{} photos, lowest cosine {lowest:.4}", large.len());
    assert!(lowest >= 0.9, "an adaptive embedding far from the reference mode's: {lowest}");
}

#[test]
fn at_enrolment_the_adaptive_pipeline_refuses_no_photo_the_reference_mode_accepts() {
    // Reduced decodes (and, for progressive files, the dropped AC refinement scans) must not make a
    // sharp reference photo look blurry or a face look small.
    let photos = dev_photos();
    let reference = run(&mut engine(MOBILEFACENET), &photos, Purpose::Enroll);
    let adaptive = run(&mut adaptive_engine(), &photos, Purpose::Enroll);
    eprintln!("refused at enrolment: reference {:?}; adaptive {:?}", reference.misses, adaptive.misses);
    for (path, reason) in &adaptive.misses {
        assert!(reference.misses.contains_key(path), "{path}: refused ({reason}) where the reference mode enrols it");
    }
}
