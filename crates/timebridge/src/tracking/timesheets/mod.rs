//! Timesheet periods: a user's week of time entries, submitted by its owner and approved or
//! rejected by an admin. Members see and change only their own periods; admins see everyone's.
//! Statuses: `draft` → `submitted` → `approved` | `rejected` (a rejected period may be
//! resubmitted; only draft and rejected periods may be deleted).

pub mod entity;
pub mod routes;
pub mod service;
pub mod worked;

use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

pub use entity::{PeriodStatus, PeriodType};

use crate::{
    platform::{money, time::iso_date},
    tracking::time_entries,
};

/// A timesheet period as the API shows it (and as `timesheet_period.*` and `approval.*` events
/// carry it).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TimesheetPeriodView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub period_type: PeriodType,
    /// A Monday.
    #[serde(with = "iso_date")]
    #[schema(value_type = String, format = Date, example = "2027-03-01")]
    pub period_start: Date,
    /// The Sunday after, inclusive.
    #[serde(with = "iso_date")]
    #[schema(value_type = String, format = Date, example = "2027-03-07")]
    pub period_end: Date,
    pub status: PeriodStatus,
    /// Hours of the owner's finished time entries starting within the period (UTC days), to
    /// two decimals.
    #[serde(with = "money::hours_json")]
    #[schema(value_type = f64, example = 38.5)]
    pub total_hours: Decimal,
    #[serde(with = "time::serde::rfc3339::option")]
    pub submitted_at: Option<OffsetDateTime>,
    pub submitted_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub approved_at: Option<OffsetDateTime>,
    pub approved_by: Option<Uuid>,
    /// The approver's comment.
    pub approval_comment: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub rejected_at: Option<OffsetDateTime>,
    pub rejected_by: Option<Uuid>,
    pub rejection_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl TimesheetPeriodView {
    /// The view of a period whose entries add up to `worked_seconds`.
    pub fn new(p: entity::Model, worked_seconds: i64) -> Self {
        Self {
            id: p.id,
            user_id: p.user_id,
            period_type: p.period_type,
            period_start: p.period_start,
            period_end: p.period_end,
            status: p.status,
            total_hours: time_entries::hours(worked_seconds),
            submitted_at: p.submitted_at,
            submitted_by: p.submitted_by,
            approved_at: p.approved_at,
            approved_by: p.approved_by,
            approval_comment: p.approval_comment,
            rejected_at: p.rejected_at,
            rejected_by: p.rejected_by,
            rejection_reason: p.rejection_reason,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}
