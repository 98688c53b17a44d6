//! Accuracy on every genuine and impostor pair of the dev set, against the reference pipeline.

use faceauth::face::{Embedding, Purpose};

use crate::support::*;

fn no_worse_than_reference(recognizer: &str) {
    let mut engine = engine(recognizer);
    let threshold = dev_threshold(recognizer);
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for (path, identity, entry) in dev_images() {
        if let Some(e) = entry.embeddings.get(recognizer) {
            theirs.push((identity.clone(), e.clone()));
        }
        match engine.analyze(&read(path), Purpose::Verify) {
            Ok(a) => ours.push((identity, a.embedding.as_slice().to_vec())),
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
    let (o, r) = (count(&ours, threshold), count(&theirs, threshold));
    eprintln!(
        "{recognizer} at {threshold}: ours FRR {}/{} FAR {}/{}; reference FRR {}/{} FAR {}/{}",
        o.false_rejects,
        o.genuine,
        o.false_accepts,
        o.impostor,
        r.false_rejects,
        r.genuine,
        r.false_accepts,
        r.impostor
    );
    assert_eq!((o.genuine, o.impostor), (195, 8716), "every dev image with a reference face is embedded");
    assert!(o.false_rejects <= r.false_rejects, "false rejects {} > reference {}", o.false_rejects, r.false_rejects);
    assert!(o.false_accepts <= r.false_accepts, "false accepts {} > reference {}", o.false_accepts, r.false_accepts);
    // Keep Embedding in the public API honest: what the engine returns is unit length.
    assert!(ours.iter().all(|(_, e)| {
        (Embedding::from_raw(e.clone()).unwrap().cosine(&Embedding::from_raw(e.clone()).unwrap()) - 1.0).abs() < 1e-5
    }));
}

#[test]
fn mobilefacenet_rejects_and_accepts_no_more_than_the_reference_at_its_threshold() {
    no_worse_than_reference(MOBILEFACENET);
}

#[test]
fn sface_rejects_and_accepts_no_more_than_the_reference_at_its_threshold() {
    no_worse_than_reference(SFACE);
}
