//! The Google Calendar sync's tables: `calendar_links` and `calendar_sync_states`.

/// `calendar_links`: one synced event and the time entry it is (or will be).
pub mod link {
    use sea_orm::entity::prelude::*;

    /// Which way an event and its entry are linked.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
    pub enum Direction {
        /// The sync made the entry from the event; changes on Google update it.
        #[sea_orm(string_value = "imported")]
        Imported,
        /// The sync made the event from the entry (`[TT] …`).
        #[sea_orm(string_value = "exported")]
        Exported,
        /// An event that has not started yet: it becomes an entry once it has.
        #[sea_orm(string_value = "pending")]
        Pending,
    }

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "calendar_links")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub integration_id: Uuid,
        pub workspace_id: Uuid,
        pub calendar_id: String,
        pub event_id: String,
        /// `None` once the entry was deleted in Timebridge (the event is then left alone).
        pub time_entry_id: Option<Uuid>,
        pub direction: Direction,
        /// A pending event as Google sent it (JSON).
        pub pending_event: Option<String>,
        /// When a pending event starts.
        pub starts_at: Option<TimeDateTimeWithTimeZone>,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `calendar_sync_states`: per integration, the incremental-sync token and the last run.
pub mod sync_state {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "calendar_sync_states")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub integration_id: Uuid,
        /// Google's `nextSyncToken` of the last complete run.
        pub sync_token: Option<String>,
        pub last_sync_at: Option<TimeDateTimeWithTimeZone>,
        /// The last run's counts (JSON).
        pub last_outcome: Option<String>,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
