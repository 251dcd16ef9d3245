//! Timestamps: always UTC, always whole seconds, so a value reads back identically from either
//! backend and SQLite, which keeps them as RFC 3339 text, orders and compares them correctly
//! (its text has no fraction of variable length: `09:00:00.5Z` would sort before `09:00:00Z`).
//! The API writes them as RFC 3339, and reads ISO 8601 leniently (an offset or `Z`; a value
//! without one is UTC).

pub use time::format_description::well_known::Rfc3339;
use time::{
    Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset,
    format_description::BorrowedFormatItem, macros::format_description,
};

/// The current time, UTC, truncated to the second.
pub fn now() -> OffsetDateTime {
    truncate(OffsetDateTime::now_utc())
}

/// Normalises a timestamp to UTC, truncated to the second.
pub fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_nanosecond(0).unwrap_or(t)
}

const NAIVE_FORMATS: &[&[BorrowedFormatItem<'static>]] = &[
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]"),
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    format_description!("[year]-[month]-[day] [hour]:[minute]"),
];

const DATE_FORMAT: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// Parses an ISO 8601 date-time: RFC 3339 (`2026-03-01T09:00:00Z`, `…+02:00`), or without an
/// offset (`2026-03-01T09:00:00`, `2026-03-01 09:00`), which is taken as UTC.
pub fn parse_datetime(text: &str) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(truncate(t));
    }
    // RFC 3339 wants the `T` and seconds; accept `2026-03-01 09:00:00+02:00` too.
    if let Some(t) = NAIVE_FORMATS
        .iter()
        .find_map(|f| PrimitiveDateTime::parse(text, f).ok())
    {
        return Ok(truncate(t.assume_utc()));
    }
    Err(format!(
        "must be an ISO 8601 date-time such as 2026-03-01T09:00:00Z, got {text:?}"
    ))
}

/// Parses a calendar date `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text.trim(), DATE_FORMAT)
        .map_err(|_| format!("must be a date such as 2026-03-01, got {:?}", text.trim()))
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(date: Date) -> String {
    date.format(DATE_FORMAT).unwrap_or_default()
}

/// A filter bound: a date-time, or a date meaning the start of that day (UTC) — or, for an
/// `end` bound, the whole of that day.
pub fn parse_bound(text: &str, end: bool) -> Result<OffsetDateTime, String> {
    if let Ok(date) = parse_date(text) {
        let day = date.with_time(Time::MIDNIGHT).assume_utc();
        return Ok(if end {
            day + time::Duration::DAY - time::Duration::SECOND
        } else {
            day
        });
    }
    parse_datetime(text).map_err(|_| {
        format!(
            "must be a date (2026-03-01) or an ISO 8601 date-time, got {:?}",
            text.trim()
        )
    })
}

/// `YYYY-MM-DD` dates in JSON: `#[serde(with = "crate::platform::time::iso_date")]`.
pub mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_date(*date))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_date(&text).map_err(D::Error::custom)
    }

    /// The same, for optional dates.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer, de::Error};
        use time::Date;

        pub fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match date {
                Some(date) => super::serialize(date, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(text) => super::super::parse_date(&text)
                    .map(Some)
                    .map_err(D::Error::custom),
                None => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn date_times_parse_with_or_without_an_offset() {
        assert_eq!(
            parse_datetime("2026-03-01T09:00:00+02:00").unwrap(),
            datetime!(2026-03-01 07:00 UTC)
        );
        assert_eq!(
            parse_datetime("2026-03-01T09:00:00Z").unwrap(),
            datetime!(2026-03-01 09:00 UTC)
        );
        assert_eq!(
            parse_datetime("2026-03-01 09:00").unwrap(),
            datetime!(2026-03-01 09:00 UTC)
        );
        assert_eq!(
            parse_datetime("2026-03-01T09:00:00.75Z").unwrap(),
            datetime!(2026-03-01 09:00 UTC)
        );
        assert!(parse_datetime("yesterday").is_err());
        assert!(parse_datetime("2026-02-30T09:00:00Z").is_err());
    }

    #[test]
    fn a_date_bound_covers_the_whole_day() {
        assert_eq!(
            parse_bound("2026-03-01", false).unwrap(),
            datetime!(2026-03-01 00:00 UTC)
        );
        assert_eq!(
            parse_bound("2026-03-01", true).unwrap(),
            datetime!(2026-03-01 23:59:59 UTC)
        );
    }
}
