//! Data sync bindings (seed 001): a mapping between a Timebridge entity kind (task, project,
//! client, time entry) of a workspace and a provider's collection (a ClickUp list, a GitHub
//! repository), through one of the workspace's integrations, that a sync keeps true.
//!
//! - A provider offers bindings through its connector ([`Connector::bindings`]): the entity
//!   kinds it binds and the directions each allows, its fields, and how to list, create and
//!   update its items ([`BindingSource`]). The platform of bindings names no provider.
//! - [`mapping`]: a binding's field mapping (`{"name": "name", "status": {"field": "status",
//!   "map": {"todo": "to do"}}}`), checked against both sides' fields when it is saved.
//! - [`local`]: the Timebridge side: each kind's fields, read and written through the
//!   capability's own services (so events and rules apply as for any other change).
//! - [`engine`]: a run. Each linked pair keeps both sides' values as of the last run, which
//!   tells a change from a conflict; a conflict is resolved by the binding's rule and recorded
//!   with both values.
//! - [`service`] and [`routes`]: `/api/v1/integration/bindings…`.
//!
//! A periodic job (`integration_binding_sync`, every 15 minutes) runs the workspace's active
//! bindings that have `auto_sync`.

pub mod engine;
pub mod entity;
pub mod local;
pub mod mapping;
pub mod routes;
pub mod service;

use std::time::Duration;

use sea_orm::{DeriveActiveEnum, EnumIter, sea_query::StringLen};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    app::{AppState, Capabilities},
    connectors::store::Integration,
    platform::{
        constraints::{Answer, ConstraintRule, UniqueKey},
        consumers::BoxFuture,
        jobs::JobKind,
    },
};

#[cfg(doc)]
use crate::connectors::Connector;

/// One binding per integration, entity kind and collection (two would fight over the items).
pub const CONSTRAINTS: &[ConstraintRule] = &[ConstraintRule::duplicate(
    UniqueKey::new(
        "ux_integration_bindings_collection",
        "integration_bindings",
        &["integration_id", "entity", "collection"],
    ),
    Answer::Conflict("A binding of this collection and entity kind exists"),
)];

/// Plugs bindings in: the rule of their unique key, the periodic sync.
pub fn register(c: &mut Capabilities) {
    c.constraints(CONSTRAINTS);
    c.job(
        JobKind::new(
            "integration_binding_sync",
            "Every 15 minutes: runs the workspace's active data sync bindings that have auto_sync.",
            |app: AppState, job| async move {
                let workspace_id = job
                    .workspace_id
                    .ok_or("integration_binding_sync runs for a workspace")?;
                engine::run_workspace(&app, workspace_id)
                    .await
                    .map_err(|e| e.to_string())
            },
        )
        .every(Duration::from_secs(15 * 60), |app: AppState| async move {
            service::workspaces_with_auto_sync(&app).await
        }),
    );
}

/// A Timebridge entity kind a binding keeps in step.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    #[sea_orm(string_value = "task")]
    Task,
    #[sea_orm(string_value = "project")]
    Project,
    #[sea_orm(string_value = "client")]
    Client,
    #[sea_orm(string_value = "time_entry")]
    TimeEntry,
}

impl EntityKind {
    /// Its name in the API (`time_entry`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Project => "project",
            Self::Client => "client",
            Self::TimeEntry => "time_entry",
        }
    }

    /// Plural, for messages (`tasks`).
    pub fn plural(self) -> &'static str {
        match self {
            Self::Task => "tasks",
            Self::Project => "projects",
            Self::Client => "clients",
            Self::TimeEntry => "time entries",
        }
    }
}

/// Which way values flow.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Provider → Timebridge.
    #[sea_orm(string_value = "pull")]
    Pull,
    /// Timebridge → provider.
    #[sea_orm(string_value = "push")]
    Push,
    /// Both ways.
    #[sea_orm(string_value = "both")]
    Both,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Push => "push",
            Self::Both => "both",
        }
    }

    pub fn pulls(self) -> bool {
        matches!(self, Self::Pull | Self::Both)
    }

    pub fn pushes(self) -> bool {
        matches!(self, Self::Push | Self::Both)
    }
}

/// Which side's value stands when both changed since the last run.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum ConflictRule {
    #[sea_orm(string_value = "timebridge_wins")]
    TimebridgeWins,
    #[sea_orm(string_value = "provider_wins")]
    ProviderWins,
    /// The side changed last (by each side's update time); the provider on a tie.
    #[sea_orm(string_value = "newest_wins")]
    NewestWins,
}

/// The kind of value a field holds (both sides speak JSON: text and choices as strings, dates
/// as `YYYY-MM-DD`, instants as RFC 3339).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Date,
    DateTime,
    Bool,
    /// One of these values; `None` when the provider's values vary (ClickUp's statuses are
    /// per list).
    Choice(Option<&'static [&'static str]>),
}

impl ValueKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Date => "date",
            Self::DateTime => "date_time",
            Self::Bool => "boolean",
            Self::Choice(_) => "choice",
        }
    }

    /// Whether values of `self` can be carried into a field of `other` as they are.
    pub fn carries_into(self, other: Self) -> bool {
        match (self, other) {
            (Self::Choice(_) | Self::Text, Self::Choice(_) | Self::Text) => true,
            (a, b) => a == b,
        }
    }

    /// The values a choice allows, when known.
    pub fn choices(self) -> Option<&'static [&'static str]> {
        match self {
            Self::Choice(values) => values,
            _ => None,
        }
    }
}

/// A field of one side.
#[derive(Clone, Copy, Debug)]
pub struct SideField {
    pub name: &'static str,
    pub kind: ValueKind,
    /// A sync may write it (on the provider side: the provider's API lets us).
    pub writable: bool,
    /// It may be empty (`null`).
    pub nullable: bool,
    pub description: &'static str,
}

impl SideField {
    pub const fn new(name: &'static str, kind: ValueKind, description: &'static str) -> Self {
        Self {
            name,
            kind,
            writable: true,
            nullable: false,
            description,
        }
    }

    pub const fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }

    pub const fn read_only(mut self) -> Self {
        self.writable = false;
        self
    }
}

/// What a provider binds for one entity kind.
#[derive(Clone, Copy, Debug)]
pub struct Bindable {
    pub entity: EntityKind,
    /// What a binding's `collection` names (`a ClickUp list id`).
    pub collection: &'static str,
    pub directions: &'static [Direction],
    pub fields: &'static [SideField],
    /// The mapping a binding gets when none is given (JSON text).
    pub default_mapping: &'static str,
}

/// One of the provider's items, its fields by the provider's names.
#[derive(Clone, Debug, Default)]
pub struct RemoteItem {
    pub id: String,
    pub fields: Map<String, Value>,
    pub updated_at: Option<OffsetDateTime>,
    /// The email of the provider's user it belongs to (time entries: whose time it is).
    pub owner_email: Option<String>,
    /// The provider's id of the item it belongs to (time entries: their task).
    pub parent: Option<String>,
}

/// What a binding's calls to the provider need.
pub struct Context<'a> {
    pub app: &'a AppState,
    pub binding: &'a entity::binding::Model,
    pub integration: &'a Integration,
}

/// A provider's side of bindings, offered by its connector.
pub trait BindingSource: Send + Sync {
    /// The entity kinds it binds.
    fn bindables(&self) -> &'static [Bindable];

    /// What it binds for `entity`.
    fn bindable(&self, entity: EntityKind) -> Option<&'static Bindable> {
        self.bindables().iter().find(|b| b.entity == entity)
    }

    /// Checks a collection a binding names (the list exists, the repository is the
    /// integration's): the problem, worded for the user.
    fn check_collection<'a>(&'a self, cx: &'a Context<'a>) -> BoxFuture<'a, Result<(), String>>;

    /// Every item of the collection.
    fn list<'a>(&'a self, cx: &'a Context<'a>) -> BoxFuture<'a, Result<Vec<RemoteItem>, String>>;

    /// Creates an item with these fields (provider names).
    fn create<'a>(
        &'a self,
        cx: &'a Context<'a>,
        fields: Map<String, Value>,
    ) -> BoxFuture<'a, Result<RemoteItem, String>>;

    /// Changes these fields of an item.
    fn update<'a>(
        &'a self,
        cx: &'a Context<'a>,
        id: &'a str,
        fields: Map<String, Value>,
    ) -> BoxFuture<'a, Result<RemoteItem, String>>;

    /// The Timebridge entity the connector already pairs with this item outside any binding
    /// (GitHub's `github_issue_{n}` tasks, ClickUp tasks made from Timebridge tasks).
    fn known_local<'a>(
        &'a self,
        _cx: &'a Context<'a>,
        _entity: EntityKind,
        _remote_id: &'a str,
    ) -> BoxFuture<'a, Option<Uuid>> {
        Box::pin(async { None })
    }

    /// The reverse of [`known_local`](BindingSource::known_local).
    fn known_remote<'a>(
        &'a self,
        _cx: &'a Context<'a>,
        _entity: EntityKind,
        _local_id: Uuid,
    ) -> BoxFuture<'a, Option<String>> {
        Box::pin(async { None })
    }

    /// The project a task binding through this integration pulls into when none is given
    /// (GitHub's configured project).
    fn default_project(&self, _integration: &Integration) -> Option<Uuid> {
        None
    }

    /// The `external_ref` a task pulled from this item gets (so the connector's webhooks find
    /// it too).
    fn external_ref(&self, _entity: EntityKind, _remote_id: &str) -> Option<String> {
        None
    }
}

/// An item's fields from a JSON object (both sides build them with `json!`).
pub fn fields_of(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// An instant as both sides carry it: RFC 3339 text.
pub fn instant_value(t: OffsetDateTime) -> Value {
    t.format(&time::format_description::well_known::Rfc3339)
        .map_or(Value::Null, Value::String)
}

/// The catalog entry `GET /api/v1/integration/bindings/fields` lists.
pub fn describe(provider: &str, b: &Bindable) -> Value {
    json!({
        "provider": provider,
        "entity": b.entity,
        "collection": b.collection,
        "directions": b.directions,
        "timebridge_fields": local::fields(b.entity).iter().map(field_json).collect::<Vec<_>>(),
        "provider_fields": b.fields.iter().map(field_json).collect::<Vec<_>>(),
        "default_mapping": serde_json::from_str::<Value>(b.default_mapping).unwrap_or(Value::Null),
    })
}

fn field_json(f: &SideField) -> Value {
    let mut v = json!({
        "name": f.name,
        "kind": f.kind.name(),
        "writable": f.writable,
        "nullable": f.nullable,
        "description": f.description,
    });
    if let Some(choices) = f.kind.choices() {
        v["choices"] = json!(choices);
    }
    v
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_declared_unique_key_is_in_the_migrated_schema() {
        let absent =
            crate::platform::constraints::absent_from_schema(super::CONSTRAINTS, &[]).await;
        assert!(absent.is_empty(), "{absent:?}");
    }
}
