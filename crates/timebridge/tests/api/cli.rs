//! The `timebridge` binary: its subcommands, configuration errors and request logs.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
    time::Duration,
};

use crate::{both, support::*};

const BIN: &str = env!("CARGO_BIN_EXE_timebridge");

pub fn run(url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    run_in(url, args, stdin, &[])
}

/// [`run`] with more settings in its environment.
pub fn run_with(url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    run_in(url, args, None, env)
}

fn run_in(url: &str, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("DATABASE_URL", url)
        .env("TIMEBRIDGE_SECRET_KEY", TEST_KEY)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

both! {
    async fn instance_jobs_run_from_the_cli(backend) {
        let (url, _dir) = private_database(backend).await;
        let out = run(&url, &["jobs", "run", "webhook_retention"], None);
        assert!(out.status.success(), "{}", stderr(&out));
        let job: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("the job as JSON");
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["outcome"]["webhook_deliveries_purged"], 0, "{job}");
        let out = run(&url, &["jobs", "run", "slack_daily_summary"], None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("--workspace"), "{}", stderr(&out));
        let out = run(&url, &["jobs", "list"], None);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("inbound_webhook_retention\tinstance"), "{}", stdout(&out));
        assert!(stdout(&out).contains("webhook_retention"), "the run is listed: {}", stdout(&out));
    }

    async fn user_and_token_creation_print_what_scripts_need(backend) {
        let (url, _dir) = database(backend).await;
        let email = format!("cli-{}@example.com", uuid::Uuid::now_v7());
        let workspace = format!("cli-ws-{}", uuid::Uuid::now_v7());
        let out = run(&url, &["migrate"], None);
        assert!(out.status.success(), "{}", stderr(&out));
        let out = run(&url, &["user", "create", "--email", &email, "--name", "Cli User", "--workspace", &workspace, "--plan", "pro", "--password-stdin"], Some("s3cret-passw0rd\n"));
        assert!(out.status.success(), "{}", stderr(&out));
        let id = stdout(&out).trim().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "prints the user id: {id}");

        let out = run(&url, &["token", "create", "--email", &email, "--name", "ci", "--scopes", "read:projects,write:time_entries", "--expires", "2099-01-31"], None);
        assert!(out.status.success(), "{}", stderr(&out));
        let secret = stdout(&out).lines().last().unwrap().to_owned();
        assert!(secret.starts_with("tb_pat_") && secret.len() == 43, "{secret}");

        // The token works against a server on the same database, with the pro budget.
        let app = TestApp::on_database(&url, &[]).await;
        let response = app.get(&secret, "/api/v1/users/me").send().await.unwrap();
        assert_eq!(response.status(), 403, "read:users was not granted");
        let response = app.get(&secret, "/api/v1/projects").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["ratelimit-limit"], "1000");

        // Refusals: a duplicate email, a scope a member may not hold, an unknown scope.
        let out = run(&url, &["user", "create", "--email", &email.to_uppercase(), "--name", "Again"], None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
        let out = run(&url, &["token", "create", "--email", &email, "--name", "x", "--scopes", "read:projects,admin:all"], None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("admin:all"), "{}", stderr(&out));
        assert!(stdout(&out).is_empty(), "no secret is printed for a refused token");
        let out = run(&url, &["token", "create", "--email", &email, "--name", "x", "--scopes", "read:nothing"], None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("valid scopes"), "{}", stderr(&out));
        let out = run(&url, &["token", "create", "--email", &email, "--name", "x", "--scopes", "read:projects", "--expires", "2001-01-01"], None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("expires_at"), "{}", stderr(&out));
    }
}

both! {
    async fn a_csv_file_imports_from_the_command_line_with_the_apis_summary(backend) {
        let (url, dir) = database(backend).await;
        let dir = dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let email = format!("import-{}@example.com", uuid::Uuid::now_v7());
        let workspace = format!("import-ws-{}", uuid::Uuid::now_v7());
        let out = run(&url, &["user", "create", "--email", &email, "--name", "Importer", "--workspace", &workspace], None);
        assert!(out.status.success(), "{}", stderr(&out));
        let file = dir.path().join("toggl.csv");
        std::fs::write(&file, include_bytes!("../fixtures/toggl_detailed.csv")).unwrap();
        let file = file.to_str().unwrap();

        let out = run(&url, &["import", "csv", "--email", &email, "--workspace", &workspace, "--format", "toggl", file], None);
        assert!(out.status.success(), "{}", stderr(&out));
        // Piped: stdout is the summary alone, and no progress bar is drawn.
        let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is the JSON summary");
        assert_eq!((summary["created"].clone(), summary["skipped"].clone()), (serde_json::json!(6), serde_json::json!(0)), "{summary}");
        assert_eq!(summary["format"], "toggl");
        assert!(!stderr(&out).contains('\r'), "{}", stderr(&out));

        // The same file again: the same summary shape, every row skipped.
        let out = run(&url, &["import", "csv", "--email", &email, file], None);
        assert!(out.status.success(), "{}", stderr(&out));
        let again: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!((again["created"].clone(), again["skipped"].clone()), (serde_json::json!(0), serde_json::json!(6)), "{again}");

        // A server on the same database sees the entries.
        let app = TestApp::on_database(&url, &[]).await;
        let member = timebridge::directory::service::find_user_by_email(&app.db, &email).await.unwrap().unwrap();
        let memberships = timebridge::directory::service::memberships_of(&app.db, &member).await.unwrap();
        let token = app.token(&memberships[0], &["read:time_entries"]).await;
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(list["pagination"]["total"], 6);

        // Refusals name what is wrong and print no summary.
        let out = run(&url, &["import", "csv", "--email", &email, "--format", "clockify", file], None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("clockify"), "{}", stderr(&out));
        assert!(stdout(&out).is_empty());
        let out = run(&url, &["import", "csv", "--email", "nobody@example.com", file], None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("nobody@example.com"), "{}", stderr(&out));
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, "start_time,end_time\n2026-03-02T10:00:00Z,2026-03-02T09:00:00Z\n").unwrap();
        let out = run(&url, &["import", "csv", "--email", &email, bad.to_str().unwrap()], None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("row 2"), "{}", stderr(&out));
    }
}

#[test]
fn invalid_configuration_fails_naming_the_variable() {
    let out = Command::new(BIN)
        .arg("migrate")
        .env("RATE_LIMIT_TIER_FREE_REQ_PER_MIN", "lots")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("RATE_LIMIT_TIER_FREE_REQ_PER_MIN"),
        "{}",
        stderr(&out)
    );

    let out = Command::new(BIN)
        .arg("migrate")
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/timebridge_test",
        )
        .env_remove("TIMEBRIDGE_SECRET_KEY")
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "--help needs no configuration");
}

#[test]
fn serve_without_a_key_on_postgres_names_the_variable() {
    let out = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("DATABASE_URL", postgres_url())
        .env_remove("TIMEBRIDGE_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("TIMEBRIDGE_SECRET_KEY"),
        "{}",
        stderr(&out)
    );
}

/// `serve` writes one JSON line per request with its id, method, path, status and latency,
/// names the token by prefix and never writes the secret or the query string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_json_lines_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("log.db").display());
    let email = "logger@example.com";
    assert!(
        run(
            &url,
            &["user", "create", "--email", email, "--name", "Log"],
            None
        )
        .status
        .success()
    );
    let out = run(
        &url,
        &[
            "token",
            "create",
            "--email",
            email,
            "--name",
            "t",
            "--scopes",
            "read:projects",
        ],
        None,
    );
    let secret = stdout(&out).lines().last().unwrap().to_owned();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = dir.path().join("server.log");
    let mut server = Command::new(BIN)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &url)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    eventually(|| async {
        client
            .get(format!("{base}/health"))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await;
    let response = client
        .get(format!("{base}/api/v1/projects?password=hunter2"))
        .bearer_auth(&secret)
        .header("x-request-id", "req-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-abc-123");
    tokio::time::sleep(Duration::from_millis(300)).await;
    unsafe { libc_kill(server.id()) };
    let _ = server.wait();

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        !log.contains(&secret),
        "the secret never appears in the log"
    );
    assert!(!log.contains("hunter2"), "query strings are not logged");
    let line: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["request_id"] == "req-abc-123")
        .unwrap_or_else(|| panic!("a JSON line for the request in:\n{log}"));
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/api/v1/projects");
    assert_eq!(line["status"], 200);
    assert!(line["latency_ms"].as_f64().is_some());
    assert_eq!(line["token"], format!("{}…", &secret[..11]));
}

/// Sends SIGTERM so the server shuts down gracefully.
unsafe fn libc_kill(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}
