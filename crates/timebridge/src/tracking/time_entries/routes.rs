//! `/api/v1/time-entries`: HTTP only — parse, call the service, answer.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    TimeEntryChanged, TimeEntryView, bulk, idempotency,
    idempotency::Presented,
    import, restore,
    service::{self, Created, EntryChanges, EntryFilter, NewEntry},
    split, tagging, timer,
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody, FieldErrors},
        extract::{Json, Path, Query, double_option, from_value},
        pagination::{PageParams, PageRequest, Pagination},
        read_cache::ReadKey,
        time::parse_bound,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_entries, create_entry))
        .routes(routes!(get_entry, update_entry, delete_entry))
        .merge(bulk::routes())
        .merge(import::routes::routes())
        .merge(restore::routes())
        .merge(split::routes())
        .merge(timer::routes())
}

#[derive(Serialize, ToSchema)]
pub struct TimeEntryList {
    pub time_entries: Vec<TimeEntryView>,
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct TimeEntryEnvelope {
    pub time_entry: TimeEntryView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimeEntryListFilter {
    /// Entries starting at or after this date (`2026-03-01`, start of day UTC) or ISO 8601
    /// date-time.
    #[param(example = "2026-11-01", pattern = "^\\s*[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    pub start_date: Option<String>,
    /// Entries starting at or before this date (the whole day, UTC) or ISO 8601 date-time;
    /// not before `start_date`.
    #[param(example = "2026-11-30", pattern = "^\\s*[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    pub end_date: Option<String>,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    /// Another user's entries (admins only; members always see their own).
    pub user_id: Option<Uuid>,
    pub billable: Option<bool>,
    /// Also list running timers (default false).
    pub include_active: Option<bool>,
}

/// Tags as TimeTracker sends them (`"dev, backend"`) or as a list.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TagsInput {
    Text(String),
    List(Vec<String>),
}

impl TagsInput {
    fn names(self) -> Vec<String> {
        match self {
            Self::Text(text) => tagging::split(&text),
            Self::List(list) => list,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct CreateTimeEntry {
    /// Required (not `null`): ISO 8601 date-time; without an offset it is UTC. Kept to the
    /// second.
    #[schema(required = true, nullable = false, format = DateTime, example = "2026-11-30T09:00:00Z")]
    pub start_time: Option<String>,
    /// Required (not `null`; start a running timer with `POST /api/v1/timer/start`): ISO 8601
    /// date-time, at least one whole second after `start_time`.
    #[schema(required = true, nullable = false, format = DateTime, example = "2026-11-30T10:30:00Z")]
    pub end_time: Option<String>,
    /// A project of this workspace.
    pub project_id: Option<Uuid>,
    /// A task of `project_id` (a task needs a `project_id`).
    pub task_id: Option<Uuid>,
    /// At most 5000 characters (trimmed); empty is none.
    #[schema(example = "Reviewed the pull request", max_length = 5000)]
    pub notes: Option<String>,
    /// Tag names, each at most 100 characters (trimmed; empty names are skipped, duplicates
    /// in any case merged); missing tags are created. A comma-separated string is accepted
    /// too.
    #[schema(value_type = Option<Vec<String>>, example = json!(["backend", "review"]))]
    pub tags: Option<TagsInput>,
    /// Default: the project's billable flag (true without a project).
    pub billable: Option<bool>,
    pub paid: Option<bool>,
    /// Whose entry: admins may name a member (default: the token's user).
    pub user_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateTimeEntry {
    /// A project of this workspace; `null` clears it. Not changeable while the entry is
    /// billed on an invoice (409).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub project_id: Option<Option<Uuid>>,
    /// A task of the entry's (new) project; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub task_id: Option<Option<Uuid>>,
    /// ISO 8601 date-time; without an offset it is UTC. The entry must end at least one
    /// whole second after it starts. Not changeable while billed (409). `null` or left out:
    /// unchanged.
    #[schema(format = DateTime, example = "2026-11-30T09:00:00Z")]
    pub start_time: Option<String>,
    /// ISO 8601 date-time, at least one whole second after the (new or current) start. Not
    /// for a running timer, nor while billed (409). `null` or left out: unchanged.
    #[schema(format = DateTime, example = "2026-11-30T10:30:00Z")]
    pub end_time: Option<String>,
    /// At most 5000 characters (trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Reviewed and merged the pull request", max_length = 5000)]
    pub notes: Option<Option<String>>,
    /// Replaces the tags: names of at most 100 characters each (trimmed; empty names are
    /// skipped). A comma-separated string is accepted too. `null` or left out: unchanged.
    #[schema(value_type = Option<Vec<String>>, example = json!(["backend"]))]
    pub tags: Option<TagsInput>,
    pub billable: Option<bool>,
    pub paid: Option<bool>,
}

fn bound(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
    end: bool,
) -> Option<time::OffsetDateTime> {
    value.and_then(|v| parse_bound(v, end).map_err(|p| errors.add(field, p)).ok())
}

/// List time entries (members: their own; admins: everyone's, or `user_id`'s).
#[utoipa::path(
    get, path = "/api/v1/time-entries", tag = "time entries",
    params(PageParams, TimeEntryListFilter),
    security(("api_token" = ["read:time_entries"])),
    responses(
        (status = 200, description = "One page of entries, newest first", body = TimeEntryList),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 403, description = "A member asked for another user's entries", body = ErrorBody),
    )
)]
async fn list_entries(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(query): Query<TimeEntryListFilter>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let acting = caller.acting();
    let mut errors = FieldErrors::new();
    let start = bound(
        &mut errors,
        "start_date",
        query.start_date.as_deref(),
        false,
    );
    let end = bound(&mut errors, "end_date", query.end_date.as_deref(), true);
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        errors.add("end_date", "must not be before start_date");
    }
    errors.into_result()?;
    let filter = EntryFilter {
        user_id: acting.visible_user(query.user_id)?,
        start,
        end,
        project_id: query.project_id,
        task_id: query.task_id,
        billable: query.billable,
        include_running: query.include_active.unwrap_or(false),
    };
    let load = || async {
        let (time_entries, total) = service::list(&app.db, &acting, &filter, page).await?;
        Ok(TimeEntryList {
            time_entries,
            pagination: Pagination::new(page, total),
        })
    };
    if filter.include_running {
        // A running timer's elapsed time changes by the second: never from the cache.
        return Ok(Json(load().await?).into_response());
    }
    let key = ReadKey::new(
        caller.workspace_id,
        "time_entries.list",
        format!("{page:?}{filter:?}"),
    );
    app.reads.json(key, load).await
}

/// Get a time entry.
#[utoipa::path(
    get, path = "/api/v1/time-entries/{id}", tag = "time entries",
    params(("id" = Uuid, Path, description = "Time entry id")),
    security(("api_token" = ["read:time_entries"])),
    responses(
        (status = 200, body = TimeEntryEnvelope),
        (status = 403, description = "Another user's entry (members)", body = ErrorBody),
        (status = 404, description = "No such entry in this workspace", body = ErrorBody),
    )
)]
async fn get_entry(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<TimeEntryEnvelope>, ApiError> {
    let time_entry = service::get(&app.db, &caller.acting(), id).await?;
    Ok(Json(TimeEntryEnvelope { time_entry }))
}

fn replay(status: u16, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Create a finished time entry. With an `Idempotency-Key` header (at most 128 characters),
/// a retry with the same key and body answers the first response again and creates nothing;
/// the same key with another body is 422. Keys are per token and kept 24 hours.
#[utoipa::path(
    post, path = "/api/v1/time-entries", tag = "time entries",
    params(("Idempotency-Key" = Option<String>, Header, max_length = 128, pattern = "^[\\t\\x20-\\x7E]*$", description = "Makes retries safe: printable ASCII, at most 128 characters (trimmed; empty is no key)")),
    request_body = CreateTimeEntry,
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 201, body = TimeEntryChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 403, description = "A member creating for another user", body = ErrorBody),
        (status = 422, description = "The key was used with another body", body = ErrorBody),
    )
)]
async fn create_entry(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let key = idempotency::key_from(&headers)?.map(|key| Presented {
        token_id: caller.token_id,
        key,
        request_hash: idempotency::fingerprint(&body),
    });
    if let Some(key) = &key
        && let Some(done) = idempotency::lookup(app.db.conn(), key).await?
    {
        return Ok(replay(done.status, done.body));
    }
    let input: CreateTimeEntry = from_value(body)?;
    let new = NewEntry {
        user_id: input.user_id,
        project_id: input.project_id,
        task_id: input.task_id,
        start_time: input.start_time,
        end_time: input.end_time,
        notes: input.notes,
        tags: input.tags.map(TagsInput::names),
        billable: input.billable,
        paid: input.paid,
    };
    match service::create(&app.db, &caller.acting(), new, key.as_ref()).await? {
        Created::New(_, body) => {
            let mut response = replay(201, body);
            response.headers_mut().remove("idempotent-replayed");
            Ok(response)
        }
        Created::KeyTaken => {
            let key =
                key.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("key taken without a key")))?;
            match idempotency::lookup(app.db.conn(), &key).await? {
                Some(done) => Ok(replay(done.status, done.body)),
                None => Err(ApiError::Conflict(
                    "Another request with this Idempotency-Key is in progress; retry".into(),
                )),
            }
        }
    }
}

/// Update a time entry (`PUT` and `PATCH` both change only the fields sent).
#[utoipa::path(
    method(put, patch), path = "/api/v1/time-entries/{id}", tag = "time entries",
    params(("id" = Uuid, Path, description = "Time entry id")),
    request_body = UpdateTimeEntry,
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, body = TimeEntryChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 403, description = "Another user's entry (members)", body = ErrorBody),
        (status = 404, description = "No such entry in this workspace", body = ErrorBody),
        (status = 409, description = "Billed on an invoice, or a running timer's end", body = ErrorBody),
    )
)]
async fn update_entry(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateTimeEntry>,
) -> Result<Json<TimeEntryChanged>, ApiError> {
    let changes = EntryChanges {
        project_id: body.project_id,
        task_id: body.task_id,
        start_time: body.start_time,
        end_time: body.end_time,
        notes: body.notes,
        tags: body.tags.map(TagsInput::names),
        billable: body.billable,
        paid: body.paid,
    };
    let time_entry = service::update(&app.db, &caller.acting(), id, changes).await?;
    Ok(Json(TimeEntryChanged {
        message: "Time entry updated successfully".into(),
        time_entry,
    }))
}

/// Delete a finished, unbilled time entry. It vanishes from lists and reports at once and can be
/// restored with `POST /api/v1/time-entries/{id}/restore` for `DELETED_RETENTION_DAYS`.
#[utoipa::path(
    delete, path = "/api/v1/time-entries/{id}", tag = "time entries",
    params(("id" = Uuid, Path, description = "Time entry id")),
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, description = "The deleted entry", body = TimeEntryChanged),
        (status = 403, description = "Another user's entry (members)", body = ErrorBody),
        (status = 404, description = "No such entry in this workspace", body = ErrorBody),
        (status = 409, description = "A running timer, or billed on an invoice", body = ErrorBody),
    )
)]
async fn delete_entry(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<TimeEntryChanged>, ApiError> {
    let time_entry = service::delete(&app.db, &caller.acting(), id).await?;
    Ok(Json(TimeEntryChanged {
        message: "Time entry deleted successfully".into(),
        time_entry,
    }))
}
