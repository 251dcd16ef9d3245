//! Webhook delivery across real `timebridge serve` processes: killed with SIGKILL in the middle
//! of a run, and two processes sharing one database.

use std::{
    collections::{HashMap, HashSet},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::json;

use crate::{
    both,
    receiver::*,
    support::*,
    webhooks::{WEBHOOK_ENV, admin_token, register},
};

const BIN: &str = env!("CARGO_BIN_EXE_timebridge");

/// A `timebridge serve` process; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
}

impl Server {
    async fn spawn(url: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn_logging(url, env, Stdio::null()).await
    }

    /// A server whose logs (JSON lines) go to `stderr`.
    async fn spawn_logging(url: &str, env: &[(&str, &str)], stderr: Stdio) -> Self {
        let port = Receiver::down_address().await.port();
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", url)
            .env("TIMEBRIDGE_SECRET_KEY", TEST_KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in WEBHOOK_ENV.iter().chain(env) {
            command.env(k, v);
        }
        // Owned at once, so a failed start still kills and reaps it (on drop).
        let server = Self {
            child: command.spawn().expect("the binary runs"),
        };
        let health = format!("http://127.0.0.1:{port}/health");
        for _ in 0..200 {
            if reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timebridge serve did not answer on {health}");
    }

    /// SIGKILL: no graceful shutdown, leases left behind.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Imports `n` time entries in one change: `n` `time_entry.created` events.
async fn import_entries(app: &TestApp, token: &str, n: usize, day: u32) {
    let mut csv = String::from("start_time,end_time,notes\n");
    for i in 0..n {
        let (h, m) = (i / 60 % 24, i % 60);
        csv.push_str(&format!(
            "2026-03-{day:02}T{h:02}:{m:02}:00Z,2026-03-{day:02}T{h:02}:{m:02}:30Z,entry {i}\n"
        ));
    }
    let (status, body) = send(
        app.post(token, "/api/v1/time-entries/import-csv")
            .header("content-type", "text/csv")
            .body(csv),
    )
    .await;
    assert_eq!(
        (status, body["created"].as_u64()),
        (200, Some(n as u64)),
        "{body}"
    );
}

/// Each webhook-id with the bodies it came with; panics if one id came with different bodies.
fn by_message(received: &[Received]) -> HashMap<String, usize> {
    let mut bodies: HashMap<String, String> = HashMap::new();
    let mut counts = HashMap::new();
    for r in received {
        let id = r.header("webhook-id");
        let first = bodies.entry(id.clone()).or_insert_with(|| r.body.clone());
        assert_eq!(*first, r.body, "a webhook-id always carries the same body");
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

async fn wait_distinct(receiver: &Receiver, n: usize, secs: u64) -> HashMap<String, usize> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let counts = by_message(&receiver.received());
        if counts.len() >= n {
            return counts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} deliveries arrived within {secs} s",
            counts.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

both! {
    async fn a_failing_delivery_can_be_followed_in_the_json_logs(backend) {
        let (url, _dir) = private_database(backend).await;
        let setup = TestApp::on_database(&url, &[WEBHOOK_ENV, &[("WEBHOOK_WORKERS", "0")]].concat()).await;
        let admin = admin_token(&setup).await;
        // Port 9 (discard): nothing listens there, whatever other tests bind meanwhile.
        let down = "http://127.0.0.1:9/hook";
        let (endpoint, _) = register(&setup, &admin, down, json!(["project.created"])).await;
        let logs = tempfile::NamedTempFile::new().unwrap();
        let _server = Server::spawn_logging(
            &url,
            &[("RUST_LOG", "info"), ("LOG_FORMAT", "json")],
            Stdio::from(logs.reopen().unwrap()),
        )
        .await;
        let (status, _) = send(setup.post(&admin, "/api/v1/projects").json(&json!({"name": "Followed"}))).await;
        assert_eq!(status, 201);
        let failed = eventually(|| {
            let text = std::fs::read_to_string(logs.path()).unwrap_or_default();
            let line = text
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|l| l["message"] == "webhook delivery attempt failed");
            async move { line }
        })
        .await;
        let spans = failed["spans"].as_array().expect("the line carries its spans");
        let round = spans.iter().find(|s| s["name"] == "webhook.endpoint").expect("in the endpoint's round");
        assert_eq!(round["endpoint"], endpoint, "{failed}");
        assert!(round["workspace"].is_string(), "{failed}");
        assert_eq!(failed["attempt"], 1, "{failed}");
        assert_eq!(failed["event"], "project.created", "{failed}");
        assert!(failed["delivery"].is_string(), "{failed}");
        assert!(failed["error"].as_str().unwrap().contains("connect"), "{failed}");
    }

    async fn a_server_killed_mid_run_delivers_every_event_after_restart(backend) {
        let (url, _dir) = private_database(backend).await;
        // This in-test server only sets up (it delivers nothing).
        let setup = TestApp::on_database(&url, &[WEBHOOK_ENV, &[("WEBHOOK_WORKERS", "0")]].concat()).await;
        let admin = admin_token(&setup).await;
        let receiver = Receiver::start().await;
        receiver.slow(Duration::from_millis(3));
        register(&setup, &admin, &receiver.url(), json!(["time_entry.created"])).await;
        import_entries(&setup, &admin, 1000, 2).await;

        let lease = [("WEBHOOK_LEASE_SECONDS", "2")];
        let mut first = Server::spawn(&url, &lease).await;
        receiver.wait_for(100, 30).await;
        first.kill();
        let before_restart = by_message(&receiver.received()).len();
        assert!(before_restart < 1000, "killed mid-run ({before_restart} delivered)");

        let _second = Server::spawn(&url, &lease).await;
        let counts = wait_distinct(&receiver, 1000, 60).await;
        assert_eq!(counts.len(), 1000, "every event delivered");
        // Every entry arrived; duplicates (sent, then killed before it was recorded) share
        // their webhook-id, so receivers can drop them.
        let entries: HashSet<String> = receiver.received().iter()
            .map(|r| r.json()["data"]["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(entries.len(), 1000);
        let duplicates: usize = counts.values().map(|n| n - 1).sum();
        assert!(duplicates <= 50, "only the round in flight at the kill is sent twice: {duplicates}");
    }

    async fn two_servers_on_one_database_deliver_each_event_once(backend) {
        let (url, _dir) = private_database(backend).await;
        let setup = TestApp::on_database(&url, &[WEBHOOK_ENV, &[("WEBHOOK_WORKERS", "0")]].concat()).await;
        let admin = admin_token(&setup).await;
        let receivers = [Receiver::start().await, Receiver::start().await, Receiver::start().await];
        for r in &receivers {
            register(&setup, &admin, &r.url(), json!(["time_entry.created"])).await;
        }
        let _a = Server::spawn(&url, &[]).await;
        let _b = Server::spawn(&url, &[]).await;
        for day in 1..=4 {
            import_entries(&setup, &admin, 100, day).await;
        }
        for r in &receivers {
            let counts = wait_distinct(r, 400, 60).await;
            assert_eq!(counts.len(), 400, "none lost");
            let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
            assert!(twice.is_empty(), "each event delivered once: {twice:?}");
            // In order, too.
            let sequences: Vec<i64> = r.received().iter().map(|x| x.json()["sequence"].as_i64().unwrap()).collect();
            assert!(sequences.windows(2).all(|w| w[0] < w[1]), "in order");
        }
    }
}
