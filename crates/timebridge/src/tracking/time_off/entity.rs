//! The `leave_types`, `holidays` and `time_off_requests` tables. Hours are stored exactly, in
//! hundredths of an hour.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a time-off request is in its review.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum TimeOffStatus {
    #[sea_orm(string_value = "draft")]
    Draft,
    #[sea_orm(string_value = "submitted")]
    Submitted,
    #[sea_orm(string_value = "approved")]
    Approved,
    #[sea_orm(string_value = "rejected")]
    Rejected,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

impl TimeOffStatus {
    /// Whether an approver may still decide on the request (TimeTracker also lets a draft be
    /// decided directly).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Draft | Self::Submitted)
    }

    /// Whether the request may be deleted: not once it has been decided.
    pub fn is_deletable(self) -> bool {
        matches!(self, Self::Draft | Self::Submitted | Self::Cancelled)
    }
}

pub mod leave_type {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "leave_types")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub name: String,
        /// Lower-case, unique within the workspace (`vacation`).
        pub code: String,
        pub is_paid: bool,
        pub annual_allowance_hundredths: Option<i64>,
        pub accrual_hundredths_per_month: Option<i64>,
        pub enabled: bool,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod holiday {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "holidays")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub name: String,
        pub start_date: TimeDate,
        /// Inclusive.
        pub end_date: TimeDate,
        pub region: Option<String>,
        pub enabled: bool,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod request {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "time_off_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub user_id: Uuid,
        pub leave_type_id: Uuid,
        pub start_date: TimeDate,
        /// Inclusive.
        pub end_date: TimeDate,
        pub start_half_day: bool,
        pub end_half_day: bool,
        pub requested_hundredths: Option<i64>,
        pub status: TimeOffStatus,
        pub requested_comment: Option<String>,
        pub review_comment: Option<String>,
        pub submitted_at: Option<TimeDateTimeWithTimeZone>,
        pub reviewed_at: Option<TimeDateTimeWithTimeZone>,
        pub reviewed_by: Option<Uuid>,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
