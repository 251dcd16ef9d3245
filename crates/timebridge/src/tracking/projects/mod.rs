//! Projects: named containers of work, optionally for a client, with an hourly rate, a
//! billable flag and a status (`active` or `archived`). Deleting a project through the API
//! archives it; `?permanent=true` deletes one that nothing but its tasks refers to.

pub mod entity;
pub mod routes;
pub mod service;

use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

pub use entity::ProjectStatus;

use crate::platform::money;

/// A project as the API shows it (and as `project.*` events carry it).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProjectView {
    pub id: Uuid,
    pub client_id: Option<Uuid>,
    pub name: String,
    pub description: Option<String>,
    /// Hourly rate, exact to the cent.
    #[serde(with = "money::json_option")]
    #[schema(value_type = Option<f64>, example = 85.5)]
    pub hourly_rate: Option<Decimal>,
    pub billable: bool,
    pub status: ProjectStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<entity::Model> for ProjectView {
    fn from(p: entity::Model) -> Self {
        Self {
            id: p.id,
            client_id: p.client_id,
            name: p.name,
            description: p.description,
            hourly_rate: p.hourly_rate_cents.map(money::from_cents),
            billable: p.billable,
            status: p.status,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}
