//! ClickUp's webhooks back to us (`POST /api/integrations/clickup/webhook`).
//!
//! The space sync registers one webhook per workspace's ClickUp team (`taskStatusUpdated`, to
//! `{OAUTH_REDIRECT_URI_BASE}/api/integrations/clickup/webhook`) and keeps its signing secret
//! sealed. A delivery is checked before it is read: its `X-Signature` must be the HMAC-SHA256
//! (hex) of the body under one of those secrets. It is then recorded in the inbound ledger and
//! applied once per history item: a linked ClickUp task moving to a closed status makes its
//! Timebridge task `done`; moving out of one makes a `done` task `todo` again.

use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::OnConflict};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    api::{ClickUp, ClickUpError},
    entity::{task_link, webhook},
    spaces::text,
};
use crate::{
    app::AppState,
    connectors::{
        Provider, answer,
        bindings::{
            Direction, EntityKind, engine,
            entity::{binding, link},
        },
        entity::inbound::InboundStatus,
        ledger::{self, Received, Seen},
        refuse,
    },
    platform::{acting::Acting, error::ApiError, outbox::Actor, sealed::SealedColumn, time},
    tracking::tasks::{
        entity::{self as task, TaskStatus},
        service::{self as tasks, TaskChanges},
    },
};

pub const SECRET_PURPOSE: &str = "clickup_webhook.secret";

/// The sealed column, for `timebridge secrets rotate`.
pub const SEALED: &[SealedColumn] = &[SealedColumn {
    table: "clickup_webhooks",
    id_column: "workspace_id",
    column: "secret",
    purpose: SECRET_PURPOSE,
}];

/// Registers the workspace's webhook at ClickUp once (the space sync calls this).
pub async fn ensure(api: &ClickUp<'_>, team_id: &str) -> Result<bool, ClickUpError> {
    let app = api.app;
    let db = |e: sea_orm::DbErr| ClickUpError::Unavailable(ApiError::from(e).shown());
    let existing = webhook::Entity::find_by_id(api.workspace_id)
        .one(app.db.conn())
        .await
        .map_err(db)?;
    if existing.is_some() {
        return Ok(false);
    }
    let endpoint = format!(
        "{}/api/integrations/clickup/webhook",
        app.config.oauth.redirect_uri_base
    );
    let made = api
        .call(
            reqwest::Method::POST,
            &["team", team_id, "webhook"],
            &[],
            Some(&json!({
                "endpoint": endpoint,
                "events": ["taskStatusUpdated", "taskTimeTrackedUpdated"],
            })),
        )
        .await?;
    let id = text(&made["id"]);
    let secret = made
        .pointer("/webhook/secret")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ClickUpError::Unavailable("ClickUp answered a webhook without a secret".into())
        })?;
    let _turn = app.db.write_turn().await;
    webhook::Entity::insert(webhook::ActiveModel {
        workspace_id: Set(api.workspace_id),
        team_id: Set(team_id.to_owned()),
        webhook_id: Set(id),
        secret: Set(app.secret_key.seal(SECRET_PURPOSE, secret.as_bytes())),
        created_at: Set(time::now()),
    })
    .on_conflict(
        OnConflict::column(webhook::Column::WorkspaceId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(app.db.conn())
    .await
    .map_err(db)?;
    Ok(true)
}

/// Receives a delivery: verified, recorded, applied once.
pub async fn receive(app: &AppState, headers: &HeaderMap, body: Bytes) -> Response {
    let Some(signature) = headers.get("x-signature").and_then(|v| v.to_str().ok()) else {
        return refuse(StatusCode::UNAUTHORIZED, "Missing X-Signature");
    };
    let hooks = match webhook::Entity::find().all(app.db.conn()).await {
        Ok(rows) => rows,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let verified: Vec<webhook::Model> = hooks
        .into_iter()
        .filter(|hook| {
            app.secret_key
                .open(SECRET_PURPOSE, &hook.secret)
                .is_ok_and(|secret| {
                    crate::connectors::hmac_sha256_verifies(&secret, &body, signature)
                })
        })
        .collect();
    if verified.is_empty() {
        tracing::warn!("ClickUp webhook refused: no registered secret matches its signature");
        return refuse(StatusCode::UNAUTHORIZED, "Invalid signature");
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "Malformed JSON payload");
    };
    // Verified first; then the webhook the payload names, among those whose secret matched.
    let named = text(&payload["webhook_id"]);
    let Some(hook) = verified
        .iter()
        .find(|h| h.webhook_id == named)
        .or(verified.first())
        .cloned()
    else {
        return refuse(StatusCode::UNAUTHORIZED, "Invalid signature");
    };
    let event = payload["event"].as_str().unwrap_or_default().to_owned();
    let item = payload
        .pointer("/history_items/0")
        .cloned()
        .unwrap_or(Value::Null);
    let delivery_id = format!(
        "{}:{}:{}",
        hook.webhook_id,
        text(&payload["task_id"]),
        item.get("id").map(text).unwrap_or_default()
    );
    let text_body = String::from_utf8_lossy(&body).into_owned();
    let received = Received {
        provider: Provider::Clickup,
        delivery_id: &delivery_id,
        integration_id: None,
        workspace_id: Some(hook.workspace_id),
        event_type: &event,
        headers,
        payload: &text_body,
    };
    let seen = match ledger::seen(app.db.conn(), Provider::Clickup, &delivery_id).await {
        Ok(seen) => seen,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if matches!(seen, Seen::Done(_)) {
        return answer(StatusCode::OK, json!({"ok": true, "duplicate": true}));
    }
    let outcome = match event.as_str() {
        "taskStatusUpdated" => status_updated(app, hook.workspace_id, &payload, &item).await,
        "taskTimeTrackedUpdated" => time_tracked(app, &hook, &payload, &item).await,
        _ => Ok(None),
    };
    match outcome {
        Ok(applied) => {
            let status = if applied.is_some() {
                InboundStatus::Applied
            } else {
                InboundStatus::Ignored
            };
            let _turn = app.db.write_turn().await;
            if let Err(e) = ledger::record(app.db.conn(), &received, &seen, status, None).await {
                return ApiError::from(e).into_response();
            }
            answer(
                StatusCode::OK,
                json!({"ok": true, "applied": applied, "ignored": applied.is_none()}),
            )
        }
        Err(e) => {
            ledger::record_failure(&app.db, &received, &e.shown()).await;
            e.into_response()
        }
    }
}

/// A ClickUp task's status changed. A task a binding pulls is brought in step through the
/// binding (its mapping says what each status means); otherwise a linked task becomes `done`
/// when it moved to a closed status, `todo` again when a `done` task's ClickUp task was
/// reopened. Answers what happened, or `None` when nothing changes.
async fn status_updated(
    app: &AppState,
    workspace_id: Uuid,
    payload: &Value,
    item: &Value,
) -> Result<Option<&'static str>, ApiError> {
    let clickup_task_id = text(&payload["task_id"]);
    if let Some(binding) = pulling_binding(app, workspace_id, &clickup_task_id).await? {
        let api = super::client_for(app, workspace_id)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let task = api
            .call(reqwest::Method::GET, &["task", &clickup_task_id], &[], None)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        engine::apply_item(app, &binding, super::bindings::task_item(&task)).await?;
        return Ok(Some("synced"));
    }
    let link = task_link::Entity::find()
        .filter(task_link::Column::WorkspaceId.eq(workspace_id))
        .filter(task_link::Column::ClickupTaskId.eq(clickup_task_id.as_str()))
        .one(app.db.conn())
        .await?;
    let Some(link) = link else {
        return Ok(None);
    };
    let Some(current) = task::Entity::find_by_id(link.task_id)
        .one(app.db.conn())
        .await?
    else {
        return Ok(None);
    };
    let closed = item.pointer("/after/type").and_then(Value::as_str) == Some("closed")
        || item.pointer("/data/status_type").and_then(Value::as_str) == Some("closed");
    let next = match (closed, current.status) {
        (true, TaskStatus::Done) => return Ok(None),
        (true, _) => TaskStatus::Done,
        (false, TaskStatus::Done) => TaskStatus::Todo,
        (false, _) => return Ok(None),
    };
    let acting = Acting::system(
        workspace_id,
        Actor::integration(Provider::Clickup.actor_name(), None),
    );
    tasks::update(
        &app.db,
        &acting,
        link.task_id,
        TaskChanges {
            status: Some(next),
            ..Default::default()
        },
    )
    .await?;
    Ok(Some(if next == TaskStatus::Done {
        "done"
    } else {
        "todo"
    }))
}

/// The active ClickUp task binding that pulls and pairs this ClickUp task, if any.
async fn pulling_binding(
    app: &AppState,
    workspace_id: Uuid,
    clickup_task_id: &str,
) -> Result<Option<binding::Model>, ApiError> {
    let candidates = binding::Entity::find()
        .filter(binding::Column::WorkspaceId.eq(workspace_id))
        .filter(binding::Column::Provider.eq(Provider::Clickup.as_str()))
        .filter(binding::Column::Entity.eq(EntityKind::Task))
        .filter(binding::Column::Active.eq(true))
        .filter(binding::Column::Direction.ne(Direction::Push))
        .all(app.db.conn())
        .await?;
    for candidate in candidates {
        let paired = link::Entity::find()
            .filter(link::Column::BindingId.eq(candidate.id))
            .filter(link::Column::RemoteId.eq(clickup_task_id))
            .one(app.db.conn())
            .await?;
        if paired.is_some() {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// Time was tracked (or its interval edited) on a ClickUp task. With an active time-entry
/// binding of the webhook's team (the opt-in), the entry is read from ClickUp and applied
/// through the binding: imported for the member with the ClickUp user's email when its task
/// is paired with a Timebridge task, or moved when imported before. Without one, ignored.
async fn time_tracked(
    app: &AppState,
    hook: &webhook::Model,
    payload: &Value,
    item: &Value,
) -> Result<Option<&'static str>, ApiError> {
    let found = binding::Entity::find()
        .filter(binding::Column::WorkspaceId.eq(hook.workspace_id))
        .filter(binding::Column::Provider.eq(Provider::Clickup.as_str()))
        .filter(binding::Column::Entity.eq(EntityKind::TimeEntry))
        .filter(binding::Column::Collection.eq(hook.team_id.as_str()))
        .filter(binding::Column::Active.eq(true))
        .one(app.db.conn())
        .await?;
    let (Some(found), Some(after)) = (found, item.get("after").filter(|a| a.is_object())) else {
        return Ok(None);
    };
    let entry_id = text(&after["id"]);
    let start: i64 = text(&after["start"]).parse().unwrap_or_default();
    let api = super::client_for(app, hook.workspace_id)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let day = 24 * 3600 * 1000;
    let entries = super::bindings::time_entries(
        &api,
        &hook.team_id,
        &[
            ("task_id", text(&payload["task_id"])),
            // Whose time it is (the team's members are cached, so a newcomer may be missing).
            ("assignee", text(&item["user"]["id"])),
            ("start_date", (start - day).to_string()),
            ("end_date", (start + day).to_string()),
        ],
    )
    .await
    .map_err(ApiError::Unavailable)?;
    let Some(entry) = entries.into_iter().find(|e| e.id == entry_id) else {
        return Ok(None);
    };
    let run = engine::apply_item(app, &found, entry).await?;
    Ok(match (run.created, run.updated) {
        (1.., _) => Some("imported"),
        (_, 1..) => Some("updated"),
        _ => None,
    })
}
