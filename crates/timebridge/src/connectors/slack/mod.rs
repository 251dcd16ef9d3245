//! The Slack connector (seed 002): the `/tt` slash command, timer notifications to a channel,
//! and a daily summary.
//!
//! * `POST /api/integrations/slack/events` checks `X-Slack-Signature` (v0) and refuses
//!   requests more than five minutes old; answers Slack's `url_verification`; runs `/tt start
//!   [project]`, `stop`, `status`, `today` and `help` for the member whose `slack_user_id` sent
//!   it, answering ephemeral JSON at once (Slack allows 3 seconds).
//! * Timer started/stopped messages go to the member's `channel`, fire-and-forget: the timer
//!   never waits for Slack, and a Slack outage is only logged.
//! * The daily summary is posted at the member's `daily_summary_time` (HH:MM, UTC) by the
//!   `slack_daily_summary` job, which runs every 30 minutes.

mod commands;
mod events;
pub mod notify;
pub mod signature;

use axum::{body::Bytes, http::HeaderMap, response::Response};
use serde_json::{Map, Value, json};

use super::{
    Connector, Field, FieldKind, Provider, Receiver, Reply,
    outbound::{self, describe},
    store::{self, Integration},
};
use crate::{
    app::AppState,
    platform::{acting::Acting, consumers::BoxFuture, error::FieldErrors},
};

/// The connector.
pub struct SlackConnector;

/// Plugs Slack in: the connector, timer notices after each commit that starts or stops a
/// timer, and the `slack_daily_summary` job.
pub fn register(c: &mut crate::app::Capabilities) {
    use std::{sync::Arc, time::Duration};

    c.connector(Arc::new(SlackConnector));
    c.after_commit(|app| Arc::new(notify::TimerNotices::new(app)));
    let every = Duration::from_secs(30 * 60);
    c.job(
        crate::platform::jobs::JobKind::new(
            "slack_daily_summary",
            "Every 30 minutes: posts the daily summary of each Slack member of the workspace whose daily_summary_time falls in the last 30 minutes.",
            move |app: AppState, job| async move {
                let workspace_id = job
                    .workspace_id
                    .ok_or("slack_daily_summary runs for a workspace")?;
                let now = crate::platform::time::now();
                let (after, until) = job.window(every).unwrap_or((now - every, now));
                notify::daily_summaries(&app, workspace_id, after, until)
                    .await
                    .map_err(|e| e.shown())
            },
        )
        .every(every, |app: AppState| async move {
            super::workspaces_with(&app, Provider::Slack).await
        }),
    );
}

const FIELDS: &[Field] = &[
    Field {
        name: "bot_token",
        kind: FieldKind::Secret,
        required: true,
        description: "The Slack app's bot token (`xoxb-…`), for posting messages.",
        example: "xoxb-0000000000-0000000000-example",
        pattern: None,
    },
    Field {
        name: "signing_secret",
        kind: FieldKind::Secret,
        required: true,
        description: "The Slack app's signing secret: every request's X-Slack-Signature is checked against it.",
        example: "example-signing-secret",
        pattern: None,
    },
    Field {
        name: "slack_user_id",
        kind: FieldKind::Text,
        required: true,
        description: "Your Slack member id (`U…`): slash commands from it act as you.",
        example: "U2CERLKJA",
        pattern: Some("^[A-Za-z0-9]+$"),
    },
    Field {
        name: "channel",
        kind: FieldKind::Text,
        required: false,
        description: "Channel id (`C…`) for timer notifications and the daily summary.",
        example: "C024BE91L",
        pattern: None,
    },
    Field {
        name: "notify_timer",
        kind: FieldKind::Bool,
        required: false,
        description: "Post when your timer starts or stops (default true when a channel is set).",
        example: "true",
        pattern: None,
    },
    Field {
        name: "daily_summary_time",
        kind: FieldKind::Time,
        required: false,
        description: "When to post your daily summary, HH:MM UTC (none: no summary).",
        example: "17:30",
        pattern: Some("^([01][0-9]|2[0-3]):[0-5][0-9]$"),
    },
];

const RECEIVERS: &[Receiver] = &[Receiver {
    name: "events",
    summary: "Slack's events and slash commands",
    description: "`X-Slack-Signature` (v0) is checked against each active Slack integration's \
        signing secret, and requests older than five minutes are refused.",
    request: "A Slack Events API payload (JSON) or a slash command (form)",
    responses: &[
        (
            200,
            "The `url_verification` challenge, or an ephemeral reply",
        ),
        (400, "Malformed request"),
        (401, "Missing, invalid or stale signature"),
    ],
}];

/// Slack's request headers worth recording in the inbound ledger (never its signature).
pub const RECORDED_HEADERS: &[&str] = &[
    "x-slack-request-timestamp",
    "x-slack-retry-num",
    "x-slack-retry-reason",
];

/// Calls a Slack Web API method with the integration's bot token. Slack answers 200 with
/// `{"ok": false, "error": …}` for its own errors.
pub async fn call(app: &AppState, integration: &Integration, method: &str, body: &Value) -> Reply {
    let Some(token) = integration.text("bot_token") else {
        return Reply::not_configured();
    };
    let url = format!("{}/{method}", app.config.connectors.slack_api_url);
    let response = outbound::client()
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => match r.json::<Value>().await {
            Ok(v) if v["ok"] == Value::Bool(true) => Reply::ok(v),
            Ok(v) => Reply::error(format!(
                "Slack answered: {}",
                v["error"].as_str().unwrap_or("an error")
            )),
            Err(_) => Reply::error("Slack's answer could not be read"),
        },
        Ok(r) => Reply::error(format!("Slack answered {}", r.status().as_u16())),
        Err(e) => Reply::error(describe(&e)),
    }
}

impl SlackConnector {
    async fn test_token(app: &AppState, integration: &Integration) -> Reply {
        let reply = call(app, integration, "auth.test", &json!({})).await;
        let reply = if reply.is_ok() {
            Reply::ok(json!({"team": reply.0["team"], "bot_user": reply.0["user"]}))
        } else {
            reply
        };
        store::record_outcome(
            &app.db,
            integration.record.id,
            reply.0["error"].as_str(),
            false,
        )
        .await;
        reply
    }

    async fn forget(app: &AppState, integration: &Integration) -> Reply {
        // Best effort: the token is forgotten whether or not Slack answers.
        let revoked = call(app, integration, "auth.revoke", &json!({})).await;
        if let Err(e) = store::delete(app, integration.record.id, Provider::Slack).await {
            return Reply::failure(e);
        }
        Reply::ok(json!({"message": "Slack integration removed", "token_revoked": revoked.is_ok()}))
    }
}

/// A Slack member id: letters and digits (`U2CERLKJA`).
fn check_member_id(config: &Map<String, Value>, errors: &mut FieldErrors) {
    if let Some(id) = config.get("slack_user_id").and_then(Value::as_str)
        && !id.chars().all(|c| c.is_ascii_alphanumeric())
    {
        errors.add(
            "slack_user_id",
            "must be a Slack member id such as U2CERLKJA",
        );
    }
}

impl Connector for SlackConnector {
    fn provider(&self) -> Provider {
        Provider::Slack
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    fn check_config<'a>(
        &'a self,
        _app: &'a AppState,
        _acting: &'a Acting,
        config: &'a Map<String, Value>,
        errors: &'a mut FieldErrors,
    ) -> BoxFuture<'a, Result<(), sea_orm::DbErr>> {
        Box::pin(async move {
            check_member_id(config, errors);
            Ok(())
        })
    }

    fn test<'a>(&'a self, app: &'a AppState, integration: &'a Integration) -> BoxFuture<'a, Reply> {
        Box::pin(Self::test_token(app, integration))
    }

    fn sync<'a>(
        &'a self,
        _app: &'a AppState,
        _acting: &'a Acting,
        _integration: &'a Integration,
        _params: &'a Value,
    ) -> BoxFuture<'a, Reply> {
        Box::pin(async { Reply::error("Slack has nothing to sync") })
    }

    fn revoke<'a>(
        &'a self,
        app: &'a AppState,
        integration: &'a Integration,
    ) -> BoxFuture<'a, Reply> {
        Box::pin(Self::forget(app, integration))
    }

    fn receivers(&self) -> &'static [Receiver] {
        RECEIVERS
    }

    fn receive<'a>(
        &'a self,
        app: &'a AppState,
        _receiver: &'a str,
        headers: &'a HeaderMap,
        body: Bytes,
    ) -> BoxFuture<'a, Response> {
        // One receiver: events and slash commands.
        Box::pin(events::receive(app, headers, body))
    }
}
