//! `/api/v1/timesheet-periods`: HTTP only — parse, call the service, answer.

use axum::{extract::State, http::StatusCode, response::Response};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    PeriodStatus, PeriodType, TimesheetPeriodView,
    service::{self, PeriodFilter, PeriodRequest},
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, OptionalJson, Path, Query},
        pagination::{PageParams, PageRequest, Pagination},
        read_cache::ReadKey,
        time::iso_date,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_periods, open_period))
        .routes(routes!(delete_period))
        .routes(routes!(submit_period))
        .routes(routes!(approve_period))
        .routes(routes!(reject_period))
}

#[derive(Serialize, ToSchema)]
pub struct TimesheetPeriodList {
    pub timesheet_periods: Vec<TimesheetPeriodView>,
    pub pagination: Pagination,
}

/// What happened, and the period as it is now (or was, when deleted).
#[derive(Serialize, ToSchema)]
pub struct TimesheetPeriodChanged {
    #[schema(example = "Timesheet period submitted")]
    pub message: String,
    pub timesheet_period: TimesheetPeriodView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodListFilter {
    /// Only this user's periods (admins; a member may name only themselves).
    pub user_id: Option<Uuid>,
    pub status: Option<PeriodStatus>,
    /// Periods ending on or after this date.
    #[serde(default, deserialize_with = "iso_date::option::deserialize")]
    #[param(value_type = Option<String>, format = Date)]
    pub start_date: Option<Date>,
    /// Periods starting on or before this date; not before `start_date`.
    #[serde(default, deserialize_with = "iso_date::option::deserialize")]
    #[param(value_type = Option<String>, format = Date)]
    pub end_date: Option<Date>,
}

#[derive(Default, Deserialize, ToSchema)]
pub struct OpenPeriod {
    /// A day of the period (`YYYY-MM-DD`); default today (UTC).
    #[serde(default, deserialize_with = "iso_date::option::deserialize")]
    #[schema(value_type = Option<String>, format = Date, example = "2027-03-03")]
    pub reference_date: Option<Date>,
    /// Default `weekly` (Monday to Sunday), the only kind for now.
    pub period_type: Option<PeriodType>,
    /// Whose period (admins only); default yours.
    pub user_id: Option<Uuid>,
}

/// An approver's optional comment.
#[derive(Default, Deserialize, ToSchema)]
pub struct ApprovalComment {
    /// At most 2000 characters (trimmed); empty is none.
    #[schema(example = "Looks good", max_length = 2000)]
    pub comment: Option<String>,
}

/// Why a period is rejected.
#[derive(Default, Deserialize, ToSchema)]
pub struct RejectionReason {
    /// Required (not `null`): 1 to 2000 characters (trimmed; not only spaces).
    #[schema(
        required = true,
        nullable = false,
        example = "Friday's hours are missing",
        min_length = 1,
        max_length = 2000,
        pattern = "\\S"
    )]
    pub reason: Option<String>,
}

/// List timesheet periods, latest first. Members see their own; admins everyone's.
#[utoipa::path(
    get, path = "/api/v1/timesheet-periods", tag = "timesheets",
    params(PageParams, PeriodListFilter),
    security(("api_token" = ["read:time_entries"])),
    responses(
        (status = 200, description = "One page of periods", body = TimesheetPeriodList),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 403, description = "A member asked for someone else's periods", body = ErrorBody),
    )
)]
async fn list_periods(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<PeriodListFilter>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let acting = caller.acting();
    let filter = PeriodFilter {
        user_id: acting.visible_user(filter.user_id)?,
        status: filter.status,
        start_date: filter.start_date,
        end_date: filter.end_date,
    };
    // The filter's user is what the viewer may see, so it keys the viewer too.
    let key = ReadKey::new(
        caller.workspace_id,
        "timesheet_periods.list",
        format!("{page:?}{filter:?}"),
    );
    app.reads
        .json(key, || async {
            let (timesheet_periods, total) = service::list(&app.db, &acting, &filter, page).await?;
            Ok(TimesheetPeriodList {
                timesheet_periods,
                pagination: Pagination::new(page, total),
            })
        })
        .await
}

/// Open the week containing a date: 201 with the new draft period, or 200 with the existing
/// one.
#[utoipa::path(
    post, path = "/api/v1/timesheet-periods", tag = "timesheets",
    request_body = Option<OpenPeriod>,
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 201, description = "The period was created", body = TimesheetPeriodChanged),
        (status = 200, description = "The period already existed", body = TimesheetPeriodChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 403, description = "A member named another user", body = ErrorBody),
    )
)]
async fn open_period(
    State(app): State<AppState>,
    caller: Caller,
    OptionalJson(body): OptionalJson<OpenPeriod>,
) -> Result<(StatusCode, Json<TimesheetPeriodChanged>), ApiError> {
    let request = PeriodRequest {
        reference_date: body.reference_date,
        period_type: body.period_type,
        user_id: body.user_id,
    };
    let (timesheet_period, created) = service::open(&app.db, &caller.acting(), request).await?;
    let (status, message) = if created {
        (StatusCode::CREATED, "Timesheet period created successfully")
    } else {
        (StatusCode::OK, "Timesheet period already exists")
    };
    Ok((
        status,
        Json(TimesheetPeriodChanged {
            message: message.into(),
            timesheet_period,
        }),
    ))
}

/// Submit your own draft or rejected period for approval.
#[utoipa::path(
    post, path = "/api/v1/timesheet-periods/{id}/submit", tag = "timesheets",
    params(("id" = Uuid, Path, description = "Timesheet period id")),
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, body = TimesheetPeriodChanged),
        (status = 403, description = "Someone else's period", body = ErrorBody),
        (status = 404, description = "No such period in this workspace", body = ErrorBody),
        (status = 409, description = "Not draft or rejected, or a timer runs in it", body = ErrorBody),
    )
)]
async fn submit_period(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<TimesheetPeriodChanged>, ApiError> {
    let timesheet_period = service::submit(&app.db, &caller.acting(), id).await?;
    Ok(Json(TimesheetPeriodChanged {
        message: "Timesheet period submitted".into(),
        timesheet_period,
    }))
}

/// Approve a submitted period (admins only).
#[utoipa::path(
    post, path = "/api/v1/timesheet-periods/{id}/approve", tag = "timesheets",
    params(("id" = Uuid, Path, description = "Timesheet period id")),
    request_body = Option<ApprovalComment>,
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, body = TimesheetPeriodChanged),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 404, description = "No such period in this workspace", body = ErrorBody),
        (status = 409, description = "The period is not submitted", body = ErrorBody),
    )
)]
async fn approve_period(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    OptionalJson(body): OptionalJson<ApprovalComment>,
) -> Result<Json<TimesheetPeriodChanged>, ApiError> {
    let timesheet_period = service::approve(&app.db, &caller.acting(), id, body.comment).await?;
    Ok(Json(TimesheetPeriodChanged {
        message: "Timesheet period approved".into(),
        timesheet_period,
    }))
}

/// Reject a submitted period with a reason (admins only).
#[utoipa::path(
    post, path = "/api/v1/timesheet-periods/{id}/reject", tag = "timesheets",
    params(("id" = Uuid, Path, description = "Timesheet period id")),
    request_body = RejectionReason,
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, body = TimesheetPeriodChanged),
        (status = 400, description = "No reason", body = ErrorBody),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 404, description = "No such period in this workspace", body = ErrorBody),
        (status = 409, description = "The period is not submitted", body = ErrorBody),
    )
)]
async fn reject_period(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    OptionalJson(body): OptionalJson<RejectionReason>,
) -> Result<Json<TimesheetPeriodChanged>, ApiError> {
    let timesheet_period = service::reject(&app.db, &caller.acting(), id, body.reason).await?;
    Ok(Json(TimesheetPeriodChanged {
        message: "Timesheet period rejected".into(),
        timesheet_period,
    }))
}

/// Delete a draft or rejected period (its owner or an admin).
#[utoipa::path(
    delete, path = "/api/v1/timesheet-periods/{id}", tag = "timesheets",
    params(("id" = Uuid, Path, description = "Timesheet period id")),
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, description = "The deleted period", body = TimesheetPeriodChanged),
        (status = 403, description = "Someone else's period", body = ErrorBody),
        (status = 404, description = "No such period in this workspace", body = ErrorBody),
        (status = 409, description = "The period is submitted or approved", body = ErrorBody),
    )
)]
async fn delete_period(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<TimesheetPeriodChanged>, ApiError> {
    let timesheet_period = service::delete(&app.db, &caller.acting(), id).await?;
    Ok(Json(TimesheetPeriodChanged {
        message: "Timesheet period deleted successfully".into(),
        timesheet_period,
    }))
}
