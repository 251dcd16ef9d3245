//! Messages Slack receives without being asked: timer started/stopped (fire-and-forget) and
//! the daily summary (run by the `slack_daily_summary` job).

use ::time::OffsetDateTime;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{call, commands};
use crate::{
    app::AppState,
    connectors::{
        Provider,
        entity::integration,
        store::{self, Integration, parse_hhmm},
    },
    directory::entity::user,
    platform::error::ApiError,
    tracking::{projects::entity as project, time_entries::TimeEntryView},
};

/// Posts "timer started/stopped" to the member's channel, in the background: the caller never
/// waits for Slack, and a failure is only logged (at debug: a Slack outage is not ours).
pub fn timer_changed(
    app: &AppState,
    user_id: Uuid,
    workspace_id: Uuid,
    entry: &TimeEntryView,
    started: bool,
) {
    let (app, entry) = (app.clone(), entry.clone());
    tokio::spawn(async move {
        if let Err(e) = post_timer_change(&app, user_id, workspace_id, &entry, started).await {
            tracing::debug!(error = %e, "Slack timer notification not sent");
        }
    });
}

async fn post_timer_change(
    app: &AppState,
    user_id: Uuid,
    workspace_id: Uuid,
    entry: &TimeEntryView,
    started: bool,
) -> Result<(), String> {
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

/// Posts the daily summary of every member whose `daily_summary_time` falls in
/// `(after, until]` (UTC). One member's failure never stops the others; answers how many were
/// posted and the failures.
pub async fn daily_summaries(
    app: &AppState,
    after: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Value, ApiError> {
    let records = integration::Entity::find()
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
    .map_err(|e| e.to_string())?;
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
