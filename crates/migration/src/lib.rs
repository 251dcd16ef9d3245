//! The one migration set of Timebridge. Every migration runs unchanged on SQLite and PostgreSQL:
//! only the backend-neutral schema builder is used, never raw SQL.
//!
//! Conventions: ids are UUID v7 (`uuid`), times are `timestamp with time zone` stored in UTC,
//! money is integer cents (`*_cents`, exact on both backends), enums are short strings.

pub use sea_orm_migration::prelude::*;

/// Schema-building shorthands shared by the migrations.
mod build {
    use sea_orm_migration::prelude::*;

    /// A named foreign key `from` → `to` with its `ON DELETE` action.
    pub fn fk(
        name: &str,
        from: (impl IntoIden, impl IntoIden),
        to: (impl IntoIden, impl IntoIden),
        on_delete: ForeignKeyAction,
    ) -> ForeignKeyCreateStatement {
        ForeignKey::create()
            .name(name)
            .from(from.0, from.1)
            .to(to.0, to.1)
            .on_delete(on_delete)
            .take()
    }

    /// A named index over columns given by their names.
    pub fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
        let mut stmt = Index::create().name(name).table(table).take();
        for col in cols {
            stmt.col(Alias::new(*col));
        }
        stmt
    }
}

mod m20261123_000001_foundation;
mod m20261123_000002_data_version;
mod m20261123_000003_events;
mod m20261123_000004_tracking;
mod m20261123_000005_billing;
mod m20261123_000006_time_off;
mod m20261123_000007_webhooks;
mod m20261123_000008_connectors;
mod m20261201_000009_job_queue;
mod m20261201_000010_deleted_records;
mod m20261201_000011_membership_status;
mod m20261201_000012_oauth;
mod m20261201_000013_calendar_links;
mod m20261201_000014_clickup;
mod m20261201_000015_clickup_tasks;
mod m20261201_000016_clickup_webhooks;
mod m20261201_000017_integration_bindings;
mod m20261201_000018_addon_signing_keys;
mod m20261201_000019_addons;
mod m20261201_000020_addon_tokens;
mod m20261201_000021_webhook_signers;

/// The ordered list of migrations `timebridge migrate` and `timebridge serve` apply.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261123_000002_data_version::Migration),
            Box::new(m20261123_000003_events::Migration),
            Box::new(m20261123_000004_tracking::Migration),
            Box::new(m20261123_000005_billing::Migration),
            Box::new(m20261123_000006_time_off::Migration),
            Box::new(m20261123_000007_webhooks::Migration),
            Box::new(m20261123_000008_connectors::Migration),
            Box::new(m20261201_000009_job_queue::Migration),
            Box::new(m20261201_000010_deleted_records::Migration),
            Box::new(m20261201_000011_membership_status::Migration),
            Box::new(m20261201_000012_oauth::Migration),
            Box::new(m20261201_000013_calendar_links::Migration),
            Box::new(m20261201_000014_clickup::Migration),
            Box::new(m20261201_000015_clickup_tasks::Migration),
            Box::new(m20261201_000016_clickup_webhooks::Migration),
            Box::new(m20261201_000017_integration_bindings::Migration),
            Box::new(m20261201_000018_addon_signing_keys::Migration),
            Box::new(m20261201_000019_addons::Migration),
            Box::new(m20261201_000020_addon_tokens::Migration),
            Box::new(m20261201_000021_webhook_signers::Migration),
        ]
    }
}
