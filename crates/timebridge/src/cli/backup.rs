//! `timebridge backup FILE`: a consistent copy of the SQLite database, taken while the server
//! keeps serving. SQLite's `VACUUM INTO` reads one snapshot of the database (in WAL mode the
//! server's writes carry on meanwhile) and writes it, compacted, to a new file. On PostgreSQL
//! `pg_dump` is the tool: this prints the exact command instead.

use std::{
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use clap::Args;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::json;

use crate::{
    config::{self, Config},
    platform::db,
};

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Where to write the copy; it must not exist yet.
    pub file: PathBuf,
}

pub async fn run(config: Config, args: BackupArgs) -> anyhow::Result<()> {
    let Some(source) = config::sqlite_path(&config.database_url) else {
        if config.is_sqlite() {
            bail!("DATABASE_URL is an in-memory SQLite database: there is no file to back up");
        }
        bail!("{}", pg_dump_advice(&config.database_url, &args.file));
    };
    let target = args.file.as_path();
    if target.exists() {
        bail!(
            "{} already exists: a backup never overwrites a file; choose a new name",
            target.display()
        );
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        bail!("the directory {} does not exist", dir.display());
    }
    let target_text = target
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", target.display()))?;
    let db = db::connect(&config)
        .await
        .context("cannot open DATABASE_URL")?;
    let total = database_bytes(&db).await?;
    let progress = Progress::start(target.to_owned(), total);
    let copied = db
        .execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "VACUUM INTO ?",
            [target_text.into()],
        ))
        .await;
    progress.stop().await;
    if let Err(e) = copied {
        // A copy that failed half-way is no backup; the file did not exist before.
        let _ = std::fs::remove_file(target);
        bail!("the backup failed: {e}");
    }
    let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    report(&config, source, target, bytes)
}

/// What the backup did: a line for a person on stderr at a terminal (with where the key
/// is), one JSON line on stdout when it is piped.
fn report(config: &Config, source: &str, target: &Path, bytes: u64) -> anyhow::Result<()> {
    if std::io::stderr().is_terminal() {
        eprintln!(
            "\r\x1b[Kbacked up {source} to {} ({})",
            target.display(),
            megabytes(bytes)
        );
        let key = match &config.secret_key {
            Some(_) => "TIMEBRIDGE_SECRET_KEY".to_owned(),
            None => Path::new(source)
                .with_extension("key")
                .display()
                .to_string(),
        };
        eprintln!(
            "the secrets in it are encrypted with {key}, which is not in the backup: keep it too"
        );
    }
    if !std::io::stdout().is_terminal() {
        println!(
            "{}",
            json!({"database": source, "backup": target.display().to_string(), "bytes": bytes})
        );
    }
    Ok(())
}

/// The database's size: pages × page size.
async fn database_bytes(db: &db::Db) -> anyhow::Result<u64> {
    let mut bytes = 1_i64;
    for pragma in ["PRAGMA page_count", "PRAGMA page_size"] {
        let row = db
            .query_one_raw(Statement::from_string(DatabaseBackend::Sqlite, pragma))
            .await?
            .with_context(|| format!("{pragma} answered nothing"))?;
        bytes = bytes.saturating_mul(row.try_get_by_index::<i64>(0)?);
    }
    Ok(bytes.max(0) as u64)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// On a terminal, how much of the copy is written, redrawn while it runs; nothing otherwise.
struct Progress(
    Option<(
        tokio::task::JoinHandle<()>,
        tokio::sync::oneshot::Sender<()>,
    )>,
);

impl Progress {
    fn start(target: PathBuf, total: u64) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                let written = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
                eprint!(
                    "\r\x1b[Kbacking up: {} of {}",
                    megabytes(written),
                    megabytes(total)
                );
                let _ = std::io::stderr().flush();
            }
        });
        Self(Some((task, stop)))
    }

    async fn stop(self) {
        if let Some((task, stop)) = self.0 {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

/// How to back up a PostgreSQL database instead: the `pg_dump` command for this
/// DATABASE_URL (without its password, which pg_dump reads from PGPASSWORD or ~/.pgpass).
fn pg_dump_advice(database_url: &str, file: &Path) -> String {
    let (url, had_password) = match reqwest::Url::parse(database_url) {
        Ok(mut url) => {
            let had = url.password().is_some();
            let _ = url.set_password(None);
            (url.to_string(), had)
        }
        Err(_) => (database_url.to_owned(), false),
    };
    let file = quote(&file.display().to_string());
    let url = quote(&url);
    let password = if had_password {
        "\n(the password is left out: give it with PGPASSWORD or ~/.pgpass)"
    } else {
        ""
    };
    format!(
        "timebridge backup copies SQLite databases; this server's DATABASE_URL is PostgreSQL. \
         Back it up with pg_dump, which takes a consistent snapshot while the server runs:\n  \
         pg_dump --format=custom --file={file} {url}\n\
         and restore it into an empty database with:\n  \
         pg_restore --no-owner --dbname={url} {file}{password}"
    )
}

/// Single-quotes a word for a POSIX shell.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pg_dump_command_leaves_the_password_out() {
        let advice = pg_dump_advice(
            "postgres://tb:s3cret@db.internal:5433/timebridge",
            Path::new("tb.dump"),
        );
        assert!(
            advice.contains(
                "pg_dump --format=custom --file='tb.dump' 'postgres://tb@db.internal:5433/timebridge'"
            ),
            "{advice}"
        );
        assert!(!advice.contains("s3cret"), "{advice}");
        assert!(advice.contains("PGPASSWORD"), "{advice}");
    }

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
