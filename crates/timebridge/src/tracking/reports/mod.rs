//! Reports: `GET /reports/summary`, the hours (and billable amounts) of finished time entries
//! in a date range, in total and by project, user and day. Members see only their own time;
//! admins anyone's, or everyone's. Aggregated in the database, whatever the range.

pub mod routes;
pub mod service;

use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::{money, time::iso_date};

/// The summary of a range. Hours are exact two-place decimals (the range's seconds, then
/// rounded half-up); amounts are billable hours × the rate, per project, to the cent.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Summary {
    /// First instant of the range.
    #[serde(with = "time::serde::rfc3339")]
    pub start_date: OffsetDateTime,
    /// Last instant of the range (a date bound covers the whole day).
    #[serde(with = "time::serde::rfc3339")]
    pub end_date: OffsetDateTime,
    #[serde(with = "money::hours_json")]
    #[schema(value_type = f64, example = 12.5)]
    pub total_hours: Decimal,
    #[serde(with = "money::hours_json")]
    #[schema(value_type = f64, example = 10.0)]
    pub billable_hours: Decimal,
    /// Σ of the projects' billable amounts.
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 1000.0)]
    pub billable_amount: Decimal,
    pub total_entries: u64,
    /// Per project, by name (time without a project counts only in the totals).
    pub by_project: Vec<ProjectSummary>,
    /// Per user, by name.
    pub by_user: Vec<UserSummary>,
    /// Per day (UTC) with time, in date order.
    pub by_day: Vec<DaySummary>,
}

/// One project's share of a summary.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProjectSummary {
    pub project_id: Uuid,
    pub project_name: String,
    #[serde(with = "money::hours_json")]
    #[schema(value_type = f64, example = 12.5)]
    pub hours: Decimal,
    #[serde(with = "money::hours_json")]
    #[schema(value_type = f64, example = 10.0)]
    pub billable_hours: Decimal,
    /// Billable hours × the project's hourly rate (else its client's default rate, else 0).
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 1000.0)]
    pub billable_amount: Decimal,
    pub entries: u64,
}

/// One user's share of a summary.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UserSummary {
    pub user_id: Uuid,
    pub user_name: String,
    #[serde(with = "money::hours_json")]
    #[schema(value_type = f64, example = 12.5)]
    pub hours: Decimal,
    #[serde(with = "money::hours_json")]
    #[schema(value_type = f64, example = 10.0)]
    pub billable_hours: Decimal,
    pub entries: u64,
}

/// One day's share of a summary (by the entries' start, UTC).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DaySummary {
    #[serde(with = "iso_date")]
    #[schema(value_type = String, format = Date, example = "2026-11-23")]
    pub date: Date,
    #[serde(with = "money::hours_json")]
    #[schema(value_type = f64, example = 8.0)]
    pub hours: Decimal,
    #[serde(with = "money::hours_json")]
    #[schema(value_type = f64, example = 6.5)]
    pub billable_hours: Decimal,
}
