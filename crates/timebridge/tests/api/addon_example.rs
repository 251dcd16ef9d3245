//! The example add-on (`examples/addon-python/`) run as its author would run it, on both
//! databases: a Python process that verifies every signed call, trades the INSTALLED call for a
//! token, reads what its scopes allow and is refused the rest, refuses a signed call carrying
//! another body, and finds its token revoked once uninstalled.

use std::{
    path::PathBuf,
    process::{Child, Command},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use timebridge::addons::signing;
use uuid::Uuid;

use crate::{both, support::*, webhooks::WEBHOOK_ENV};

const KEY: &str = "example-addon";

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/addon-python")
}

/// The add-on's process, killed when the test ends, however it ends.
struct AddonProcess {
    child: Child,
    url: String,
}

impl AddonProcess {
    /// Starts `addon.py` on a free port, configured for `app`; answers once it serves.
    async fn start(app: &TestApp) -> Self {
        let python = python_with("jwt", "PyJWT[crypto]");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(python)
            .arg(example_dir().join("addon.py"))
            .env("PORT", port.to_string())
            .env("TIMEBRIDGE_URL", &app.base)
            .env("TIMEBRIDGE_ISSUER", signing::issuer(&app.state))
            .env("ADDON_KEY", KEY)
            .spawn()
            .expect("python starts");
        let addon = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        addon.report_when(app, 10, |_| true).await;
        addon
    }

    /// The add-on's report once `done` holds of it, polled for at most `seconds` (the add-on
    /// calls the server back before it reports, which may take longer than `eventually`).
    async fn report_when(
        &self,
        app: &TestApp,
        seconds: u64,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let report = match app
                .client
                .get(format!("{}/report", self.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await
            {
                Ok(response) => response.json::<Value>().await.ok(),
                Err(_) => None,
            };
            if let Some(report) = report.as_ref().filter(|r| done(r)) {
                return report.clone();
            }
            assert!(
                Instant::now() < deadline,
                "the add-on's report within {seconds} s: {report:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for AddonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

both! {
    async fn the_example_addon_verifies_its_calls_and_uses_only_its_scopes(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let addon = AddonProcess::start(&app).await;
        let manifest = std::fs::read_to_string(example_dir().join("manifest.json"))
            .expect("the example's manifest")
            .replace("http://127.0.0.1:8765", &addon.url);
        timebridge::addons::catalog::register(&app.db, &app.state.config, manifest.as_bytes(), "test").await.expect("registered");
        let owner = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let admin = app.token(&owner, &["admin:all"]).await;
        let (status, _) = send(app.post(&admin, "/api/v1/projects").json(&json!({"name": "Ours"}))).await;
        assert_eq!(status, 201);

        // Installed: the add-on verified the call, traded it for a token, read the projects and
        // was refused a write outside its scopes.
        let (status, made) = send(app.post(&admin, &format!("/api/v1/integration/plugins/{KEY}/install")).json(&json!({}))).await;
        assert_eq!(status, 202, "{made}");
        let report = addon.report_when(&app, 15, |r| r["installed"] == true).await;
        assert_eq!(report["projects"], json!(["Ours"]), "{report}");
        assert_eq!(report["write_status"], 403, "{report}");
        assert_eq!(report["required_scope"], "write:projects", "{report}");
        eventually(|| async {
            let (_, plugin) = send(app.get(&admin, &format!("/api/v1/integration/plugins/{KEY}"))).await;
            (plugin["installation"]["status"] == "active").then_some(())
        }).await;

        // A subscribed event reaches it, signed, through the webhook engine.
        let (status, _) = send(app.post(&admin, "/api/v1/projects").json(&json!({"name": "Later"}))).await;
        assert_eq!(status, 201);
        let report = addon.report_when(&app, 15, |r| !r["events"].as_array().unwrap().is_empty()).await;
        assert_eq!(report["events"][0]["type"], "project.created", "{report}");
        assert_eq!(report["events"][0]["data"]["name"], "Later", "{report}");

        // A real signature over another body is refused.
        let installation_id: Uuid = made["id"].as_str().unwrap().parse().unwrap();
        let claims = signing::claims(&signing::issuer(&app.state), KEY, installation_id, owner.workspace.id, b"{\"type\":\"INSTALLED\"}");
        let signature = signing::sign(&app.state, &claims).await.expect("signed");
        let tampered = json!({"type": "INSTALLED", "installation_id": installation_id, "token_url": "http://127.0.0.1:9/steal"});
        let (status, _) = send(app.client.post(format!("{}/lifecycle/installed", addon.url)).header("x-timebridge-signature", signature).json(&tampered)).await;
        assert_eq!(status, 401);
        let report = addon.report_when(&app, 5, |_| true).await;
        assert_eq!(report["refused"], 1, "{report}");

        // Uninstalled: its token is revoked; Timebridge's DELETED call itself verified.
        let (status, gone) = send(app.delete(&admin, &format!("/api/v1/integration/plugins/{KEY}/uninstall"))).await;
        assert_eq!(status, 200, "{gone}");
        let report = addon.report_when(&app, 15, |r| !r["after_uninstall_status"].is_null()).await;
        assert_eq!(report["after_uninstall_status"], 401, "{report}");
        assert_eq!(report["refused"], 1, "only the tampered call was refused: {report}");
    }
}
