//! Reading time-entry rows out of a CSV file in any of the shapes people bring: our own
//! columns (`project_id`, `start_time`, `end_time`, …), a Toggl Track detailed export
//! (`Project`, `Start date`, `Start time`, `End date`, `End time`, `Duration`, `Tags`, …) or a
//! Clockify detailed export (`Start Date` as `MM/DD/YYYY` or `DD/MM/YYYY`, `Start Time` as
//! `09:00:00 AM`, …). The file is read row by row as it arrives; each row's cells are kept
//! and their times read once the whole file has shown the order of its dates. Nothing here
//! touches the database: rows come out as text fields plus parsed times.

use std::{collections::HashMap, fmt, io::Read, str::FromStr};

use serde::Serialize;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
use utoipa::ToSchema;

use super::{
    Progress,
    dates::{DateEvidence, DateFormat, parse_day},
};
use crate::platform::{error::ApiError, time::parse_datetime};

/// The shape of a file, told by its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Our columns: `start_time`, `end_time` (ISO 8601), `project`, `notes`, …
    Ours,
    /// A Toggl Track detailed export: `Start date`, `Start time`, `Duration`, …
    Toggl,
    /// A Clockify detailed export: `Start Date`, `Start Time`, `Duration (h)`, …
    Clockify,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ours => "ours",
            Self::Toggl => "toggl",
            Self::Clockify => "clockify",
        }
    }

    /// What its header has.
    fn columns(self) -> &'static str {
        match self {
            Self::Ours => "start_time and end_time",
            Self::Toggl => "Start date, Start time and Duration",
            Self::Clockify => "Start Date, Start Time and Duration (h)",
        }
    }

    /// The shape of a header, if it has a start column at all.
    fn of(header: &csv::StringRecord, columns: &Columns) -> Option<Self> {
        if columns.find(&["start_date"]).is_some() && columns.find(&["start_time"]).is_some() {
            let clockify = header.iter().any(|name| {
                let name = name.trim().to_lowercase();
                name.starts_with("duration (") || name.starts_with("billable rate")
            });
            return Some(if clockify {
                Self::Clockify
            } else {
                Self::Toggl
            });
        }
        columns.find(&["start_time", "start"]).map(|_| Self::Ours)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "ours" => Ok(Self::Ours),
            "toggl" => Ok(Self::Toggl),
            "clockify" => Ok(Self::Clockify),
            other => Err(format!("must be ours, toggl or clockify, got {other:?}")),
        }
    }
}

/// Where each field is found in a header row. Names are matched case-insensitively, with
/// spaces as underscores and a trailing `(…)` (a currency, a unit) ignored.
#[derive(Debug, Default)]
pub struct Columns {
    index: HashMap<String, usize>,
}

impl Columns {
    pub fn new(header: &csv::StringRecord) -> Self {
        let index = header
            .iter()
            .enumerate()
            .map(|(i, name)| (normalize(name), i))
            .collect();
        Self { index }
    }

    fn find(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.index.get(*n).copied())
    }
}

fn normalize(name: &str) -> String {
    let name = name.trim().trim_start_matches('\u{feff}');
    let name = match name.find('(') {
        Some(i) => &name[..i],
        None => name,
    };
    name.trim().to_lowercase().replace([' ', '-'], "_")
}

/// A file read to its end: its shape, its columns and its rows as read, their dates not yet
/// interpreted (the order of a file's dates is known only once all of it is read).
pub struct ReadFile {
    pub format: Format,
    pub columns: Columns,
    /// Each data row with its line number (the header is 1).
    pub records: Vec<(usize, csv::StringRecord)>,
    /// Rows that are not CSV.
    pub unreadable: Vec<RowError>,
    pub dates: DateEvidence,
}

fn unreadable_file(e: &csv::Error) -> ApiError {
    ApiError::BadRequest(format!("The file could not be read: {e}"))
}

/// Reads a CSV file row by row from `source`. A file without a header or a start column, of
/// another shape than `asked`, or of more than `max_rows` rows is refused outright.
pub fn read_file(
    source: impl Read,
    asked: Option<Format>,
    max_rows: usize,
    progress: &dyn Progress,
) -> Result<ReadFile, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .buffer_capacity(64 * 1024)
        .from_reader(source);
    let header = reader.headers().map_err(|e| unreadable_file(&e))?.clone();
    if header.iter().all(str::is_empty) {
        return Err(ApiError::BadRequest("Empty CSV".into()));
    }
    let columns = Columns::new(&header);
    let Some(format) = Format::of(&header, &columns) else {
        return Err(ApiError::BadRequest(
            "CSV must include a header row with a start column (start_time, or Start date and \
             Start time)"
                .into(),
        ));
    };
    if let Some(asked) = asked.filter(|asked| *asked != format) {
        return Err(ApiError::invalid(
            "format",
            format!(
                "the header is that of a {format} file ({}), not of a {asked} file ({})",
                format.columns(),
                asked.columns()
            ),
        ));
    }
    let date_columns = [columns.find(&["start_date"]), columns.find(&["end_date"])];
    let mut file = ReadFile {
        format,
        columns,
        records: Vec::new(),
        unreadable: Vec::new(),
        dates: DateEvidence::default(),
    };
    let mut record = csv::StringRecord::new();
    let mut line = 1;
    loop {
        line += 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) if record.iter().all(str::is_empty) => continue,
            Ok(true) => {
                for i in date_columns.into_iter().flatten() {
                    file.dates.observe(line, record.get(i).unwrap_or_default());
                }
                file.records.push((line, record.clone()));
            }
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => return Err(unreadable_file(&e)),
            Err(e) => {
                file.unreadable
                    .push(RowError::new(line, "row", format!("unreadable CSV: {e}")))
            }
        }
        let rows = file.records.len() + file.unreadable.len();
        if rows > max_rows {
            return Err(ApiError::BadRequest(format!(
                "At most {max_rows} rows per import"
            )));
        }
        if rows.is_multiple_of(1000) {
            progress.parsed(rows);
        }
    }
    let rows = file.records.len() + file.unreadable.len();
    if rows == 0 {
        return Err(ApiError::BadRequest("The CSV has no data rows".into()));
    }
    progress.parsed(rows);
    Ok(file)
}

/// One data row, with its fields as text (empty cells are `None`).
#[derive(Debug, Default, Clone)]
pub struct RawRow {
    /// Line number in the file (the header is 1).
    pub line: usize,
    pub project_id: Option<String>,
    pub project: Option<String>,
    pub client: Option<String>,
    pub task_id: Option<String>,
    pub task: Option<String>,
    pub email: Option<String>,
    pub notes: Option<String>,
    pub tags: Option<String>,
    pub billable: Option<String>,
    pub start: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
}

/// A problem with one row: its line, the column at fault, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub error: String,
}

impl RowError {
    pub fn new(row: usize, column: &str, error: impl Into<String>) -> Self {
        Self {
            row,
            column: column.to_owned(),
            error: error.into(),
        }
    }
}

fn cell(record: &csv::StringRecord, columns: &Columns, names: &[&str]) -> Option<String> {
    columns
        .find(names)
        .and_then(|i| record.get(i))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// How a file's times are read: the offset of times written without one, and the order of
/// its dates.
#[derive(Clone, Copy, Debug)]
pub struct TimeReading {
    pub offset: UtcOffset,
    pub dates: Option<DateFormat>,
}

/// Reads one row; problems with its times are returned with the column they concern.
pub fn read_row(
    record: &csv::StringRecord,
    columns: &Columns,
    line: usize,
    reading: TimeReading,
) -> Result<RawRow, RowError> {
    let text = |names: &[&str]| cell(record, columns, names);
    let start = moment(columns, record, Side::Start, reading)
        .map_err(|(column, e)| RowError::new(line, &column, e))?;
    let mut end = moment(columns, record, Side::End, reading)
        .map_err(|(column, e)| RowError::new(line, &column, e))?;
    if end.is_none()
        && let (Some(start), Some(duration)) = (start, text(&["duration", "duration_h"]))
    {
        let seconds = parse_duration(&duration).map_err(|e| RowError::new(line, "duration", e))?;
        end = Some(start + Duration::seconds(seconds));
    }
    Ok(RawRow {
        line,
        project_id: text(&["project_id"]),
        project: text(&["project", "project_name"]),
        client: text(&["client", "client_name"]),
        task_id: text(&["task_id"]),
        task: text(&["task", "task_name"]),
        email: text(&["email", "user_email"]),
        notes: text(&["notes", "description", "note"]),
        tags: text(&["tags", "tag"]),
        billable: text(&["billable"]),
        start,
        end,
    })
}

#[derive(Clone, Copy)]
enum Side {
    Start,
    End,
}

/// A start or end: a full date-time column (`start_time: 2026-03-02T09:00:00Z`), or a date
/// column plus a time-of-day column (`Start date` + `Start time`), in `offset`.
fn moment(
    columns: &Columns,
    record: &csv::StringRecord,
    side: Side,
    reading: TimeReading,
) -> Result<Option<OffsetDateTime>, (String, String)> {
    let offset = reading.offset;
    let (date_col, time_col, alt) = match side {
        Side::Start => ("start_date", "start_time", "start"),
        Side::End => ("end_date", "end_time", "end"),
    };
    let date = cell(record, columns, &[date_col]);
    let time = cell(record, columns, &[time_col, alt]);
    match (date, time) {
        (Some(date), Some(time)) => {
            let day = parse_day(&date, reading.dates).map_err(|e| (date_col.to_owned(), e))?;
            let at = parse_time_of_day(&time).map_err(|e| (time_col.to_owned(), e))?;
            Ok(Some(
                PrimitiveDateTime::new(day, at)
                    .assume_offset(offset)
                    .to_offset(UtcOffset::UTC),
            ))
        }
        (None, Some(datetime)) => parse_local_datetime(&datetime, offset)
            .map(Some)
            .map_err(|e| (time_col.to_owned(), e)),
        (Some(_), None) => Err((time_col.to_owned(), "is required with a date column".into())),
        (None, None) => Ok(None),
    }
}

/// A full date-time: with an offset it is exact; without one it is in `offset`.
fn parse_local_datetime(text: &str, offset: UtcOffset) -> Result<OffsetDateTime, String> {
    let has_offset = text.ends_with('Z')
        || text.ends_with('z')
        || text
            .get(10..)
            .is_some_and(|rest| rest.contains('+') || rest.rfind('-').is_some());
    let parsed = parse_datetime(text)?;
    if has_offset {
        return Ok(parsed);
    }
    // Parsed as UTC; re-read the same wall-clock time in the file's offset.
    Ok(parsed.replace_offset(offset).to_offset(UtcOffset::UTC))
}

/// `09:00:00`, `09:00`, `9:00:00 AM`, `9:00 PM`.
pub fn parse_time_of_day(text: &str) -> Result<Time, String> {
    let text = text.trim();
    let upper = text.to_ascii_uppercase();
    let (clock, pm) = match (upper.strip_suffix("AM"), upper.strip_suffix("PM")) {
        (Some(c), _) => (c.trim().to_owned(), Some(false)),
        (_, Some(c)) => (c.trim().to_owned(), Some(true)),
        _ => (upper.clone(), None),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let bad = || format!("is not a time of day (09:00:00 or 9:00:00 AM): {text:?}");
    let number = |i: usize| -> Result<u8, String> {
        parts
            .get(i)
            .map_or(Ok(0), |p| p.trim().parse().map_err(|_| bad()))
    };
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let (mut hour, minute, second) = (number(0)?, number(1)?, number(2)?);
    match pm {
        Some(_) if !(1..=12).contains(&hour) => return Err(bad()),
        Some(true) if hour != 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    Time::from_hms(hour, minute, second).map_err(|_| bad())
}

/// `01:30:00`, `1:30` (hours:minutes) or decimal hours `1.5`.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let bad = || format!("is not a duration (01:30:00 or 1.5): {text:?}");
    if text.contains(':') {
        let parts: Vec<i64> = text
            .split(':')
            .map(|p| p.trim().parse::<i64>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        return match parts.as_slice() {
            [h, m, s] => Ok(h * 3600 + m * 60 + s),
            [h, m] => Ok(h * 3600 + m * 60),
            _ => Err(bad()),
        };
    }
    let hours: rust_decimal::Decimal = text.parse().map_err(|_| bad())?;
    let seconds = (hours * rust_decimal::Decimal::from(3600)).round();
    i64::try_from(seconds).map_err(|_| bad())
}

/// `yes`/`no`, `true`/`false`, `1`/`0`, `y`/`n`.
pub fn parse_flag(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Ok(true),
        "no" | "n" | "false" | "0" => Ok(false),
        other => Err(format!("must be yes or no, got {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, time};

    #[test]
    fn times_of_day_come_in_the_exporters_shapes() {
        assert_eq!(parse_time_of_day("09:05:07").unwrap(), time!(09:05:07));
        assert_eq!(parse_time_of_day("9:05 PM").unwrap(), time!(21:05));
        assert_eq!(parse_time_of_day("12:00:00 AM").unwrap(), time!(00:00));
        assert!(parse_time_of_day("25:00").is_err());
    }

    #[test]
    fn durations_read_as_clock_or_decimal_hours() {
        assert_eq!(parse_duration("01:30:00"), Ok(5400));
        assert_eq!(parse_duration("1.25"), Ok(4500));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn headers_match_loosely() {
        let header = csv::StringRecord::from(vec!["\u{feff}Start Date", "Amount (USD)", "Task ID"]);
        let columns = Columns::new(&header);
        assert_eq!(columns.find(&["start_date"]), Some(0));
        assert_eq!(columns.find(&["amount"]), Some(1));
        assert_eq!(columns.find(&["task_id"]), Some(2));
    }

    #[test]
    fn a_wall_clock_time_is_read_in_the_files_offset() {
        let offset = UtcOffset::from_hms(2, 0, 0).unwrap();
        assert_eq!(
            parse_local_datetime("2026-03-02T09:00:00", offset).unwrap(),
            datetime!(2026-03-02 07:00 UTC)
        );
        assert_eq!(
            parse_local_datetime("2026-03-02T09:00:00Z", offset).unwrap(),
            datetime!(2026-03-02 09:00 UTC)
        );
    }
}
