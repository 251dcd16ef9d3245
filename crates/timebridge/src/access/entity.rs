//! Tables of API access: `api_tokens` and `api_usage_logs`.

pub mod api_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub user_id: Uuid,
        pub name: String,
        /// The first characters of the secret (`tb_pat_ab12`), to recognise it in lists.
        pub token_prefix: String,
        /// SHA-256 of the secret, hex. The secret itself is never stored.
        #[sea_orm(unique)]
        pub token_hash: String,
        /// Space-separated scopes.
        pub scopes: String,
        /// Comma-separated addresses and CIDR ranges the token may be used from; none = any.
        pub allowed_ips: Option<String>,
        pub is_active: bool,
        pub expires_at: Option<TimeDateTimeWithTimeZone>,
        pub last_used_at: Option<TimeDateTimeWithTimeZone>,
        pub revoked_at: Option<TimeDateTimeWithTimeZone>,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
        /// A budget the token shares with others (an add-on installation's tokens): its key…
        pub budget_key: Option<Uuid>,
        /// …and the requests per second it allows.
        pub budget_per_second: Option<i32>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_usage_log {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_usage_logs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub token_id: Uuid,
        pub workspace_id: Uuid,
        pub user_id: Uuid,
        pub method: String,
        pub path: String,
        pub status_code: i32,
        pub duration_ms: i32,
        pub ip_address: Option<String>,
        pub created_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
