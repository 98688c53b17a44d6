//! Real photos often hold bystanders: the central subject must be the one embedded.

use faceauth::face::Purpose;
use faceauth::face::policy::prominence;

use crate::support::*;

#[test]
fn on_lfw_images_with_a_second_off_centre_face_the_central_subject_is_embedded() {
    let mut engine = engine(MOBILEFACENET);
    let mut cases = 0;
    for (path, _, entry) in dev_images() {
        if entry.width != Some(250) || entry.faces.len() < 2 {
            continue;
        }
        let image = engine.decode(&read(path)).unwrap();
        let faces = engine.detect(&image).unwrap();
        if faces.len() < 2 {
            continue;
        }
        let central = faces
            .iter()
            .min_by(|a, b| {
                let d = |f: &faceauth::face::Detection| {
                    ((f.bbox[0] + f.bbox[2]) / 2.0 - 125.0).hypot((f.bbox[1] + f.bbox[3]) / 2.0 - 125.0)
                };
                d(a).total_cmp(&d(b))
            })
            .unwrap()
            .clone();
        for purpose in [Purpose::Enroll, Purpose::Verify] {
            let analysis = engine.analyze(&read(path), purpose).unwrap_or_else(|e| panic!("{path} ({purpose:?}): {e}"));
            assert_eq!(analysis.face, central, "{path}: picked {:?}", analysis.face.bbox);
            let (_, central_embedding) = engine.embed_face(&image, &central).unwrap();
            assert_eq!(analysis.embedding, central_embedding);
        }
        assert!(prominence(&central, 250, 250) > 0.0);
        cases += 1;
    }
    assert!(cases >= 10, "only {cases} LFW images with a bystander were found");
    eprintln!("{cases} LFW images with a second face: the central subject was embedded in each");
}
