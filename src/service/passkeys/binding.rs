//! What a passkey signs on a face + passkey attempt: a challenge derived from the session and from
//! the digest of this attempt's capture, and from nothing else. The server never sends it: the
//! client computes it from what it is about to upload, the server recomputes it from what arrived,
//! so an assertion cannot be moved to another session and a capture cannot be swapped after it
//! was signed.
//!
//! `challenge = SHA-256("faceauth passkey v1\n" || hex(SHA-256(session_token)) || "\n" ||
//! hex(SHA-256(frame_1)) || "\n" || … || hex(SHA-256(frame_n)) || "\n")`, every frame of the
//! capture in upload order (one photo: one frame). Hex is lower case. The session is named by its
//! token's digest so a client needs nothing but the token it already holds.

use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"faceauth passkey v1\n";

/// The challenge for `session_token` and the frames whose SHA-256 (lower-case hex) are `digests`.
pub fn challenge(session_token: &str, digests: &[String]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(DOMAIN);
    hash.update(hex::encode(Sha256::digest(session_token.as_bytes())));
    hash.update(b"\n");
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

    #[test]
    fn the_challenge_is_a_function_of_the_session_and_the_capture_only() {
        let capture = digests(&[b"frame one", b"frame two"]);
        let base = challenge("session-a", &capture);
        assert_eq!(base, challenge("session-a", &capture), "the same inputs, the same challenge");
        assert_ne!(base, challenge("session-b", &capture), "another session");
        assert_ne!(base, challenge("session-a", &digests(&[b"frame one", b"frame 2"])), "a frame swapped");
        assert_ne!(base, challenge("session-a", &digests(&[b"frame two", b"frame one"])), "the order changed");
        assert_ne!(base, challenge("session-a", &digests(&[b"frame one"])), "a frame dropped");
        assert_ne!(
            base,
            challenge("session-a", &digests(&[b"frame one", b"frame two", b"frame two"])),
            "a frame added"
        );
    }

    #[test]
    fn the_derivation_is_the_documented_one() {
        // Written out by hand, as a client in another language would compute it.
        let frame = hex::encode(Sha256::digest(b"jpeg bytes"));
        let token = hex::encode(Sha256::digest(b"t0k3n"));
        let text = format!("faceauth passkey v1\n{token}\n{frame}\n");
        let expected: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        assert_eq!(challenge("t0k3n", &[frame]), expected);
    }
}
