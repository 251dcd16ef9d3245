//! Timestamps: always UTC, always microsecond precision (what PostgreSQL keeps), so a value
//! reads back identically from either backend. The API writes them as RFC 3339.

use time::{OffsetDateTime, UtcOffset};

/// The current time, UTC, truncated to microseconds.
pub fn now() -> OffsetDateTime {
    truncate(OffsetDateTime::now_utc())
}

/// Normalises a timestamp to UTC with microsecond precision.
pub fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    let micros = t.microsecond();
    t.replace_microsecond(micros).unwrap_or(t)
}
