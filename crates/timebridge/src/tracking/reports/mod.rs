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

/// The summary of a range. Totals are the range's seconds as hours, rounded half-up to two
/// places. Each breakdown (by project, by user, by day) adds up to the totals exactly: its rows
/// share the total's hundredths by largest remainder, so a row may show 0.01 h more or less
/// than its own time rounded alone. Amounts are, per project, the billable hours its row shows
/// × its rate, to the cent.
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
    /// Per project, by name, then the time without a project (`project_id: null`, named
    /// [`NO_PROJECT`]) when there is some: the rows add up to the totals.
    pub by_project: Vec<ProjectSummary>,
    /// Per user, by name.
    pub by_user: Vec<UserSummary>,
    /// Per day (UTC) with time, in date order.
    pub by_day: Vec<DaySummary>,
}

/// The name of the row of time without a project.
pub const NO_PROJECT: &str = "No project";

/// One project's share of a summary, or the share of time without a project.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProjectSummary {
    /// `null` for the time without a project.
    pub project_id: Option<Uuid>,
    /// The project's name, or `No project`.
    #[schema(example = "Website relaunch")]
    pub project_name: String,
    #[serde(with = "money::hours_json")]
    #[schema(value_type = f64, example = 12.5)]
    pub hours: Decimal,
    #[serde(with = "money::hours_json")]
    #[schema(value_type = f64, example = 10.0)]
    pub billable_hours: Decimal,
    /// Billable hours × the project's hourly rate (else its client's default rate, else 0; 0
    /// for time without a project).
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
