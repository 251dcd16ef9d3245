//! `POST /api/v1/time-entries/import-csv`: a whole history in one call — our own columns, a
//! Toggl Track or a Clockify detailed export. Every row is checked first; by default nothing is
//! imported when any row is invalid (the answer lists each bad row and column); with
//! `?partial=true` the valid rows are imported and the bad ones reported. Projects, clients,
//! tasks and tags named by the file are created when missing; entries belong to the caller, or
//! (admins) to the member whose email a row names.

use std::collections::HashMap;

use axum::{
    extract::{FromRequest, Multipart, Request, State},
    http::{StatusCode, header},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Func},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::UtcOffset;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    csv_rows::{Columns, RawRow, RowError, parse_flag, read_row},
    service::{self, CheckedEntry},
    tagging,
};
use crate::{
    app::AppState,
    directory::entity::{membership, user},
    platform::{
        acting::Acting,
        auth::Caller,
        changes::WorkspaceChange,
        db::Db,
        error::{ApiError, ErrorBody, FieldErrors},
        extract::{Json, Query, parse_json},
    },
    tracking::{clients, projects},
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_csv))
}

/// Most rows one import may hold.
pub const MAX_ROWS: usize = 50_000;
/// Most row errors listed in an answer.
const MAX_LISTED_ERRORS: usize = 1000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Import the valid rows and report the others (default false: all or nothing).
    pub partial: Option<bool>,
    /// The UTC offset of times written without one, e.g. `+02:00` (default `Z`).
    pub utc_offset: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportReport {
    pub success: bool,
    pub created: usize,
    pub failed: usize,
    /// Each bad row (line numbers count the header as 1) and column.
    pub errors: Vec<RowError>,
}

/// A row that passed every check, with what it still needs created.
struct ReadyRow {
    user_id: Uuid,
    project: ProjectRef,
    task: Option<TaskRef>,
    row: RawRow,
    billable: Option<bool>,
}

#[derive(Clone)]
enum ProjectRef {
    None,
    Existing(projects::entity::Model),
    /// To create, by name (with its client, by name).
    New {
        name: String,
        client: Option<String>,
    },
}

#[derive(Clone)]
enum TaskRef {
    Existing(Uuid),
    New(String),
}

/// What one import needs to know about the workspace, looked up once per distinct value.
#[derive(Default)]
struct Lookups {
    projects_by_name: HashMap<String, Option<projects::entity::Model>>,
    members_by_email: HashMap<String, Option<Uuid>>,
    created_projects: HashMap<String, Uuid>,
    created_clients: HashMap<String, Uuid>,
    tasks: HashMap<(Uuid, String), Uuid>,
}

fn parse_offset(text: Option<&str>) -> Result<UtcOffset, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(UtcOffset::UTC);
    };
    if text.eq_ignore_ascii_case("z") {
        return Ok(UtcOffset::UTC);
    }
    let format =
        ::time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    UtcOffset::parse(text, format)
        .map_err(|_| ApiError::invalid("utc_offset", "must look like +02:00 or -05:30"))
}

/// Reads the file's rows; a file without a header or a start column is refused outright.
fn read_rows(text: &str, offset: UtcOffset) -> Result<Vec<Result<RawRow, RowError>>, ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest("Empty CSV".into()));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| ApiError::BadRequest(format!("The CSV header cannot be read: {e}")))?
        .clone();
    let columns = Columns::new(&header);
    if !columns.has_start() {
        return Err(ApiError::BadRequest(
            "CSV must include a header row with a start column (start_time, or Start date and \
             Start time)"
                .into(),
        ));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        if rows.len() >= MAX_ROWS {
            return Err(ApiError::BadRequest(format!(
                "At most {MAX_ROWS} rows per import"
            )));
        }
        rows.push(match record {
            Ok(record) if record.iter().all(str::is_empty) => continue,
            Ok(record) => read_row(&record, &columns, line, offset),
            Err(e) => Err(RowError::new(line, "row", format!("unreadable CSV: {e}"))),
        });
    }
    if rows.is_empty() {
        return Err(ApiError::BadRequest("The CSV has no data rows".into()));
    }
    Ok(rows)
}

async fn find_project_by_name<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    name: &str,
) -> Result<Option<projects::entity::Model>, ApiError> {
    use projects::entity as project;
    Ok(project::Entity::find()
        .filter(project::Column::WorkspaceId.eq(workspace_id))
        .filter(Expr::expr(Func::lower(Expr::col(project::Column::Name))).eq(name.to_lowercase()))
        .one(db)
        .await?)
}

async fn member_by_email<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    email: &str,
) -> Result<Option<Uuid>, ApiError> {
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?;
    let Some(found) = found else { return Ok(None) };
    let member = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .filter(membership::Column::UserId.eq(found.id))
        .one(db)
        .await?;
    Ok(member.map(|_| found.id))
}

/// Checks one row against the workspace: whose it is, its project and task, its times.
async fn check_row<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    lookups: &mut Lookups,
    row: RawRow,
) -> Result<ReadyRow, RowError> {
    let line = row.line;
    let db_error = |e: ApiError| RowError::new(line, "row", format!("could not be checked: {e}"));
    let user_id = match (&row.email, acting.is_admin) {
        (Some(email), true) => {
            let key = email.to_lowercase();
            if !lookups.members_by_email.contains_key(&key) {
                let found = member_by_email(db, acting.workspace_id, email)
                    .await
                    .map_err(db_error)?;
                lookups.members_by_email.insert(key.clone(), found);
            }
            lookups.members_by_email[&key].ok_or_else(|| {
                RowError::new(
                    line,
                    "email",
                    format!("no member of this workspace has the email {email}"),
                )
            })?
        }
        _ => acting.user_id,
    };
    let project = resolve_project(db, acting, lookups, &row).await?;
    let task = resolve_task(db, acting, &project, &row).await?;
    let (Some(start), Some(end)) = (row.start, row.end) else {
        let column = if row.start.is_none() {
            "start_time"
        } else {
            "end_time"
        };
        return Err(RowError::new(
            line,
            column,
            "is required (ISO 8601, or a date and a time column)",
        ));
    };
    if end <= start {
        return Err(RowError::new(line, "end_time", "must be after the start"));
    }
    let billable = match row.billable.as_deref() {
        Some(flag) => Some(parse_flag(flag).map_err(|e| RowError::new(line, "billable", e))?),
        None => None,
    };
    let mut errors = FieldErrors::new();
    tagging::check_names(
        &mut errors,
        tagging::split(row.tags.as_deref().unwrap_or_default()),
    );
    if row
        .notes
        .as_ref()
        .is_some_and(|n| n.chars().count() > service::MAX_NOTES)
    {
        return Err(RowError::new(
            line,
            "notes",
            format!("must be at most {} characters", service::MAX_NOTES),
        ));
    }
    if !errors.is_empty() {
        return Err(RowError::new(
            line,
            "tags",
            "a tag name must be at most 100 characters",
        ));
    }
    Ok(ReadyRow {
        user_id,
        project,
        task,
        row,
        billable,
    })
}

async fn resolve_project<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    lookups: &mut Lookups,
    row: &RawRow,
) -> Result<ProjectRef, RowError> {
    let line = row.line;
    if let Some(id) = &row.project_id {
        let id = Uuid::parse_str(id)
            .map_err(|_| RowError::new(line, "project_id", "is not a project id (a UUID)"))?;
        return projects::service::find(db, acting.workspace_id, id)
            .await
            .map(ProjectRef::Existing)
            .map_err(|_| RowError::new(line, "project_id", "no such project in this workspace"));
    }
    let Some(name) = &row.project else {
        return Ok(ProjectRef::None);
    };
    if name.chars().count() > 200 {
        return Err(RowError::new(
            line,
            "project",
            "must be at most 200 characters",
        ));
    }
    let key = name.to_lowercase();
    if !lookups.projects_by_name.contains_key(&key) {
        let found = find_project_by_name(db, acting.workspace_id, name)
            .await
            .map_err(|e| RowError::new(line, "project", e.to_string()))?;
        lookups.projects_by_name.insert(key.clone(), found);
    }
    Ok(match &lookups.projects_by_name[&key] {
        Some(found) => ProjectRef::Existing(found.clone()),
        None => ProjectRef::New {
            name: name.clone(),
            client: row.client.clone(),
        },
    })
}

async fn resolve_task<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    project: &ProjectRef,
    row: &RawRow,
) -> Result<Option<TaskRef>, RowError> {
    let line = row.line;
    if let Some(id) = &row.task_id {
        let id = Uuid::parse_str(id)
            .map_err(|_| RowError::new(line, "task_id", "is not a task id (a UUID)"))?;
        let ProjectRef::Existing(project) = project else {
            return Err(RowError::new(
                line,
                "task_id",
                "a task needs an existing project",
            ));
        };
        let mut errors = FieldErrors::new();
        service::check_links(
            db,
            acting.workspace_id,
            Some(project.id),
            Some(id),
            &mut errors,
        )
        .await
        .map_err(|e| RowError::new(line, "task_id", e.to_string()))?;
        if !errors.is_empty() {
            return Err(RowError::new(
                line,
                "task_id",
                "no such task in the row's project",
            ));
        }
        return Ok(Some(TaskRef::Existing(id)));
    }
    match (&row.task, project) {
        (None, _) => Ok(None),
        (Some(_), ProjectRef::None) => Err(RowError::new(line, "task", "a task needs a project")),
        (Some(name), _) if name.chars().count() > 500 => Err(RowError::new(
            line,
            "task",
            "must be at most 500 characters",
        )),
        (Some(name), _) => Ok(Some(TaskRef::New(name.clone()))),
    }
}

/// Checks and (when allowed) imports the rows.
pub async fn import(
    db: &Db,
    acting: &Acting,
    text: &str,
    partial: bool,
    offset: UtcOffset,
) -> Result<ImportReport, ApiError> {
    let rows = read_rows(text, offset)?;
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let mut lookups = Lookups::default();
    let mut ready = Vec::new();
    let mut errors = Vec::new();
    for row in rows {
        let checked = match row {
            Ok(row) => check_row(&*change, acting, &mut lookups, row).await,
            Err(e) => Err(e),
        };
        match checked {
            Ok(r) => ready.push(r),
            Err(e) => errors.push(e),
        }
    }
    let failed = errors.len();
    errors.truncate(MAX_LISTED_ERRORS);
    if failed > 0 && !partial {
        // Nothing is written: the change is dropped, and rolls back.
        return Err(ApiError::coded(
            StatusCode::BAD_REQUEST,
            "validation_error",
            format!("{failed} row(s) are invalid; nothing was imported (send ?partial=true to import the valid rows)"),
        )
        .with_details(json!({"success": false, "created": 0, "failed": failed, "errors": errors})));
    }
    let created = ready.len();
    for row in ready {
        let checked = materialize(&mut change, acting, &mut lookups, row).await?;
        service::insert(&mut change, checked, "import").await?;
    }
    change.commit().await?;
    Ok(ImportReport {
        success: true,
        created,
        failed,
        errors,
    })
}

/// Creates what a checked row still needs (its project, client, task) and returns the entry.
async fn materialize(
    change: &mut WorkspaceChange,
    acting: &Acting,
    lookups: &mut Lookups,
    ready: ReadyRow,
) -> Result<CheckedEntry, ApiError> {
    let (project_id, default_billable) = match &ready.project {
        ProjectRef::None => (None, true),
        ProjectRef::Existing(p) => (Some(p.id), p.billable),
        ProjectRef::New { name, client } => (
            Some(create_project(change, acting, lookups, name, client.as_deref()).await?),
            true,
        ),
    };
    let task_id = match (&ready.task, project_id) {
        (Some(TaskRef::Existing(id)), _) => Some(*id),
        (Some(TaskRef::New(name)), Some(project_id)) => {
            Some(find_or_create_task(change, acting, lookups, project_id, name).await?)
        }
        _ => None,
    };
    let row = ready.row;
    let (Some(start), Some(end)) = (row.start, row.end) else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "a checked row lost its times"
        )));
    };
    Ok(CheckedEntry {
        workspace_id: acting.workspace_id,
        user_id: ready.user_id,
        project_id,
        task_id,
        start,
        end,
        notes: row.notes,
        tags: tagging::check_names(
            &mut FieldErrors::new(),
            tagging::split(row.tags.as_deref().unwrap_or_default()),
        ),
        billable: ready.billable.unwrap_or(default_billable),
        paid: false,
    })
}

async fn create_project(
    change: &mut WorkspaceChange,
    acting: &Acting,
    lookups: &mut Lookups,
    name: &str,
    client: Option<&str>,
) -> Result<Uuid, ApiError> {
    if let Some(id) = lookups.created_projects.get(&name.to_lowercase()) {
        return Ok(*id);
    }
    let client_id = match client {
        Some(client) => Some(find_or_create_client(change, acting, lookups, client).await?),
        None => None,
    };
    let new = projects::service::NewProject {
        name: name.to_owned(),
        client_id,
        ..Default::default()
    };
    let view = projects::service::insert(change, acting.workspace_id, new, None).await?;
    lookups
        .created_projects
        .insert(name.to_lowercase(), view.id);
    Ok(view.id)
}

async fn find_or_create_client(
    change: &mut WorkspaceChange,
    acting: &Acting,
    lookups: &mut Lookups,
    name: &str,
) -> Result<Uuid, ApiError> {
    use clients::entity as client;
    let key = name.to_lowercase();
    if let Some(id) = lookups.created_clients.get(&key) {
        return Ok(*id);
    }
    let existing = client::Entity::find()
        .filter(client::Column::WorkspaceId.eq(acting.workspace_id))
        .filter(Expr::expr(Func::lower(Expr::col(client::Column::Name))).eq(key.clone()))
        .one(&**change)
        .await?;
    let id = match existing {
        Some(found) => found.id,
        None => {
            let new = clients::service::NewClient {
                name: name.chars().take(200).collect(),
                ..Default::default()
            };
            clients::service::insert(change, acting.workspace_id, new, None)
                .await?
                .id
        }
    };
    lookups.created_clients.insert(key, id);
    Ok(id)
}

async fn find_or_create_task(
    change: &mut WorkspaceChange,
    acting: &Acting,
    lookups: &mut Lookups,
    project_id: Uuid,
    name: &str,
) -> Result<Uuid, ApiError> {
    let key = (project_id, name.to_lowercase());
    if let Some(id) = lookups.tasks.get(&key) {
        return Ok(*id);
    }
    let id =
        super::task_link::find_or_create(change, acting.workspace_id, project_id, name).await?;
    lookups.tasks.insert(key, id);
    Ok(id)
}

/// The CSV text of the request: a multipart `file`, JSON `{"csv": "..."}`, or the raw body.
async fn csv_text(request: Request, state: &AppState) -> Result<String, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(request, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("Unreadable multipart body: {e}")))?;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::BadRequest(format!("Unreadable multipart body: {e}")))?
        {
            if field.name() == Some("file") {
                return field
                    .text()
                    .await
                    .map_err(|e| ApiError::BadRequest(format!("Unreadable file: {e}")));
            }
        }
        return Err(ApiError::invalid(
            "file",
            "is required (a multipart field named file)",
        ));
    }
    let bytes = axum::body::Bytes::from_request(request, state)
        .await
        .map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit_bytes: state.config.max_body_bytes,
                }
            } else {
                ApiError::BadRequest(e.body_text())
            }
        })?;
    if content_type.starts_with("application/json") {
        #[derive(Deserialize)]
        struct Wrapped {
            csv: Option<String>,
            data: Option<String>,
        }
        let wrapped: Wrapped = parse_json(&bytes)?;
        return wrapped
            .csv
            .or(wrapped.data)
            .ok_or_else(|| ApiError::invalid("csv", "is required"));
    }
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::BadRequest("The CSV must be UTF-8 text".into()))
}

/// Import time entries from a CSV file: ours, a Toggl Track or a Clockify detailed export.
#[utoipa::path(
    post, path = "/api/v1/time-entries/import-csv", tag = "time entries",
    params(ImportQuery),
    request_body(content = String, description = "A multipart field `file`, JSON `{\"csv\": \"...\"}`, or the CSV itself", content_type = "text/csv"),
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, description = "Imported (with `partial=true`, bad rows are listed)", body = ImportReport),
        (status = 400, description = "Empty file, no header, or (by default) any invalid row: nothing imported, each bad row listed", body = ErrorBody),
    )
)]
async fn import_csv(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ImportQuery>,
    request: Request,
) -> Result<Json<ImportReport>, ApiError> {
    let offset = parse_offset(query.utc_offset.as_deref())?;
    let text = csv_text(request, &app).await?;
    let report = import(
        &app.db,
        &caller.acting(),
        &text,
        query.partial.unwrap_or(false),
        offset,
    )
    .await?;
    Ok(Json(report))
}
