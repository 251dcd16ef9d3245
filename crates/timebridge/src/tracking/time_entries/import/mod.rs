//! CSV import of time entries: a whole history in one call — our own columns, a Toggl Track
//! or a Clockify detailed export — through `POST /api/v1/time-entries/import-csv`
//! ([`routes`]) or `timebridge import csv` ([`cli`]), which share [`import`].
//!
//! The file is parsed row by row as it arrives ([`rows`], [`source`]); the order of its dates is
//! decided from the whole file ([`dates`]). Every row is then checked against the workspace
//! ([`checks`]): by default nothing is imported when any row is invalid (the 400 is the
//! standard validation body, with each bad row and column); with `partial` the valid rows are
//! imported and the others reported. Rows repeating an entry already there, or an earlier row,
//! are skipped and reported ([`duplicates`]) unless duplicates are allowed. Projects, clients,
//! tasks and tags named by the file are created when missing, and the entries written in bulk
//! ([`write`]), all in one change: all of it commits, or none.

mod checks;
pub mod cli;
mod dates;
mod duplicates;
pub mod routes;
mod rows;
mod source;
mod write;

use std::{collections::BTreeMap, io::Read, sync::Arc};

use serde::Serialize;
use serde_json::json;
use time::UtcOffset;
use utoipa::ToSchema;

use self::rows::{ReadFile, TimeReading};
pub use self::{
    dates::DateFormat,
    duplicates::SkippedRow,
    rows::{Format, RowError},
};
use crate::platform::{
    acting::Acting,
    changes::WorkspaceChange,
    db::Db,
    error::{ApiError, FieldErrors},
};

/// Most rows one import may hold: a year of a busy team, with room to spare.
pub const MAX_ROWS: usize = 250_000;
/// Most row problems (and skipped rows) listed in an answer.
const MAX_LISTED: usize = 1000;
/// Most messages per column in a refusal's `errors` (all of them are in `row_errors`).
const MAX_PER_COLUMN: usize = 10;

/// What to do with rows that repeat an entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Duplicates {
    /// Leave them out and report them (the default).
    #[default]
    Skip,
    /// Import them anyway.
    Allow,
}

/// How to read and apply a file.
#[derive(Clone, Copy, Debug)]
pub struct ImportOptions {
    /// Import the valid rows and report the others (default: all or nothing).
    pub partial: bool,
    /// The offset of times written without one.
    pub offset: UtcOffset,
    /// The shape the file must have (default: whatever its header shows).
    pub format: Option<Format>,
    /// The order of its dates (default: decided from the file).
    pub date_format: Option<DateFormat>,
    pub duplicates: Duplicates,
}

/// What an import did: the API's answer and the CLI's output.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub success: bool,
    /// Entries created.
    pub created: usize,
    /// Rows left out because they repeat an entry (see `skipped_rows`).
    pub skipped: usize,
    /// Invalid rows (with `partial=true`; otherwise nothing is imported).
    pub failed: usize,
    /// Each invalid row (line numbers count the header as 1) and column; at most 1000.
    pub errors: Vec<RowError>,
    /// Each skipped row and what it repeats; at most 1000.
    pub skipped_rows: Vec<SkippedRow>,
    /// The shape the file was read as.
    pub format: Format,
    /// The order its `DD/MM`-style dates were read in, when it has any.
    #[schema(value_type = Option<String>, example = "DD/MM/YYYY")]
    pub date_format: Option<DateFormat>,
}

/// Hears how an import advances (the CLI's progress bar); every method may be ignored.
pub trait Progress: Send + Sync {
    /// Rows read from the file so far.
    fn parsed(&self, _rows: usize) {}
    /// Entries written so far, of `total`.
    fn imported(&self, _done: usize, _total: usize) {}
}

/// Progress nobody watches.
pub struct Quietly;

impl Progress for Quietly {}

/// Imports the CSV `source` reads for the acting user (admins: for the members its rows name),
/// all in one change.
pub async fn import<R: Read + Send + 'static>(
    db: &Db,
    acting: &Acting,
    source: R,
    options: ImportOptions,
    progress: Arc<dyn Progress>,
) -> Result<ImportReport, ApiError> {
    let watcher = progress.clone();
    let file = tokio::task::spawn_blocking(move || {
        rows::read_file(source, options.format, MAX_ROWS, &*watcher)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("the CSV reader stopped: {e}")))??;
    let date_format = file.dates.decide(options.date_format)?;
    let format = file.format;
    let raw = read_rows(file, options.offset, date_format);

    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let (ready, mut errors) = checks::check_rows(&*change, acting, raw).await?;
    let failed = errors.len();
    if failed > 0 && !options.partial {
        // Nothing is written: the change is dropped, and rolls back.
        return Err(refusal(errors));
    }
    let (ready, mut skipped_rows) = match options.duplicates {
        Duplicates::Skip => duplicates::drop_repeats(&*change, acting.workspace_id, ready).await?,
        Duplicates::Allow => (ready, Vec::new()),
    };
    let skipped = skipped_rows.len();
    let created = write::insert_rows(&mut change, acting, ready, &*progress).await?;
    change.commit().await?;
    errors.truncate(MAX_LISTED);
    skipped_rows.truncate(MAX_LISTED);
    Ok(ImportReport {
        success: true,
        created,
        skipped,
        failed,
        errors,
        skipped_rows,
        format,
        date_format,
    })
}

/// Every row's times read in the file's offset and date order, in line order (unreadable
/// rows among them).
fn read_rows(
    file: ReadFile,
    offset: UtcOffset,
    dates: Option<DateFormat>,
) -> Vec<Result<rows::RawRow, RowError>> {
    let reading = TimeReading { offset, dates };
    let ReadFile {
        columns,
        records,
        unreadable,
        ..
    } = file;
    let mut out: Vec<_> = records
        .into_iter()
        .map(|(line, record)| rows::read_row(&record, &columns, line, reading))
        .chain(unreadable.into_iter().map(Err))
        .collect();
    out.sort_by_key(|r| match r {
        Ok(row) => row.line,
        Err(e) => e.row,
    });
    out
}

/// The 400 of a file with invalid rows: the standard validation body, `errors` by column
/// (`"row 4: must be after the start"`), each row problem in `row_errors`.
fn refusal(mut errors: Vec<RowError>) -> ApiError {
    let failed = errors.len();
    let mut by_column: BTreeMap<&str, Vec<&RowError>> = BTreeMap::new();
    for e in &errors {
        by_column.entry(e.column.as_str()).or_default().push(e);
    }
    let mut fields = FieldErrors::new();
    for (column, problems) in &by_column {
        for e in problems.iter().take(MAX_PER_COLUMN) {
            fields.add(*column, format!("row {}: {}", e.row, e.error));
        }
        if problems.len() > MAX_PER_COLUMN {
            fields.add(
                *column,
                format!("… and {} more rows", problems.len() - MAX_PER_COLUMN),
            );
        }
    }
    errors.truncate(MAX_LISTED);
    ApiError::ValidationWith(
        fields,
        json!({
            "success": false,
            "created": 0,
            "failed": failed,
            "row_errors": errors,
            "hint": "Nothing was imported; send partial=true to import the valid rows",
        }),
    )
}

/// Reads the `utc_offset` parameter: `+02:00`, `-05:30` or `Z` (default UTC). A `+` typed
/// unencoded in a query string arrives as a space: a leading space before digits is a `+`.
pub fn parse_offset(text: Option<&str>) -> Result<UtcOffset, String> {
    let Some(raw) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(UtcOffset::UTC);
    };
    let text = match raw.strip_prefix(' ') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => format!("+{rest}"),
        _ => raw.to_owned(),
    };
    let text = text.trim();
    if text.eq_ignore_ascii_case("z") {
        return Ok(UtcOffset::UTC);
    }
    let format =
        ::time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    UtcOffset::parse(text, format).map_err(|_| "must look like +02:00 or -05:30".to_owned())
}

/// Reads the import's options from their text (query parameters, CLI flags), naming each bad
/// one.
pub fn options(
    partial: bool,
    utc_offset: Option<&str>,
    format: Option<&str>,
    date_format: Option<&str>,
    duplicates: Option<&str>,
) -> Result<ImportOptions, ApiError> {
    fn field<T>(errors: &mut FieldErrors, name: &str, read: Result<T, String>) -> Option<T> {
        read.map_err(|problem| errors.add(name, problem)).ok()
    }
    let mut errors = FieldErrors::new();
    let offset = field(&mut errors, "utc_offset", parse_offset(utc_offset));
    let format = field(&mut errors, "format", format.map(str::parse).transpose());
    let date_format = field(
        &mut errors,
        "date_format",
        date_format.map(str::parse).transpose(),
    );
    let duplicates = field(
        &mut errors,
        "duplicates",
        match duplicates.map(|d| d.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("skip") => Ok(Duplicates::Skip),
            Some("allow") => Ok(Duplicates::Allow),
            Some(other) => Err(format!("must be skip or allow, got {other:?}")),
        },
    );
    errors.into_result()?;
    Ok(ImportOptions {
        partial,
        offset: offset.unwrap_or(UtcOffset::UTC),
        format: format.flatten(),
        date_format: date_format.flatten(),
        duplicates: duplicates.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_reads_as_written_even_when_its_plus_became_a_space() {
        let two = UtcOffset::from_hms(2, 0, 0).unwrap();
        assert_eq!(parse_offset(Some("+02:00")), Ok(two));
        assert_eq!(parse_offset(Some(" 02:00")), Ok(two));
        assert_eq!(
            parse_offset(Some("-05:30")),
            Ok(UtcOffset::from_hms(-5, -30, 0).unwrap())
        );
        assert_eq!(parse_offset(Some("Z")), Ok(UtcOffset::UTC));
        assert_eq!(parse_offset(None), Ok(UtcOffset::UTC));
        assert!(parse_offset(Some("2")).is_err());
        assert!(parse_offset(Some(" x")).is_err());
    }
}
