//! The `timesheet_periods` table: one row per user, period type and first day.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How long a period is. Only weeks (Monday to Sunday) for now.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum PeriodType {
    #[default]
    #[sea_orm(string_value = "weekly")]
    Weekly,
}

/// Where a period is in its approval.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum PeriodStatus {
    #[sea_orm(string_value = "draft")]
    Draft,
    #[sea_orm(string_value = "submitted")]
    Submitted,
    #[sea_orm(string_value = "approved")]
    Approved,
    #[sea_orm(string_value = "rejected")]
    Rejected,
}

impl PeriodStatus {
    /// Whether the owner may (re)submit the period, or delete it.
    pub fn is_editable(self) -> bool {
        matches!(self, Self::Draft | Self::Rejected)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "timesheet_periods")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub period_type: PeriodType,
    pub period_start: TimeDate,
    /// Inclusive.
    pub period_end: TimeDate,
    pub status: PeriodStatus,
    pub submitted_at: Option<TimeDateTimeWithTimeZone>,
    pub submitted_by: Option<Uuid>,
    pub approved_at: Option<TimeDateTimeWithTimeZone>,
    pub approved_by: Option<Uuid>,
    pub approval_comment: Option<String>,
    pub rejected_at: Option<TimeDateTimeWithTimeZone>,
    pub rejected_by: Option<Uuid>,
    pub rejection_reason: Option<String>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
