//! Installing an add-on in a workspace, changing its settings or status, uninstalling it.
//! Each change is one workspace change (so two admins installing at once cannot pass the
//! limit or install twice) that also enqueues the lifecycle call telling the add-on.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    catalog,
    entity::{
        addon, addon_token,
        installation::{self, InstallationStatus},
    },
    lifecycle,
    manifest::{LifecycleKind, Problem},
};
use crate::{
    access,
    app::AppState,
    platform::{
        acting::Acting,
        changes::WorkspaceChange,
        error::{ApiError, FieldErrors},
        jobs::jobs_queued,
        time as clock,
    },
};

/// How long an uninstalled installation is kept before it is purged.
pub const KEPT_DAYS: i64 = 90;

fn admin(acting: &Acting) -> Result<(), ApiError> {
    if acting.is_admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "Only workspace admins install and configure add-ons".into(),
        ))
    }
}

/// Configuration problems as a 400, each under `configuration.{setting}`.
fn refused(problems: Vec<Problem>) -> ApiError {
    let mut errors = FieldErrors::new();
    for p in problems {
        errors.add(format!("configuration.{}", p.path), p.message);
    }
    ApiError::Validation(errors)
}

/// The workspace's live installation of an add-on, if any.
pub async fn live<C: sea_orm::ConnectionTrait>(
    conn: &C,
    workspace_id: Uuid,
    addon_id: Uuid,
) -> Result<Option<installation::Model>, ApiError> {
    Ok(installation::Entity::find()
        .filter(installation::Column::WorkspaceId.eq(workspace_id))
        .filter(installation::Column::AddonId.eq(addon_id))
        .filter(installation::Column::Live.eq(true))
        .one(conn)
        .await?)
}

/// Installs an add-on (admins): the configuration checked against its settings, the limit of
/// `PLUGIN_MAX_INSTALLABLE_PER_WORKSPACE` kept, `INSTALLED` called in the background.
pub async fn install(
    app: &AppState,
    acting: &Acting,
    id_or_key: &str,
    configuration: Option<Map<String, Value>>,
) -> Result<(addon::Model, installation::Model), ApiError> {
    admin(acting)?;
    let addon = catalog::find(&app.db, id_or_key).await?;
    let manifest = catalog::manifest_of(&addon)?;
    let settings = manifest
        .check_configuration(&configuration.unwrap_or_default(), true)
        .map_err(refused)?;
    let mut change =
        WorkspaceChange::begin(&app.db, acting.workspace_id, acting.actor.clone()).await?;
    if live(&*change, acting.workspace_id, addon.id)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict(format!(
            "{} is installed in this workspace already",
            addon.name
        )));
    }
    let installed = installation::Entity::find()
        .filter(installation::Column::WorkspaceId.eq(acting.workspace_id))
        .filter(installation::Column::Live.eq(true))
        .count(&*change)
        .await?;
    let limit = app.config.plugins.max_installable_per_workspace;
    if installed >= u64::from(limit) {
        return Err(ApiError::Conflict(format!(
            "This workspace has {installed} add-ons installed, the most it may have \
             (PLUGIN_MAX_INSTALLABLE_PER_WORKSPACE = {limit}): uninstall one first"
        )));
    }
    let now = clock::now();
    let row = installation::ActiveModel {
        id: Set(Uuid::now_v7()),
        addon_id: Set(addon.id),
        workspace_id: Set(acting.workspace_id),
        installed_by: Set(acting.user_id),
        status: Set(InstallationStatus::Pending),
        enabled: Set(true),
        settings: Set(Value::Object(settings).to_string()),
        error: Set(None),
        live: Set(Some(true)),
        acknowledged_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(&*change)
    .await?;
    super::webhooks::make_endpoint(app, &*change, &row, &addon, &manifest).await?;
    lifecycle::enqueue(app, &*change, &row, LifecycleKind::Installed).await?;
    change.wake(jobs_queued(&app.db));
    change.commit().await?;
    Ok((addon, row))
}

/// The workspace's live installations, newest first.
pub async fn list(
    app: &AppState,
    workspace_id: Uuid,
) -> Result<Vec<(installation::Model, addon::Model)>, ApiError> {
    let rows = installation::Entity::find()
        .filter(installation::Column::WorkspaceId.eq(workspace_id))
        .filter(installation::Column::Live.eq(true))
        .order_by_desc(installation::Column::CreatedAt)
        .all(app.db.conn())
        .await?;
    let addons = addon::Entity::find()
        .filter(addon::Column::Id.is_in(rows.iter().map(|r| r.addon_id)))
        .all(app.db.conn())
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|i| {
            let a = addons.iter().find(|a| a.id == i.addon_id)?.clone();
            Some((i, a))
        })
        .collect())
}

/// Changes an installation's settings (merged onto the current ones, then checked whole) or
/// switches it on or off (admins); tells the add-on (`SETTINGS_UPDATED`, `STATUS_CHANGED`).
pub async fn configure(
    app: &AppState,
    acting: &Acting,
    id_or_key: &str,
    configuration: Option<Map<String, Value>>,
    enabled: Option<bool>,
) -> Result<(addon::Model, installation::Model), ApiError> {
    admin(acting)?;
    let addon = catalog::find(&app.db, id_or_key).await?;
    let manifest = catalog::manifest_of(&addon)?;
    let mut change =
        WorkspaceChange::begin(&app.db, acting.workspace_id, acting.actor.clone()).await?;
    let row = live(&*change, acting.workspace_id, addon.id)
        .await?
        .ok_or(ApiError::NotFound("Installation"))?;
    let mut current: Map<String, Value> = serde_json::from_str(&row.settings).unwrap_or_default();
    let settings_changed = match configuration {
        Some(given) => {
            current.extend(given);
            let checked = manifest
                .check_configuration(&current, true)
                .map_err(refused)?;
            let before: Value = serde_json::from_str(&row.settings).unwrap_or_default();
            let changed = before != Value::Object(checked.clone());
            current = checked;
            changed
        }
        None => false,
    };
    let status_changed = enabled.is_some_and(|e| e != row.enabled);
    let mut active: installation::ActiveModel = row.into();
    active.settings = Set(Value::Object(current).to_string());
    if let Some(enabled) = enabled {
        active.enabled = Set(enabled);
    }
    active.updated_at = Set(clock::now());
    let saved = active.update(&*change).await?;
    super::webhooks::follow(&*change, &saved).await?;
    if settings_changed {
        lifecycle::enqueue(app, &*change, &saved, LifecycleKind::SettingsUpdated).await?;
    }
    if status_changed {
        lifecycle::enqueue(app, &*change, &saved, LifecycleKind::StatusChanged).await?;
    }
    change.wake(jobs_queued(&app.db));
    change.commit().await?;
    Ok((addon, saved))
}

/// Uninstalls an add-on (admins): every credential it holds revoked at once, the
/// installation soft-deleted (purged after 90 days), `DELETED` called in the background.
pub async fn uninstall(
    app: &AppState,
    acting: &Acting,
    id_or_key: &str,
) -> Result<(addon::Model, installation::Model), ApiError> {
    admin(acting)?;
    let addon = catalog::find(&app.db, id_or_key).await?;
    let mut change =
        WorkspaceChange::begin(&app.db, acting.workspace_id, acting.actor.clone()).await?;
    let row = live(&*change, acting.workspace_id, addon.id)
        .await?
        .ok_or(ApiError::NotFound("Installation"))?;
    let tokens: Vec<Uuid> = addon_token::Entity::find()
        .filter(addon_token::Column::InstallationId.eq(row.id))
        .all(&*change)
        .await?
        .into_iter()
        .map(|t| t.token_id)
        .collect();
    let hashes = access::tokens::revoke_ids(&*change, &tokens).await?;
    let now = clock::now();
    let mut active: installation::ActiveModel = row.into();
    active.status = Set(InstallationStatus::Uninstalled);
    active.enabled = Set(false);
    active.live = Set(None);
    active.deleted_at = Set(Some(now));
    active.updated_at = Set(now);
    let saved = active.update(&*change).await?;
    super::webhooks::follow(&*change, &saved).await?;
    lifecycle::enqueue(app, &*change, &saved, LifecycleKind::Deleted).await?;
    change.wake(jobs_queued(&app.db));
    change.commit().await?;
    for hash in hashes {
        app.tokens.forget(&hash);
    }
    Ok((addon, saved))
}

/// Purges installations uninstalled more than [`KEPT_DAYS`] ago (their tokens go with them),
/// and the record of exchanged assertions once they expired (they could not be used again).
pub async fn purge(app: &AppState) -> Result<u64, ApiError> {
    let before = clock::now() - time::Duration::days(KEPT_DAYS);
    let _turn = app.db.write_turn().await;
    super::entity::assertion::Entity::delete_many()
        .filter(super::entity::assertion::Column::ExpiresAt.lt(clock::now()))
        .exec(app.db.conn())
        .await?;
    let done = installation::Entity::delete_many()
        .filter(installation::Column::Live.is_null())
        .filter(installation::Column::DeletedAt.lt(before))
        .exec(app.db.conn())
        .await?;
    Ok(done.rows_affected)
}
