//! The dev set through HTTP with the default pack, beside SCRFD-500M with the same recognizer, in one
//! run: every photo found, and the genuine and impostor answers at each one's shipped threshold.
//!
//! Each identity's first photo that enrols is its reference; each of its other photos is a genuine
//! attempt, and each photo is also tried as the next identity (an impostor attempt). 95 genuine and
//! 135 impostor attempts: too few to measure FMR 1e-4 (that figure comes from `faceauth calibrate`,
//! README "Model packs"), enough to catch a pack that finds fewer faces or refuses its own users.

use std::collections::BTreeMap;

use crate::helpers::*;

#[derive(Debug, Default, PartialEq)]
struct Outcome {
    photos: usize,
    no_face: Vec<String>,
    genuine: usize,
    false_rejects: usize,
    impostor: usize,
    false_accepts: usize,
}

fn dev_identities() -> BTreeMap<String, Vec<String>> {
    let dir =
        std::env::var("FACES_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| root().join("../shared/faces"));
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("dev")).unwrap().flatten() {
        let mut photos: Vec<String> = std::fs::read_dir(entry.path())
            .unwrap()
            .flatten()
            .map(|p| format!("dev/{}/{}", entry.file_name().to_string_lossy(), p.file_name().to_string_lossy()))
            .collect();
        photos.sort();
        out.insert(entry.file_name().to_string_lossy().into_owned(), photos);
    }
    out
}

async fn run(app: &TestApp, identities: &BTreeMap<String, Vec<String>>) -> Outcome {
    let mut outcome = Outcome::default();
    let mut probes = Vec::new();
    for (identity, photos) in identities {
        let mut enrolled = false;
        for photo in photos {
            outcome.photos += 1;
            if !enrolled {
                let reply = app.register(identity, photo).await;
                match (reply.status, reply.code()) {
                    (201, _) => {
                        enrolled = true;
                        continue;
                    }
                    (422, "no_face") => outcome.no_face.push(photo.clone()),
                    // Refused by the quality gate: a found face, tried next as a probe.
                    _ => {}
                }
            }
            probes.push((identity.clone(), photo.clone()));
        }
    }
    let names: Vec<&String> = identities.keys().collect();
    for (identity, photo) in &probes {
        let genuine = app.verify(identity, photo).await;
        if genuine.code() == "no_face" {
            outcome.no_face.push(photo.clone());
            continue;
        }
        outcome.genuine += 1;
        outcome.false_rejects += usize::from(genuine.body["verified"] != true);
    }
    for (identity, photos) in identities {
        let at = names.iter().position(|n| *n == identity).unwrap();
        let other = names[(at + 1) % names.len()];
        for photo in photos {
            let impostor = app.verify(other, photo).await;
            if impostor.status == 200 {
                outcome.impostor += 1;
                outcome.false_accepts += usize::from(impostor.body["verified"] == true);
            }
        }
    }
    outcome
}

#[tokio::test]
async fn the_dev_set_through_http_every_face_found_and_answered_at_the_shipped_threshold_beside_scrfd() {
    let identities = dev_identities();
    let limits_off =
        [("LOCKOUT_MAX_FAILURES", "0"), ("LOCKOUT_USER_MAX_FAILURES", "0"), ("LOCKOUT_DISABLE_AFTER", "0")];
    let open = spawn(&limits_off);
    let mut scrfd_env = limits_off.to_vec();
    scrfd_env.push(("DETECTOR_MODEL", "det_500m.onnx"));
    let scrfd = spawn(&scrfd_env);
    let (ours, theirs) = tokio::join!(run(&open, &identities), run(&scrfd, &identities));
    for (name, o) in [("open pack (0.472)", &ours), ("SCRFD-500M + SFace (0.4365)", &theirs)] {
        eprintln!(
            "{name}: {} photos, no face in {:?}; genuine {} refused of {}; impostor {} accepted of {}",
            o.photos, o.no_face, o.false_rejects, o.genuine, o.false_accepts, o.impostor
        );
    }
    assert_eq!(ours.photos, 135);
    assert!(ours.no_face.is_empty(), "the open pack finds every dev face: {:?}", ours.no_face);
    assert!(ours.no_face.len() <= theirs.no_face.len());
    assert_eq!(ours.false_accepts, 0, "no impostor accepted at the shipped threshold");
    // The open pack runs stricter (FMR 1e-4 measured for it) than SCRFD's point: it may refuse one
    // or two more of its own users' photos, not more.
    assert!(ours.false_rejects <= theirs.false_rejects + 2, "{ours:?} vs {theirs:?}");
    assert!(ours.false_rejects * 100 <= ours.genuine * 5, "at most 5 % of genuine attempts refused: {ours:?}");
}
