//! Clients: who the work is for. Projects belong to a client; invoices are addressed to one.
//! A client with projects or invoices cannot be deleted (archive it: `status: inactive`).

pub mod entity;
pub mod routes;
pub mod service;

use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

pub use entity::ClientStatus;

use crate::platform::money;

/// A client as the API shows it (and as `client.*` events carry it).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub contact_person: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Rate for this client's projects that set none, exact to the cent.
    #[serde(with = "money::json_option")]
    #[schema(value_type = Option<f64>, example = 75.0)]
    pub default_hourly_rate: Option<Decimal>,
    pub status: ClientStatus,
    pub is_active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<entity::Model> for ClientView {
    fn from(c: entity::Model) -> Self {
        Self {
            id: c.id,
            name: c.name,
            email: c.email,
            contact_person: c.contact_person,
            phone: c.phone,
            address: c.address,
            default_hourly_rate: c.default_hourly_rate_cents.map(money::from_cents),
            is_active: c.status == ClientStatus::Active,
            status: c.status,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}
