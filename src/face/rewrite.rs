//! Which graph serves a model file: its exact rewrite, when one was made for these very bytes, or the
//! file itself.
//!
//! `scripts/rewrite-models.py` (run by `scripts/fetch-models.sh` after a download or conversion)
//! writes `NAME.fast.onnx` beside `NAME.onnx` only after checking, on fixed inputs, that it computes
//! what the source computes (`models/rewrites.json`), and records the source's sha256 in
//! `NAME.fast.onnx.json`. The source stays the model's identity (its digest picks the recognizer
//! profile and the licence); the rewrite is served only while its record names the bytes now
//! beside it, so a replaced source never runs through a stale rewrite.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::models::sha256_file;

/// What the rewrite script writes beside the graph it made.
#[derive(Debug, serde::Deserialize)]
struct Record {
    source_sha256: String,
}

/// The rewrite's path and record's path for a source `path` (`x.onnx` → `x.fast.onnx`).
fn rewrite_paths(path: &Path) -> Option<(PathBuf, PathBuf)> {
    let stem = path.file_stem()?.to_str()?;
    if path.extension()?.to_str()? != "onnx" || stem.ends_with(".fast") {
        return None;
    }
    let fast = path.with_file_name(format!("{stem}.fast.onnx"));
    let record = path.with_file_name(format!("{stem}.fast.onnx.json"));
    Some((fast, record))
}

/// Digests of sources already checked in this process: every worker opens each model, and hashing
/// the recognizer once per worker would only slow startup.
static CHECKED: Mutex<Option<HashMap<PathBuf, Option<PathBuf>>>> = Mutex::new(None);

/// The graph to open for the model file at `path`: its verified rewrite, or `path` itself.
pub fn served_graph(path: &Path) -> PathBuf {
    let mut checked = CHECKED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let known = checked.get_or_insert_with(HashMap::new);
    if let Some(choice) = known.get(path) {
        return choice.clone().unwrap_or_else(|| path.to_path_buf());
    }
    let choice = verified_rewrite(path);
    match &choice {
        Some(fast) => tracing::debug!(source = %path.display(), graph = %fast.display(), "serving the exact rewrite"),
        None if rewrite_paths(path).is_some_and(|(fast, _)| fast.is_file()) => tracing::warn!(
            source = %path.display(),
            "the rewritten graph beside this model was made from other bytes: serving the source (slower); run \
             scripts/fetch-models.sh again to rewrite it"
        ),
        None => {}
    }
    known.insert(path.to_path_buf(), choice.clone());
    choice.unwrap_or_else(|| path.to_path_buf())
}

fn verified_rewrite(path: &Path) -> Option<PathBuf> {
    let (fast, record) = rewrite_paths(path)?;
    if !fast.is_file() {
        return None;
    }
    let record: Record = serde_json::from_slice(&std::fs::read(record).ok()?).ok()?;
    let digest = sha256_file(path).ok()?;
    record.source_sha256.eq_ignore_ascii_case(&digest).then_some(fast)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_record(dir: &Path, stem: &str, sha: &str) {
        std::fs::write(dir.join(format!("{stem}.fast.onnx")), b"rewritten").unwrap();
        std::fs::write(dir.join(format!("{stem}.fast.onnx.json")), format!(r#"{{"source_sha256": "{sha}"}}"#)).unwrap();
    }

    #[test]
    fn a_rewrite_made_from_these_bytes_is_served() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("m.onnx");
        std::fs::write(&source, b"abc").unwrap();
        write_record(dir.path(), "m", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(served_graph(&source), dir.path().join("m.fast.onnx"));
    }

    #[test]
    fn a_rewrite_of_other_bytes_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("m.onnx");
        std::fs::write(&source, b"replaced").unwrap();
        write_record(dir.path(), "m", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(served_graph(&source), source);
    }

    #[test]
    fn no_record_or_no_rewrite_serves_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("m.onnx");
        std::fs::write(&source, b"abc").unwrap();
        assert_eq!(served_graph(&source), source);
        std::fs::write(dir.path().join("n.fast.onnx"), b"x").unwrap();
        let other = dir.path().join("n.onnx");
        std::fs::write(&other, b"abc").unwrap();
        assert_eq!(served_graph(&other), other, "a rewrite without its record is not trusted");
    }
}
