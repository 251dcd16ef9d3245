//! The `time_entries` table. A running timer is an entry without an `end_time`; while it runs,
//! `running_user_id` is its user, and a unique index allows one per user.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "time_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub project_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub start_time: TimeDateTimeWithTimeZone,
    pub end_time: Option<TimeDateTimeWithTimeZone>,
    /// `end_time - start_time` in whole seconds; `None` while running.
    pub duration_seconds: Option<i64>,
    pub notes: Option<String>,
    pub billable: bool,
    pub paid: bool,
    /// The invoice this entry was billed on, if any.
    pub invoice_id: Option<Uuid>,
    /// `manual` (API), `timer`, `import`, or a connector's name.
    pub source: String,
    pub running_user_id: Option<Uuid>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
