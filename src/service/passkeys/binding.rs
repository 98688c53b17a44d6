//! What a passkey signs on a face + passkey attempt: a challenge derived from the session and from
//! everything of this attempt that shapes the verdict — how many images, each image's digest, the
//! capture's times and whether it showed the colours — and from nothing else. The server never
//! sends it: the client computes it from what it is about to upload, the server recomputes it from
//! what arrived, so an assertion cannot be moved to another session and nothing it covers can be
//! changed after it was signed (v1 covered the images only: the same assertion was accepted with
//! retimed frames or with `capture_light=declined`).
//!
//! ```text
//! challenge = SHA-256("faceauth passkey v2\n"
//!     || hex(SHA-256(session_token)) || "\n"
//!     || "images " || n || "\n"
//!     || "capture_ms " || hex(SHA-256(the capture_ms field's bytes as sent)) || "\n"   ("-" for a photo)
//!     || "capture_light " || ("shown" | "declined") || "\n"                           ("-" for a photo)
//!     || hex(SHA-256(image_1)) || "\n" || … || hex(SHA-256(image_n)) || "\n")
//! ```
//!
//! Every image in upload order (one photo: one image); hex is lower case; `n` in decimal. The times
//! are named by the digest of the field's exact bytes, so no client has to reproduce the server's
//! reading of a JSON number. A missing `capture_light` is `shown`, as the verify reads it.

use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"faceauth passkey v2\n";

/// What of the attempt besides its images the assertion covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    /// One photo.
    Photo,
    /// A capture: the hex SHA-256 of its `capture_ms` field's bytes, and whether it declined the colours.
    Capture { times_sha256: &'a str, light_declined: bool },
}

/// The challenge for `session_token`, the images whose SHA-256 (lower-case hex) are `digests`, and `answer`.
pub fn challenge(session_token: &str, digests: &[String], answer: Answer<'_>) -> [u8; 32] {
    let (times, light) = match answer {
        Answer::Photo => ("-", "-"),
        Answer::Capture { times_sha256, light_declined } => {
            (times_sha256, if light_declined { "declined" } else { "shown" })
        }
    };
    let mut hash = Sha256::new();
    hash.update(DOMAIN);
    hash.update(hex::encode(Sha256::digest(session_token.as_bytes())));
    hash.update(format!("\nimages {}\ncapture_ms {times}\ncapture_light {light}\n", digests.len()));
    for digest in digests {
        hash.update(digest.as_bytes());
        hash.update(b"\n");
    }
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests(frames: &[&[u8]]) -> Vec<String> {
        frames.iter().map(|f| hex::encode(Sha256::digest(f))).collect()
    }

    fn capture(times: &str, light_declined: bool) -> ([u8; 32], String) {
        let times = hex::encode(Sha256::digest(times.as_bytes()));
        let answer = Answer::Capture { times_sha256: &times, light_declined };
        (challenge("session-a", &digests(&[b"frame one", b"frame two"]), answer), times)
    }

    #[test]
    fn the_challenge_is_a_function_of_the_session_and_everything_that_shapes_the_verdict() {
        let images = digests(&[b"frame one", b"frame two"]);
        let base = challenge("session-a", &images, Answer::Photo);
        assert_eq!(base, challenge("session-a", &images, Answer::Photo), "the same inputs, the same challenge");
        assert_ne!(base, challenge("session-b", &images, Answer::Photo), "another session");
        let swapped = digests(&[b"frame one", b"frame 2"]);
        assert_ne!(base, challenge("session-a", &swapped, Answer::Photo), "a frame swapped");
        let reordered = digests(&[b"frame two", b"frame one"]);
        assert_ne!(base, challenge("session-a", &reordered, Answer::Photo), "the order changed");
        assert_ne!(base, challenge("session-a", &digests(&[b"frame one"]), Answer::Photo), "a frame dropped");
        let added = digests(&[b"frame one", b"frame two", b"frame two"]);
        assert_ne!(base, challenge("session-a", &added, Answer::Photo), "a frame added");

        let (shown, _) = capture("[0,66.6]", false);
        assert_ne!(shown, base, "a capture is not a photo");
        assert_ne!(shown, capture("[0,66.7]", false).0, "retimed");
        assert_ne!(shown, capture("[0, 66.6]", false).0, "the field's bytes, not its reading");
        assert_ne!(shown, capture("[0,66.6]", true).0, "the colours declined");
    }

    #[test]
    fn the_derivation_is_the_documented_one() {
        // Written out by hand, as a client in another language would compute it.
        let frame = hex::encode(Sha256::digest(b"jpeg bytes"));
        let token = hex::encode(Sha256::digest(b"t0k3n"));
        let text = format!("faceauth passkey v2\n{token}\nimages 1\ncapture_ms -\ncapture_light -\n{frame}\n");
        let expected: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        assert_eq!(challenge("t0k3n", std::slice::from_ref(&frame), Answer::Photo), expected);

        let times = hex::encode(Sha256::digest(b"[0,66.6]"));
        let text =
            format!("faceauth passkey v2\n{token}\nimages 1\ncapture_ms {times}\ncapture_light declined\n{frame}\n");
        let expected: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        let answer = Answer::Capture { times_sha256: &times, light_declined: true };
        assert_eq!(challenge("t0k3n", &[frame], answer), expected);
    }
}
