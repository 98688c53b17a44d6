//! Replays caught by content (`service::liveness::replay`): every pair of different dev photos of
//! one identity is a new capture (never refused as a replay), and every disguised copy of a photo
//! (mirrored, re-encoded at quality 93 and 70, rescaled, cropped by a few pixels, brightened,
//! darkened) is the same capture. Prints the distances so the thresholds can be read off.

use faceauth::face::fingerprint::Distance;
use faceauth::face::{Analysis, Purpose};
use faceauth::service::liveness::replay::{MAX_DISTANCE, MAX_MIRRORED, same_capture};
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat};

use crate::support::*;

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut out), format).unwrap();
    out
}

fn analyse(bytes: &[u8]) -> Option<Analysis> {
    adaptive_engine().analyze(bytes, Purpose::Verify).ok()
}

/// One photo, used again: each way an attacker might disguise it.
fn copies(bytes: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let image = image::load_from_memory(bytes).unwrap();
    let (w, h) = (image.width(), image.height());
    let jpeg = |quality: u8| {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(&image.to_rgb8()).unwrap();
        out
    };
    vec![
        ("mirrored", encode(&image.fliph(), ImageFormat::Png)),
        ("re-encoded q93", jpeg(93)),
        ("re-encoded q70", jpeg(70)),
        ("rescaled", encode(&image.resize(w * 7 / 10, h * 7 / 10, FilterType::Triangle), ImageFormat::Png)),
        ("cropped 3 px", encode(&image.crop_imm(3, 3, w - 6, h - 6), ImageFormat::Png)),
        ("cropped 8 px", encode(&image.crop_imm(8, 4, w - 12, h - 8), ImageFormat::Png)),
        ("brighter", encode(&image.brighten(25), ImageFormat::Png)),
        ("darker", encode(&image.brighten(-25), ImageFormat::Png)),
        ("mirrored and brighter", encode(&image.fliph().brighten(20), ImageFormat::Png)),
    ]
}

#[test]
fn every_disguised_copy_is_the_same_capture_and_no_two_real_photos_of_one_person_are() {
    let mut identities: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (path, identity, _) in dev_images() {
        identities.entry(identity).or_default().push(path.to_string());
    }
    let (mut real, mut copied) = (Vec::new(), Vec::new());
    let (mut real_refused, mut copies_missed) = (Vec::new(), Vec::new());
    let (mut kinds, mut names) = (Vec::new(), Vec::new());
    for (person, photos) in identities {
        let analysed: Vec<(&String, Analysis)> =
            photos.iter().filter_map(|p| analyse(&read(p)).map(|a| (p, a))).collect();
        for (i, (a, qa)) in analysed.iter().enumerate() {
            for (b, qb) in &analysed[i + 1..] {
                // The same photo cropped and downscaled (the README of ../shared/faces lists the
                // set's other near-duplicates; this one is refused as the copy it is).
                if a.ends_with("facerec_obama.jpg") && b.ends_with("facerec_obama_small.jpg") {
                    let d = qa.fingerprint.distance(&qb.fingerprint);
                    if !same_capture(&qa.fingerprint, &qb.fingerprint) {
                        copies_missed.push(format!("obama_small is a copy: {d:?}"));
                    }
                    copied.push(d);
                    kinds.push("near-duplicate in the set");
                    continue;
                }
                let d = qa.fingerprint.distance(&qb.fingerprint);
                if same_capture(&qa.fingerprint, &qb.fingerprint) {
                    real_refused.push(format!("{a} ~ {b}: {d:?}"));
                }
                real.push(d);
                names.push(format!("{a}~{b}"));
            }
        }
        for (photo, base) in analysed.iter().take(2) {
            for (how, copy) in copies(&read(photo)) {
                if let Some(c) = analyse(&copy) {
                    let d = base.fingerprint.distance(&c.fingerprint);
                    if !same_capture(&base.fingerprint, &c.fingerprint) {
                        copies_missed.push(format!("{person} {how}: {d:?}"));
                    }
                    copied.push(d);
                    kinds.push(how);
                }
            }
        }
    }
    let sum = |d: &Distance| 2 * d.hash + d.sketch;
    let flipped = |d: &Distance| 2 * d.mirrored + d.sketch;
    let direct = |k: &&str| !k.starts_with("mirrored");
    eprintln!(
        "replay: {} real pairs (2 hash + sketch >= {}, 2 mirrored hash + sketch >= {}), {} copies (unmirrored: 2 \
         hash + sketch <= {}; mirrored: 2 mirrored hash + sketch <= {}); thresholds {MAX_DISTANCE}, {MAX_MIRRORED}",
        real.len(),
        real.iter().map(sum).min().unwrap(),
        real.iter().map(flipped).min().unwrap(),
        copied.len(),
        copied.iter().zip(&kinds).filter(|(_, k)| direct(k)).map(|(d, _)| sum(d)).max().unwrap(),
        copied.iter().zip(&kinds).filter(|(_, k)| !direct(k)).map(|(d, _)| flipped(d)).max().unwrap(),
    );
    if let Some(path) = std::env::var_os("REPLAY_DUMP") {
        let rows: Vec<String> = real
            .iter()
            .zip(&names)
            .map(|(d, n)| format!("real\t{}\t{}\t{}\t{n}", d.hash, d.mirrored, d.sketch))
            .chain(
                copied.iter().zip(&kinds).map(|(d, k)| format!("copy\t{}\t{}\t{}\t{k}", d.hash, d.mirrored, d.sketch)),
            )
            .collect();
        std::fs::write(path, rows.join("\n")).unwrap();
    }
    eprintln!("real pairs refused: {real_refused:?}\ncopies missed: {copies_missed:?}");
    assert!(real.len() >= 190 && copied.len() >= 700, "{} real, {} copies", real.len(), copied.len());
    assert!(real_refused.is_empty(), "new photos of one person refused as replays: {real_refused:?}");
    assert!(copies_missed.is_empty(), "copies not caught: {copies_missed:?}");
}
