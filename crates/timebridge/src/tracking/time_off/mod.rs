//! Time off: the workspace's leave types and company holidays (kept by admins), and the
//! time-off requests members file against a leave type for an admin to approve or reject.
//! Members see and change only their own requests; admins see everyone's.

pub mod entity;
pub mod holidays;
pub mod leave_types;
pub mod request_routes;
pub mod requests;
pub mod routes;

use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

pub use entity::TimeOffStatus;

use crate::platform::{
    acting::Acting,
    error::{ApiError, FieldErrors},
    money,
    time::iso_date,
};

/// Hours: `Decimal` with at most two decimals in the API, exact hundredths of an hour in the
/// database (the same arithmetic as money's cents).
pub mod hours {
    use rust_decimal::Decimal;

    use crate::platform::{error::FieldErrors, money};

    /// Checks a non-negative number of hours with at most two decimals; its hundredths.
    pub fn check(field: &str, value: Option<Decimal>, errors: &mut FieldErrors) -> Option<i64> {
        value.and_then(|v| money::check(field, v, false, errors))
    }

    /// Stored hundredths back to hours.
    pub fn from_hundredths(hundredths: i64) -> Decimal {
        money::from_cents(hundredths)
    }
}

/// Refuses a change that only admins may make.
pub fn require_admin(acting: &Acting, what: &str) -> Result<(), ApiError> {
    if acting.is_admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("Only admins can {what}")))
    }
}

/// Refuses an end date before its start date, naming `end_field`.
pub fn check_range(errors: &mut FieldErrors, end_field: &str, start: Date, end: Date) {
    if end < start {
        errors.add(end_field, "must not be before start_date");
    }
}

/// A leave type as the API shows it (and as `leave_type.*` events carry it).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LeaveTypeView {
    pub id: Uuid,
    #[schema(example = "Vacation")]
    pub name: String,
    /// Lower-case, unique within the workspace.
    #[schema(example = "vacation")]
    pub code: String,
    pub is_paid: bool,
    /// Hours a year, to two decimals.
    #[serde(with = "money::json_option")]
    #[schema(value_type = Option<f64>, example = 200.0)]
    pub annual_allowance_hours: Option<Decimal>,
    #[serde(with = "money::json_option")]
    #[schema(value_type = Option<f64>)]
    pub accrual_hours_per_month: Option<Decimal>,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<entity::leave_type::Model> for LeaveTypeView {
    fn from(t: entity::leave_type::Model) -> Self {
        Self {
            id: t.id,
            name: t.name,
            code: t.code,
            is_paid: t.is_paid,
            annual_allowance_hours: t.annual_allowance_hundredths.map(hours::from_hundredths),
            accrual_hours_per_month: t.accrual_hundredths_per_month.map(hours::from_hundredths),
            enabled: t.enabled,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A company holiday as the API shows it (and as `holiday.*` events carry it).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HolidayView {
    pub id: Uuid,
    #[schema(example = "New Year")]
    pub name: String,
    #[serde(with = "iso_date")]
    #[schema(value_type = String, format = Date, example = "2027-01-01")]
    pub start_date: Date,
    /// Inclusive.
    #[serde(with = "iso_date")]
    #[schema(value_type = String, format = Date, example = "2027-01-01")]
    pub end_date: Date,
    pub region: Option<String>,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<entity::holiday::Model> for HolidayView {
    fn from(h: entity::holiday::Model) -> Self {
        Self {
            id: h.id,
            name: h.name,
            start_date: h.start_date,
            end_date: h.end_date,
            region: h.region,
            enabled: h.enabled,
            created_at: h.created_at,
            updated_at: h.updated_at,
        }
    }
}

/// A time-off request as the API shows it (and as `time_off_request.*` events carry it).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TimeOffRequestView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub leave_type_id: Uuid,
    /// The leave type's name.
    #[schema(example = "Vacation")]
    pub leave_type: String,
    #[serde(with = "iso_date")]
    #[schema(value_type = String, format = Date, example = "2027-07-01")]
    pub start_date: Date,
    /// Inclusive.
    #[serde(with = "iso_date")]
    #[schema(value_type = String, format = Date, example = "2027-07-05")]
    pub end_date: Date,
    pub start_half_day: bool,
    pub end_half_day: bool,
    #[serde(with = "money::json_option")]
    #[schema(value_type = Option<f64>, example = 40.0)]
    pub requested_hours: Option<Decimal>,
    pub status: TimeOffStatus,
    /// The requester's comment.
    pub requested_comment: Option<String>,
    /// The approver's comment.
    pub review_comment: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub submitted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub reviewed_at: Option<OffsetDateTime>,
    pub reviewed_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl TimeOffRequestView {
    /// The view of a request of the leave type named `leave_type`.
    pub fn new(r: entity::request::Model, leave_type: String) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            leave_type_id: r.leave_type_id,
            leave_type,
            start_date: r.start_date,
            end_date: r.end_date,
            start_half_day: r.start_half_day,
            end_half_day: r.end_half_day,
            requested_hours: r.requested_hundredths.map(hours::from_hundredths),
            status: r.status,
            requested_comment: r.requested_comment,
            review_comment: r.review_comment,
            submitted_at: r.submitted_at,
            reviewed_at: r.reviewed_at,
            reviewed_by: r.reviewed_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}
