//! Messages Slack receives without being asked: timer started/stopped (an after-commit event
//! consumer) and the daily summary (run by the `slack_daily_summary` job).

use std::sync::Arc;

use ::time::OffsetDateTime;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument;
use uuid::Uuid;

use super::{call, commands};
use crate::{
    app::{AppState, WeakApp},
    connectors::{
        Provider,
        entity::integration,
        store::{self, Integration, parse_hhmm},
    },
    directory::entity::user,
    platform::{
        consumers::{AfterCommit, BoxFuture, ChangeEvents},
        error::ApiError,
        outbox::EventType,
    },
    tracking::projects::entity as project,
};

/// Slack's timer notifications, as an after-commit event consumer: every `timer.started` and
/// `timer.stopped` (through the API, `/tt`, the GitHub connector, …) is posted to the member's
/// channel. The change never waits for Slack, and a failure is only logged (at debug: a Slack
/// outage is not ours).
pub struct TimerNotices {
    app: WeakApp,
}

impl TimerNotices {
    pub fn new(app: &AppState) -> Self {
        Self {
            app: app.downgrade(),
        }
    }
}

/// What a timer notice needs of the `timer.*` event's time entry.
#[derive(Deserialize)]
struct TimerEntry {
    user_id: Uuid,
    project_id: Option<Uuid>,
    duration_seconds: Option<i64>,
}

impl AfterCommit for TimerNotices {
    fn wants(&self, event_type: EventType) -> bool {
        matches!(
            event_type,
            EventType::TimerStarted | EventType::TimerStopped
        )
    }

    fn consume(&self, change: Arc<ChangeEvents>) -> BoxFuture<'static, ()> {
        let app = self.app.clone();
        Box::pin(async move {
            // The application is shutting down.
            let Some(app) = app.upgrade() else {
                return;
            };
            for event in &change.events {
                let started = event.event_type == EventType::TimerStarted;
                let entry: TimerEntry = match serde_json::from_str(&event.data) {
                    Ok(entry) => entry,
                    Err(e) => {
                        tracing::warn!(event = %event.id, error = %e, "timer event without a time entry");
                        continue;
                    }
                };
                let span = tracing::debug_span!(
                    "slack.timer_notice",
                    workspace = %change.workspace_id,
                    event = %event.id,
                );
                let posted = post_timer_change(&app, change.workspace_id, &entry, started)
                    .instrument(span)
                    .await;
                if let Err(e) = posted {
                    tracing::debug!(workspace = %change.workspace_id, error = %e, "Slack timer notification not sent");
                }
            }
        })
    }
}

async fn post_timer_change(
    app: &AppState,
    workspace_id: Uuid,
    entry: &TimerEntry,
    started: bool,
) -> Result<(), String> {
    let user_id = entry.user_id;
    let record = integration::Entity::find()
        .filter(integration::Column::WorkspaceId.eq(workspace_id))
        .filter(integration::Column::UserId.eq(user_id))
        .filter(integration::Column::Provider.eq(Provider::Slack.as_str()))
        .filter(integration::Column::Active.eq(true))
        .one(app.db.conn())
        .await
        .map_err(|e| e.to_string())?;
    let Some(record) = record else {
        return Ok(());
    };
    let integration = store::open_record(&app.secret_key, record);
    let Some(channel) = integration.text("channel") else {
        return Ok(());
    };
    if integration.flag("notify_timer") == Some(false) {
        return Ok(());
    }
    let who = user::Entity::find_by_id(user_id)
        .one(app.db.conn())
        .await
        .map_err(|e| e.to_string())?
        .map(|u| u.name)
        .unwrap_or_else(|| "Someone".into());
    let project = match entry.project_id {
        Some(id) => project::Entity::find_by_id(id)
            .one(app.db.conn())
            .await
            .map_err(|e| e.to_string())?
            .map(|p| p.name),
        None => None,
    }
    .unwrap_or_else(|| "no project".into());
    let text = if started {
        format!("⏱️ {who} started a timer on *{project}*")
    } else {
        let spent = commands::duration(entry.duration_seconds.unwrap_or_default());
        format!("✅ {who} stopped the timer on *{project}* after {spent}")
    };
    let reply = call(
        app,
        &integration,
        "chat.postMessage",
        &json!({"channel": channel, "text": text}),
    )
    .await;
    match reply.0["error"].as_str() {
        Some(e) => Err(e.to_owned()),
        None => Ok(()),
    }
}

/// Posts the daily summary of every member of the workspace whose `daily_summary_time` falls in
/// `(after, until]` (UTC). One member's failure never stops the others; answers how many were
/// posted and the failures.
pub async fn daily_summaries(
    app: &AppState,
    workspace_id: Uuid,
    after: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Value, ApiError> {
    let records = integration::Entity::find()
        .filter(integration::Column::WorkspaceId.eq(workspace_id))
        .filter(integration::Column::Provider.eq(Provider::Slack.as_str()))
        .filter(integration::Column::Active.eq(true))
        .all(app.db.conn())
        .await?;
    let (mut posted, mut failures) = (0, Vec::new());
    for record in records {
        let integration = store::open_record(&app.secret_key, record);
        let (Some(at), Some(channel)) = (
            integration.text("daily_summary_time").and_then(parse_hhmm),
            integration.text("channel"),
        ) else {
            continue;
        };
        if !due(at, after, until) {
            continue;
        }
        match post_summary(app, &integration, channel).await {
            Ok(()) => posted += 1,
            Err(e) => {
                store::record_outcome(&app.db, integration.record.id, Some(&e), false).await;
                failures.push(json!({"integration_id": integration.record.id, "error": e}));
            }
        }
    }
    Ok(json!({"posted": posted, "failed": failures.len(), "failures": failures}))
}

/// Whether the minute of day `at` falls in `(after, until]` (a window of at most a day).
pub fn due(at: u32, after: OffsetDateTime, until: OffsetDateTime) -> bool {
    let minute = |t: OffsetDateTime| u32::from(t.hour()) * 60 + u32::from(t.minute());
    let (from, to) = (minute(after), minute(until));
    if after.date() == until.date() {
        from < at && at <= to
    } else {
        at > from || at <= to
    }
}

async fn post_summary(
    app: &AppState,
    integration: &Integration,
    channel: &str,
) -> Result<(), String> {
    let (total, lines) = commands::today_lines(
        app.db.conn(),
        integration.record.workspace_id,
        integration.record.user_id,
    )
    .await
    .map_err(|e| e.shown())?;
    let text = commands::summary_text(total, &lines);
    let reply = call(
        app,
        integration,
        "chat.postMessage",
        &json!({"channel": channel, "text": text}),
    )
    .await;
    match reply.0["error"].as_str() {
        Some(e) => Err(e.to_owned()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use ::time::macros::datetime;

    use super::*;

    #[test]
    fn a_summary_is_due_once_in_the_window_that_holds_its_time() {
        let at = 17 * 60 + 30;
        assert!(due(
            at,
            datetime!(2026-11-23 17:00 UTC),
            datetime!(2026-11-23 17:30 UTC)
        ));
        assert!(!due(
            at,
            datetime!(2026-11-23 17:30 UTC),
            datetime!(2026-11-23 18:00 UTC)
        ));
        assert!(due(
            5,
            datetime!(2026-11-23 23:50 UTC),
            datetime!(2026-11-24 00:20 UTC)
        ));
        assert!(!due(
            60,
            datetime!(2026-11-23 23:50 UTC),
            datetime!(2026-11-24 00:20 UTC)
        ));
    }
}
