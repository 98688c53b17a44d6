//! Replays caught by their content: a verify photo or capture frame that was already presented
//! within REPLAY_WINDOW_SECS is refused even re-encoded, rescaled, cropped by a few pixels,
//! mirrored or brightness-shifted. Exact bytes are caught by their digests (the replay memory's
//! older half); this half compares fingerprints (`face::fingerprint`): the aligned face's
//! perceptual hash and the embedding's sketch, their distances added, must be close. A new photo of the same person
//! has the same identity (a close sketch) but not the same pixels; a copy of another person's photo
//! at the same pose has close pixels but another identity. Both thresholds are calibrated on the dev
//! photos (`tests/pipeline/replay.rs`: every pair of different photos of one identity, and every
//! copy of each photo). The look happens before the attempt is judged and again after its own
//! fingerprints are stored (`service/verify.rs`), so two copies racing are both refused.

use crate::face::fingerprint::Fingerprint;

/// Two fingerprints are one capture when their hashes' and sketches' Hamming distances add up to at
/// most this (of 63 + 1024 bits). On the dev photos (`tests/pipeline/replay.rs`): disguised copies
/// at most 122, different photos of one person at least 152; the threshold sits between, a little
/// toward the copies (a refused genuine photo costs the user a retry; a missed copy still has to
/// pass the challenge).
pub const MAX_DISTANCE: u32 = 136;

/// How the replay memory stores a fingerprint, apart from digests.
const PREFIX: &str = "fp:";

pub fn remembered_as(fingerprint: &Fingerprint) -> String {
    format!("{PREFIX}{}", fingerprint.to_hex())
}

/// Whether one of `new` is a presentation of one of the remembered entries.
pub fn seen_before(new: &[Fingerprint], remembered: &[String]) -> bool {
    let known: Vec<Fingerprint> =
        remembered.iter().filter_map(|e| e.strip_prefix(PREFIX)).filter_map(Fingerprint::from_hex).collect();
    new.iter().any(|f| known.iter().any(|k| same_capture(f, k)))
}

pub fn same_capture(a: &Fingerprint, b: &Fingerprint) -> bool {
    let (hash, sketch) = a.distance(b);
    hash + sketch <= MAX_DISTANCE
}
