//! Identifying model files: sha256 digests and the recognizer profile they imply.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::profile::ModelProfile;

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("RECOGNIZER_PROFILE={name} is not a known profile: use one of {known}")]
    Unknown { name: String, known: String },
    #[error(
        "the recognizer file (sha256 {digest}…) is not a pinned model, so its preprocessing is unknown: set \
         RECOGNIZER_PROFILE to one of {known}"
    )]
    Unpinned { digest: String, known: String },
}

/// The profile for a recognizer: the configured name wins, else the one pinned to the file's digest.
pub fn resolve_profile(sha256: &str, configured: Option<&str>) -> Result<ModelProfile, ProfileError> {
    let known = || ModelProfile::builtin().iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
    match configured {
        Some(name) => ModelProfile::by_name(name)
            .cloned()
            .ok_or_else(|| ProfileError::Unknown { name: name.to_string(), known: known() }),
        None => ModelProfile::by_sha256(sha256).cloned().ok_or_else(|| ProfileError::Unpinned {
            digest: sha256[..12.min(sha256.len())].to_string(),
            known: known(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_a_known_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(sha256_file(&path).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn unknown_files_need_a_configured_profile() {
        assert!(resolve_profile("00", None).unwrap_err().to_string().contains("RECOGNIZER_PROFILE"));
        assert_eq!(resolve_profile("00", Some("sface")).unwrap().name, "sface");
        assert!(resolve_profile("00", Some("bogus")).is_err());
    }
}
