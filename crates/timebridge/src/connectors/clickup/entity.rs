//! The ClickUp tables: `clickup_spaces` and `clickup_client_spaces`.

/// `clickup_spaces`: a space of the workspace's ClickUp team, as last synced.
pub mod space {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clickup_spaces")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub team_id: String,
        pub space_id: String,
        pub name: String,
        pub private: bool,
        pub archived: bool,
        pub synced_at: TimeDateTimeWithTimeZone,
        pub created_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `clickup_client_spaces`: the space a client's ClickUp tasks go to.
pub mod client_space {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clickup_client_spaces")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: Uuid,
        pub workspace_id: Uuid,
        pub space_id: String,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `clickup_task_links`: the ClickUp task made from a Timebridge task (or the job making it).
pub mod task_link {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clickup_task_links")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub task_id: Uuid,
        pub workspace_id: Uuid,
        /// The `clickup_create_task` job (while it runs, and after, for its history).
        pub job_id: Option<Uuid>,
        /// Set once ClickUp made the task.
        pub clickup_task_id: Option<String>,
        pub clickup_url: Option<String>,
        pub list_id: Option<String>,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `clickup_webhooks`: the webhook registered at the workspace's ClickUp team.
pub mod webhook {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clickup_webhooks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub workspace_id: Uuid,
        pub team_id: String,
        pub webhook_id: String,
        /// The signing secret ClickUp gave, sealed.
        pub secret: String,
        pub created_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
