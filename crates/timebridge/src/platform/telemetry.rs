//! Logging set-up: JSON lines (default) or human-readable, written off the request path by a
//! non-blocking writer.

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

/// Installs the global subscriber. Keep the guard alive until exit so buffered lines are written.
pub fn init(filter: &str, format: LogFormat) -> anyhow::Result<WorkerGuard> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("invalid RUST_LOG {filter:?}: {e}"))?;
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    // Background work logs inside spans naming what it works on (a job, an
                    // endpoint and a delivery attempt, a connector call): every line carries
                    // them, so one failing delivery can be followed.
                    .with_current_span(false)
                    .with_span_list(true)
                    .with_writer(writer),
            )
            .try_init()?,
        LogFormat::Pretty => registry.with(fmt::layer().with_writer(writer)).try_init()?,
    }
    Ok(guard)
}
