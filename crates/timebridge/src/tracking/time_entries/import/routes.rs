//! `POST /api/v1/time-entries/import-csv`: HTTP only — read the options, stream the upload to
//! the import, answer its report.

use std::sync::Arc;

use axum::extract::{Request, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ImportReport, Quietly, dates::DateFormat, import, options, rows::Format, source};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Query},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_csv))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Import the valid rows and report the others (default false: all or nothing).
    pub partial: Option<bool>,
    /// The UTC offset of times written without one: `Z`, or `+HH:MM` / `-HH:MM` (hours at
    /// most 25, e.g. `+02:00`; a `+` left unencoded is read as written); default `Z`.
    #[param(
        example = "+02:00",
        pattern = "^\\s*([Zz]|[+-]([01][0-9]|2[0-5]):[0-5][0-9])?\\s*$|^ ([01][0-9]|2[0-5]):[0-5][0-9]\\s*$"
    )]
    pub utc_offset: Option<String>,
    /// The order of dates such as `03/11/2026`: `DD/MM/YYYY` or `MM/DD/YYYY` (or
    /// `YYYY-MM-DD`; any case, with `/`, `-` or `.` between). Default: decided from the file;
    /// a file that could be read either way is refused until this is sent.
    #[param(value_type = Option<DateFormat>, inline)]
    pub date_format: Option<String>,
    /// The shape the file must have: `ours`, `toggl` or `clockify` (any case; default:
    /// whatever its header shows; an empty value is refused).
    #[param(value_type = Option<Format>, inline)]
    pub format: Option<String>,
    /// `skip` (default): rows repeating an entry (same user, start, end, project and notes)
    /// are left out and listed in `skipped_rows`; `allow`: imported anyway. Any case.
    #[param(value_type = Option<DuplicatesName>, inline)]
    pub duplicates: Option<String>,
}

/// The values of [`ImportQuery::duplicates`], for the schema.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum DuplicatesName {
    Skip,
    Allow,
}

/// Import time entries from a CSV file: ours, a Toggl Track or a Clockify detailed export.
/// The file is read as it arrives, up to `IMPORT_MAX_BODY_MB` and 250,000 rows.
#[utoipa::path(
    post, path = "/api/v1/time-entries/import-csv", tag = "time entries",
    params(ImportQuery),
    request_body(content = String, description = "A multipart field `file`, JSON `{\"csv\": \"...\"}`, or the CSV itself", content_type = "text/csv",
        example = json!("project,start_time,end_time,notes,tags,billable\nWebsite relaunch,2026-11-30T09:00:00Z,2026-11-30T10:30:00Z,Homepage layout,design,true\n")),
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, description = "Imported: what was created, skipped as a repeat, and (with `partial=true`) refused", body = ImportReport),
        (status = 400, description = "Empty file, no header, bad options, an ambiguous date order, or (by default) any invalid row: nothing imported, each bad row in `row_errors`", body = ErrorBody),
        (status = 413, description = "The file is larger than IMPORT_MAX_BODY_MB", body = ErrorBody),
    )
)]
async fn import_csv(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ImportQuery>,
    request: Request,
) -> Result<Json<ImportReport>, ApiError> {
    let options = options(
        query.partial.unwrap_or(false),
        query.utc_offset.as_deref(),
        query.format.as_deref(),
        query.date_format.as_deref(),
        query.duplicates.as_deref(),
    )?;
    let (upload, reader) = source::upload(request, app.config.import_max_body_bytes);
    let acting = caller.acting();
    let (uploaded, imported) = tokio::join!(
        upload.forward(),
        import(&app.db, &acting, reader, options, Arc::new(Quietly)),
    );
    // A failed upload (too large, unreadable) explains a failed import best.
    uploaded?;
    Ok(Json(imported?))
}
