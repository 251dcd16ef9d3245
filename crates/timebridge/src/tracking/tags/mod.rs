//! Tags: labels on time entries, unique by name (case-insensitively) within a workspace, with
//! an optional colour. Time entries name their tags; [`service::find_or_create_by_names`]
//! turns names into tags, creating the missing ones. Deleting a tag takes it off every entry.

pub mod entity;
pub mod routes;
pub mod service;

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A tag as the API shows it (and as `tag.*` events carry it).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TagView {
    pub id: Uuid,
    #[schema(example = "backend")]
    pub name: String,
    /// `#rrggbb`.
    #[schema(example = "#1f6feb")]
    pub color: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<entity::Model> for TagView {
    fn from(t: entity::Model) -> Self {
        Self {
            id: t.id,
            name: t.name,
            color: t.color,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}
