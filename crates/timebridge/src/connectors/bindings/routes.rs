//! `/api/v1/integration/bindings…`: HTTP only — parse, call the service, answer.

use axum::{extract::State, http::StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ConflictRule, Direction, EntityKind, describe,
    engine::{self, Trigger},
    entity::{binding, run},
    service::{self, BindingChanges, NewBinding},
};
use crate::{
    app::AppState,
    connectors::Provider,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_bindings, create_binding))
        .routes(routes!(binding_fields))
        .routes(routes!(get_binding, update_binding, delete_binding))
        .routes(routes!(sync_binding))
        .routes(routes!(list_binding_runs))
}

/// A conflict a run met: both values, and which one stands.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct BindingConflict {
    pub local_id: Uuid,
    #[schema(example = "86a1b2c3")]
    pub remote_id: String,
    /// The Timebridge field.
    #[schema(example = "status")]
    pub field: String,
    /// The provider's field.
    #[schema(example = "status")]
    pub provider_field: String,
    /// Timebridge's value when the run met it.
    #[schema(example = "in_progress")]
    pub timebridge_value: Value,
    /// The provider's value when the run met it.
    #[schema(example = "complete")]
    pub provider_value: Value,
    /// `timebridge` or `provider`: whose value both sides now have (a one-way binding keeps
    /// the winner's value on its side only).
    #[schema(example = "provider")]
    pub resolution: String,
}

/// An item a run could not bring in step.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct BindingRunError {
    pub local_id: Option<Uuid>,
    #[schema(example = "86a1b2c3")]
    pub remote_id: Option<String>,
    #[schema(
        example = "status: the provider's 'blocked' has no Timebridge value in the mapping; left as it was"
    )]
    pub message: String,
}

/// What one run did.
#[derive(Serialize, ToSchema)]
pub struct BindingRunView {
    pub id: Uuid,
    pub binding_id: Uuid,
    /// `manual`, `schedule` or `webhook`.
    #[schema(example = "manual")]
    pub trigger: String,
    /// `ok`; `partial` when some items failed (see `errors`); `failed` when the run could not
    /// read the provider or start.
    #[schema(example = "ok")]
    pub status: String,
    /// Items made on either side.
    pub created: i32,
    /// Pairs brought in step.
    pub updated: i32,
    /// Items left as they were (in step already, or not the binding's to sync).
    pub skipped: i32,
    pub conflicts: Vec<BindingConflict>,
    pub errors: Vec<BindingRunError>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
}

impl From<run::Model> for BindingRunView {
    fn from(r: run::Model) -> Self {
        Self {
            id: r.id,
            binding_id: r.binding_id,
            trigger: r.trigger,
            status: r.status,
            created: r.created,
            updated: r.updated,
            skipped: r.skipped,
            conflicts: serde_json::from_str(&r.conflicts).unwrap_or_default(),
            errors: serde_json::from_str(&r.errors).unwrap_or_default(),
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

/// A mapping: Timebridge field → the provider's field, or `{"field": …, "map": {Timebridge
/// value: provider value}}` translating values.
fn mapping_object(nullable: bool) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let kind = if nullable {
        SchemaType::from_iter([Type::Object, Type::Null])
    } else {
        SchemaType::Type(Type::Object)
    };
    ObjectBuilder::new()
        .schema_type(kind)
        .description(Some(
            "Timebridge field → the provider's field, or `{\"field\": …, \"map\": {Timebridge \
             value: provider value}}` translating values (`GET …/bindings/fields` lists both \
             sides' fields).",
        ))
        .examples([serde_json::json!({
            "name": "title", "description": "description", "priority": "priority",
        })])
        .into()
}

fn mapping_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    mapping_object(false)
}

fn optional_mapping_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    mapping_object(true)
}

/// A binding.
#[derive(Serialize, ToSchema)]
pub struct BindingView {
    pub id: Uuid,
    #[schema(example = "GitHub octo-org/website ↔ tasks")]
    pub name: String,
    /// The provider (`github`, `clickup`).
    #[schema(example = "github")]
    pub provider: String,
    pub entity: EntityKind,
    /// The provider's collection: a ClickUp list id, a GitHub `owner/name`, a ClickUp team id
    /// for time entries.
    #[schema(example = "octo-org/website")]
    pub collection: String,
    /// The project a task binding's tasks are in.
    pub project_id: Option<Uuid>,
    /// The workspace's integration the binding goes through.
    pub integration_id: Uuid,
    /// Timebridge field → provider field, or `{"field", "map"}` translating values.
    #[schema(schema_with = mapping_schema)]
    pub mapping: Value,
    pub direction: Direction,
    pub conflict_rule: ConflictRule,
    /// Run every 15 minutes by `integration_binding_sync`.
    pub auto_sync: bool,
    pub active: bool,
    /// Made by its connector (GitHub's task sync): its collection and project follow the
    /// integration's configuration.
    pub managed: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_synced_at: Option<OffsetDateTime>,
    /// The last run, if any.
    pub last_run: Option<BindingRunView>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

async fn view(app: &AppState, b: binding::Model) -> Result<BindingView, ApiError> {
    let last = run::Entity::find()
        .filter(run::Column::BindingId.eq(b.id))
        .order_by_desc(run::Column::StartedAt)
        .order_by_desc(run::Column::Id)
        .one(app.db.conn())
        .await?;
    Ok(BindingView {
        id: b.id,
        name: b.name,
        provider: b
            .provider
            .parse::<Provider>()
            .map_or(b.provider.clone(), |p| p.path_name().to_owned()),
        entity: b.entity,
        collection: b.collection,
        project_id: b.project_id,
        integration_id: b.integration_id,
        mapping: serde_json::from_str(&b.mapping).unwrap_or(Value::Null),
        direction: b.direction,
        conflict_rule: b.conflict_rule,
        auto_sync: b.auto_sync,
        active: b.active,
        managed: b.managed,
        last_synced_at: b.last_synced_at,
        last_run: last.map(BindingRunView::from),
        created_at: b.created_at,
        updated_at: b.updated_at,
    })
}

#[derive(Serialize, ToSchema)]
pub struct BindingList {
    pub bindings: Vec<BindingView>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BindingFilter {
    /// Only this provider's (`github`, `clickup`).
    #[param(example = "github", pattern = "^[a-z_]+$")]
    pub provider: Option<String>,
    pub entity: Option<EntityKind>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateBinding {
    /// At most 200 characters; default `{Provider} {collection} ↔ {entities}`.
    #[schema(
        example = "Website issues",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: Option<String>,
    /// A provider that offers bindings (`GET …/bindings/fields` lists them); the workspace's
    /// integration of it must be set up.
    #[schema(
        required = true,
        nullable = false,
        example = "github",
        pattern = "^[a-z_]+$"
    )]
    pub provider: Option<String>,
    #[schema(required = true, nullable = false)]
    pub entity: Option<EntityKind>,
    /// The provider's collection: `owner/name` (GitHub), a list id (ClickUp tasks), a team id
    /// (ClickUp time entries).
    #[schema(
        required = true,
        nullable = false,
        example = "octo-org/website",
        max_length = 200,
        pattern = "^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$"
    )]
    pub collection: Option<String>,
    /// Task bindings: the project their tasks are in (default: the one the integration is
    /// configured with, where it has one).
    pub project_id: Option<Uuid>,
    /// Default: the provider's mapping for the entity kind (`…/bindings/fields`).
    #[schema(schema_with = optional_mapping_schema)]
    pub mapping: Option<Value>,
    /// Default: the first the provider allows for the kind.
    #[schema(example = "pull")]
    pub direction: Option<Direction>,
    /// Default: `provider_wins` for pull, `timebridge_wins` for push, `newest_wins` for both.
    #[schema(example = "provider_wins")]
    pub conflict_rule: Option<ConflictRule>,
    /// Default `true`.
    pub auto_sync: Option<bool>,
    /// Default `true`.
    pub active: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateBinding {
    /// 1 to 200 characters. `null` or left out: unchanged.
    #[schema(
        example = "Website issues",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: Option<String>,
    #[schema(
        example = "octo-org/website",
        max_length = 200,
        pattern = "^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$"
    )]
    pub collection: Option<String>,
    pub project_id: Option<Uuid>,
    /// The whole new mapping (checked as on creation).
    #[schema(schema_with = optional_mapping_schema)]
    pub mapping: Option<Value>,
    #[schema(example = "pull")]
    pub direction: Option<Direction>,
    #[schema(example = "provider_wins")]
    pub conflict_rule: Option<ConflictRule>,
    pub auto_sync: Option<bool>,
    pub active: Option<bool>,
}

/// List the workspace's data sync bindings, oldest first, each with its last run.
#[utoipa::path(
    get, path = "/api/v1/integration/bindings", tag = "integrations",
    params(BindingFilter),
    security(("api_token" = ["read:integrations"])),
    responses(
        (status = 200, body = BindingList),
        (status = 400, description = "Unknown provider", body = ErrorBody),
    )
)]
async fn list_bindings(
    State(app): State<AppState>,
    caller: Caller,
    Query(filter): Query<BindingFilter>,
) -> Result<Json<BindingList>, ApiError> {
    let provider = filter
        .provider
        .as_deref()
        .map(str::parse::<Provider>)
        .transpose()
        .map_err(|e| ApiError::invalid("provider", e))?;
    let rows = service::list(&app, caller.workspace_id, provider, filter.entity).await?;
    let mut bindings = Vec::with_capacity(rows.len());
    for b in rows {
        bindings.push(view(&app, b).await?);
    }
    Ok(Json(BindingList { bindings }))
}

/// What each provider binds: entity kinds, directions, both sides' fields and the default
/// mapping. The fields a mapping may name.
#[utoipa::path(
    get, path = "/api/v1/integration/bindings/fields", tag = "integrations",
    security(("api_token" = ["read:integrations"])),
    responses((status = 200, description = "`{bindables: [{provider, entity, collection, directions, timebridge_fields, provider_fields, default_mapping}]}`", body = Object))
)]
async fn binding_fields(State(app): State<AppState>, _caller: Caller) -> Json<Value> {
    let mut all = Vec::new();
    for connector in app.connectors.iter() {
        if let Some(source) = connector.bindings() {
            for b in source.bindables() {
                all.push(describe(connector.provider().path_name(), b));
            }
        }
    }
    Json(serde_json::json!({"bindables": all}))
}

/// Create a binding (admins). The mapping is checked against both sides' fields: a 400 names
/// each bad field (`mapping.status`).
#[utoipa::path(
    post, path = "/api/v1/integration/bindings", tag = "integrations",
    request_body = CreateBinding,
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 201, body = BindingView),
        (status = 400, description = "Invalid fields, each named", body = ErrorBody),
        (status = 403, description = "Not a workspace admin", body = ErrorBody),
        (status = 409, description = "A binding of this collection and entity kind exists", body = ErrorBody),
    )
)]
async fn create_binding(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateBinding>,
) -> Result<(StatusCode, Json<BindingView>), ApiError> {
    let new = NewBinding {
        name: body.name,
        provider: body.provider,
        entity: body.entity,
        collection: body.collection,
        project_id: body.project_id,
        mapping: body.mapping,
        direction: body.direction,
        conflict_rule: body.conflict_rule,
        auto_sync: body.auto_sync,
        active: body.active,
    };
    let made = service::create(&app, &caller.acting(), new).await?;
    Ok((StatusCode::CREATED, Json(view(&app, made).await?)))
}

/// Get a binding, with its last run.
#[utoipa::path(
    get, path = "/api/v1/integration/bindings/{id}", tag = "integrations",
    params(("id" = Uuid, Path, description = "Binding id")),
    security(("api_token" = ["read:integrations"])),
    responses(
        (status = 200, body = BindingView),
        (status = 404, description = "No such binding in this workspace", body = ErrorBody),
    )
)]
async fn get_binding(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<BindingView>, ApiError> {
    let found = service::get(&app, caller.workspace_id, id).await?;
    Ok(Json(view(&app, found).await?))
}

/// Change a binding (admins): only the fields sent; the whole binding is checked again.
#[utoipa::path(
    patch, path = "/api/v1/integration/bindings/{id}", tag = "integrations",
    params(("id" = Uuid, Path, description = "Binding id")),
    request_body = UpdateBinding,
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, body = BindingView),
        (status = 400, description = "Invalid fields, each named", body = ErrorBody),
        (status = 403, description = "Not a workspace admin", body = ErrorBody),
        (status = 404, description = "No such binding in this workspace", body = ErrorBody),
    )
)]
async fn update_binding(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateBinding>,
) -> Result<Json<BindingView>, ApiError> {
    let changes = BindingChanges {
        name: body.name,
        collection: body.collection,
        project_id: body.project_id,
        mapping: body.mapping,
        direction: body.direction,
        conflict_rule: body.conflict_rule,
        auto_sync: body.auto_sync,
        active: body.active,
    };
    let updated = service::update(&app, &caller.acting(), id, changes).await?;
    Ok(Json(view(&app, updated).await?))
}

/// Delete a binding (admins) with its links and runs; neither side's items are touched.
#[utoipa::path(
    delete, path = "/api/v1/integration/bindings/{id}", tag = "integrations",
    params(("id" = Uuid, Path, description = "Binding id")),
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, description = "`{deleted: true, id}`", body = Object),
        (status = 400, description = "The binding is an integration's own sync", body = ErrorBody),
        (status = 403, description = "Not a workspace admin", body = ErrorBody),
        (status = 404, description = "No such binding in this workspace", body = ErrorBody),
    )
)]
async fn delete_binding(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let gone = service::delete(&app, &caller.acting(), id).await?;
    Ok(Json(serde_json::json!({"deleted": true, "id": gone.id})))
}

/// Run a binding now (admins); answers the run (its `status` says whether the provider could
/// be read).
#[utoipa::path(
    post, path = "/api/v1/integration/bindings/{id}/sync", tag = "integrations",
    params(("id" = Uuid, Path, description = "Binding id")),
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, body = BindingRunView),
        (status = 403, description = "Not a workspace admin", body = ErrorBody),
        (status = 404, description = "No such binding in this workspace", body = ErrorBody),
        (status = 409, description = "The binding is inactive", body = ErrorBody),
    )
)]
async fn sync_binding(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<BindingRunView>, ApiError> {
    if !caller.is_admin() {
        return Err(ApiError::Forbidden(
            "Only workspace admins run bindings".into(),
        ));
    }
    let found = service::get(&app, caller.workspace_id, id).await?;
    if !found.active {
        return Err(ApiError::Conflict(
            "The binding is inactive: activate it first".into(),
        ));
    }
    let done = engine::run(&app, &found, Trigger::Manual).await?;
    Ok(Json(BindingRunView::from(done)))
}

#[derive(Serialize, ToSchema)]
pub struct BindingRunList {
    pub runs: Vec<BindingRunView>,
}

/// A binding's runs, newest first (the last 50 are kept).
#[utoipa::path(
    get, path = "/api/v1/integration/bindings/{id}/runs", tag = "integrations",
    params(("id" = Uuid, Path, description = "Binding id")),
    security(("api_token" = ["read:integrations"])),
    responses(
        (status = 200, body = BindingRunList),
        (status = 404, description = "No such binding in this workspace", body = ErrorBody),
    )
)]
async fn list_binding_runs(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<BindingRunList>, ApiError> {
    let found = service::get(&app, caller.workspace_id, id).await?;
    let runs = run::Entity::find()
        .filter(run::Column::BindingId.eq(found.id))
        .order_by_desc(run::Column::StartedAt)
        .order_by_desc(run::Column::Id)
        .limit(50)
        .all(app.db.conn())
        .await?;
    Ok(Json(BindingRunList {
        runs: runs.into_iter().map(BindingRunView::from).collect(),
    }))
}
