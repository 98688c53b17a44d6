//! Distinct captures: how close two photos' faces are as captures (`Analysis::capture_closeness`),
//! for real photos of one person at different poses (as a challenge's steps are) and for one photo
//! used twice (mirrored, re-encoded, rescaled, slightly cropped, brightened). The threshold verify
//! uses sits between the two.

use faceauth::face::{Analysis, Purpose};
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
    let mut jpeg70 = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg70, 70).encode_image(&image.to_rgb8()).unwrap();
    vec![
        ("mirrored", encode(&image.fliph(), ImageFormat::Png)),
        ("re-encoded", jpeg70),
        ("rescaled", encode(&image.resize(w * 7 / 10, h * 7 / 10, FilterType::Triangle), ImageFormat::Png)),
        ("cropped", encode(&image.crop_imm(w / 20, h / 20, w - w / 10, h - h / 10), ImageFormat::Png)),
        ("brighter", encode(&image.brighten(25), ImageFormat::Png)),
    ]
}

#[test]
fn copies_of_a_photo_are_closer_than_real_captures_of_one_person_at_different_poses() {
    let mut identities: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (path, identity, _) in dev_images() {
        identities.entry(identity).or_default().push(path.to_string());
    }
    let (mut real, mut copied) = (Vec::new(), Vec::new());
    for (person, photos) in identities {
        let analysed: Vec<(&String, Analysis)> =
            photos.iter().filter_map(|p| analyse(&read(p)).map(|a| (p, a))).collect();
        for (i, (a, qa)) in analysed.iter().enumerate() {
            for (b, qb) in &analysed[i + 1..] {
                // Poses as different as two steps of a challenge: a turn (18° of yaw) or a nod (15° of pitch).
                let (dyaw, dpitch) =
                    ((qa.quality.yaw - qb.quality.yaw).abs(), (qa.quality.pitch - qb.quality.pitch).abs());
                if dyaw >= 18.0 || dpitch >= 15.0 {
                    real.push((qa.capture_closeness(qb).0, format!("{a} ~ {b}")));
                }
            }
        }
        let first = &photos[0];
        let Some(base) = analyse(&read(first)) else { continue };
        for (how, copy) in copies(&read(first)) {
            if let Some(c) = analyse(&copy) {
                copied.push((base.capture_closeness(&c).0, format!("{person}: {how}")));
            }
        }
    }
    real.sort_by(|a, b| b.0.total_cmp(&a.0));
    copied.sort_by(|a, b| a.0.total_cmp(&b.0));
    eprintln!("distinct captures: {} real pairs at different poses, closest {:?}", real.len(), &real[..3]);
    eprintln!("copies: {}, least close {:?}", copied.len(), &copied[..3]);
    let threshold = faceauth::service::DISTINCT_CAPTURE_THRESHOLD;
    assert!(real.len() >= 50 && copied.len() >= 150, "{} real, {} copies", real.len(), copied.len());
    assert!(real[0].0 < threshold, "a real pair at or above {threshold}: {:?}", real[0]);
    assert!(copied[0].0 >= threshold, "a copy under {threshold}: {:?}", copied[0]);
}
