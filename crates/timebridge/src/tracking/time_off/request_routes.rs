//! `/api/v1/time-off/requests`: HTTP only — parse, call the service, answer.

use axum::{extract::State, http::StatusCode, response::Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    TimeOffRequestView, TimeOffStatus,
    requests::{self, Decision, NewRequest, RequestFilter},
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
        .routes(routes!(list_requests, create_request))
        .routes(routes!(delete_request))
        .routes(routes!(approve_request))
        .routes(routes!(reject_request))
}

#[derive(Serialize, ToSchema)]
pub struct TimeOffRequestList {
    pub time_off_requests: Vec<TimeOffRequestView>,
    pub pagination: Pagination,
}

/// A change's answer: what happened, and the request as it is now (or was, when deleted).
#[derive(Serialize, ToSchema)]
pub struct TimeOffRequestChanged {
    #[schema(example = "Time-off request created successfully")]
    pub message: String,
    pub time_off_request: TimeOffRequestView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestListFilter {
    /// Only this user's requests (admins; a member may name only themselves).
    pub user_id: Option<Uuid>,
    pub status: Option<TimeOffStatus>,
    /// Requests ending on or after this date.
    #[serde(default, deserialize_with = "iso_date::option::deserialize")]
    #[param(value_type = Option<String>, format = Date)]
    pub start_date: Option<Date>,
    /// Requests starting on or before this date; not before `start_date`.
    #[serde(default, deserialize_with = "iso_date::option::deserialize")]
    #[param(value_type = Option<String>, format = Date)]
    pub end_date: Option<Date>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateTimeOffRequest {
    /// An enabled leave type of this workspace.
    pub leave_type_id: Uuid,
    /// `YYYY-MM-DD`.
    #[serde(deserialize_with = "iso_date::deserialize")]
    #[schema(value_type = String, format = Date, example = "2027-07-01")]
    pub start_date: Date,
    /// `YYYY-MM-DD`, inclusive; not before `start_date`.
    #[serde(deserialize_with = "iso_date::deserialize")]
    #[schema(value_type = String, format = Date, example = "2027-07-05")]
    pub end_date: Date,
    /// Default `false`.
    pub start_half_day: Option<bool>,
    /// Default `false`.
    pub end_half_day: Option<bool>,
    /// Non-negative, at most two decimals, below 10^12. A number or a decimal string.
    #[schema(value_type = Option<f64>, example = 40.0, minimum = 0, maximum = 999999999999.99)]
    pub requested_hours: Option<Decimal>,
    /// At most 2000 characters (trimmed); empty is none.
    #[schema(example = "Summer holiday", max_length = 2000)]
    pub comment: Option<String>,
    /// Default `true`: submit for approval at once; `false` saves a draft.
    pub submit: Option<bool>,
}

/// An approver's optional comment.
#[derive(Default, Deserialize, ToSchema)]
pub struct ReviewComment {
    /// At most 2000 characters (trimmed); empty is none.
    #[schema(example = "Enjoy your holiday", max_length = 2000)]
    pub comment: Option<String>,
}

/// List time-off requests, latest start first. Members see their own; admins everyone's.
#[utoipa::path(
    get, path = "/api/v1/time-off/requests", tag = "time off",
    params(PageParams, RequestListFilter),
    security(("api_token" = ["read:time_entries"])),
    responses(
        (status = 200, description = "One page of requests", body = TimeOffRequestList),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 403, description = "A member asked for someone else's requests", body = ErrorBody),
    )
)]
async fn list_requests(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<RequestListFilter>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let acting = caller.acting();
    let filter = RequestFilter {
        user_id: acting.visible_user(filter.user_id)?,
        status: filter.status,
        start_date: filter.start_date,
        end_date: filter.end_date,
    };
    // The filter's user is what the viewer may see, so it keys the viewer too.
    let key = ReadKey::new(
        caller.workspace_id,
        "time_off_requests.list",
        format!("{page:?}{filter:?}"),
    );
    app.reads
        .json(key, || async {
            let (time_off_requests, total) =
                requests::list(&app.db, &acting, &filter, page).await?;
            Ok(TimeOffRequestList {
                time_off_requests,
                pagination: Pagination::new(page, total),
            })
        })
        .await
}

/// File a time-off request for yourself.
#[utoipa::path(
    post, path = "/api/v1/time-off/requests", tag = "time off",
    request_body = CreateTimeOffRequest,
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 201, body = TimeOffRequestChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn create_request(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateTimeOffRequest>,
) -> Result<(StatusCode, Json<TimeOffRequestChanged>), ApiError> {
    let new = NewRequest {
        leave_type_id: body.leave_type_id,
        start_date: body.start_date,
        end_date: body.end_date,
        start_half_day: body.start_half_day,
        end_half_day: body.end_half_day,
        requested_hours: body.requested_hours,
        comment: body.comment,
        submit: body.submit,
    };
    let time_off_request = requests::create(&app.db, &caller.acting(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(TimeOffRequestChanged {
            message: "Time-off request created successfully".into(),
            time_off_request,
        }),
    ))
}

/// Approve a draft or submitted time-off request (admins only).
#[utoipa::path(
    post, path = "/api/v1/time-off/requests/{id}/approve", tag = "time off",
    params(("id" = Uuid, Path, description = "Time-off request id")),
    request_body = Option<ReviewComment>,
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, body = TimeOffRequestChanged),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 404, description = "No such request in this workspace", body = ErrorBody),
        (status = 409, description = "The request has already been processed", body = ErrorBody),
    )
)]
async fn approve_request(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    OptionalJson(body): OptionalJson<ReviewComment>,
) -> Result<Json<TimeOffRequestChanged>, ApiError> {
    let time_off_request = requests::decide(
        &app.db,
        &caller.acting(),
        id,
        Decision::Approve,
        body.comment,
    )
    .await?;
    Ok(Json(TimeOffRequestChanged {
        message: "Time-off request approved".into(),
        time_off_request,
    }))
}

/// Reject a draft or submitted time-off request (admins only).
#[utoipa::path(
    post, path = "/api/v1/time-off/requests/{id}/reject", tag = "time off",
    params(("id" = Uuid, Path, description = "Time-off request id")),
    request_body = Option<ReviewComment>,
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, body = TimeOffRequestChanged),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 404, description = "No such request in this workspace", body = ErrorBody),
        (status = 409, description = "The request has already been processed", body = ErrorBody),
    )
)]
async fn reject_request(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    OptionalJson(body): OptionalJson<ReviewComment>,
) -> Result<Json<TimeOffRequestChanged>, ApiError> {
    let time_off_request = requests::decide(
        &app.db,
        &caller.acting(),
        id,
        Decision::Reject,
        body.comment,
    )
    .await?;
    Ok(Json(TimeOffRequestChanged {
        message: "Time-off request rejected".into(),
        time_off_request,
    }))
}

/// Delete a draft, submitted or cancelled request (its owner or an admin).
#[utoipa::path(
    delete, path = "/api/v1/time-off/requests/{id}", tag = "time off",
    params(("id" = Uuid, Path, description = "Time-off request id")),
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, description = "The deleted request", body = TimeOffRequestChanged),
        (status = 403, description = "Someone else's request", body = ErrorBody),
        (status = 404, description = "No such request in this workspace", body = ErrorBody),
        (status = 409, description = "The request was already approved or rejected", body = ErrorBody),
    )
)]
async fn delete_request(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<TimeOffRequestChanged>, ApiError> {
    let time_off_request = requests::delete(&app.db, &caller.acting(), id).await?;
    Ok(Json(TimeOffRequestChanged {
        message: "Time-off request deleted successfully".into(),
        time_off_request,
    }))
}
