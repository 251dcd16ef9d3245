//! `/api/v1/time-off/leave-types` and `/api/v1/time-off/holidays`: HTTP only — parse, call
//! the service, answer. The requests' routes are in [`super::request_routes`].

use axum::{extract::State, http::StatusCode, response::Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    HolidayView, LeaveTypeView,
    holidays::{self, HolidayFilter, NewHoliday},
    leave_types::{self, NewLeaveType},
    request_routes,
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query},
        pagination::{PageParams, PageRequest, Pagination},
        read_cache::ReadKey,
        time::iso_date,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_leave_types, create_leave_type))
        .routes(routes!(delete_leave_type))
        .routes(routes!(list_holidays, create_holiday))
        .routes(routes!(delete_holiday))
        .merge(request_routes::routes())
}

#[derive(Serialize, ToSchema)]
pub struct LeaveTypeList {
    pub leave_types: Vec<LeaveTypeView>,
    pub pagination: Pagination,
}

/// A change's answer: what happened, and the leave type as it is now (or was, when deleted).
#[derive(Serialize, ToSchema)]
pub struct LeaveTypeChanged {
    #[schema(example = "Leave type created successfully")]
    pub message: String,
    pub leave_type: LeaveTypeView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeaveTypeListFilter {
    /// Only enabled leave types (default `true`); `false` lists disabled ones too.
    pub enabled_only: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateLeaveType {
    /// 1 to 200 characters (trimmed; not only spaces).
    #[schema(
        example = "Vacation",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: String,
    /// 1 to 64 characters (trimmed; not only spaces), stored lower-cased; unique within the
    /// workspace.
    #[schema(example = "vacation", min_length = 1, max_length = 64, pattern = "\\S")]
    pub code: String,
    /// Default `true`.
    pub is_paid: Option<bool>,
    /// Hours a year: non-negative, at most two decimals, below 10^12. A number or a decimal
    /// string.
    #[schema(value_type = Option<f64>, example = 200.0, minimum = 0, maximum = 999999999999.99)]
    pub annual_allowance_hours: Option<Decimal>,
    /// Hours accrued a month: non-negative, at most two decimals, below 10^12. A number or a
    /// decimal string.
    #[schema(value_type = Option<f64>, example = 16.67, minimum = 0, maximum = 999999999999.99)]
    pub accrual_hours_per_month: Option<Decimal>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct HolidayList {
    pub holidays: Vec<HolidayView>,
    pub pagination: Pagination,
}

/// A change's answer: what happened, and the holiday as it is now (or was, when deleted).
#[derive(Serialize, ToSchema)]
pub struct HolidayChanged {
    #[schema(example = "Holiday created successfully")]
    pub message: String,
    pub holiday: HolidayView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HolidayListFilter {
    /// Holidays ending on or after this date.
    #[serde(default, deserialize_with = "iso_date::option::deserialize")]
    #[param(value_type = Option<String>, format = Date)]
    pub start_date: Option<Date>,
    /// Holidays starting on or before this date; not before `start_date`.
    #[serde(default, deserialize_with = "iso_date::option::deserialize")]
    #[param(value_type = Option<String>, format = Date)]
    pub end_date: Option<Date>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateHoliday {
    /// 1 to 200 characters (trimmed; not only spaces).
    #[schema(
        example = "New Year",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: String,
    /// `YYYY-MM-DD`.
    #[serde(deserialize_with = "iso_date::deserialize")]
    #[schema(value_type = String, format = Date, example = "2027-01-01")]
    pub start_date: Date,
    /// `YYYY-MM-DD`, inclusive; not before `start_date`.
    #[serde(deserialize_with = "iso_date::deserialize")]
    #[schema(value_type = String, format = Date, example = "2027-01-01")]
    pub end_date: Date,
    /// At most 64 characters (trimmed); empty is none.
    #[schema(example = "DE-BE", max_length = 64)]
    pub region: Option<String>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

/// List leave types, by name.
#[utoipa::path(
    get, path = "/api/v1/time-off/leave-types", tag = "time off",
    params(PageParams, LeaveTypeListFilter),
    security(("api_token" = ["read:reports"])),
    responses(
        (status = 200, description = "One page of leave types", body = LeaveTypeList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list_leave_types(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<LeaveTypeListFilter>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let enabled_only = filter.enabled_only.unwrap_or(true);
    let key = ReadKey::new(
        caller.workspace_id,
        "leave_types.list",
        format!("{page:?}{enabled_only}"),
    );
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let (leave_types, total) =
                leave_types::list(&app.db, &acting, enabled_only, page).await?;
            Ok(LeaveTypeList {
                leave_types,
                pagination: Pagination::new(page, total),
            })
        })
        .await
}

/// Create a leave type (admins only).
#[utoipa::path(
    post, path = "/api/v1/time-off/leave-types", tag = "time off",
    request_body = CreateLeaveType,
    security(("api_token" = ["write:reports"])),
    responses(
        (status = 201, body = LeaveTypeChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 409, description = "A leave type with this code exists", body = ErrorBody),
    )
)]
async fn create_leave_type(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateLeaveType>,
) -> Result<(StatusCode, Json<LeaveTypeChanged>), ApiError> {
    let new = NewLeaveType {
        name: body.name,
        code: body.code,
        is_paid: body.is_paid,
        annual_allowance_hours: body.annual_allowance_hours,
        accrual_hours_per_month: body.accrual_hours_per_month,
        enabled: body.enabled,
    };
    let leave_type = leave_types::create(&app.db, &caller.acting(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(LeaveTypeChanged {
            message: "Leave type created successfully".into(),
            leave_type,
        }),
    ))
}

/// Delete a leave type that no time-off request uses (admins only).
#[utoipa::path(
    delete, path = "/api/v1/time-off/leave-types/{id}", tag = "time off",
    params(("id" = Uuid, Path, description = "Leave type id")),
    security(("api_token" = ["write:reports"])),
    responses(
        (status = 200, description = "The deleted leave type", body = LeaveTypeChanged),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 404, description = "No such leave type in this workspace", body = ErrorBody),
        (status = 409, description = "Time-off requests use the leave type", body = ErrorBody),
    )
)]
async fn delete_leave_type(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<LeaveTypeChanged>, ApiError> {
    let leave_type = leave_types::delete(&app.db, &caller.acting(), id).await?;
    Ok(Json(LeaveTypeChanged {
        message: "Leave type deleted successfully".into(),
        leave_type,
    }))
}

/// List company holidays overlapping a date range, by start date.
#[utoipa::path(
    get, path = "/api/v1/time-off/holidays", tag = "time off",
    params(PageParams, HolidayListFilter),
    security(("api_token" = ["read:reports"])),
    responses(
        (status = 200, description = "One page of holidays", body = HolidayList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list_holidays(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<HolidayListFilter>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let filter = HolidayFilter {
        start_date: filter.start_date,
        end_date: filter.end_date,
    };
    let key = ReadKey::new(
        caller.workspace_id,
        "holidays.list",
        format!("{page:?}{filter:?}"),
    );
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let (holidays, total) = holidays::list(&app.db, &acting, &filter, page).await?;
            Ok(HolidayList {
                holidays,
                pagination: Pagination::new(page, total),
            })
        })
        .await
}

/// Create a company holiday (admins only).
#[utoipa::path(
    post, path = "/api/v1/time-off/holidays", tag = "time off",
    request_body = CreateHoliday,
    security(("api_token" = ["write:reports"])),
    responses(
        (status = 201, body = HolidayChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
    )
)]
async fn create_holiday(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateHoliday>,
) -> Result<(StatusCode, Json<HolidayChanged>), ApiError> {
    let new = NewHoliday {
        name: body.name,
        start_date: body.start_date,
        end_date: body.end_date,
        region: body.region,
        enabled: body.enabled,
    };
    let holiday = holidays::create(&app.db, &caller.acting(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(HolidayChanged {
            message: "Holiday created successfully".into(),
            holiday,
        }),
    ))
}

/// Delete a company holiday (admins only).
#[utoipa::path(
    delete, path = "/api/v1/time-off/holidays/{id}", tag = "time off",
    params(("id" = Uuid, Path, description = "Holiday id")),
    security(("api_token" = ["write:reports"])),
    responses(
        (status = 200, description = "The deleted holiday", body = HolidayChanged),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 404, description = "No such holiday in this workspace", body = ErrorBody),
    )
)]
async fn delete_holiday(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<HolidayChanged>, ApiError> {
    let holiday = holidays::delete(&app.db, &caller.acting(), id).await?;
    Ok(Json(HolidayChanged {
        message: "Holiday deleted successfully".into(),
        holiday,
    }))
}
