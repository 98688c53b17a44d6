//! The audit trail: one structured record per biometric event (register, replace, delete, verify,
//! session, unlock, export, consent, retention deletion), in the log as always and, with
//! `AUDIT_S3_PREFIX`, in JSON-lines objects in the bucket.
//!
//! Records are written before the API answers the operation they record (`commit`: concurrent
//! requests share one object), and whatever is left (the retention sweep's) once per
//! `AUDIT_FLUSH_SECS`; an object is written once and never changed (a failed write is retried with the same bytes under
//! the same key), so the prefix can sit under S3 Object Lock. Each record carries the instance and
//! a sequence number, so a reader can tell a gap from a quiet period. A write that fails is
//! visible (a metric, `/ready` detail, a warning) and loses nothing: records stay buffered up to
//! `AUDIT_BUFFER_RECORDS`; past that, biometric operations are refused (`503 audit_unavailable`)
//! rather than happen unrecorded. A graceful stop and the CLI commands flush before they exit.
//!
//! **Write-ahead.** An operation that changes stored biometric data (a register or replace, a
//! delete) first writes an `intent` record — the event, the user and the request id — and waits
//! until it is durable ([`AuditTrail::intend`]); only then does the change happen, and the
//! outcome record (`ok` or `error`, same request id) follows it before the answer. A trail that
//! cannot take the intent refuses the change (`503 audit_unavailable`). So after a SIGKILL at any
//! point every stored reference has a record before it, every `ok` or `error` record is true, and
//! an `intent` without an outcome says exactly what is unknown: the change of that request may or
//! may not have happened (the bucket says which).
//!
//! No photo, embedding, key or secret is ever part of a record: user id, key id and kind, event,
//! outcome, the failure's code and the request id.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::Caller;
use crate::domain::UserId;
use crate::store::{ObjectStore, StoreError};

/// Who caused an event: a caller's key, or the service itself (the retention sweep).
#[derive(Clone, Copy)]
pub enum Actor<'a> {
    Key(&'a Caller),
    Service(&'static str),
}

impl Actor<'_> {
    fn key(&self) -> (&str, &str) {
        match self {
            Actor::Key(caller) => (caller.key().map(|k| k.id.as_str()).unwrap_or("none"), caller.kind()),
            Actor::Service(what) => ("none", what),
        }
    }
}

/// One biometric event, as the caller knows it.
pub struct Event<'a> {
    pub kind: &'static str,
    pub user: &'a UserId,
    pub actor: Actor<'a>,
    /// `Err` with the error when the operation failed; its chain is logged, its text is not stored.
    pub outcome: Result<(), &'a (dyn std::error::Error + 'static)>,
    /// A short, bounded word about the result: `match`/`no_match`, the error code, a notice id.
    pub detail: Option<&'a str>,
}

#[derive(Serialize)]
struct Record<'a> {
    seq: u64,
    at: String,
    instance: &'a str,
    event: &'a str,
    user_id: &'a str,
    key_id: &'a str,
    key_kind: &'a str,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    request_id: String,
}

/// Refused because records could not be written and the buffer is full.
#[derive(Debug, thiserror::Error)]
#[error("the audit trail cannot be written ({buffered} records waiting): biometric operations are paused")]
pub struct AuditUnavailable {
    pub buffered: usize,
}

/// What `/ready` says about the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditStatus {
    pub buffered: usize,
    /// The last write's failure, while writes fail.
    pub failing: Option<String>,
    pub full: bool,
}

struct Durable {
    objects: Arc<dyn ObjectStore>,
    prefix: String,
    capacity: usize,
    lines: Mutex<VecDeque<String>>,
    /// The batch being written: key, bytes and how many lines it took; retried as it is.
    pending: tokio::sync::Mutex<Option<(String, Bytes, usize)>>,
    /// Lines in `pending`, readable without waiting for a write in progress.
    pending_lines: AtomicUsize,
    failing: Mutex<Option<String>>,
}

#[derive(Clone)]
pub struct AuditTrail {
    durable: Option<Arc<Durable>>,
    instance: Arc<str>,
    seq: Arc<AtomicU64>,
}

impl AuditTrail {
    /// Records go to the log only.
    pub fn log_only() -> Self {
        Self { durable: None, instance: instance_id().into(), seq: Arc::new(AtomicU64::new(0)) }
    }

    /// Records also go to `prefix` in `objects`.
    pub fn durable(objects: Arc<dyn ObjectStore>, prefix: &str, capacity: usize) -> Self {
        let durable = Durable {
            objects,
            prefix: prefix.to_string(),
            capacity,
            lines: Mutex::new(VecDeque::new()),
            pending: tokio::sync::Mutex::new(None),
            pending_lines: AtomicUsize::new(0),
            failing: Mutex::new(None),
        };
        Self { durable: Some(Arc::new(durable)), ..Self::log_only() }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Whether a biometric operation may go ahead: refused while its record could not be kept.
    pub fn admit(&self) -> Result<(), AuditUnavailable> {
        let Some(durable) = &self.durable else { return Ok(()) };
        let buffered = durable.buffered();
        if buffered >= durable.capacity { Err(AuditUnavailable { buffered }) } else { Ok(()) }
    }

    pub fn record(&self, event: Event<'_>) {
        let (key_id, key_kind) = event.actor.key();
        let user_id = event.user.as_str();
        let detail = event.detail;
        match event.outcome {
            Ok(()) => {
                tracing::info!(target: "audit", event = event.kind, user_id, key_id, key_kind, outcome = "ok", detail)
            }
            Err(e) => {
                let reason = crate::telemetry::chain(e);
                tracing::info!(target: "audit", event = event.kind, user_id, key_id, key_kind, outcome = "error", detail, reason = %reason)
            }
        }
        let Some(durable) = &self.durable else { return };
        let record = Record {
            seq: self.seq.fetch_add(1, Ordering::SeqCst),
            at: OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
            instance: &self.instance,
            event: event.kind,
            user_id,
            key_id,
            key_kind,
            outcome: if event.outcome.is_ok() { "ok" } else { "error" },
            detail,
            request_id: crate::telemetry::request::current_request_id(),
        };
        match serde_json::to_string(&record) {
            Ok(line) => {
                let mut lines = durable.lines.lock().unwrap_or_else(|p| p.into_inner());
                lines.push_back(line);
                metrics::gauge!("faceauth_audit_buffered_records").set(lines.len() as f64);
            }
            Err(e) => tracing::error!(error = %e, "an audit record could not be serialised"),
        }
    }

    /// Write-ahead: records that `kind` is about to change `user`'s stored data (outcome `intent`,
    /// the request id linking it to the outcome record) and returns once the record is durable.
    /// Without a durable trail (log only) the log line is the record. Fails, and the caller must
    /// not make the change, when the record cannot be written now.
    pub async fn intend(&self, kind: &'static str, user: &UserId) -> Result<(), AuditUnavailable> {
        tracing::info!(target: "audit", event = kind, user_id = user.as_str(), outcome = "intent");
        let Some(durable) = &self.durable else { return Ok(()) };
        let record = Record {
            seq: self.seq.fetch_add(1, Ordering::SeqCst),
            at: OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
            instance: &self.instance,
            event: kind,
            user_id: user.as_str(),
            key_id: "none",
            key_kind: "service",
            outcome: "intent",
            detail: None,
            request_id: crate::telemetry::request::current_request_id(),
        };
        let line = serde_json::to_string(&record).expect("a record serialises");
        durable.lines.lock().unwrap_or_else(|p| p.into_inner()).push_back(line);
        // A flush that returns Ok wrote every line buffered when it began: its batch, or a
        // concurrent flush's that took the line and succeeded (a failed one leaves its batch
        // pending, which this flush writes first). Concurrent intents share one write.
        self.flush().await.map(|_| ()).map_err(|_| AuditUnavailable { buffered: durable.buffered() })
    }

    /// Writes this instance's first record (`audit_start`, sequence 0) at once: proves, before the
    /// port is bound, that records can be written (s3:PutObject alone, as the policy grants).
    pub async fn start(&self) -> Result<(), StoreError> {
        let Some(durable) = &self.durable else { return Ok(()) };
        let record = Record {
            seq: self.seq.fetch_add(1, Ordering::SeqCst),
            at: OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
            instance: &self.instance,
            event: "audit_start",
            user_id: "",
            key_id: "none",
            key_kind: "service",
            outcome: "ok",
            detail: Some(env!("CARGO_PKG_VERSION")),
            request_id: String::new(),
        };
        let line = serde_json::to_string(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        durable.lines.lock().unwrap_or_else(|p| p.into_inner()).push_back(line);
        self.flush().await.map(|_| ())
    }

    pub fn status(&self) -> Option<AuditStatus> {
        let durable = self.durable.as_ref()?;
        let buffered = durable.buffered();
        let failing = durable.failing.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Some(AuditStatus { buffered, failing, full: buffered >= durable.capacity })
    }

    /// Writes what is buffered, as one new object (or retries the batch that failed before, then
    /// writes the rest). Returns how many records were written.
    pub async fn flush(&self) -> Result<usize, StoreError> {
        let Some(durable) = &self.durable else { return Ok(0) };
        let mut written = 0;
        // Two rounds at most: a batch left from a failed write, then what came after it.
        for _ in 0..2 {
            let mut pending = durable.pending.lock().await;
            if pending.is_none() {
                *pending = durable.next_batch(&self.instance);
                durable.pending_lines.store(pending.as_ref().map_or(0, |(_, _, n)| *n), Ordering::SeqCst);
            }
            let Some((key, body, count)) = pending.clone() else { break };
            match durable.objects.put(&key, body, "application/x-ndjson").await {
                Ok(()) => {
                    *pending = None;
                    durable.pending_lines.store(0, Ordering::SeqCst);
                    written += count;
                    *durable.failing.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    metrics::counter!("faceauth_audit_records_written_total").increment(count as u64);
                }
                Err(e) => {
                    metrics::counter!("faceauth_audit_write_failures_total").increment(1);
                    tracing::warn!(error = %e, buffered = durable.buffered(), "audit records could not be written; kept for the next try");
                    *durable.failing.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                    return Err(e);
                }
            }
        }
        metrics::gauge!("faceauth_audit_buffered_records").set(durable.buffered() as f64);
        Ok(written)
    }

    /// Makes every record kept so far durable before the caller answers: the API calls it after
    /// each biometric operation, so a SIGKILL after the response loses no record. Concurrent
    /// callers share one write (a flush takes every buffered line). A failed write keeps the
    /// records buffered for the next flush, and the operation's answer still goes out (it has
    /// happened); once the buffer is full, `admit` refuses further operations.
    pub async fn commit(&self) {
        if let Err(e) = self.flush().await {
            tracing::warn!(error = %e, "audit records not yet durable; retried with the next flush");
        }
    }

    /// Flushes every `interval` until the process ends; the final flush is the caller's (on stop).
    pub fn spawn_flusher(&self, interval: Duration) -> Option<tokio::task::JoinHandle<()>> {
        self.durable.as_ref()?;
        let trail = self.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                let _ = trail.flush().await;
            }
        }))
    }
}

impl Durable {
    /// Records buffered or in the batch being written.
    fn buffered(&self) -> usize {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).len() + self.pending_lines.load(Ordering::SeqCst)
    }

    /// Moves every buffered line into a new batch, named by the instance and the time: unique.
    fn next_batch(&self, instance: &str) -> Option<(String, Bytes, usize)> {
        let lines: Vec<String> = self.lines.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect();
        if lines.is_empty() {
            return None;
        }
        let now = OffsetDateTime::now_utc();
        let key = format!(
            "{}{:04}/{:02}/{:02}/{instance}-{}.jsonl",
            self.prefix,
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.unix_timestamp_nanos() / 1_000
        );
        let mut body = lines.join("\n");
        body.push('\n');
        Some((key, Bytes::from(body), lines.len()))
    }
}

/// The host name and a random suffix: two processes on one host never share a name.
fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect::<String>())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{host}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

#[cfg(test)]
mod tests;
