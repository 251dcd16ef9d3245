//! The add-on tables: `addons`, `addon_installations`, `addon_tokens`.

/// `addons`: the catalog, one row per manifest key.
pub mod addon {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "addons")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub key: String,
        pub name: String,
        /// The normalised manifest, as JSON text.
        pub manifest: String,
        /// Where it was registered from: its URL, `file:{name}` or `api`.
        pub source: String,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `addon_installations`: an add-on installed in a workspace.
pub mod installation {
    use sea_orm::entity::prelude::*;
    use serde::Serialize;
    use utoipa::ToSchema;

    /// Where an installation stands.
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, ToSchema,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
    #[serde(rename_all = "snake_case")]
    pub enum InstallationStatus {
        /// Waiting for the add-on to acknowledge its `INSTALLED` call.
        #[sea_orm(string_value = "pending")]
        Pending,
        /// Acknowledged: it receives webhooks and may exchange for tokens.
        #[sea_orm(string_value = "active")]
        Active,
        /// The `INSTALLED` call failed every try.
        #[sea_orm(string_value = "failed")]
        Failed,
        /// Uninstalled: credentials revoked, data purged after 90 days.
        #[sea_orm(string_value = "uninstalled")]
        Uninstalled,
    }

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "addon_installations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub addon_id: Uuid,
        pub workspace_id: Uuid,
        pub installed_by: Uuid,
        pub status: InstallationStatus,
        /// Switched off by an admin (`STATUS_CHANGED`): no webhooks, no tokens.
        pub enabled: bool,
        /// The settings (JSON object), defaults filled in.
        pub settings: String,
        /// Why the last call to the add-on failed.
        pub error: Option<String>,
        /// `Some(true)` while installed, `None` once uninstalled.
        pub live: Option<bool>,
        pub acknowledged_at: Option<TimeDateTimeWithTimeZone>,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
        pub deleted_at: Option<TimeDateTimeWithTimeZone>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `addon_tokens`: the API tokens minted for an installation.
pub mod addon_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "addon_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_id: Uuid,
        pub installation_id: Uuid,
        pub created_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `addon_assertions`: the JWTs add-ons exchanged for tokens, each once.
pub mod assertion {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "addon_assertions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub jti: String,
        pub installation_id: Uuid,
        pub expires_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
