//! The binding tables: `integration_bindings`, `integration_binding_links`,
//! `integration_binding_runs`.

/// `integration_bindings`: one mapping between an entity kind and a provider's collection.
pub mod binding {
    use sea_orm::entity::prelude::*;

    use crate::connectors::bindings::{ConflictRule, Direction, EntityKind};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "integration_bindings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub integration_id: Uuid,
        /// The provider's stored name (`clickup`).
        pub provider: String,
        pub entity: EntityKind,
        pub collection: String,
        /// The project tasks are pulled into and pushed from.
        pub project_id: Option<Uuid>,
        pub name: String,
        /// The mapping, as JSON text.
        pub mapping: String,
        pub direction: Direction,
        pub conflict_rule: ConflictRule,
        pub auto_sync: bool,
        pub active: bool,
        /// Made by its connector from its configuration (GitHub's task sync).
        pub managed: bool,
        pub last_synced_at: Option<TimeDateTimeWithTimeZone>,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `integration_binding_links`: a pair of items a binding keeps in step, with each side's
/// mapped values as of the last run.
pub mod link {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "integration_binding_links")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub binding_id: Uuid,
        pub local_id: Uuid,
        pub remote_id: String,
        /// JSON object, by Timebridge field names.
        pub local_values: String,
        /// JSON object, by the provider's field names.
        pub remote_values: String,
        pub synced_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `integration_binding_runs`: what one run did.
pub mod run {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "integration_binding_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub binding_id: Uuid,
        pub workspace_id: Uuid,
        /// `manual`, `schedule`, `webhook`.
        pub trigger: String,
        /// `ok`, `partial` (some items failed), `failed` (the run could not start or list).
        pub status: String,
        pub created: i32,
        pub updated: i32,
        pub skipped: i32,
        /// JSON array of conflicts.
        pub conflicts: String,
        /// JSON array of errors.
        pub errors: String,
        pub started_at: TimeDateTimeWithTimeZone,
        pub finished_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
