//! `timebridge import csv --email E [--workspace NAME] [--format …] [--date-format …] <file>`:
//! the API's import, run on a file by an administrator of the server. It prints the API's
//! result summary as JSON on stdout; on a terminal, stderr shows a progress bar (rows parsed,
//! then imported); piped, nothing but the summary is written.

use std::{
    io::{IsTerminal, Write},
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use axum::response::IntoResponse;
use clap::{Args, Subcommand};

use super::{Progress, import, options};
use crate::{
    directory::{self, Member, Role},
    platform::{
        acting::Acting,
        db::Db,
        error::ApiError,
        outbox::{Actor, ActorKind},
    },
};

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import time entries from a CSV file (ours, a Toggl Track or a Clockify detailed
    /// export) for a user, as `POST /api/v1/time-entries/import-csv` does; prints the same
    /// summary as JSON.
    Csv(ImportCsv),
}

#[derive(Args, Debug)]
pub struct ImportCsv {
    /// Email of the user the entries are for (an admin's file may name members by `email`).
    #[arg(long)]
    pub email: String,
    /// The workspace, when the user belongs to several.
    #[arg(long)]
    pub workspace: Option<String>,
    /// The shape the file must have (default: whatever its header shows).
    #[arg(long, value_parser = ["ours", "toggl", "clockify"])]
    pub format: Option<String>,
    /// The order of dates such as 03/11/2026: DD/MM/YYYY or MM/DD/YYYY (default: decided
    /// from the file).
    #[arg(long)]
    pub date_format: Option<String>,
    /// The UTC offset of times written without one, e.g. +02:00 (default Z).
    #[arg(long, allow_hyphen_values = true)]
    pub utc_offset: Option<String>,
    /// Import the valid rows and report the others (default: all or nothing).
    #[arg(long)]
    pub partial: bool,
    /// Also import rows that repeat an entry (same user, start, end, project and notes).
    #[arg(long)]
    pub allow_duplicates: bool,
    /// The CSV file.
    pub file: PathBuf,
}

/// Runs `timebridge import …` on a migrated database with its writers attached.
pub async fn run(db: &Db, command: ImportCommand) -> anyhow::Result<()> {
    let ImportCommand::Csv(args) = command;
    let options = options(
        args.partial,
        args.utc_offset.as_deref(),
        args.format.as_deref(),
        args.date_format.as_deref(),
        args.allow_duplicates.then_some("allow"),
    );
    let options = match options {
        Ok(options) => options,
        Err(e) => bail!("{}", error_text(e).await),
    };
    let member = member(db, &args.email, args.workspace.as_deref()).await?;
    let acting = Acting {
        workspace_id: member.workspace.id,
        user_id: member.user.id,
        is_admin: member.role == Role::Admin,
        actor: Actor {
            kind: ActorKind::System,
            user_id: Some(member.user.id),
            token_id: None,
            via: Some("cli".into()),
        },
    };
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let bar = Arc::new(ProgressBar::new(std::io::stderr().is_terminal()));
    let outcome = import(db, &acting, file, options, bar.clone()).await;
    bar.finish();
    match outcome {
        Ok(report) => {
            // Written, not printed: a closed pipe is an error to report, not a panic.
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)
                .and_then(|()| out.flush())
                .context("the import was committed, but its summary could not be written")
        }
        Err(e) => bail!("nothing was imported: {}", error_text(e).await),
    }
}

/// The API's JSON error body of `e`, for the terminal.
async fn error_text(e: ApiError) -> String {
    let body = e.into_response().into_body();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => e.to_string(),
    }
}

/// The user's membership: of the named workspace, or of their only one.
async fn member(db: &Db, email: &str, workspace: Option<&str>) -> anyhow::Result<Member> {
    let user = directory::service::find_user_by_email(db, email)
        .await?
        .with_context(|| format!("no user with email {email}"))?;
    let mut memberships = directory::service::memberships_of(db, &user).await?;
    if let Some(name) = workspace {
        let found = memberships.iter().position(|m| m.workspace.name == name);
        return found
            .map(|i| memberships.swap_remove(i))
            .with_context(|| format!("{email} is not a member of workspace {name:?}"));
    }
    match memberships.len() {
        1 => Ok(memberships.remove(0)),
        0 => bail!("{email} belongs to no workspace"),
        _ => bail!(
            "{email} belongs to several workspaces; choose one with --workspace ({})",
            memberships
                .iter()
                .map(|m| m.workspace.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Rows parsed, then imported, redrawn on one line of a terminal at most ten times a second;
/// silent when stderr is not a terminal.
struct ProgressBar {
    shown: bool,
    drawn: AtomicBool,
    last: Mutex<Option<Instant>>,
}

impl ProgressBar {
    fn new(shown: bool) -> Self {
        Self {
            shown,
            drawn: AtomicBool::new(false),
            last: Mutex::new(None),
        }
    }

    fn draw(&self, line: &str, always: bool) {
        if !self.shown {
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let now = Instant::now();
        if !always && last.is_some_and(|t| now - t < Duration::from_millis(100)) {
            return;
        }
        *last = Some(now);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        self.drawn.store(true, Ordering::Relaxed);
    }

    /// Ends the bar's line, if one was drawn.
    fn finish(&self) {
        if self.drawn.load(Ordering::Relaxed) {
            eprintln!();
        }
    }
}

impl Progress for ProgressBar {
    fn parsed(&self, rows: usize) {
        self.draw(&format!("parsed {rows} rows"), false);
    }

    fn imported(&self, done: usize, total: usize) {
        const WIDTH: usize = 30;
        let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(WIDTH - filled));
        self.draw(
            &format!("imported [{bar}] {done}/{total} rows"),
            done == total,
        );
    }
}
