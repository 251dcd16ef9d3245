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

/// The log filter for a command that is not about the schema (`user create`, `token list`, …):
/// `filter` with the migrator's progress lines and PostgreSQL's notices about it ("relation
/// … already exists, skipping") held back (warnings still show), so such a command writes to
/// stderr only what it is for. A target the filter names itself keeps its level.
pub fn without_migration_logs(filter: &str) -> String {
    const QUIET: [&str; 2] = ["sea_orm_migration", "sqlx::postgres::notice"];
    let mut filter = filter.trim().trim_end_matches(',').to_owned();
    for target in QUIET {
        if filter.contains(target) {
            continue;
        }
        if !filter.is_empty() {
            filter.push(',');
        }
        filter.push_str(target);
        filter.push_str("=warn");
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_logs_are_held_back_unless_asked_for() {
        assert_eq!(
            without_migration_logs("info"),
            "info,sea_orm_migration=warn,sqlx::postgres::notice=warn"
        );
        assert_eq!(
            without_migration_logs("debug,sea_orm_migration=info"),
            "debug,sea_orm_migration=info,sqlx::postgres::notice=warn"
        );
        assert!(EnvFilter::try_new(without_migration_logs("warn,timebridge=debug")).is_ok());
    }
}
