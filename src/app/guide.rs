//! The web SDK's face guide: MediaPipe Face Mesh (npm `@mediapipe/face_mesh`, Apache-2.0), the
//! in-browser landmarks that let the SDK move the oval with the face and start the capture only
//! when the face is centred, near enough and lit. faceauth serves the files itself (no CDN: a page
//! that signs people in should not run code from a third party's server), and only the exact
//! files of the pinned release: each one's sha256 is checked when it is loaded, before the port
//! is bound, so an altered `node_modules` stops startup rather than reaching browsers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// The package release, which is also the URL segment (so a new release is a new URL and the old
/// one can be cached forever).
pub const VERSION: &str = "0.4.1633559619";

/// Every file the package's loader fetches, with its sha256 in that release. The loader picks the
/// SIMD build where the browser has WebAssembly SIMD, the plain one elsewhere.
const FILES: &[(&str, &str, &str)] = &[
    (
        "face_mesh.js",
        "text/javascript; charset=utf-8",
        "5db8555ac80ca2ad7366fbb3ea53c0d0959609fc9abb7b8be37a74ec1ac4ba9c",
    ),
    (
        "face_mesh.binarypb",
        "application/octet-stream",
        "139546bf05aebb33e2611b6b945f3a1629c316ca924e33cec1547c85ddef9f53",
    ),
    (
        "face_mesh_solution_packed_assets_loader.js",
        "text/javascript; charset=utf-8",
        "e5de8685b299184813f7cec668e499023937ae521b70f60cd0fc4832930446e0",
    ),
    (
        "face_mesh_solution_packed_assets.data",
        "application/octet-stream",
        "dbe5905c582c0462cdaea17e7e6ecea92edaa8cccc515c5e2e7291f2cbb5fb99",
    ),
    (
        "face_mesh_solution_simd_wasm_bin.js",
        "text/javascript; charset=utf-8",
        "ca291877afb9c13308cf6be42f23cd39f1adf0036bb63ecad2ce16073bcf07c7",
    ),
    (
        "face_mesh_solution_simd_wasm_bin.wasm",
        "application/wasm",
        "fb9e9cfe8b83a914e40eab2efd3b0d92a61f82a7c968589f223ab2a7e331d314",
    ),
    (
        "face_mesh_solution_wasm_bin.js",
        "text/javascript; charset=utf-8",
        "0a532ae8450e7e5f2788cc92ad190210f721446d3fd9cb259fdda958e66102c1",
    ),
    (
        "face_mesh_solution_wasm_bin.wasm",
        "application/wasm",
        "54522fa25c505bf094242f969b4e4919125eb0dadccb568f2af171bbd65865f9",
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum GuideError {
    #[error("{} cannot be read", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("{} is not the file of @mediapipe/face_mesh@{VERSION} (sha256 {found})", path.display())]
    Altered { path: PathBuf, found: String },
}

impl GuideError {
    /// Missing files are an install step not taken; altered ones are never served.
    pub fn is_missing(&self) -> bool {
        matches!(self, GuideError::Unreadable { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// One served file.
#[derive(Clone)]
pub struct GuideFile {
    pub content_type: &'static str,
    pub body: Bytes,
}

/// The checked files, in memory (about 21 MB, both builds): served without touching the disk again.
pub struct GuideAssets {
    files: HashMap<&'static str, GuideFile>,
}

impl GuideAssets {
    /// Reads and checks every file of the release in `dir`.
    pub fn load(dir: &Path) -> Result<Self, GuideError> {
        let mut files = HashMap::with_capacity(FILES.len());
        for &(name, content_type, sha256) in FILES {
            let path = dir.join(name);
            let body = std::fs::read(&path).map_err(|source| GuideError::Unreadable { path: path.clone(), source })?;
            let found = hex::encode(Sha256::digest(&body));
            if found != sha256 {
                return Err(GuideError::Altered { path, found });
            }
            files.insert(name, GuideFile { content_type, body: Bytes::from(body) });
        }
        Ok(Self { files })
    }

    /// A file by its name in the release; anything else in the folder is not served.
    pub fn get(&self, name: &str) -> Option<&GuideFile> {
        self.files.get(name)
    }

    /// What a browser downloads to run the guide: the SIMD build (every current browser).
    pub fn load_size(&self) -> usize {
        self.files.iter().filter(|(name, _)| !name.contains("_solution_wasm_bin")).map(|(_, f)| f.body.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_install_is_told_apart_from_an_altered_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = GuideAssets::load(dir.path()).err().expect("nothing installed");
        assert!(missing.is_missing());
        std::fs::write(dir.path().join("face_mesh.js"), "alert(1)").unwrap();
        let altered = GuideAssets::load(dir.path()).err().expect("an altered file is refused");
        assert!(!altered.is_missing());
        assert!(altered.to_string().contains("is not the file of @mediapipe/face_mesh@0.4.1633559619"), "{altered}");
    }
}
