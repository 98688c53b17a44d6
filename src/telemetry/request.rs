//! The request span: one per request, created by the request-context middleware and filled in by
//! the layers that know each value. Its fields are named here and nowhere else, so a field written
//! under a name the span does not declare (which tracing silently drops) cannot happen unnoticed.

use tracing::Span;
use tracing::field::Empty;

tokio::task_local! {
    /// The current request's id, so any error built anywhere in the request can carry it.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// A field of the request span that layers below the middleware fill in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Status,
    LatencyMs,
    Error,
    KeyId,
    KeyKind,
    Verified,
    DecodeMs,
    DetectMs,
    EmbedMs,
    StorageMs,
    MatchMs,
}

impl Field {
    pub const ALL: &'static [Field] = &[
        Field::Status,
        Field::LatencyMs,
        Field::Error,
        Field::KeyId,
        Field::KeyKind,
        Field::Verified,
        Field::DecodeMs,
        Field::DetectMs,
        Field::EmbedMs,
        Field::StorageMs,
        Field::MatchMs,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Field::Status => "status",
            Field::LatencyMs => "latency_ms",
            Field::Error => "error",
            Field::KeyId => "key_id",
            Field::KeyKind => "key_kind",
            Field::Verified => "verified",
            Field::DecodeMs => "decode_ms",
            Field::DetectMs => "detect_ms",
            Field::EmbedMs => "embed_ms",
            Field::StorageMs => "storage_ms",
            Field::MatchMs => "match_ms",
        }
    }

    /// Records on the current span (the request span, inside a handler or a route layer).
    pub fn record(self, value: impl tracing::Value) {
        Span::current().record(self.name(), value);
    }
}

/// The span every request runs in; the field list must name every [`Field`] (a test checks).
pub fn span(request_id: &str, method: &str, route: &str) -> Span {
    tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = %route,
        status = Empty,
        latency_ms = Empty,
        error = Empty,
        key_id = Empty,
        key_kind = Empty,
        verified = Empty,
        decode_ms = Empty,
        detect_ms = Empty,
        embed_ms = Empty,
        storage_ms = Empty,
        match_ms = Empty,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_span_declares_every_field() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let span = span("id", "GET", "/x");
            for field in Field::ALL {
                assert!(span.has_field(field.name()), "the request span does not declare {}", field.name());
            }
        });
    }
}
