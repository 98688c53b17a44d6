//! References on the local filesystem: the zero-setup default for development.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use super::object::{ObjectStore, StoreError};

pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Keys are built from validated parts, but a path is only ever made from plain components.
    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        let rel = Path::new(key);
        if key.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(StoreError::Corrupt(format!("refusing unsafe key {key:?}")));
        }
        Ok(self.root.join(rel))
    }
}

fn io(err: std::io::Error) -> StoreError {
    match err.kind() {
        ErrorKind::PermissionDenied => StoreError::Denied(err.to_string()),
        _ => StoreError::Unavailable(err.to_string()),
    }
}

#[derive(PartialEq)]
enum Entry {
    File,
    Folder,
}

/// The names of one kind of entry in `dir`, hidden ones (temporary files) left out; a missing
/// folder is empty.
async fn entries(dir: &Path, kind: Entry) -> Result<Vec<String>, StoreError> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut names = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(io)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let file_type = entry.file_type().await.map_err(io)?;
        let wanted = if kind == Entry::File { file_type.is_file() } else { file_type.is_dir() };
        if wanted && !name.starts_with('.') {
            names.push(name);
        }
    }
    Ok(names)
}

#[async_trait]
impl ObjectStore for LocalStore {
    /// Written to a temporary name and renamed, so a reader never sees half a file.
    async fn put(&self, key: &str, body: Bytes, _content_type: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let dir = path.parent().expect("keys have a parent folder");
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, &body).await.map_err(io)?;
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io(e));
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(data) => Ok(Some(Bytes::from(data))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        // Prefixes end in '/' here (a user's folder), so listing is one directory read.
        let dir = match prefix.strip_suffix('/') {
            Some(d) if !d.is_empty() => self.path(d)?,
            _ => {
                return Err(StoreError::Corrupt(format!("listing needs a folder prefix, got {prefix:?}")));
            }
        };
        let names = entries(&dir, Entry::File).await?;
        Ok(names.into_iter().map(|name| format!("{prefix}{name}")).collect())
    }

    async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let dir = match prefix.strip_suffix('/') {
            Some(d) if !d.is_empty() => self.path(d)?,
            _ => self.root.clone(),
        };
        entries(&dir, Entry::Folder).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {
                // Leave no empty user folder behind; failure just means it is not empty.
                if let Some(dir) = path.parent() {
                    let _ = tokio::fs::remove_dir(dir).await;
                }
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    async fn check(&self) -> Result<Vec<String>, StoreError> {
        tokio::fs::create_dir_all(&self.root).await.map_err(io)?;
        Ok(vec![format!("local folder {} is writable", self.root.display())])
    }

    fn describe(&self) -> String {
        format!("local folder {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_list_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        store.put("users/a/1.json", Bytes::from_static(b"{}"), "application/json").await.unwrap();
        store.put("users/a/1.jpg", Bytes::from_static(b"img"), "image/jpeg").await.unwrap();
        assert_eq!(store.get("users/a/1.json").await.unwrap().unwrap(), Bytes::from_static(b"{}"));
        let mut keys = store.list("users/a/").await.unwrap();
        keys.sort();
        assert_eq!(keys, vec!["users/a/1.jpg", "users/a/1.json"]);
        store.delete("users/a/1.jpg").await.unwrap();
        store.delete("users/a/1.json").await.unwrap();
        assert!(store.get("users/a/1.json").await.unwrap().is_none());
        assert!(store.list("users/a/").await.unwrap().is_empty());
        assert!(!dir.path().join("users/a").exists(), "empty user folders are removed");
        store.probe("").await.unwrap();
    }

    #[tokio::test]
    async fn keys_that_climb_out_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        for key in ["../x", "/etc/passwd", "users/../../x", ""] {
            assert!(store.put(key, Bytes::new(), "x").await.is_err(), "{key}");
        }
    }
}
