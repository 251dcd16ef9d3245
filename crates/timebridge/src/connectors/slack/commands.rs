//! The `/tt` slash command: `start [project]`, `stop`, `status`, `today`, `help`. Every answer
//! is ephemeral JSON, given at once; timer changes are recorded with the command in one change.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use uuid::Uuid;

use super::events::ephemeral;
use crate::{
    app::AppState,
    connectors::{
        Provider,
        ledger::{self, InboundStatus, Received, Seen},
        store::Integration,
    },
    platform::{acting::Acting, changes::WorkspaceChange, error::ApiError, time},
    tracking::{
        projects::entity::{self as project, ProjectStatus},
        time_entries::{TimeEntryView, entity as entry, timer},
    },
};

const HELP: &str = "*Timebridge* `/tt` commands:\n\
• `/tt start <project>`: start a timer (project id or part of its name)\n\
• `/tt stop`: stop your timer\n\
• `/tt status`: what is running\n\
• `/tt today`: your time today (UTC)\n\
• `/tt help`: this help";

/// Runs a command for the integration's member.
pub async fn run(
    app: &AppState,
    integration: &Integration,
    received: &Received<'_>,
    text: &str,
) -> Result<Value, ApiError> {
    if text.contains('\0') {
        let reply = ephemeral("The command contains a NUL character: type it again.");
        return read_only(app, received, reply).await;
    }
    let mut words = text.split_whitespace();
    let verb = words.next().unwrap_or("help").to_lowercase();
    let rest = words.collect::<Vec<_>>().join(" ");
    let acting = integration.acting(Provider::Slack, false);
    let member =
        crate::directory::service::member(&app.db, acting.workspace_id, acting.user_id).await?;
    if !member.is_some_and(|m| m.is_active()) {
        let reply =
            ephemeral("Your Timebridge account is deactivated in this workspace: ask an admin.");
        return read_only(app, received, reply).await;
    }
    match verb.as_str() {
        "start" => start(app, &acting, received, &rest).await,
        "stop" => stop(app, &acting, received).await,
        "status" => read_only(app, received, status(app, &acting).await?).await,
        "today" => read_only(app, received, today(app, &acting).await?).await,
        _ => read_only(app, received, ephemeral(HELP)).await,
    }
}

/// Records a command that changes nothing, and answers it.
async fn read_only(
    app: &AppState,
    received: &Received<'_>,
    reply: Value,
) -> Result<Value, ApiError> {
    let _turn = app.db.write_turn().await;
    let seen = ledger::seen(app.db.conn(), Provider::Slack, received.delivery_id).await?;
    if !matches!(seen, Seen::Done(_)) {
        ledger::record(app.db.conn(), received, &seen, InboundStatus::Applied, None).await?;
    }
    Ok(reply)
}

/// Runs a timer change with its ledger row in one change; a replayed command does nothing.
async fn in_change(
    app: &AppState,
    acting: &Acting,
    received: &Received<'_>,
    apply: impl AsyncFnOnce(&mut WorkspaceChange) -> Result<Result<TimeEntryView, Value>, ApiError>,
) -> Result<Result<TimeEntryView, Value>, ApiError> {
    let mut change =
        WorkspaceChange::begin(&app.db, acting.workspace_id, acting.actor.clone()).await?;
    let seen = ledger::seen(&*change, Provider::Slack, received.delivery_id).await?;
    if matches!(seen, Seen::Done(_)) {
        return Ok(Err(ephemeral("This command was already handled.")));
    }
    let outcome = apply(&mut change).await?;
    ledger::record(&*change, received, &seen, InboundStatus::Applied, None).await?;
    change.commit().await?;
    Ok(outcome)
}

async fn start(
    app: &AppState,
    acting: &Acting,
    received: &Received<'_>,
    wanted: &str,
) -> Result<Value, ApiError> {
    if wanted.is_empty() {
        return Ok(ephemeral("Which project? `/tt start <project>`"));
    }
    let project = match find_project(app.db.conn(), acting.workspace_id, wanted).await? {
        Ok(p) => p,
        Err(reply) => return Ok(reply),
    };
    let outcome = in_change(app, acting, received, async |change| {
        if let Some(current) =
            timer::running(&**change, acting.workspace_id, acting.user_id).await?
        {
            let since = clock(current.start_time);
            return Ok(Err(ephemeral(format!(
                "A timer is already running (since {since} UTC). `/tt stop` first."
            ))));
        }
        let entry = timer::start_in(change, acting, Some(project.id), None, None).await?;
        Ok(Ok(entry))
    })
    .await?;
    Ok(match outcome {
        Ok(_) => ephemeral(format!("⏱️ Timer started on *{}*.", project.name)),
        Err(reply) => reply,
    })
}

async fn stop(app: &AppState, acting: &Acting, received: &Received<'_>) -> Result<Value, ApiError> {
    let outcome = in_change(app, acting, received, async |change| {
        if timer::running(&**change, acting.workspace_id, acting.user_id)
            .await?
            .is_none()
        {
            return Ok(Err(ephemeral("No timer is running.")));
        }
        // The API's rule: stopping always succeeds (0 s in the second it started).
        Ok(Ok(timer::stop_in(change, acting, timer::StopAt::Now).await?))
    })
    .await?;
    Ok(match outcome {
        Ok(entry) => {
            let seconds = entry.duration_seconds.unwrap_or_default();
            ephemeral(format!("✅ Timer stopped: {}.", duration(seconds)))
        }
        Err(reply) => reply,
    })
}

async fn status(app: &AppState, acting: &Acting) -> Result<Value, ApiError> {
    let Some(current) = timer::running(app.db.conn(), acting.workspace_id, acting.user_id).await?
    else {
        return Ok(ephemeral("No timer is running."));
    };
    let project = match current.project_id {
        Some(id) => project::Entity::find_by_id(id)
            .one(app.db.conn())
            .await?
            .map(|p| p.name),
        None => None,
    };
    let elapsed = (time::now() - current.start_time).whole_seconds();
    Ok(ephemeral(format!(
        "⏱️ Running on *{}* since {} UTC ({}).",
        project.unwrap_or_else(|| "no project".into()),
        clock(current.start_time),
        duration(elapsed)
    )))
}

/// The member's time today (UTC), by project.
pub async fn today_lines<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<(i64, Vec<(String, i64)>), ApiError> {
    let now = time::now();
    let midnight = now.replace_time(::time::Time::MIDNIGHT);
    let entries = entry::Entity::find()
        .filter(entry::Column::WorkspaceId.eq(workspace_id))
        .filter(entry::Column::UserId.eq(user_id))
        .filter(entry::Column::StartTime.gte(midnight))
        .order_by_asc(entry::Column::StartTime)
        .all(db)
        .await?;
    let mut by_project: Vec<(Option<Uuid>, i64)> = Vec::new();
    for e in &entries {
        let seconds = e
            .duration_seconds
            .unwrap_or_else(|| (now - e.start_time).whole_seconds());
        match by_project.iter_mut().find(|(p, _)| *p == e.project_id) {
            Some((_, total)) => *total += seconds,
            None => by_project.push((e.project_id, seconds)),
        }
    }
    let mut lines = Vec::new();
    for (project_id, seconds) in by_project {
        let name = match project_id {
            Some(id) => project::Entity::find_by_id(id)
                .one(db)
                .await?
                .map(|p| p.name),
            None => None,
        };
        lines.push((name.unwrap_or_else(|| "No project".into()), seconds));
    }
    let total = lines.iter().map(|(_, s)| s).sum();
    Ok((total, lines))
}

/// The summary text for a day's lines.
pub fn summary_text(total: i64, lines: &[(String, i64)]) -> String {
    if lines.is_empty() {
        return "No time tracked today.".into();
    }
    let mut text = format!("*Today: {}*", duration(total));
    for (name, seconds) in lines {
        text.push_str(&format!("\n• {name}: {}", duration(*seconds)));
    }
    text
}

async fn today(app: &AppState, acting: &Acting) -> Result<Value, ApiError> {
    let (total, lines) = today_lines(app.db.conn(), acting.workspace_id, acting.user_id).await?;
    Ok(ephemeral(summary_text(total, &lines)))
}

/// The active project `wanted` names: its id, or the one whose name contains it (any case).
async fn find_project<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    wanted: &str,
) -> Result<Result<project::Model, Value>, ApiError> {
    let projects = project::Entity::find()
        .filter(project::Column::WorkspaceId.eq(workspace_id))
        .filter(project::Column::Status.eq(ProjectStatus::Active))
        .order_by_asc(project::Column::Name)
        .all(db)
        .await?;
    if let Ok(id) = Uuid::parse_str(wanted)
        && let Some(p) = projects.iter().find(|p| p.id == id)
    {
        return Ok(Ok(p.clone()));
    }
    let needle = wanted.to_lowercase();
    if let Some(exact) = projects.iter().find(|p| p.name.to_lowercase() == needle) {
        return Ok(Ok(exact.clone()));
    }
    let matching: Vec<_> = projects
        .iter()
        .filter(|p| p.name.to_lowercase().contains(&needle))
        .collect();
    Ok(match matching.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(ephemeral(format!("No active project matches “{wanted}”."))),
        many => {
            let names: Vec<_> = many.iter().take(10).map(|p| p.name.as_str()).collect();
            Err(ephemeral(format!(
                "Several projects match “{wanted}”: {}. Be more specific.",
                names.join(", ")
            )))
        }
    })
}

fn clock(t: ::time::OffsetDateTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// `1h 05m`, `12m`.
pub fn duration(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, m) => format!("{h}h {m:02}m"),
    }
}
