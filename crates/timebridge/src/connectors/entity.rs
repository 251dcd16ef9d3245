//! The connector tables: `integrations` (one per workspace, provider and user) and
//! `inbound_webhooks` (the ledger of received webhooks).

/// `integrations`.
pub mod integration {
    use sea_orm::entity::prelude::*;

    use crate::connectors::Provider;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "integrations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        /// The member who configured it, and for whom it acts.
        pub user_id: Uuid,
        pub provider: Provider,
        pub active: bool,
        /// JSON object of the non-secret fields.
        pub config: String,
        /// JSON object of the secret fields, sealed with the server key.
        pub secrets: Option<String>,
        pub last_ok_at: Option<TimeDateTimeWithTimeZone>,
        pub last_error: Option<String>,
        pub last_error_at: Option<TimeDateTimeWithTimeZone>,
        pub last_sync_at: Option<TimeDateTimeWithTimeZone>,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `inbound_webhooks`.
pub mod inbound {
    use sea_orm::entity::prelude::*;
    use serde::Serialize;

    use crate::connectors::Provider;

    /// What became of a recorded webhook.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
    #[serde(rename_all = "lowercase")]
    pub enum InboundStatus {
        /// Its change was made.
        #[sea_orm(string_value = "applied")]
        Applied,
        /// Verified and recorded, but nothing to do (an event not handled, a repository not
        /// configured).
        #[sea_orm(string_value = "ignored")]
        Ignored,
        /// Its change failed; applied when the provider sends it again.
        #[sea_orm(string_value = "failed")]
        Failed,
    }

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inbound_webhooks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub provider: Provider,
        /// The provider's id of the delivery (`X-GitHub-Delivery`, Slack's `event_id`).
        pub delivery_id: String,
        pub integration_id: Option<Uuid>,
        pub workspace_id: Option<Uuid>,
        pub event_type: String,
        /// JSON object of the request headers, without signatures or credentials.
        pub headers: String,
        pub payload: String,
        pub status: InboundStatus,
        pub error: Option<String>,
        pub received_at: TimeDateTimeWithTimeZone,
        pub processed_at: Option<TimeDateTimeWithTimeZone>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
