//! `timebridge secrets status|rotate`: where the stored secrets stand against the keys in
//! `TIMEBRIDGE_SECRET_KEY`, and moving them to the current key while servers keep serving
//! (see `platform::sealed`). The columns are those the capabilities registered.

use std::{
    io::{IsTerminal, Write},
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;

use super::{open_migrated, table::Table};
use crate::{
    config::Config,
    platform::{
        crypto::load_secret_key,
        sealed::{self, ColumnRotation, RotationProgress, SealedColumn},
    },
};

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Count the stored secrets of each column by the key that sealed them (key ids only):
    /// when none is under a previous key, the previous keys can be dropped.
    Status,
    /// Seal every stored secret that is not under the current key (the first in
    /// TIMEBRIDGE_SECRET_KEY) again under it, while servers keep serving; prints a JSON
    /// summary. Secrets no configured key opens are reported (exit status 1), never changed.
    Rotate,
}

/// Runs `timebridge secrets …`.
pub async fn run(config: Config, command: SecretsCommand) -> anyhow::Result<()> {
    let keys = load_secret_key(&config)?;
    let columns = crate::app::capabilities().sealed_columns();
    let db = open_migrated(&config).await?;
    match command {
        SecretsCommand::Status => status(&db, &keys, &columns).await,
        SecretsCommand::Rotate => rotate(&db, &keys, &columns).await,
    }
}

async fn status(
    db: &crate::platform::db::Db,
    keys: &crate::platform::crypto::Keyring,
    columns: &[SealedColumn],
) -> anyhow::Result<()> {
    let status = sealed::status(db, keys, columns).await?;
    let mut table = Table::new(&["column", "key_id", "key", "values"]);
    for column in &status.columns {
        for (key_id, values) in &column.by_key {
            let key = if *key_id == status.current_key {
                "current"
            } else if status.previous_keys.contains(key_id) {
                "previous"
            } else {
                "unknown"
            };
            table.push(json!({
                "column": column.column, "key_id": key_id, "key": key, "values": values,
            }));
        }
    }
    table.print()?;
    if std::io::stderr().is_terminal() {
        eprintln!("{}", verdict(&status));
    }
    Ok(())
}

/// What the operator may do next, in words.
fn verdict(status: &sealed::Status) -> String {
    let mut text = match (status.previous, status.previous_keys.is_empty()) {
        (0, true) => format!(
            "every stored secret is under the current key {}",
            status.current_key
        ),
        (0, false) => format!(
            "every stored secret is under the current key {}: the previous keys can be dropped \
             from TIMEBRIDGE_SECRET_KEY",
            status.current_key
        ),
        (n, _) => format!(
            "{n} stored secrets are under a previous key: run `timebridge secrets rotate` before \
             dropping it"
        ),
    };
    if status.unknown > 0 {
        text.push_str(&format!(
            "; {} open with no configured key (see `timebridge secrets rotate`)",
            status.unknown
        ));
    }
    text
}

async fn rotate(
    db: &crate::platform::db::Db,
    keys: &crate::platform::crypto::Keyring,
    columns: &[SealedColumn],
) -> anyhow::Result<()> {
    let bar = Bar::new(std::io::stderr().is_terminal());
    let rotated = sealed::rotate(db, keys, columns, &bar).await;
    bar.finish();
    let rotated = rotated.context("the rotation stopped (the batches written are kept)")?;
    // A server that still seals under a previous key (not restarted with the new one) shows
    // here: what it wrote meanwhile is still under the old key.
    let after = sealed::status(db, keys, columns).await?;
    let sum = |f: fn(&ColumnRotation) -> u64| rotated.iter().map(f).sum::<u64>();
    let summary = json!({
        "current_key": keys.current_id(),
        "resealed": sum(|c| c.resealed),
        "already_current": sum(|c| c.already_current),
        "changed_meanwhile": sum(|c| c.changed_meanwhile),
        "unreadable": sum(|c| c.unreadable),
        "still_under_previous_keys": after.previous,
        "columns": rotated,
    });
    // Written, not printed: a closed pipe is an error to report, not a panic.
    let mut out = std::io::stdout().lock();
    writeln!(out, "{summary}")
        .and_then(|()| out.flush())
        .context("the rotation is done, but its summary could not be written")?;
    let unreadable: Vec<String> = rotated
        .iter()
        .filter(|c| c.unreadable > 0)
        .map(|c| {
            let ids: Vec<String> = c.unreadable_ids.iter().map(ToString::to_string).collect();
            format!("{} ({}: {})", c.column, c.unreadable, ids.join(", "))
        })
        .collect();
    if !unreadable.is_empty() {
        bail!(
            "stored secrets that no key in TIMEBRIDGE_SECRET_KEY opens were left as they are: {} \
             (add the key that sealed them, or set those secrets again)",
            unreadable.join("; ")
        );
    }
    if after.previous > 0 {
        eprintln!(
            "{} stored secrets were written under a previous key meanwhile (is every server \
             restarted with the new key first?): run `timebridge secrets rotate` again",
            after.previous
        );
    }
    Ok(())
}

/// Rows done of each column, redrawn on one line of a terminal at most ten times a second;
/// silent when stderr is not a terminal.
struct Bar {
    shown: bool,
    drawn: AtomicBool,
    last: Mutex<Option<Instant>>,
}

impl Bar {
    fn new(shown: bool) -> Self {
        Self {
            shown,
            drawn: AtomicBool::new(false),
            last: Mutex::new(None),
        }
    }

    /// Ends the bar's line, if one was drawn.
    fn finish(&self) {
        if self.drawn.load(Ordering::Relaxed) {
            eprintln!();
        }
    }
}

impl RotationProgress for Bar {
    fn batch_done(&self, column: &SealedColumn, done: u64, total: u64) {
        const WIDTH: u64 = 30;
        if !self.shown {
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let now = Instant::now();
        if done < total && last.is_some_and(|t| now - t < Duration::from_millis(100)) {
            return;
        }
        *last = Some(now);
        let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH) as usize;
        let bar = format!(
            "{}{}",
            "#".repeat(filled),
            ".".repeat(WIDTH as usize - filled)
        );
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{} [{bar}] {done}/{total}", column.name());
        // A finished column keeps its line; the next one draws below it.
        let finished = done >= total;
        if finished {
            let _ = writeln!(err);
        }
        let _ = err.flush();
        self.drawn.store(!finished, Ordering::Relaxed);
    }
}
