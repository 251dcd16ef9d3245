//! `/api/v1/timer/{start,stop,status}`: one running timer per user. A running timer is a time
//! entry without an end; the unique `running_user_id` column makes "one per user" hold even
//! when two starts race.

use ::time::OffsetDateTime;
use axum::{extract::State, http::StatusCode};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{TimeEntryChanged, TimeEntryView, entity as entry, service, views};
use crate::{
    app::AppState,
    platform::{
        acting::Acting,
        auth::Caller,
        changes::WorkspaceChange,
        constraints::{self, UniqueKey},
        db::Db,
        error::{ApiError, ErrorBody, FieldErrors},
        extract::Json,
        outbox::EventType,
        time::{self, parse_datetime},
        validate::optional_text,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_timer))
        .routes(routes!(stop_timer))
        .routes(routes!(timer_status))
}

#[derive(Deserialize, ToSchema)]
pub struct StartTimer {
    /// Required (not `null`): a project of this workspace that is not archived.
    #[schema(required = true, nullable = false)]
    pub project_id: Option<Uuid>,
    /// A task of the project.
    pub task_id: Option<Uuid>,
    /// At most 5000 characters (trimmed); empty is none.
    #[schema(example = "Fixing the login bug", max_length = 5000)]
    pub notes: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
pub struct StopTimer {
    /// When it stopped: an ISO 8601 date-time (without an offset it is UTC), not before the
    /// timer's `start_time` and not in the future. `null` or left out: now. A timer stopped
    /// in the second it started becomes a 0-second entry.
    #[schema(format = DateTime, example = json!(null))]
    pub stop_time: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TimerStarted {
    #[schema(example = "Timer started successfully")]
    pub message: String,
    pub timer: TimeEntryView,
}

#[derive(Serialize, ToSchema)]
pub struct TimerStatus {
    pub active: bool,
    pub timer: Option<TimeEntryView>,
}

/// The key that keeps one running timer per user.
pub const RUNNING_TIMER: UniqueKey = UniqueKey::new(
    "ux_time_entries_running_user",
    "time_entries",
    &["running_user_id"],
);

/// The user's running timer in this workspace, if any.
pub async fn running<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<Option<entry::Model>, ApiError> {
    Ok(entry::Entity::find()
        .filter(entry::Column::RunningUserId.eq(user_id))
        .filter(entry::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?)
}

fn already_running(timer: Option<&TimeEntryView>) -> ApiError {
    ApiError::coded(
        StatusCode::CONFLICT,
        "timer_already_running",
        "You already have an active timer. Stop it before starting a new one.",
    )
    .with_details(json!({ "timer": timer }))
}

/// Starts a timer for the acting user.
pub async fn start(
    db: &Db,
    acting: &Acting,
    project_id: Option<Uuid>,
    task_id: Option<Uuid>,
    notes: Option<String>,
) -> Result<TimeEntryView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let view = start_in(&mut change, acting, project_id, task_id, notes).await?;
    change.commit().await?;
    Ok(view)
}

/// [`start`] inside a change the caller commits (a connector, recording its webhook in the
/// same transaction).
pub async fn start_in(
    change: &mut WorkspaceChange,
    acting: &Acting,
    project_id: Option<Uuid>,
    task_id: Option<Uuid>,
    notes: Option<String>,
) -> Result<TimeEntryView, ApiError> {
    let mut errors = FieldErrors::new();
    if project_id.is_none() {
        errors.add("project_id", "is required");
    }
    let notes = optional_text(&mut errors, "notes", notes, service::MAX_NOTES);
    let project = service::check_links(
        &**change,
        acting.workspace_id,
        project_id,
        task_id,
        &mut errors,
    )
    .await?;
    errors.into_result()?;
    let Some(project) = project else {
        return Err(ApiError::invalid("project_id", "is required"));
    };
    service::check_project_takes_time(&project)?;
    // Any running timer of the user, in any workspace, blocks a second one.
    if let Some(current) = entry::Entity::find()
        .filter(entry::Column::RunningUserId.eq(acting.user_id))
        .one(&**change)
        .await?
    {
        let current = views(&**change, vec![current]).await?.pop();
        return Err(already_running(current.as_ref()));
    }
    let now = time::now();
    let model = entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acting.workspace_id),
        user_id: Set(acting.user_id),
        project_id: Set(Some(project.id)),
        task_id: Set(task_id),
        start_time: Set(now),
        end_time: Set(None),
        duration_seconds: Set(None),
        notes: Set(notes),
        billable: Set(project.billable),
        paid: Set(false),
        invoice_id: Set(None),
        source: Set("timer".into()),
        running_user_id: Set(Some(acting.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&**change)
    .await
    .map_err(|e| {
        if constraints::violated(&e, &RUNNING_TIMER) {
            already_running(None)
        } else {
            e.into()
        }
    })?;
    let view = TimeEntryView::new(model, Vec::new());
    change.record(EventType::TimerStarted, view.id, &view)?;
    Ok(view)
}

/// When a timer stops.
#[derive(Clone, Copy, Debug)]
pub enum StopAt {
    /// Now: always succeeds. Times are whole seconds, so a timer stopped in the second it
    /// started (or on an instance whose clock is a little behind the one that started it)
    /// ends at its start, as a 0-second entry.
    Now,
    /// A time the client sent: not before the start.
    At(OffsetDateTime),
}

/// Stops the acting user's running timer, at `stop_time` or now.
pub async fn stop(
    db: &Db,
    acting: &Acting,
    stop_time: Option<String>,
) -> Result<TimeEntryView, ApiError> {
    let at = match stop_time.as_deref() {
        None => StopAt::Now,
        Some(text) => {
            let at = parse_datetime(text).map_err(|p| ApiError::invalid("stop_time", p))?;
            if at > time::now() {
                return Err(ApiError::invalid("stop_time", "must not be in the future"));
            }
            StopAt::At(at)
        }
    };
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let view = stop_in(&mut change, acting, at).await?;
    change.commit().await?;
    Ok(view)
}

/// Stops the acting user's running timer, inside a change the caller commits: the one rule
/// the API, `/tt stop` and every other caller share.
pub async fn stop_in(
    change: &mut WorkspaceChange,
    acting: &Acting,
    at: StopAt,
) -> Result<TimeEntryView, ApiError> {
    let now = time::now();
    let Some(current) = running(&**change, acting.workspace_id, acting.user_id).await? else {
        return Err(ApiError::coded(
            StatusCode::CONFLICT,
            "no_active_timer",
            "No active timer to stop",
        ));
    };
    let end = match at {
        StopAt::Now => now.max(current.start_time),
        StopAt::At(end) if end < current.start_time => {
            return Err(ApiError::invalid(
                "stop_time",
                format!(
                    "must not be before the timer's start_time ({})",
                    super::rfc3339(current.start_time)
                ),
            ));
        }
        StopAt::At(end) => end,
    };
    let mut active: entry::ActiveModel = current.clone().into();
    active.end_time = Set(Some(end));
    active.duration_seconds = Set(Some((end - current.start_time).whole_seconds()));
    active.running_user_id = Set(None);
    active.updated_at = Set(now);
    let model = active.update(&**change).await?;
    let view = views(&**change, vec![model]).await?.remove(0);
    change.record(EventType::TimerStopped, view.id, &view)?;
    Ok(view)
}

/// Start a timer on a project (optionally a task of it). One runs per user: a second start is
/// 409 `timer_already_running`, with the running `timer`.
#[utoipa::path(
    post, path = "/api/v1/timer/start", tag = "timer",
    request_body = StartTimer,
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 201, body = TimerStarted),
        (status = 400, description = "No or unknown project; archived project; task of another project", body = ErrorBody),
        (status = 409, description = "A timer is already running", body = ErrorBody),
    )
)]
async fn start_timer(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<StartTimer>,
) -> Result<(StatusCode, Json<TimerStarted>), ApiError> {
    let timer = start(
        &app.db,
        &caller.acting(),
        body.project_id,
        body.task_id,
        body.notes,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(TimerStarted {
            message: "Timer started successfully".into(),
            timer,
        }),
    ))
}

/// Stop the running timer: it becomes a finished time entry. Stopping always succeeds; a timer
/// stopped in the second it started becomes a 0-second entry (times are whole seconds).
#[utoipa::path(
    post, path = "/api/v1/timer/stop", tag = "timer",
    request_body(content = Option<StopTimer>, description = "Optional"),
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, body = TimeEntryChanged),
        (status = 400, description = "A stop_time sent that is unreadable, in the future or before the start", body = ErrorBody),
        (status = 409, description = "No timer is running (`no_active_timer`)", body = ErrorBody),
    )
)]
async fn stop_timer(
    State(app): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<TimeEntryChanged>, ApiError> {
    let body: StopTimer = crate::platform::extract::optional_json(&body)?;
    let time_entry = stop(&app.db, &caller.acting(), body.stop_time).await?;
    Ok(Json(TimeEntryChanged {
        message: "Timer stopped successfully".into(),
        time_entry,
    }))
}

/// Whether a timer is running, and which.
#[utoipa::path(
    get, path = "/api/v1/timer/status", tag = "timer",
    security(("api_token" = ["read:time_entries"])),
    responses((status = 200, body = TimerStatus))
)]
async fn timer_status(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<TimerStatus>, ApiError> {
    let current = running(app.db.conn(), caller.workspace_id, caller.user_id).await?;
    let timer = match current {
        Some(model) => views(app.db.conn(), vec![model]).await?.pop(),
        None => None,
    };
    Ok(Json(TimerStatus {
        active: timer.is_some(),
        timer,
    }))
}
