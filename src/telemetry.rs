//! Logging: human-readable text in development, JSON lines (one per event, span fields included)
//! in production for journald/CloudWatch. The request span's fields are named in [`request`]; the
//! audit records of biometric events are `crate::audit`'s.

pub mod request;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

/// Where log lines go: the service logs to stdout (journald, and the "listening on" line tests and
/// scripts wait for); the CLI's tools to stderr, so their stdout is only their result (JSON, tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    Stdout,
    Stderr,
}

pub fn init(format: LogFormat, level: &str, target: LogTarget) {
    // RUST_LOG, when set, takes precedence for ad-hoc debugging.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{level},aws_config=warn,aws_smithy_runtime=warn,ort=warn,hyper=warn")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = match target {
        LogTarget::Stdout => std::io::IsTerminal::is_terminal(&std::io::stdout()),
        LogTarget::Stderr => std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let writer = move || -> Box<dyn std::io::Write> {
        match target {
            LogTarget::Stdout => Box::new(std::io::stdout()),
            LogTarget::Stderr => Box::new(std::io::stderr()),
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Text => builder.compact().try_init(),
    };
}

/// An error and its sources, outermost first, joined with ": " (what `{:#}` prints for anyhow).
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause() {
        let err = Outer(std::io::Error::other("inner"));
        assert_eq!(super::chain(&err), "outer: inner");
    }
}
