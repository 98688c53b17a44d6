//! Prometheus metrics: request counts and latencies per route, pipeline stage latencies, inference
//! queue depth, verify outcomes and storage errors. Rendered by `GET /metrics`.

use std::sync::OnceLock;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets from 1 ms to 10 s: inference sits in the tens of milliseconds, storage outages at seconds.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Installs the process-wide recorder once; later calls return the same handle.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("seconds".into()), BUCKETS)
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .clone()
}

pub fn render() -> String {
    HANDLE.get().and_then(|h| h.as_ref()).map(|h| h.render()).unwrap_or_default()
}

/// Methods outside the standard set are one label value, so made-up methods cannot mint series.
fn method_label(method: &str) -> &'static str {
    const KNOWN: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE"];
    KNOWN.iter().find(|m| **m == method).copied().unwrap_or("OTHER")
}

/// `route` is a matched route pattern or `unmatched`, so paths cannot mint series either.
pub fn request(route: &str, method: &str, status: u16, seconds: f64) {
    let labels =
        [("route", route.to_string()), ("method", method_label(method).to_string()), ("status", status.to_string())];
    counter!("faceauth_http_requests_total", &labels).increment(1);
    histogram!("faceauth_http_request_duration_seconds", &labels[..2]).record(seconds);
}

pub fn stage(stage: &'static str, milliseconds: f64) {
    histogram!("faceauth_stage_duration_seconds", "stage" => stage).record(milliseconds / 1000.0);
}

/// `verified`, `not_verified`, or `rejected` with the error code as reason.
pub fn verify_outcome(outcome: &'static str, reason: &'static str) {
    counter!("faceauth_verify_total", "outcome" => outcome, "reason" => reason).increment(1);
}

pub fn storage_error() {
    counter!("faceauth_storage_errors_total").increment(1);
}

pub fn queue_depth(depth: usize) {
    gauge!("faceauth_inference_queue_depth").set(depth as f64);
}

/// Authenticated API requests by the kind of caller: `open`, `secret` or `client`.
pub fn caller(kind: &'static str) {
    counter!("faceauth_api_callers_total", "kind" => kind).increment(1);
}

/// Refused requests (authentication, authorisation, limits, admission) by error code.
pub fn refused(code: &'static str) {
    counter!("faceauth_refused_total", "code" => code).increment(1);
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(super::method_label("POST"), "POST");
        assert_eq!(super::method_label("FOO1"), "OTHER");
        assert_eq!(super::method_label("get"), "OTHER");
    }
}
