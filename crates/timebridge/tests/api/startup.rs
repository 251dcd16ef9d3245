//! What every command says at start-up: only `serve` and `migrate` report migrations, and a
//! database that cannot be opened is named with what to fix.

use std::{
    path::Path,
    process::{Command, Output, Stdio},
};

use crate::{both, cli::stderr, support::*};

const BIN: &str = env!("CARGO_BIN_EXE_timebridge");

/// Runs the binary with exactly these variables besides the test key (no RUST_LOG: the
/// defaults a new self-hoster has), in `dir`.
pub fn run_as_installed(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env("TIMEBRIDGE_SECRET_KEY", TEST_KEY)
        .env_remove("RUST_LOG")
        .env_remove("LOG_FORMAT")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// Asserts the command succeeded.
pub fn ok(out: Output) -> Output {
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7())
}

both! {
    async fn cli_commands_print_no_migration_logs(backend) {
        let (url, _dir) = private_database(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let email = format!("{}@example.com", unique("quiet"));
        // The first command on a new database applies every migration, silently.
        let out = ok(run_as_installed(dir.path(), &url, &["user", "create", "--email", &email, "--name", "Q"]));
        let lines: Vec<_> = stderr(&out).lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 1, "only what the command is for: {lines:?}");
        assert!(lines[0].starts_with("created "), "{lines:?}");
        let out = ok(run_as_installed(dir.path(), &url, &["jobs", "list"]));
        assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    }
}

#[test]
fn migrate_reports_the_migrations_it_applies() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(run_as_installed(dir.path(), "sqlite://tb.db", &["migrate"]));
    assert!(
        stderr(&out).contains("m20261123_000001_foundation"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_sqlite_url_without_a_mode_creates_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_as_installed(
        dir.path(),
        "sqlite://tb.db",
        &[
            "user",
            "create",
            "--email",
            "first@example.com",
            "--name",
            "First",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("tb.db").is_file());
}

#[test]
fn a_missing_sqlite_directory_is_named_with_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("data");
    let url = format!("sqlite://{}/tb.db", missing.display());
    for args in [&["serve", "--addr", "127.0.0.1:0"][..], &["migrate"]] {
        let out = run_as_installed(dir.path(), &url, args);
        assert!(!out.status.success());
        let text = stderr(&out);
        assert!(text.contains("DATABASE_URL"), "{text}");
        assert!(
            text.contains(&format!("{} does not exist", missing.display())),
            "{text}"
        );
    }
    assert!(!missing.exists(), "nothing was created");
}

#[test]
fn an_unreachable_postgres_is_named_with_its_host_and_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/timebridge");
    let create = ["user", "create", "--email", "x@example.com", "--name", "X"];
    for args in [
        &["serve", "--addr", "127.0.0.1:0"][..],
        &["migrate"],
        &create,
    ] {
        let out = run_as_installed(dir.path(), &url, args);
        assert!(!out.status.success());
        let text = stderr(&out);
        assert!(
            text.contains(&format!("PostgreSQL at 127.0.0.1:{port} cannot be reached")),
            "{args:?}: {text}"
        );
        assert!(text.contains("DATABASE_URL"), "{text}");
        assert!(!text.contains("pool timed out"), "{text}");
    }
}
