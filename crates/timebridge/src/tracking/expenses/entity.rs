//! The `expenses` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an expense was for (TimeTracker's categories).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(64))")]
#[serde(rename_all = "lowercase")]
pub enum ExpenseCategory {
    #[sea_orm(string_value = "travel")]
    Travel,
    #[sea_orm(string_value = "meals")]
    Meals,
    #[sea_orm(string_value = "accommodation")]
    Accommodation,
    #[sea_orm(string_value = "supplies")]
    Supplies,
    #[sea_orm(string_value = "software")]
    Software,
    #[sea_orm(string_value = "equipment")]
    Equipment,
    #[sea_orm(string_value = "services")]
    Services,
    #[sea_orm(string_value = "marketing")]
    Marketing,
    #[sea_orm(string_value = "training")]
    Training,
    #[sea_orm(string_value = "other")]
    Other,
}

/// Where an expense stands. Only admins move it away from `pending`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum ExpenseStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "approved")]
    Approved,
    #[sea_orm(string_value = "rejected")]
    Rejected,
    #[sea_orm(string_value = "reimbursed")]
    Reimbursed,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "expenses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// Whose expense it is: members see and change only their own.
    pub user_id: Uuid,
    pub project_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub category: ExpenseCategory,
    /// Money is kept as integer cents: exact on SQLite and PostgreSQL alike.
    pub amount_cents: i64,
    /// ISO 4217, upper-case.
    pub currency: String,
    pub expense_date: TimeDate,
    pub billable: bool,
    pub reimbursable: bool,
    pub status: ExpenseStatus,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
