//! The OAuth tables: flows in progress (`oauth_states`) and connections (`oauth_connections`).

/// `oauth_states`: one authorization flow, from its start until its callback (single use).
pub mod state {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oauth_states")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// SHA-256 (hex) of the `state` sent to the provider; the value itself is not stored.
        pub state_hash: String,
        pub workspace_id: Uuid,
        /// The member who started the flow: the only one who may finish it.
        pub user_id: Uuid,
        pub provider: String,
        /// Space-separated scopes asked for.
        pub scopes: String,
        pub redirect_uri: String,
        /// The PKCE code verifier, sealed with the server key.
        pub pkce_verifier: String,
        pub created_at: TimeDateTimeWithTimeZone,
        pub expires_at: TimeDateTimeWithTimeZone,
        /// Set when the callback used it; a second use is refused.
        pub used_at: Option<TimeDateTimeWithTimeZone>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `oauth_connections`: a member's tokens at a provider, in one workspace.
pub mod connection {
    use sea_orm::entity::prelude::*;
    use serde::Serialize;
    use utoipa::ToSchema;

    /// Whether a connection can be used.
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, ToSchema,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
    #[serde(rename_all = "snake_case")]
    pub enum ConnectionStatus {
        /// Its tokens work (or can be refreshed).
        #[sea_orm(string_value = "active")]
        Active,
        /// The provider refused its refresh token or revoked it: the member must connect again.
        /// Nothing calls the provider with it until then.
        #[sea_orm(string_value = "needs_reauth")]
        NeedsReauth,
    }

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oauth_connections")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub user_id: Uuid,
        pub provider: String,
        pub status: ConnectionStatus,
        /// Why it needs the member again, in words.
        pub status_reason: Option<String>,
        /// Space-separated scopes the provider granted.
        pub scopes: String,
        /// The account at the provider (an email, a login, a team), when known.
        pub account_name: Option<String>,
        /// Sealed; `None` once wiped.
        pub access_token: Option<String>,
        /// Sealed; `None` when the provider gave none.
        pub refresh_token: Option<String>,
        /// When the access token expires; `None` when the provider said it does not.
        pub expires_at: Option<TimeDateTimeWithTimeZone>,
        pub last_used_at: Option<TimeDateTimeWithTimeZone>,
        pub last_refreshed_at: Option<TimeDateTimeWithTimeZone>,
        /// Who is refreshing it right now (one refresh at a time, across instances).
        pub lease_owner: Option<String>,
        pub lease_expires_at: Option<TimeDateTimeWithTimeZone>,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl crate::platform::lease::Leased for Entity {
        const ID: Column = Column::Id;
        const OWNER: Column = Column::LeaseOwner;
        const EXPIRES: Column = Column::LeaseExpiresAt;
    }
}
