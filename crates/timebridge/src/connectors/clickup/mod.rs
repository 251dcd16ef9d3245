//! The ClickUp connector (provider key `clickup`): one ClickUp team per workspace, connected
//! by an admin through OAuth (`crate::oauth`; ClickUp tokens do not expire), its spaces synced
//! into `clickup_spaces`, and each client (ClickUp's "customer") assignable to a space.
//!
//! - [`api`]: the API wrapper — cache, per-workspace budget, typed errors.
//! - [`spaces`]: the space sync (`clickup_space_sync` job, queue `clickup`, 3 tries 60 s
//!   apart, 120 s timeout; and `POST /api/integrations/clickup/sync`).
//! - [`routes`]: the routes `/api/v1/clickup/oauth/{connect,callback,disconnect}`,
//!   `/api/v1/clickup/spaces`, `/api/v1/clients/{id}/clickup-space`.

pub mod api;
pub mod bindings;
pub mod entity;
pub mod routes;
pub mod spaces;
pub mod tasks;
pub mod webhook;

use std::time::Duration;

use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    BoxFuture, Connector, Field, Provider, Receiver, Reply, entity::integration, store,
    store::Integration, workspaces_with,
};
use crate::{
    app::{AppState, Capabilities},
    oauth::{self, ConnectionStatus, entity::connection, flow, providers},
    platform::{
        acting::Acting,
        error::{ApiError, FieldErrors},
        jobs::{JobKind, RetryPolicy},
    },
};

/// Plugs ClickUp in: the connector, its routes' state, and the space-sync job.
pub fn register(c: &mut Capabilities) {
    c.connector(std::sync::Arc::new(ClickUpConnector));
    c.sealed(webhook::SEALED);
    c.job(tasks::kind());
    c.job(
        JobKind::new(
            "clickup_space_sync",
            "Hourly: caches the spaces of the workspace's ClickUp team in clickup_spaces.",
            |app: AppState, job| async move {
                let workspace_id = job
                    .workspace_id
                    .ok_or("clickup_space_sync runs for a workspace")?;
                let outcome = spaces::sync(&app, workspace_id)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(json!(outcome))
            },
        )
        .every(Duration::from_secs(3600), |app: AppState| async move {
            workspaces_with(&app, Provider::Clickup).await
        })
        .queue("clickup")
        .retry(RetryPolicy::attempts(3, &[60, 60]))
        .timeout(Duration::from_secs(120)),
    );
}

/// The ClickUp budget and cache of this server: made on its first use. Servers share budgets
/// and cache only through Redis (`REDIS_URL`), never in memory, as separate processes would.
pub async fn shared(app: &AppState) -> &'static api::Shared {
    use std::collections::HashMap;
    static SHARED: tokio::sync::Mutex<Option<HashMap<usize, &'static api::Shared>>> =
        tokio::sync::Mutex::const_new(None);
    // One per application (several run in one test process).
    let key = std::ptr::from_ref::<crate::app::Inner>(app) as usize;
    let mut all = SHARED.lock().await;
    let all = all.get_or_insert_with(HashMap::new);
    if let Some(found) = all.get(&key) {
        return found;
    }
    let made: &'static api::Shared = Box::leak(Box::new(
        api::Shared::new(app.config.redis_url.as_deref()).await,
    ));
    all.insert(key, made);
    made
}

/// The workspace's ClickUp integration and the OAuth connection it uses.
pub async fn workspace_connection(
    app: &AppState,
    workspace_id: Uuid,
) -> Result<Option<(integration::Model, connection::Model)>, DbErr> {
    let found = integration::Entity::find()
        .filter(integration::Column::WorkspaceId.eq(workspace_id))
        .filter(integration::Column::Provider.eq(Provider::Clickup))
        .filter(integration::Column::Active.eq(true))
        .order_by_asc(integration::Column::CreatedAt)
        .one(app.db.conn())
        .await?;
    let Some(record) = found else {
        return Ok(None);
    };
    let connection = connection::Entity::find()
        .filter(connection::Column::WorkspaceId.eq(workspace_id))
        .filter(connection::Column::UserId.eq(record.user_id))
        .filter(connection::Column::Provider.eq("clickup"))
        .one(app.db.conn())
        .await?;
    Ok(connection.map(|c| (record, c)))
}

/// The API for a workspace, or why there is none.
pub async fn client_for(
    app: &AppState,
    workspace_id: Uuid,
) -> Result<api::ClickUp<'_>, api::ClickUpError> {
    let found = workspace_connection(app, workspace_id)
        .await
        .map_err(|e| api::ClickUpError::Unavailable(ApiError::from(e).shown()))?;
    let Some((_, connection)) = found else {
        return Err(api::ClickUpError::Unavailable(
            "ClickUp is not connected: an admin connects it with GET /api/v1/clickup/oauth/connect"
                .into(),
        ));
    };
    if connection.status == ConnectionStatus::NeedsReauth {
        return Err(api::ClickUpError::NeedsReauth(
            connection.status_reason.clone().unwrap_or_default(),
        ));
    }
    Ok(api::ClickUp {
        app,
        shared: shared(app).await,
        workspace_id,
        connection,
    })
}

pub struct ClickUpConnector;

impl ClickUpConnector {
    /// Starts an admin's connection of the workspace's ClickUp team.
    pub async fn connect_workspace(app: &AppState, acting: &Acting) -> Result<Value, ApiError> {
        if !acting.is_admin {
            return Err(ApiError::Forbidden(
                "Only workspace admins connect the workspace's ClickUp".into(),
            ));
        }
        let provider =
            providers::find(&app.config, "clickup").ok_or(ApiError::NotFound("OAuth app"))?;
        if store::find(app, acting, Provider::Clickup).await?.is_none() {
            let draft = store::draft(app, acting, &ClickUpConnector, Map::new()).await?;
            store::persist(app, acting, Provider::Clickup, draft).await?;
        }
        let redirect = app
            .config
            .connectors
            .clickup_redirect_uri
            .clone()
            .unwrap_or_else(|| {
                format!(
                    "{}/api/v1/clickup/oauth/callback",
                    app.config.oauth.redirect_uri_base
                )
            });
        let started = flow::start_with_redirect(
            app,
            acting.workspace_id,
            acting.user_id,
            &provider,
            None,
            Some(redirect),
        )
        .await?;
        Ok(json!({
            "authorization_url": started.authorization_url,
            "state": started.state,
            "expires_at": started.expires_at.format(&crate::platform::time::Rfc3339).unwrap_or_default(),
        }))
    }

    async fn forget(app: &AppState, integration: &Integration) -> Reply {
        let connection = connection::Entity::find()
            .filter(connection::Column::WorkspaceId.eq(integration.record.workspace_id))
            .filter(connection::Column::UserId.eq(integration.record.user_id))
            .filter(connection::Column::Provider.eq("clickup"))
            .one(app.db.conn())
            .await;
        if let Ok(Some(c)) = &connection
            && let Err(e) = oauth::tokens::disconnect(app, c).await
        {
            return Reply::failure(e);
        }
        shared(app)
            .await
            .forget(integration.record.workspace_id)
            .await;
        match store::delete(app, integration.record.id, Provider::Clickup).await {
            Ok(()) => Reply::ok(
                json!({"message": "ClickUp disconnected; ClickUp offers no revocation, so the token was forgotten"}),
            ),
            Err(e) => Reply::failure(e),
        }
    }
}

const RECEIVERS: &[Receiver] = &[Receiver {
    name: "webhook",
    summary: "ClickUp's webhook",
    description: "`X-Signature` (HMAC-SHA256 of the body, hex) is checked against the secret of \
        each workspace's registered ClickUp webhook before the payload is read; each history \
        item is applied once: a linked task's move to a closed status makes its Timebridge task \
        `done`, a reopened one `todo`.",
    request: "A ClickUp webhook payload (`taskStatusUpdated`)",
    responses: &[
        (
            200,
            "`{ok: true, applied, ignored}`; `duplicate: true` for a delivery already applied",
        ),
        (400, "Malformed payload"),
        (401, "Missing or invalid signature"),
    ],
}];

impl Connector for ClickUpConnector {
    fn provider(&self) -> Provider {
        Provider::Clickup
    }

    fn bindings(&self) -> Option<&dyn super::bindings::BindingSource> {
        Some(self)
    }

    fn receivers(&self) -> &'static [Receiver] {
        RECEIVERS
    }

    fn receive<'a>(
        &'a self,
        app: &'a AppState,
        _receiver: &'a str,
        headers: &'a axum::http::HeaderMap,
        body: axum::body::Bytes,
    ) -> BoxFuture<'a, axum::response::Response> {
        Box::pin(webhook::receive(app, headers, body))
    }

    fn fields(&self) -> &'static [Field] {
        &[]
    }

    fn check_config<'a>(
        &'a self,
        _app: &'a AppState,
        _acting: &'a Acting,
        _config: &'a Map<String, Value>,
        _errors: &'a mut FieldErrors,
    ) -> BoxFuture<'a, Result<(), DbErr>> {
        Box::pin(async { Ok(()) })
    }

    fn test<'a>(&'a self, app: &'a AppState, integration: &'a Integration) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let client = match client_for(app, integration.record.workspace_id).await {
                Ok(c) => c,
                Err(e) => return Reply::error(e.to_string()),
            };
            match client.teams().await {
                Ok(teams) => Reply::ok(
                    json!({"teams": teams.iter().map(|t| json!({"id": t["id"], "name": t["name"]})).collect::<Vec<_>>()}),
                ),
                Err(e) => Reply::error(e.to_string()),
            }
        })
    }

    fn sync<'a>(
        &'a self,
        app: &'a AppState,
        _acting: &'a Acting,
        integration: &'a Integration,
        _params: &'a Value,
    ) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let outcome = spaces::sync(app, integration.record.workspace_id)
                .await
                .map(|synced| json!(synced))
                .map_err(|e| e.to_string());
            store::record_sync(&app.db, integration.record.id, outcome).await
        })
    }

    fn revoke<'a>(
        &'a self,
        app: &'a AppState,
        integration: &'a Integration,
    ) -> BoxFuture<'a, Reply> {
        Box::pin(Self::forget(app, integration))
    }

    fn connect<'a>(
        &'a self,
        app: &'a AppState,
        acting: &'a Acting,
    ) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(Self::connect_workspace(app, acting))
    }

    fn status_details<'a>(
        &'a self,
        app: &'a AppState,
        integration: &'a Integration,
    ) -> BoxFuture<'a, Value> {
        Box::pin(async move {
            let workspace_id = integration.record.workspace_id;
            let connection = workspace_connection(app, workspace_id).await.ok().flatten();
            let team = match client_for(app, workspace_id).await {
                Ok(client) => client.teams().await.ok().and_then(|t| t.into_iter().next()),
                Err(_) => None,
            };
            json!({
                "connected": connection.map(|(_, c)| c.status),
                "team": team.map(|t| json!({"id": t["id"], "name": t["name"]})),
            })
        })
    }
}
