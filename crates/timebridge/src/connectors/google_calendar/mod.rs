//! The Google Calendar connector (provider key `google_calendar`, `/api/integrations/google/…`):
//! two-way sync between a member's calendar and their time entries, on the member's Google
//! OAuth connection (`crate::oauth`).
//!
//! - `POST /api/integrations/google/connect` starts the OAuth flow (Google's consent screen);
//!   `POST /api/integrations/google/disconnect` (or `DELETE …/config`) revokes the grant at
//!   Google and removes the integration.
//! - Config: `calendar_id` (default `primary`), `sync_direction` (`import`, `export`, `both`;
//!   default `both`), `sync_days_back` (clamped to 1–30, default 7), `project_id` (where
//!   imported entries go; default none).
//! - [`sync`]: the sync itself; the `google_calendar_sync` job runs it every 30 minutes for
//!   every member with an active integration, and `POST /api/integrations/google/sync` runs a
//!   member's own now.

pub mod api;
pub mod entity;
pub mod sync;

use std::time::Duration;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    BoxFuture, Connector, Field, FieldKind, Provider, Reply, store, store::Integration,
    workspaces_with,
};
use crate::{
    app::{AppState, Capabilities},
    oauth::{self, flow, providers},
    platform::{
        acting::Acting,
        error::{ApiError, FieldErrors},
        jobs::JobKind,
    },
};

/// `time_entries.source` of the entries the sync makes.
pub const SOURCE: &str = "google_calendar";

const EVERY: Duration = Duration::from_secs(30 * 60);

/// Plugs Google Calendar in: the connector and the `google_calendar_sync` job.
pub fn register(c: &mut Capabilities) {
    c.connector(std::sync::Arc::new(GoogleCalendarConnector));
    c.job(
        JobKind::new(
            "google_calendar_sync",
            "Every 30 minutes: syncs each active Google Calendar integration of the workspace (import, export or both). One member's failure is recorded on their integration and never stops the others.",
            |app: AppState, job| async move {
                let workspace_id = job
                    .workspace_id
                    .ok_or("google_calendar_sync runs for a workspace")?;
                Ok(sync_all(&app, workspace_id).await)
            },
        )
        .every(EVERY, |app: AppState| async move {
            workspaces_with(&app, Provider::GoogleCalendar).await
        }),
    );
}

/// Syncs every active Google Calendar integration of the workspace; each failure is recorded
/// on its integration and in the outcome.
pub async fn sync_all(app: &AppState, workspace_id: Uuid) -> Value {
    let integrations = match app
        .integrations
        .get(&app.db, &app.secret_key, Provider::GoogleCalendar)
        .await
    {
        Ok(list) => list,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let (mut synced, mut failures) = (0, Vec::new());
    for integration in integrations
        .iter()
        .filter(|i| i.record.workspace_id == workspace_id)
    {
        let outcome = sync::run(app, integration).await.map(|_| Value::Null);
        let reply = store::record_sync(&app.db, integration.record.id, outcome).await;
        if reply.is_ok() {
            synced += 1;
        } else {
            failures
                .push(json!({"integration_id": integration.record.id, "error": reply.0["error"]}));
        }
    }
    json!({"synced": synced, "failed": failures.len(), "failures": failures})
}

const FIELDS: &[Field] = &[
    Field {
        name: "calendar_id",
        kind: FieldKind::Text,
        required: false,
        description: "The calendar to sync: `primary` (the default) or a calendar's id.",
        example: "primary",
        pattern: None,
    },
    Field {
        name: "sync_direction",
        kind: FieldKind::Text,
        required: false,
        description: "`import` (events become entries), `export` (entries become `[TT]` events) or `both` (the default).",
        example: "both",
        pattern: Some("^(import|export|both)$"),
    },
    Field {
        name: "sync_days_back",
        kind: FieldKind::Integer,
        required: false,
        description: "How many days back the first import looks; clamped to 1–30 (default 7).",
        example: "7",
        pattern: None,
    },
    Field {
        name: "project_id",
        kind: FieldKind::Uuid,
        required: false,
        description: "The project imported entries go to (default: none).",
        example: "01938f2a-7c4e-7d10-9a3b-5c6d7e8f9a0b",
        pattern: None,
    },
];

pub struct GoogleCalendarConnector;

impl GoogleCalendarConnector {
    async fn check(
        app: &AppState,
        acting: &Acting,
        config: &Map<String, Value>,
        errors: &mut FieldErrors,
    ) -> Result<(), sea_orm::DbErr> {
        if let Some(direction) = config.get("sync_direction").and_then(Value::as_str)
            && !matches!(direction, "import" | "export" | "both")
        {
            errors.add("sync_direction", "must be one of: import, export, both");
        }
        if let Some(id) = config
            .get("project_id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
        {
            use crate::tracking::projects::entity as project;
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            let found = project::Entity::find_by_id(id)
                .filter(project::Column::WorkspaceId.eq(acting.workspace_id))
                .one(app.db.conn())
                .await?;
            if found.is_none() {
                errors.add("project_id", "no such project in this workspace");
            }
        }
        Ok(())
    }

    async fn connect_member(app: &AppState, acting: &Acting) -> Result<Value, ApiError> {
        let provider =
            providers::find(&app.config, "google").ok_or(ApiError::NotFound("OAuth app"))?;
        // The integration exists from now on (with its defaults); it syncs once Google is
        // connected.
        if store::find(app, acting, Provider::GoogleCalendar)
            .await?
            .is_none()
        {
            let draft = store::draft(app, acting, &GoogleCalendarConnector, Map::new()).await?;
            store::persist(app, acting, Provider::GoogleCalendar, draft).await?;
        }
        let started =
            flow::start(app, acting.workspace_id, acting.user_id, &provider, None).await?;
        Ok(json!({
            "authorization_url": started.authorization_url,
            "state": started.state,
            "expires_at": started.expires_at.format(&crate::platform::time::Rfc3339).unwrap_or_default(),
        }))
    }

    async fn forget(app: &AppState, integration: &Integration) -> Reply {
        let connection = match sync::connection_of(app, integration).await {
            Ok(c) => c,
            Err(e) => return Reply::failure(e),
        };
        let (revoked, revocation_error) = match &connection {
            Some(c) => match oauth::tokens::disconnect(app, c).await {
                Ok(outcome) => outcome,
                Err(e) => return Reply::failure(e),
            },
            None => (false, None),
        };
        match store::delete(app, integration.record.id, Provider::GoogleCalendar).await {
            Ok(()) => Reply::ok(json!({
                "message": "Google Calendar integration removed",
                "revoked": revoked,
                "revocation_error": revocation_error,
            })),
            Err(e) => Reply::failure(e),
        }
    }

    async fn probe(app: &AppState, integration: &Integration) -> Reply {
        let connection = match sync::connection_of(app, integration).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return Reply::error(
                    "Google is not connected: POST /api/integrations/google/connect",
                );
            }
            Err(e) => return Reply::failure(e),
        };
        let settings = sync::Settings::of(integration);
        let calendar = api::Calendar::new(app, connection.id);
        match calendar
            .list(
                &settings.calendar_id,
                &[
                    ("maxResults", "1".into()),
                    ("timeMin", "2100-01-01T00:00:00Z".into()),
                ],
            )
            .await
        {
            Ok(_) => Reply::ok(
                json!({"calendar_id": settings.calendar_id, "account": connection.account_name}),
            ),
            Err(e) => Reply::error(e.message()),
        }
    }
}

impl Connector for GoogleCalendarConnector {
    fn provider(&self) -> Provider {
        Provider::GoogleCalendar
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    fn check_config<'a>(
        &'a self,
        app: &'a AppState,
        acting: &'a Acting,
        config: &'a Map<String, Value>,
        errors: &'a mut FieldErrors,
    ) -> BoxFuture<'a, Result<(), sea_orm::DbErr>> {
        Box::pin(Self::check(app, acting, config, errors))
    }

    fn test<'a>(&'a self, app: &'a AppState, integration: &'a Integration) -> BoxFuture<'a, Reply> {
        Box::pin(Self::probe(app, integration))
    }

    fn sync<'a>(
        &'a self,
        app: &'a AppState,
        _acting: &'a Acting,
        integration: &'a Integration,
        _params: &'a Value,
    ) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let outcome = sync::run(app, integration)
                .await
                .map(|counts| json!({"counts": counts}));
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
        Box::pin(Self::connect_member(app, acting))
    }

    fn sync_needs_admin(&self) -> bool {
        false
    }

    fn status_details<'a>(
        &'a self,
        app: &'a AppState,
        integration: &'a Integration,
    ) -> BoxFuture<'a, Value> {
        Box::pin(async move {
            let state = sync::load_state(app, integration.record.id)
                .await
                .ok()
                .flatten();
            let connection = sync::connection_of(app, integration).await.ok().flatten();
            json!({
                "connected": connection.as_ref().map(|c| c.status),
                "account": connection.and_then(|c| c.account_name),
                "incremental": state.as_ref().is_some_and(|s| s.sync_token.is_some()),
                "last_sync": state
                    .and_then(|s| s.last_outcome)
                    .and_then(|o| serde_json::from_str::<Value>(&o).ok()),
            })
        })
    }
}
