//! Calendar dates in the orders exporters write them. `2026-11-03` is unambiguous; `03.11.2026`
//! is day first by convention; `03/11/2026` (or `03-11-2026`) is 3 November in most of the
//! world and 11 March in the United States, and Clockify writes whichever its user chose. So the
//! order of a file's slashed dates is decided from the whole file: a first number over 12 means
//! day first, a second number over 12 means month first. A file with neither is ambiguous and
//! is refused until the caller names the order; a file with both is refused as inconsistent.

use std::{fmt, str::FromStr};

use serde::Serialize;
use time::{Date, Month};
use utoipa::ToSchema;

use crate::platform::error::ApiError;

/// How a file writes its dates (the `date_format` parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub enum DateFormat {
    /// 3 November 2026 is `03/11/2026`.
    #[serde(rename = "DD/MM/YYYY")]
    DayFirst,
    /// 3 November 2026 is `11/03/2026`.
    #[serde(rename = "MM/DD/YYYY")]
    MonthFirst,
    /// 3 November 2026 is `2026-11-03`.
    #[serde(rename = "YYYY-MM-DD")]
    YearFirst,
}

impl DateFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DayFirst => "DD/MM/YYYY",
            Self::MonthFirst => "MM/DD/YYYY",
            Self::YearFirst => "YYYY-MM-DD",
        }
    }
}

impl fmt::Display for DateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DateFormat {
    type Err = String;

    /// `DD/MM/YYYY`, `MM/DD/YYYY` or `YYYY-MM-DD`, in any case, with `/`, `-` or `.` between.
    fn from_str(text: &str) -> Result<Self, String> {
        let normal = text.trim().to_ascii_uppercase().replace(['-', '.'], "/");
        match normal.as_str() {
            "DD/MM/YYYY" => Ok(Self::DayFirst),
            "MM/DD/YYYY" => Ok(Self::MonthFirst),
            "YYYY/MM/DD" => Ok(Self::YearFirst),
            _ => Err(format!(
                "must be DD/MM/YYYY, MM/DD/YYYY or YYYY-MM-DD, got {:?}",
                text.trim()
            )),
        }
    }
}

/// A date cell split into its three numbers.
struct Parts {
    first: u32,
    second: u32,
    third: u32,
    /// `2026-11-03`: the year comes first.
    year_first: bool,
    /// `03.11.2026`: day first by convention.
    dotted: bool,
}

fn split(text: &str) -> Option<Parts> {
    let text = text.trim();
    let separator = text.chars().find(|c| matches!(c, '/' | '-' | '.'))?;
    let pieces: Vec<&str> = text.split(separator).collect();
    let [a, b, c] = pieces.as_slice() else {
        return None;
    };
    let number = |p: &str| {
        (!p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    Some(Parts {
        first: number(a)?,
        second: number(b)?,
        third: number(c)?,
        year_first: a.len() == 4,
        dotted: separator == '.',
    })
}

/// What a file's slashed dates say about their order: the first cell of each kind seen.
#[derive(Debug, Default)]
pub struct DateEvidence {
    day_first: Option<(usize, String)>,
    month_first: Option<(usize, String)>,
    either: Option<(usize, String)>,
}

impl DateEvidence {
    /// Looks at one date cell of line `line`.
    pub fn observe(&mut self, line: usize, text: &str) {
        let Some(parts) = split(text) else { return };
        if parts.year_first || parts.dotted || parts.first == parts.second {
            return;
        }
        let slot = match (parts.first > 12, parts.second > 12) {
            (true, false) => &mut self.day_first,
            (false, true) => &mut self.month_first,
            (false, false) => &mut self.either,
            (true, true) => return,
        };
        if slot.is_none() {
            *slot = Some((line, text.trim().to_owned()));
        }
    }

    /// The order to read the file's dates in: the one asked for, else the one the file shows.
    /// `None` when no date needs an order. An ambiguous or inconsistent file is a 400 naming
    /// `date_format` and saying how to choose.
    pub fn decide(&self, asked: Option<DateFormat>) -> Result<Option<DateFormat>, ApiError> {
        if asked.is_some() {
            return Ok(asked);
        }
        match (&self.day_first, &self.month_first, &self.either) {
            (Some((d, day)), Some((m, month)), _) => Err(ApiError::invalid(
                "date_format",
                format!(
                    "the file writes dates in both orders: row {d} has {day} (day first), row {m} \
                     has {month} (month first); export it again with one date format"
                ),
            )),
            (Some(_), None, _) => Ok(Some(DateFormat::DayFirst)),
            (None, Some(_), _) => Ok(Some(DateFormat::MonthFirst)),
            (None, None, Some((line, text))) => Err(ApiError::invalid(
                "date_format",
                format!(
                    "the dates can be read day first or month first (row {line}: {text}) and no \
                     date in the file tells which; choose with date_format=DD/MM/YYYY or \
                     date_format=MM/DD/YYYY (--date-format on the command line)"
                ),
            )),
            (None, None, None) => Ok(None),
        }
    }
}

/// A date cell in the file's order: `2026-11-03` always; dotted dates day first unless the
/// caller chose another order; slashed (or dashed) dates in `order`.
pub fn parse_day(text: &str, order: Option<DateFormat>) -> Result<Date, String> {
    let bad = || match order {
        Some(order) => format!("is not a date in {order}: {:?}", text.trim()),
        None => format!(
            "is not a date (2026-03-02, 02/03/2026 or 02.03.2026): {:?}",
            text.trim()
        ),
    };
    let parts = split(text).ok_or_else(bad)?;
    let (year, month, day) = match (parts.year_first, parts.dotted, order) {
        (true, _, _) => (parts.first, parts.second, parts.third),
        (false, _, Some(DateFormat::YearFirst)) => return Err(bad()),
        (false, _, Some(DateFormat::MonthFirst)) => (parts.third, parts.first, parts.second),
        (false, true, _) | (false, false, Some(DateFormat::DayFirst)) => {
            (parts.third, parts.second, parts.first)
        }
        // No order was needed: the day and the month are the same number.
        (false, false, None) => (parts.third, parts.first, parts.second),
    };
    if year < 1000 {
        return Err(bad());
    }
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let day = u8::try_from(day).map_err(|_| bad())?;
    let year = i32::try_from(year).map_err(|_| bad())?;
    Date::from_calendar_date(year, month, day).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn evidence(cells: &[&str]) -> DateEvidence {
        let mut e = DateEvidence::default();
        for (i, cell) in cells.iter().enumerate() {
            e.observe(i + 2, cell);
        }
        e
    }

    #[test]
    fn a_number_over_twelve_decides_the_order() {
        let day_first = evidence(&["03/11/2026", "25/11/2026"]);
        assert_eq!(day_first.decide(None).unwrap(), Some(DateFormat::DayFirst));
        let month_first = evidence(&["03/11/2026", "11/25/2026"]);
        assert_eq!(
            month_first.decide(None).unwrap(),
            Some(DateFormat::MonthFirst)
        );
        // Same day and month, ISO and dotted dates need no order.
        let plain = evidence(&["03/03/2026", "2026-11-03", "03.11.2026"]);
        assert_eq!(plain.decide(None).unwrap(), None);
    }

    #[test]
    fn an_ambiguous_or_mixed_file_is_refused_unless_the_caller_chooses() {
        let ambiguous = evidence(&["03/11/2026", "04/11/2026"]);
        let err = format!("{:?}", ambiguous.decide(None).unwrap_err());
        assert!(err.contains("row 2: 03/11/2026"), "{err}");
        assert_eq!(
            ambiguous.decide(Some(DateFormat::DayFirst)).unwrap(),
            Some(DateFormat::DayFirst)
        );
        let mixed = evidence(&["25/11/2026", "11/25/2026"]);
        assert!(format!("{:?}", mixed.decide(None).unwrap_err()).contains("both orders"));
    }

    #[test]
    fn dates_read_in_the_decided_order() {
        let day_first = Some(DateFormat::DayFirst);
        let month_first = Some(DateFormat::MonthFirst);
        assert_eq!(
            parse_day("03/11/2026", day_first).unwrap(),
            date!(2026 - 11 - 03)
        );
        assert_eq!(
            parse_day("03/11/2026", month_first).unwrap(),
            date!(2026 - 03 - 11)
        );
        assert_eq!(
            parse_day("3-11-2026", day_first).unwrap(),
            date!(2026 - 11 - 03)
        );
        assert_eq!(
            parse_day("2026-11-03", month_first).unwrap(),
            date!(2026 - 11 - 03)
        );
        assert_eq!(parse_day("2.3.2026", None).unwrap(), date!(2026 - 03 - 02));
        assert_eq!(
            parse_day("05/05/2026", None).unwrap(),
            date!(2026 - 05 - 05)
        );
        assert!(
            parse_day("25/11/2026", month_first)
                .unwrap_err()
                .contains("MM/DD/YYYY")
        );
        assert!(parse_day("2026-02-30", None).is_err());
        assert!(parse_day("noon", None).is_err());
    }

    #[test]
    fn the_parameter_is_read_in_any_case_and_separator() {
        assert_eq!("dd/mm/yyyy".parse(), Ok(DateFormat::DayFirst));
        assert_eq!("MM-DD-YYYY".parse(), Ok(DateFormat::MonthFirst));
        assert_eq!("YYYY-MM-DD".parse(), Ok(DateFormat::YearFirst));
        assert!("YYYY".parse::<DateFormat>().is_err());
    }
}
