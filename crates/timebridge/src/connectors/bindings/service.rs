//! Saving bindings: every field checked (the mapping against both sides' fields), the
//! integration resolved, the provider asked whether the collection is one it knows.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::OnConflict,
};
use serde_json::Value;
use uuid::Uuid;

use super::{
    Bindable, BindingSource, ConflictRule, Context, Direction, EntityKind, entity::binding,
    mapping::Mapping,
};
use crate::{
    app::AppState,
    connectors::{Connector, Provider, entity::integration, store},
    platform::{
        acting::Acting,
        error::{ApiError, FieldErrors},
        time as clock,
        validate::required_text,
    },
    tracking::projects::service as projects,
};

/// What a binding is made of; everything but `provider`, `entity` and `collection` has a
/// default.
#[derive(Debug, Default)]
pub struct NewBinding {
    pub name: Option<String>,
    pub provider: Option<String>,
    pub entity: Option<EntityKind>,
    pub collection: Option<String>,
    pub project_id: Option<Uuid>,
    pub mapping: Option<Value>,
    pub direction: Option<Direction>,
    pub conflict_rule: Option<ConflictRule>,
    pub auto_sync: Option<bool>,
    pub active: Option<bool>,
}

/// Changes to a binding (its provider, entity kind and integration stay).
#[derive(Debug, Default)]
pub struct BindingChanges {
    pub name: Option<String>,
    pub collection: Option<String>,
    pub project_id: Option<Uuid>,
    pub mapping: Option<Value>,
    pub direction: Option<Direction>,
    pub conflict_rule: Option<ConflictRule>,
    pub auto_sync: Option<bool>,
    pub active: Option<bool>,
}

fn admin(acting: &Acting) -> Result<(), ApiError> {
    if acting.is_admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "Only workspace admins change bindings".into(),
        ))
    }
}

/// The connector of a provider that offers bindings.
fn source_of(
    app: &AppState,
    name: &str,
) -> Result<(Provider, std::sync::Arc<dyn Connector>), String> {
    let offering: Vec<&str> = app
        .connectors
        .iter()
        .filter(|c| c.bindings().is_some())
        .map(|c| c.provider().path_name())
        .collect();
    name.parse::<Provider>()
        .ok()
        .and_then(|p| app.connectors.get(p).cloned().map(|c| (p, c)))
        .filter(|(_, c)| c.bindings().is_some())
        .ok_or_else(|| {
            format!(
                "'{name}' offers no bindings (providers with bindings: {})",
                offering.join(", ")
            )
        })
}

/// A provider's name in messages.
pub fn display(provider: Provider) -> &'static str {
    match provider {
        Provider::Github => "GitHub",
        Provider::Slack => "Slack",
        Provider::Clickup => "ClickUp",
        Provider::GoogleCalendar => "Google Calendar",
    }
}

/// The integration a binding goes through: the workspace's (oldest) active integration of the
/// provider.
async fn integration_for(
    app: &AppState,
    workspace_id: Uuid,
    provider: Provider,
    errors: &mut FieldErrors,
) -> Result<Option<integration::Model>, ApiError> {
    let found = integration::Entity::find()
        .filter(integration::Column::WorkspaceId.eq(workspace_id))
        .filter(integration::Column::Provider.eq(provider))
        .filter(integration::Column::Active.eq(true))
        .order_by_asc(integration::Column::CreatedAt)
        .one(app.db.conn())
        .await?;
    if found.is_none() {
        errors.add(
            "provider",
            format!(
                "{} is not set up in this workspace: connect it first",
                display(provider)
            ),
        );
    }
    Ok(found)
}

/// Everything a saved binding must satisfy, checked together so one answer names every
/// problem. Fills in the defaults on `row`.
async fn check(
    app: &AppState,
    provider: Provider,
    source: &dyn BindingSource,
    row: &mut binding::Model,
    mapping: Option<&Value>,
    record: &integration::Model,
    mut errors: FieldErrors,
) -> Result<(), ApiError> {
    let shown = display(provider);
    let Some(bindable) = source.bindable(row.entity) else {
        let kinds: Vec<&str> = source
            .bindables()
            .iter()
            .map(|b| b.entity.as_str())
            .collect();
        errors.add("entity", format!("{shown} binds {} only", kinds.join(", ")));
        return errors.into_result();
    };
    if !bindable.directions.contains(&row.direction) {
        let ways: Vec<&str> = bindable.directions.iter().map(|d| d.as_str()).collect();
        errors.add(
            "direction",
            format!(
                "{shown} binds {} {} only",
                row.entity.plural(),
                ways.join(" or ")
            ),
        );
    }
    check_project(app, row, bindable, &mut errors).await?;
    let parsed = match mapping {
        Some(value) => Mapping::parse(value, &mut errors),
        None => Mapping::stored(&row.mapping),
    };
    if let Some(parsed) = &parsed {
        parsed.check(shown, bindable, row.direction, &mut errors);
        row.mapping = parsed.to_json().to_string();
    }
    if errors.is_empty() {
        let integration = store::open_record(&app.secret_key, record.clone());
        let cx = Context {
            app,
            binding: row,
            integration: &integration,
        };
        if let Err(problem) = source.check_collection(&cx).await {
            errors.add("collection", problem);
        }
    }
    errors.into_result()
}

async fn check_project(
    app: &AppState,
    row: &binding::Model,
    bindable: &Bindable,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    match (bindable.entity, row.project_id) {
        (EntityKind::Task, None) => {
            errors.add(
                "project_id",
                "a task binding needs the project its tasks are in",
            );
        }
        (EntityKind::Task, Some(id)) => {
            match projects::find(app.db.conn(), row.workspace_id, id).await {
                Ok(_) => {}
                Err(ApiError::NotFound(_)) => {
                    errors.add("project_id", "no such project in this workspace")
                }
                Err(e) => return Err(e),
            }
        }
        (_, Some(_)) => errors.add(
            "project_id",
            format!(
                "only task bindings have a project, not {} bindings",
                bindable.entity.as_str()
            ),
        ),
        (_, None) => {}
    }
    Ok(())
}

/// Creates a binding (admins).
pub async fn create(
    app: &AppState,
    acting: &Acting,
    new: NewBinding,
) -> Result<binding::Model, ApiError> {
    admin(acting)?;
    let mut errors = FieldErrors::new();
    let source = match new.provider.as_deref() {
        None => {
            errors.add("provider", "is required");
            None
        }
        Some(name) => source_of(app, name)
            .map_err(|e| errors.add("provider", e))
            .ok(),
    };
    if new.entity.is_none() {
        errors.add("entity", "is required");
    }
    let collection = match new.collection.as_deref() {
        Some(c) => required_text(&mut errors, "collection", c, 200),
        None => {
            errors.add("collection", "is required");
            String::new()
        }
    };
    let (Some(entity), Some((provider, connector))) = (new.entity, source) else {
        return Err(ApiError::Validation(errors));
    };
    let source = connector.bindings().expect("offers bindings");
    let record = integration_for(app, acting.workspace_id, provider, &mut errors).await?;
    let Some(record) = record else {
        return Err(ApiError::Validation(errors));
    };
    let bindable = source.bindable(entity);
    let direction = new
        .direction
        .or_else(|| bindable.map(|b| b.directions[0]))
        .unwrap_or(Direction::Pull);
    let integration = store::open_record(&app.secret_key, record.clone());
    let project_id = new.project_id.or_else(|| {
        (entity == EntityKind::Task)
            .then(|| source.default_project(&integration))
            .flatten()
    });
    let name = match new.name.as_deref() {
        Some(n) => required_text(&mut errors, "name", n, 200),
        None => format!("{} {collection} ↔ {}", display(provider), entity.plural()),
    };
    let now = clock::now();
    let mut row = binding::Model {
        id: Uuid::now_v7(),
        workspace_id: acting.workspace_id,
        integration_id: record.id,
        provider: provider.as_str().to_owned(),
        entity,
        collection,
        project_id,
        name,
        mapping: bindable.map_or("{}", |b| b.default_mapping).to_owned(),
        direction,
        conflict_rule: new.conflict_rule.unwrap_or(match direction {
            Direction::Pull => ConflictRule::ProviderWins,
            Direction::Push => ConflictRule::TimebridgeWins,
            Direction::Both => ConflictRule::NewestWins,
        }),
        auto_sync: new.auto_sync.unwrap_or(true),
        active: new.active.unwrap_or(true),
        managed: false,
        last_synced_at: None,
        created_at: now,
        updated_at: now,
    };
    check(
        app,
        provider,
        source,
        &mut row,
        new.mapping.as_ref(),
        &record,
        errors,
    )
    .await?;
    let taken = binding::Entity::find()
        .filter(binding::Column::IntegrationId.eq(record.id))
        .filter(binding::Column::Entity.eq(entity))
        .filter(binding::Column::Collection.eq(row.collection.as_str()))
        .one(app.db.conn())
        .await?;
    if let Some(taken) = taken {
        return Err(ApiError::Conflict(format!(
            "binding {} already keeps {} {} and Timebridge {} in step",
            taken.id,
            display(provider),
            row.collection,
            entity.plural()
        )));
    }
    let _turn = app.db.write_turn().await;
    let saved = binding::ActiveModel::from(row)
        .insert(app.db.conn())
        .await?;
    Ok(saved)
}

/// The workspace's binding.
pub async fn get(app: &AppState, workspace_id: Uuid, id: Uuid) -> Result<binding::Model, ApiError> {
    binding::Entity::find_by_id(id)
        .filter(binding::Column::WorkspaceId.eq(workspace_id))
        .one(app.db.conn())
        .await?
        .ok_or(ApiError::NotFound("Binding"))
}

/// The workspace's bindings, oldest first, optionally of one provider or entity kind.
pub async fn list(
    app: &AppState,
    workspace_id: Uuid,
    provider: Option<Provider>,
    entity: Option<EntityKind>,
) -> Result<Vec<binding::Model>, ApiError> {
    let mut query = binding::Entity::find().filter(binding::Column::WorkspaceId.eq(workspace_id));
    if let Some(p) = provider {
        query = query.filter(binding::Column::Provider.eq(p.as_str()));
    }
    if let Some(e) = entity {
        query = query.filter(binding::Column::Entity.eq(e));
    }
    Ok(query
        .order_by_asc(binding::Column::CreatedAt)
        .order_by_asc(binding::Column::Id)
        .all(app.db.conn())
        .await?)
}

/// Changes a binding (admins). A binding its connector made keeps the collection and project
/// of the connector's configuration.
pub async fn update(
    app: &AppState,
    acting: &Acting,
    id: Uuid,
    changes: BindingChanges,
) -> Result<binding::Model, ApiError> {
    admin(acting)?;
    let existing = get(app, acting.workspace_id, id).await?;
    let mut errors = FieldErrors::new();
    let provider: Provider = existing
        .provider
        .parse()
        .map_err(|e: String| ApiError::Internal(anyhow::anyhow!(e)))?;
    let (_, connector) =
        source_of(app, provider.as_str()).map_err(|e| ApiError::invalid("provider", e))?;
    let source = connector.bindings().expect("offers bindings");
    let mut row = existing.clone();
    if let Some(name) = changes.name.as_deref() {
        row.name = required_text(&mut errors, "name", name, 200);
    }
    if existing.managed {
        let follows = format!(
            "follows the {} integration's configuration: change it there",
            display(provider)
        );
        if changes
            .collection
            .as_ref()
            .is_some_and(|c| *c != existing.collection)
        {
            errors.add("collection", follows.clone());
        }
        if changes
            .project_id
            .is_some_and(|p| Some(p) != existing.project_id)
        {
            errors.add("project_id", follows);
        }
        if changes.active == Some(false) {
            errors.add(
                "active",
                format!(
                    "the {} integration runs this binding: remove the integration to stop it",
                    display(provider)
                ),
            );
        }
    }
    if let Some(collection) = changes.collection.as_deref() {
        row.collection = required_text(&mut errors, "collection", collection, 200);
    }
    if let Some(project_id) = changes.project_id {
        row.project_id = Some(project_id);
    }
    if let Some(direction) = changes.direction {
        row.direction = direction;
    }
    if let Some(rule) = changes.conflict_rule {
        row.conflict_rule = rule;
    }
    if let Some(auto_sync) = changes.auto_sync {
        row.auto_sync = auto_sync;
    }
    if let Some(active) = changes.active {
        row.active = active;
    }
    let record = integration::Entity::find_by_id(existing.integration_id)
        .one(app.db.conn())
        .await?
        .ok_or(ApiError::NotFound("Integration"))?;
    check(
        app,
        provider,
        source,
        &mut row,
        changes.mapping.as_ref(),
        &record,
        errors,
    )
    .await?;
    row.updated_at = clock::now();
    let mut active: binding::ActiveModel = existing.into();
    active.name = Set(row.name);
    active.collection = Set(row.collection);
    active.project_id = Set(row.project_id);
    active.mapping = Set(row.mapping);
    active.direction = Set(row.direction);
    active.conflict_rule = Set(row.conflict_rule);
    active.auto_sync = Set(row.auto_sync);
    active.active = Set(row.active);
    active.updated_at = Set(row.updated_at);
    let _turn = app.db.write_turn().await;
    Ok(active.update(app.db.conn()).await?)
}

/// Deletes a binding with its links and runs (admins); the entities and the provider's items
/// stay. A binding its connector made goes with the connector's integration.
pub async fn delete(app: &AppState, acting: &Acting, id: Uuid) -> Result<binding::Model, ApiError> {
    admin(acting)?;
    let existing = get(app, acting.workspace_id, id).await?;
    if existing.managed {
        return Err(ApiError::invalid(
            "id",
            "this binding is its integration's own sync: remove the integration to remove it",
        ));
    }
    let _turn = app.db.write_turn().await;
    binding::Entity::delete_by_id(id)
        .exec(app.db.conn())
        .await?;
    Ok(existing)
}

/// The connector's own binding for an integration (GitHub's task sync): made on first use,
/// its collection and project kept as the configuration says; its mapping, direction and
/// conflict rule are the user's to change.
pub async fn managed(
    app: &AppState,
    integration: &store::Integration,
    entity: EntityKind,
    collection: &str,
    project_id: Option<Uuid>,
) -> Result<binding::Model, ApiError> {
    let record = &integration.record;
    let found = binding::Entity::find()
        .filter(binding::Column::IntegrationId.eq(record.id))
        .filter(binding::Column::Entity.eq(entity))
        .filter(binding::Column::Managed.eq(true))
        .one(app.db.conn())
        .await?;
    let now = clock::now();
    let _turn = app.db.write_turn().await;
    if let Some(found) = found {
        if found.collection == collection && found.project_id == project_id {
            return Ok(found);
        }
        let mut active: binding::ActiveModel = found.into();
        active.collection = Set(collection.to_owned());
        active.project_id = Set(project_id);
        active.updated_at = Set(now);
        return Ok(active.update(app.db.conn()).await?);
    }
    let provider = record.provider;
    let connector = app
        .connectors
        .get(provider)
        .ok_or(ApiError::NotFound("Connector"))?;
    let bindable = connector
        .bindings()
        .and_then(|s| s.bindable(entity))
        .ok_or(ApiError::NotFound("Binding"))?;
    let row = binding::Model {
        id: Uuid::now_v7(),
        workspace_id: record.workspace_id,
        integration_id: record.id,
        provider: provider.as_str().to_owned(),
        entity,
        collection: collection.to_owned(),
        project_id,
        name: format!("{} {collection} → {}", display(provider), entity.plural()),
        mapping: bindable.default_mapping.to_owned(),
        direction: bindable.directions[0],
        conflict_rule: ConflictRule::ProviderWins,
        // The connector's own job runs it.
        auto_sync: false,
        active: true,
        managed: true,
        last_synced_at: None,
        created_at: now,
        updated_at: now,
    };
    binding::Entity::insert(binding::ActiveModel::from(row))
        .on_conflict(
            OnConflict::columns([
                binding::Column::IntegrationId,
                binding::Column::Entity,
                binding::Column::Collection,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(app.db.conn())
        .await?;
    // Made just now, by another sync at the same moment, or earlier by an admin for the same
    // repository: that one is the sync's.
    binding::Entity::find()
        .filter(binding::Column::IntegrationId.eq(record.id))
        .filter(binding::Column::Entity.eq(entity))
        .filter(binding::Column::Collection.eq(collection))
        .one(app.db.conn())
        .await?
        .ok_or(ApiError::NotFound("Binding"))
}

/// The workspaces with an active binding that syncs on its own.
pub async fn workspaces_with_auto_sync(app: &AppState) -> Result<Vec<Uuid>, sea_orm::DbErr> {
    binding::Entity::find()
        .select_only()
        .column(binding::Column::WorkspaceId)
        .distinct()
        .filter(binding::Column::Active.eq(true))
        .filter(binding::Column::AutoSync.eq(true))
        .into_tuple()
        .all(app.db.conn())
        .await
}
