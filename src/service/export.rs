//! The user's own data as a ZIP (GDPR Art. 15): every photo as uploaded (opened if sealed), every
//! sidecar (the embeddings are the user's data too), then `manifest.json` with the consent records
//! and the retention status.
//!
//! Streamed: one reference's photo is in memory at a time, however many the user has. What can
//! fail for a reason the caller should hear (no such user, storage down) fails before the first
//! byte, as a JSON error; a failure after it ends the stream early, and the archive, lacking its
//! central directory, does not open (an unzip tool says so) rather than open incomplete.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zip::write::{SimpleFileOptions, StreamWriter};

use super::error::ServiceError;
use super::facade::FaceAuth;
use crate::domain::UserId;
use crate::store::{ReferenceStore, StoreError, StoredReference};

pub type ExportStream = BoxStream<'static, Result<Bytes, ServiceError>>;

/// Where the ZIP writer puts its bytes; drained into the stream after each file.
#[derive(Clone, Default)]
struct Chunks(Arc<Mutex<Vec<u8>>>);

impl Write for Chunks {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Chunks {
    fn take(&self) -> Bytes {
        Bytes::from(std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner())))
    }
}

struct Archive {
    refs: ReferenceStore,
    pending: VecDeque<StoredReference>,
    zip: Option<zip::ZipWriter<StreamWriter<Chunks>>>,
    out: Chunks,
    manifest: Value,
    files: Vec<Value>,
}

fn corrupt(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Storage(StoreError::Corrupt(e.to_string()))
}

/// Photos are JPEG/PNG/WebP already: compressing them again gains nothing.
fn stored() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored)
}

impl Archive {
    /// Adds the next reference (photo and sidecar), or the manifest and the directory at the end;
    /// `None` once the archive is complete.
    async fn next_chunk(&mut self) -> Option<Result<Bytes, ServiceError>> {
        let zip = self.zip.as_mut()?;
        let step = match self.pending.pop_front() {
            Some(reference) => Self::add(&self.refs, zip, &reference, &mut self.files).await,
            None => {
                self.manifest["files"] = Value::Array(std::mem::take(&mut self.files));
                let manifest = serde_json::to_vec_pretty(&self.manifest).map_err(corrupt);
                let zip = self.zip.take()?;
                manifest.and_then(|m| Self::finish(zip, &m))
            }
        };
        if step.is_err() {
            // Nothing more after a failure: the archive stays without its directory.
            self.zip = None;
        }
        Some(step.map(|()| self.out.take()))
    }

    async fn add(
        refs: &ReferenceStore,
        zip: &mut zip::ZipWriter<StreamWriter<Chunks>>,
        reference: &StoredReference,
        files: &mut Vec<Value>,
    ) -> Result<(), ServiceError> {
        let (key, content_type) = reference.photo_key();
        let extension = key.rsplit('.').next().unwrap_or("jpg");
        if let Some(photo) = refs.photo(reference).await? {
            let name = format!("photos/{}.{extension}", reference.reference_id());
            zip.start_file(&name, stored()).map_err(corrupt)?;
            zip.write_all(&photo).map_err(corrupt)?;
            files.push(json!({ "file": name, "content_type": content_type, "sha256": reference.photo_sha256() }));
        }
        let name = format!("references/{}.json", reference.reference_id());
        zip.start_file(&name, stored()).map_err(corrupt)?;
        zip.write_all(&reference.sidecar_json()?).map_err(corrupt)?;
        files.push(json!({ "file": name, "content_type": "application/json" }));
        Ok(())
    }

    fn finish(mut zip: zip::ZipWriter<StreamWriter<Chunks>>, manifest: &[u8]) -> Result<(), ServiceError> {
        zip.start_file("manifest.json", stored()).map_err(corrupt)?;
        zip.write_all(manifest).map_err(corrupt)?;
        zip.finish().map_err(corrupt)?;
        Ok(())
    }
}

impl FaceAuth {
    /// The user's export as a stream of ZIP bytes; `UserNotFound` and storage failures come before
    /// the stream starts.
    pub async fn export(&self, user: &UserId) -> Result<ExportStream, ServiceError> {
        let record = self.user_record(user).await?;
        let references = self.refs.load(user).await?;
        let out = Chunks::default();
        let manifest = json!({
            "user_id": user.as_str(),
            "exported_at": OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
            "references": record.reference_ids,
            "consents": record.consents,
            "retention": record.retention,
            "passkeys": record.passkeys.iter().map(|p| json!({
                "credential_id": p.credential_id,
                "registered_at": p.registered_at,
                "last_used_at": p.last_used_at,
                "counter": p.counter,
                "transports": p.transports,
                "user_verified": p.user_verified,
                "backup_eligible": p.backup_eligible,
            })).collect::<Vec<_>>(),
            "model": self.faces.model_name(),
        });
        let archive = Archive {
            refs: self.refs.clone(),
            pending: references.into(),
            zip: Some(zip::ZipWriter::new_stream(out.clone())),
            out,
            manifest,
            files: Vec::new(),
        };
        Ok(stream::unfold(
            archive,
            |mut archive| async move { archive.next_chunk().await.map(|chunk| (chunk, archive)) },
        )
        .boxed())
    }
}
