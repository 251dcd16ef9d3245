//! `POST /api/integrations/slack/events`: verify, then the Events API (JSON) or a slash
//! command (form).

use std::collections::HashMap;

use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
    response::Response,
};
use serde_json::{Value, json};

use super::{commands, signature};
use crate::{
    app::AppState,
    connectors::{
        INTERNAL_ERROR, Provider, answer, fail, header, internal_error,
        ledger::{self, InboundStatus, Received, Seen},
        refuse,
        store::Integration,
    },
    platform::error::ApiError,
};

/// An ephemeral reply: only the member who typed the command sees it.
pub fn ephemeral(text: impl Into<String>) -> Value {
    json!({"response_type": "ephemeral", "text": text.into()})
}

/// The inbound ledger's key: a delivery received twice (or concurrently) is one row.
const LEDGER_KEY: crate::platform::constraints::UniqueKey =
    crate::platform::constraints::UniqueKey::new(
        "ux_inbound_webhooks_delivery",
        "inbound_webhooks",
        &["provider", "delivery_id"],
    );

/// Receives one request.
pub async fn receive(app: &AppState, headers: &HeaderMap, body: Bytes) -> Response {
    let (Some(timestamp), Some(sig)) = (
        header(headers, "x-slack-request-timestamp"),
        header(headers, "x-slack-signature"),
    ) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "Missing X-Slack-Signature or X-Slack-Request-Timestamp",
        );
    };
    let now = ::time::OffsetDateTime::now_utc().unix_timestamp();
    if !signature::fresh(timestamp, now) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "Stale request: older than 5 minutes",
        );
    }
    let integrations = match app
        .integrations
        .get(&app.db, &app.secret_key, Provider::Slack)
        .await
    {
        Ok(list) => list,
        Err(e) => return fail(ApiError::from(e)),
    };
    let verified: Vec<&Integration> = integrations
        .iter()
        .filter(|i| {
            i.text("signing_secret")
                .is_some_and(|secret| signature::verify(secret, timestamp, &body, sig))
        })
        .collect();
    if verified.is_empty() {
        tracing::warn!("Slack request refused: no active integration's signing secret matches");
        return refuse(StatusCode::UNAUTHORIZED, "Invalid signature");
    }
    let json =
        header(headers, CONTENT_TYPE.as_str()).is_some_and(|t| t.starts_with("application/json"));
    if json {
        events_api(app, headers, &verified, &body).await
    } else {
        slash_command(app, headers, &verified, &body).await
    }
}

/// The Events API: the URL handshake, and event callbacks (recorded once, not acted on).
async fn events_api(
    app: &AppState,
    headers: &HeaderMap,
    verified: &[&Integration],
    body: &[u8],
) -> Response {
    let Ok(payload) = serde_json::from_slice::<Value>(body) else {
        return refuse(StatusCode::BAD_REQUEST, "Malformed JSON payload");
    };
    match payload["type"].as_str() {
        Some("url_verification") => answer(
            StatusCode::OK,
            json!({"challenge": payload["challenge"].as_str().unwrap_or_default()}),
        ),
        Some(kind) => {
            let delivery = payload["event_id"].as_str().unwrap_or_default().to_owned();
            if delivery.is_empty() {
                return refuse(StatusCode::BAD_REQUEST, "Event without event_id");
            }
            let event_type = payload["event"]["type"].as_str().unwrap_or(kind).to_owned();
            let text = String::from_utf8_lossy(body);
            let received = Received {
                provider: Provider::Slack,
                delivery_id: &delivery,
                integration_id: Some(verified[0].record.id),
                workspace_id: Some(verified[0].record.workspace_id),
                event_type: &event_type,
                headers,
                payload: &text,
            };
            let _turn = app.db.write_turn().await;
            let result = async {
                let seen = ledger::seen(app.db.conn(), Provider::Slack, &delivery).await?;
                if matches!(seen, Seen::Done(_)) {
                    return Ok(json!({"ok": true, "duplicate": true}));
                }
                ledger::record(
                    app.db.conn(),
                    &received,
                    &seen,
                    InboundStatus::Ignored,
                    None,
                )
                .await?;
                Ok::<_, sea_orm::DbErr>(json!({"ok": true, "ignored": true}))
            }
            .await;
            match result {
                Ok(reply) => answer(StatusCode::OK, reply),
                // A concurrent duplicate lost the race on the ledger's unique key.
                Err(e) if crate::platform::constraints::violated(&e, &LEDGER_KEY) => {
                    answer(StatusCode::OK, json!({"ok": true, "duplicate": true}))
                }
                Err(e) => fail(ApiError::from(e)),
            }
        }
        None => refuse(StatusCode::BAD_REQUEST, "Event without a type"),
    }
}

/// The form of a slash command, with Slack's legacy verification token blanked out.
fn redacted(form: &HashMap<String, String>) -> String {
    let mut pairs: Vec<(&str, &str)> = form
        .iter()
        .map(|(k, v)| (k.as_str(), if k == "token" { "…" } else { v.as_str() }))
        .collect();
    pairs.sort_unstable();
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

async fn slash_command(
    app: &AppState,
    headers: &HeaderMap,
    verified: &[&Integration],
    body: &[u8],
) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<HashMap<String, String>>(body) else {
        return refuse(StatusCode::BAD_REQUEST, "Malformed form body");
    };
    let user = form.get("user_id").map(String::as_str).unwrap_or_default();
    let Some(integration) = verified
        .iter()
        .find(|i| i.text("slack_user_id") == Some(user))
    else {
        return answer(
            StatusCode::OK,
            ephemeral(format!(
                "Your Slack account ({user}) is not linked to Timebridge. Set slack_user_id in your Slack integration."
            )),
        );
    };
    let trigger = form.get("trigger_id").cloned().unwrap_or_else(|| {
        format!(
            "command:{user}:{}",
            header(headers, "x-slack-request-timestamp").unwrap_or_default()
        )
    });
    let payload = redacted(&form);
    let command = form.get("command").map(String::as_str).unwrap_or("/tt");
    let received = Received {
        provider: Provider::Slack,
        delivery_id: &trigger,
        integration_id: Some(integration.record.id),
        workspace_id: Some(integration.record.workspace_id),
        event_type: command,
        headers,
        payload: &payload,
    };
    let text = form.get("text").map(String::as_str).unwrap_or_default();
    match commands::run(app, integration, &received, text).await {
        Ok(reply) => answer(StatusCode::OK, reply),
        Err(e) => {
            let message = e.to_string();
            ledger::record_failure(&app.db, &received, &message).await;
            // Slack shows the reply to the member: a failure of ours is only said to be one.
            let shown = if e.status().is_server_error() {
                INTERNAL_ERROR
            } else {
                message.as_str()
            };
            let reply = answer(
                StatusCode::OK,
                ephemeral(format!("Something went wrong: {shown}")),
            );
            internal_error(e, reply)
        }
    }
}
