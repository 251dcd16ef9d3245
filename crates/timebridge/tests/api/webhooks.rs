//! Outbound webhooks against a real receiver on 127.0.0.1: signed deliveries, order, retries,
//! 410, rotation, redelivery and recovery, the payload cap, SSRF refusals, operational events.

use serde_json::{Value, json};
use timebridge::webhooks::signing::{self, WebhookSecret};

use crate::{both, receiver::*, support::*};

/// Private targets and http allowed; retries after a second.
pub const WEBHOOK_ENV: &[(&str, &str)] = &[
    ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
    ("TIMEBRIDGE_ENV", "development"),
    ("WEBHOOK_RETRY_BACKOFF_SECONDS", "1"),
];

/// An admin of a new enterprise workspace (a budget that polling tests do not exhaust).
pub async fn admin_token(app: &TestApp) -> String {
    let member = app
        .member(true, timebridge::directory::Plan::Enterprise)
        .await;
    app.token(&member, &["admin:all"]).await
}

/// Registers an endpoint; returns its id and secret.
pub async fn register(app: &TestApp, token: &str, url: &str, events: Value) -> (String, String) {
    let (status, body) = send(
        app.post(token, "/api/v1/integration/webhooks")
            .json(&json!({
                "name": "receiver", "url": url, "events": events
            })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (
        body["webhook"]["id"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

/// Whether the request's signature verifies with `secret`, per Standard Webhooks.
pub fn verifies(r: &Received, secret: &str) -> bool {
    let secret = WebhookSecret::parse(secret).expect("a whsec_ secret");
    let timestamp: i64 = r.header("webhook-timestamp").parse().expect("a timestamp");
    signing::verify(
        &secret,
        &r.header("webhook-signature"),
        &r.header("webhook-id"),
        timestamp,
        r.body.as_bytes(),
    )
}

async fn deliveries(app: &TestApp, token: &str, endpoint: &str, query: &str) -> Vec<Value> {
    let (status, body) = send(app.get(
        token,
        &format!("/api/v1/integration/webhooks/{endpoint}/deliveries?per_page=100{query}"),
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().cloned().unwrap()
}

async fn create_tag(app: &TestApp, token: &str, name: &str) -> Value {
    let (status, body) = send(app.post(token, "/api/v1/tags").json(&json!({"name": name}))).await;
    assert_eq!(status, 201, "{body}");
    body["tag"].clone()
}

/// Polls for up to `secs` seconds.
async fn within<T, F, Fut>(secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {secs} s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

both! {
    async fn a_change_is_delivered_signed_with_the_resource_as_the_api_returned_it(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let admin = admin_token(&app).await;
        let receiver = Receiver::start().await;
        let (id, secret) = register(&app, &admin, &receiver.url(), json!({"tag.created": true, "tag.updated": true})).await;
        assert!(secret.starts_with("whsec_"));

        let tag = create_tag(&app, &admin, "backend").await;
        // Not subscribed: never sent.
        send(app.post(&admin, "/api/v1/clients").json(&json!({"name": "Acme"}))).await;
        let got = receiver.wait_for(1, 10).await;
        let body = got[0].json();
        assert_eq!(body["type"], "tag.created");
        assert_eq!(body["data"], tag);
        assert_eq!(body["resource"], json!({"type": "tag", "id": tag["id"]}));
        assert!(got[0].header("webhook-id").starts_with("msg_"));
        assert!(verifies(&got[0], &secret), "the signature verifies with the secret");
        assert!(!verifies(&got[0], &WebhookSecret::generate().expose()));
        assert_eq!(got[0].header("content-type"), "application/json");

        // The history shows the delivery and its one successful attempt.
        let history = within(5, || async {
            let d = deliveries(&app, &admin, &id, "").await;
            (d.len() == 1 && d[0]["status"] == "succeeded").then_some(d)
        }).await;
        assert_eq!(history[0]["message_id"], got[0].header("webhook-id"));
        assert_eq!(history[0]["attempt_log"][0]["status_code"], 200);
        assert_eq!(history[0]["attempt_log"][0]["response_excerpt"], "answered 200");
        let (_, endpoint) = send(app.get(&admin, &format!("/api/v1/integration/webhooks/{id}"))).await;
        assert_eq!(endpoint["webhook"]["stats"]["succeeded"], 1);
        assert_eq!(endpoint["webhook"]["stats"]["success_rate"], 1.0);
        assert_eq!(endpoint["webhook"]["stats"]["last_status_code"], 200);
        assert!(endpoint["webhook"].get("secret").is_none(), "the secret is never shown again");
        assert_eq!(receiver.received().len(), 1);
    }

    async fn a_receiver_that_is_down_gets_everything_later_in_order(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let admin = admin_token(&app).await;
        let addr = Receiver::down_address().await;
        let (id, _) = register(&app, &admin, &format!("http://{addr}/hook"), json!(["tag.*"])).await;
        let mut names = Vec::new();
        for n in 0..5 {
            names.push(format!("tag-{n}"));
            create_tag(&app, &admin, &names[n]).await;
        }
        // Connection refused: the head delivery waits for its retry, the rest wait behind it.
        let failed = within(10, || async {
            let d = deliveries(&app, &admin, &id, "&status=pending").await;
            d.iter().any(|d| d["attempts"].as_i64() >= Some(1)).then_some(d)
        }).await;
        let tried: Vec<_> = failed.iter().filter(|d| d["attempts"].as_i64() >= Some(1)).collect();
        assert_eq!(tried.len(), 1, "only the head is tried while it fails: {failed:?}");
        assert!(tried[0]["last_error"].as_str().unwrap().contains("connect"), "{}", tried[0]);

        let receiver = Receiver::start_on(addr).await;
        let got = receiver.wait_for(5, 20).await;
        let received: Vec<_> = got.iter().map(|r| r.json()["data"]["name"].as_str().unwrap().to_owned()).collect();
        assert_eq!(received, names, "every event, in order");
        let sequences: Vec<i64> = got.iter().map(|r| r.json()["sequence"].as_i64().unwrap()).collect();
        assert!(sequences.windows(2).all(|w| w[0] < w[1]));
    }

    async fn retries_honour_retry_after_and_the_fourth_failure_raises_delivery_failing(backend) {
        let app = TestApp::private(backend, &[WEBHOOK_ENV, &[("WEBHOOK_MAX_RETRIES", "4")]].concat()).await;
        let admin = admin_token(&app).await;
        let receiver = Receiver::start().await;
        let watcher = Receiver::start().await;
        receiver.answer_retry_after(503, 1, 4);
        let (id, _) = register(&app, &admin, &receiver.url(), json!(["tag.created"])).await;
        register(&app, &admin, &watcher.url(), json!(["webhook.*"])).await;
        create_tag(&app, &admin, "flaky").await;

        // Four 503s a second apart, then 200: one delivery, the same webhook-id every time.
        let got = receiver.wait_for(5, 20).await;
        let ids: Vec<_> = got.iter().map(|r| r.header("webhook-id")).collect();
        assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
        let history = within(5, || async {
            let d = deliveries(&app, &admin, &id, "").await;
            (d[0]["status"] == "succeeded").then_some(d)
        }).await;
        let codes: Vec<_> = history[0]["attempt_log"].as_array().unwrap().iter().map(|a| a["status_code"].clone()).collect();
        assert_eq!(codes, [json!(503), json!(503), json!(503), json!(503), json!(200)]);

        // The watcher heard that it was failing after the 4th attempt, then that it recovered.
        let notes = watcher.wait_for(2, 10).await;
        let types: Vec<_> = notes.iter().map(|r| r.json()["type"].as_str().unwrap().to_owned()).collect();
        assert_eq!(types, ["webhook.delivery_failing", "webhook.delivery_recovered"]);
        let failing = notes[0].json();
        assert_eq!(failing["data"]["delivery"]["attempts"], 4);
        assert_eq!(failing["data"]["endpoint"]["id"], id);
    }

    async fn exhausted_retries_fail_the_delivery_and_say_so(backend) {
        let app = TestApp::private(backend, &[WEBHOOK_ENV, &[("WEBHOOK_MAX_RETRIES", "1")]].concat()).await;
        let admin = admin_token(&app).await;
        let receiver = Receiver::start().await;
        let watcher = Receiver::start().await;
        receiver.answer_retry_after(429, 1, 2);
        let (id, _) = register(&app, &admin, &receiver.url(), json!(["tag.created"])).await;
        register(&app, &admin, &watcher.url(), json!(["webhook.delivery_exhausted"])).await;
        create_tag(&app, &admin, "doomed").await;
        let history = within(10, || async {
            let d = deliveries(&app, &admin, &id, "&status=failed").await;
            (d.len() == 1).then_some(d)
        }).await;
        assert_eq!(history[0]["attempts"], 2);
        assert_eq!(history[0]["last_status_code"], 429);
        let notes = watcher.wait_for(1, 10).await;
        assert_eq!(notes[0].json()["type"], "webhook.delivery_exhausted");
        assert_eq!(receiver.received().len(), 2);
    }

    async fn a_410_disables_the_endpoint_and_raises_endpoint_disabled(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let admin = admin_token(&app).await;
        let receiver = Receiver::start().await;
        let watcher = Receiver::start().await;
        receiver.answer(&[410]);
        let (id, _) = register(&app, &admin, &receiver.url(), json!(["tag.*"])).await;
        register(&app, &admin, &watcher.url(), json!(["webhook.endpoint_disabled"])).await;
        create_tag(&app, &admin, "a").await;
        let notes = watcher.wait_for(1, 10).await;
        let note = notes[0].json();
        assert_eq!(note["type"], "webhook.endpoint_disabled");
        assert_eq!(note["data"]["endpoint"]["id"], id);
        let (_, endpoint) = send(app.get(&admin, &format!("/api/v1/integration/webhooks/{id}"))).await;
        assert_eq!(endpoint["webhook"]["active"], false);
        assert!(endpoint["webhook"]["disabled_reason"].as_str().unwrap().contains("410"));

        // Disabled: later events are not sent, and actions that send say why they cannot.
        create_tag(&app, &admin, "b").await;
        let (status, body) = send(app.post(&admin, &format!("/api/v1/integration/webhooks/{id}/test"))).await;
        assert_eq!(status, 409, "{body}");
        // Re-enabled, it receives new events again.
        let (status, _) = send(app.patch(&admin, &format!("/api/v1/integration/webhooks/{id}")).json(&json!({"active": true}))).await;
        assert_eq!(status, 200);
        create_tag(&app, &admin, "c").await;
        let got = receiver.wait_for(2, 10).await;
        assert_eq!(got[1].json()["data"]["name"], "c");
    }

    async fn a_rotated_secret_signs_beside_the_old_one(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let admin = admin_token(&app).await;
        let receiver = Receiver::start().await;
        let (id, old) = register(&app, &admin, &receiver.url(), json!(["tag.created"])).await;
        let (status, rotated) = send(app.post(&admin, &format!("/api/v1/integration/webhooks/{id}/rotate-secret"))).await;
        assert_eq!(status, 200, "{rotated}");
        let new = rotated["secret"].as_str().unwrap().to_owned();
        assert_ne!(new, old);
        assert!(rotated["webhook"]["previous_secret_expires_at"].is_string());
        create_tag(&app, &admin, "x").await;
        let got = receiver.wait_for(1, 10).await;
        assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
        assert!(verifies(&got[0], &new));
        assert!(verifies(&got[0], &old));

        // A chosen secret must be a whsec_ secret.
        let (status, body) = send(app.post(&admin, &format!("/api/v1/integration/webhooks/{id}/rotate-secret")).json(&json!({"secret": "hunter2"}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["secret"].is_array(), "{body}");
    }

    async fn ping_redeliver_and_recover_send_again_with_the_same_id(backend) {
        let app = TestApp::private(backend, &[WEBHOOK_ENV, &[("WEBHOOK_MAX_RETRIES", "0")]].concat()).await;
        let admin = admin_token(&app).await;
        let receiver = Receiver::start().await;
        let (id, secret) = register(&app, &admin, &receiver.url(), json!(["tag.created"])).await;

        let (status, ping) = send(app.post(&admin, &format!("/api/v1/integration/webhooks/{id}/test"))).await;
        assert_eq!(status, 202, "{ping}");
        let got = receiver.wait_for(1, 10).await;
        assert_eq!(got[0].json()["type"], "ping");
        assert!(verifies(&got[0], &secret));

        // One attempt only (no retries): it fails, and is not sent again by itself.
        receiver.answer(&[500, 500]);
        create_tag(&app, &admin, "one").await;
        create_tag(&app, &admin, "two").await;
        let failed = within(10, || async {
            let d = deliveries(&app, &admin, &id, "&status=failed").await;
            (d.len() == 2).then_some(d)
        }).await;
        let got = receiver.wait_for(3, 10).await;
        let first_id = got[1].header("webhook-id");

        let delivery = failed.iter().find(|d| d["message_id"] == first_id.as_str()).unwrap();
        let (status, body) = send(app.post(&admin, &format!("/api/v1/integration/webhooks/deliveries/{}/redeliver", delivery["id"].as_str().unwrap()))).await;
        assert_eq!(status, 202, "{body}");
        let got = receiver.wait_for(4, 10).await;
        assert_eq!(got[3].header("webhook-id"), first_id, "a redelivery keeps its webhook-id");
        assert_eq!(got[3].body, got[1].body);

        let since = "2000-01-01T00:00:00Z";
        let (status, body) = send(app.post(&admin, &format!("/api/v1/integration/webhooks/{id}/recover")).json(&json!({"since": since}))).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["recovered"], 1);
        let got = receiver.wait_for(5, 10).await;
        assert_eq!(got[4].json()["data"]["name"], "two");

        let (status, body) = send(app.post(&admin, &format!("/api/v1/integration/webhooks/{id}/recover")).json(&json!({"since": "yesterday"}))).await;
        assert_eq!(status, 400, "{body}");
    }

    async fn an_oversize_payload_is_recorded_as_failed_and_never_sent(backend) {
        let app = TestApp::private(backend, &[WEBHOOK_ENV, &[("WEBHOOK_MAX_PAYLOAD_SIZE_KB", "1")]].concat()).await;
        let admin = admin_token(&app).await;
        let receiver = Receiver::start().await;
        let (id, _) = register(&app, &admin, &receiver.url(), json!(["client.created"])).await;
        let (status, _) = send(app.post(&admin, "/api/v1/clients").json(&json!({"name": "Big", "address": "x".repeat(2000)}))).await;
        assert_eq!(status, 201);
        send(app.post(&admin, "/api/v1/clients").json(&json!({"name": "Small"}))).await;
        let got = receiver.wait_for(1, 10).await;
        assert_eq!(got[0].json()["data"]["name"], "Small", "the small one still goes out, the big one never");
        // Recorded once the round that sent the small one is written.
        let failed = within(5, || async {
            let d = deliveries(&app, &admin, &id, "&status=failed").await;
            (d.len() == 1).then_some(d)
        })
        .await;
        assert!(failed[0]["last_error"].as_str().unwrap().contains("WEBHOOK_MAX_PAYLOAD_SIZE_KB"));
        assert_eq!(failed[0]["attempt_log"], json!([]));
        assert_eq!(receiver.received().len(), 1);
    }

    async fn unsafe_urls_and_bad_fields_are_refused_with_the_reason(backend) {
        // Production defaults: https only, no private targets.
        let app = TestApp::private(backend, &[]).await;
        let admin = admin_token(&app).await;
        let refuse = |url: &'static str| {
            let app = &app;
            let admin = admin.clone();
            async move {
                let (status, body) = send(app.post(&admin, "/api/v1/integration/webhooks").json(&json!({
                    "name": "x", "url": url, "events": ["*"]
                }))).await;
                assert_eq!(status, 400, "{url}: {body}");
                body["errors"]["url"][0].as_str().unwrap().to_owned()
            }
        };
        let http = refuse("http://example.com/hook").await;
        assert!(http.contains("https"), "{http}");
        assert!(http.contains("TIMEBRIDGE_ENV=development"), "says how to allow http locally: {http}");
        assert!(refuse("ftp://example.com/hook").await.to_lowercase().contains("scheme"));
        for url in ["https://127.0.0.1/hook", "https://169.254.169.254/latest", "https://10.0.0.8/x", "https://[::1]/x", "https://localhost/x"] {
            let reason = refuse(url).await;
            assert!(reason.contains("WEBHOOK_ALLOW_PRIVATE_TARGETS"), "{url}: {reason}");
        }
        let (status, body) = send(app.post(&admin, "/api/v1/integration/webhooks").json(&json!({
            "name": "", "url": "https://example.com/x", "events": ["task.exploded"], "secret": "plain", "retry_policy": "SOMETIMES"
        }))).await;
        assert_eq!(status, 400, "{body}");
        for field in ["name", "events", "secret", "retry_policy"] {
            assert!(body["errors"][field].is_array(), "{field} is named: {body}");
        }
        assert!(body["errors"]["events"][0].as_str().unwrap().contains("task.exploded"));
    }

    async fn only_admins_manage_webhooks_and_scopes_are_enforced(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let (_, member) = app.caller(false, &["write:webhooks"]).await;
        let (status, body) = send(app.get(&member, "/api/v1/integration/webhooks")).await;
        assert_eq!(status, 403, "{body}");
        let id = uuid::Uuid::now_v7();
        let base = "/api/v1/integration/webhooks";
        scope_matrix(&app, true, "webhooks", &[
            (reqwest::Method::GET, base.to_owned(), Needs::Read),
            (reqwest::Method::POST, base.to_owned(), Needs::Write),
            (reqwest::Method::GET, format!("{base}/events"), Needs::Read),
            (reqwest::Method::GET, format!("{base}/{id}"), Needs::Read),
            (reqwest::Method::PATCH, format!("{base}/{id}"), Needs::Write),
            (reqwest::Method::DELETE, format!("{base}/{id}"), Needs::Write),
            (reqwest::Method::GET, format!("{base}/{id}/deliveries"), Needs::Read),
            (reqwest::Method::POST, format!("{base}/deliveries/{id}/redeliver"), Needs::Write),
            (reqwest::Method::POST, format!("{base}/{id}/recover"), Needs::Write),
            (reqwest::Method::POST, format!("{base}/{id}/test"), Needs::Write),
            (reqwest::Method::POST, format!("{base}/{id}/rotate-secret"), Needs::Write),
        ]).await;
        // Another workspace's endpoint is not found.
        let admin = admin_token(&app).await;
        let other = admin_token(&app).await;
        let (id, _) = register(&app, &admin, "http://127.0.0.1:9/hook", json!(["*"])).await;
        let (status, _) = send(app.get(&other, &format!("{base}/{id}"))).await;
        assert_eq!(status, 404);
        let (status, _) = send(app.delete(&other, &format!("{base}/{id}"))).await;
        assert_eq!(status, 404);
    }

    async fn the_catalog_lists_every_event_with_an_example_payload(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let (_, admin) = app.caller(true, &["read:webhooks"]).await;
        let (status, body) = send(app.get(&admin, "/api/v1/integration/webhooks/events")).await;
        assert_eq!(status, 200);
        let events = body["events"].as_array().unwrap();
        let entry = events.iter().find(|e| e["type"] == "timer.started").unwrap();
        assert_eq!(entry["example"]["type"], "timer.started");
        assert!(entry["example"]["data"]["start_time"].is_string(), "{entry}");
        for name in ["webhook.endpoint_disabled", "webhook.delivery_failing", "webhook.delivery_exhausted", "webhook.delivery_recovered", "approval.requested"] {
            assert!(events.iter().any(|e| e["type"] == name), "{name} is in the catalog");
        }
    }
}

/// Runs the `standardwebhooks` package from PyPI (installed when missing) on a delivery: it
/// prints `verified` or raises.
fn python_verifies(r: &Received, secret: &str) -> Result<(), String> {
    use std::process::Command;
    let python = crate::support::python_with("standardwebhooks", "standardwebhooks");
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
case = json.load(sys.stdin)
Webhook(case["secret"]).verify(case["body"], case["headers"])
print("verified")
"#;
    let case = json!({
        "secret": secret,
        "body": r.body,
        "headers": {
            "webhook-id": r.header("webhook-id"),
            "webhook-timestamp": r.header("webhook-timestamp"),
            "webhook-signature": r.header("webhook-signature"),
        },
    });
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(case.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if String::from_utf8_lossy(&out.stdout).trim() == "verified" {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Sets a time column to `days` ago in the rows whose `id_column` is `id`, through the
/// server's own pool (so values are stored exactly as the server stores them).
async fn backdate(app: &TestApp, table: &str, column: &str, id_column: &str, id: &str, days: i64) {
    use sea_orm::{
        ConnectionTrait,
        sea_query::{Alias, Expr, ExprTrait, Query},
    };
    let then = timebridge::platform::time::now() - ::time::Duration::days(days);
    let id = uuid::Uuid::parse_str(id).unwrap();
    let update = Query::update()
        .table(Alias::new(table))
        .value(Alias::new(column), then)
        .and_where(Expr::col(Alias::new(id_column)).eq(id))
        .take();
    app.db.execute(&update).await.expect("backdated");
}

both! {
    async fn the_standardwebhooks_library_verifies_our_deliveries(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let admin = admin_token(&app).await;
        let receiver = Receiver::start().await;
        let (id, old) = register(&app, &admin, &receiver.url(), json!(["tag.created"])).await;
        create_tag(&app, &admin, "verified").await;
        let got = receiver.wait_for(1, 10).await;
        python_verifies(&got[0], &old).expect("standardwebhooks accepts the delivery");
        assert!(python_verifies(&got[0], &WebhookSecret::generate().expose()).is_err(), "and refuses another secret");

        // During a rotation, receivers on either secret accept.
        let (_, rotated) = send(app.post(&admin, &format!("/api/v1/integration/webhooks/{id}/rotate-secret"))).await;
        let new = rotated["secret"].as_str().unwrap().to_owned();
        create_tag(&app, &admin, "rotated").await;
        let got = receiver.wait_for(2, 10).await;
        python_verifies(&got[1], &new).expect("the new secret verifies");
        python_verifies(&got[1], &old).expect("the old secret verifies for 24 hours");
    }

    async fn an_endpoint_failing_for_days_is_disabled_and_its_queue_failed(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let admin = admin_token(&app).await;
        let receiver = Receiver::start().await;
        receiver.answer(&[500, 500, 500]);
        let (id, _) = register(&app, &admin, &receiver.url(), json!(["tag.created"])).await;
        create_tag(&app, &admin, "a").await;
        create_tag(&app, &admin, "b").await;
        receiver.wait_for(1, 10).await;
        // It has been failing since six days ago (the default limit is five).
        within(5, || async {
            let (_, e) = send(app.get(&admin, &format!("/api/v1/integration/webhooks/{id}"))).await;
            e["webhook"]["failing_since"].is_string().then_some(())
        }).await;
        backdate(&app, "webhook_endpoints", "failing_since", "id", &id, 6).await;
        let endpoint = within(10, || async {
            let (_, e) = send(app.get(&admin, &format!("/api/v1/integration/webhooks/{id}"))).await;
            (e["webhook"]["active"] == false).then_some(e)
        }).await;
        assert!(endpoint["webhook"]["disabled_reason"].as_str().unwrap().contains("5 days"), "{endpoint}");
        let failed = deliveries(&app, &admin, &id, "&status=failed").await;
        assert_eq!(failed.len(), 2, "the queued delivery is failed too, and recoverable");
        assert!(deliveries(&app, &admin, &id, "&status=pending").await.is_empty());
    }

    async fn a_delivery_past_its_ttl_expires_and_old_history_is_purged(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let admin = admin_token(&app).await;
        let receiver = Receiver::start().await;
        receiver.answer_retry_after(503, 2, 1);
        let (id, _) = register(&app, &admin, &receiver.url(), json!(["tag.created"])).await;
        create_tag(&app, &admin, "late").await;
        receiver.wait_for(1, 10).await;
        // Queued two days ago: past the 24 h TTL when its retry comes.
        backdate(&app, "webhook_deliveries", "created_at", "endpoint_id", &id, 2).await;
        let expired = within(10, || async {
            let d = deliveries(&app, &admin, &id, "&status=expired").await;
            (d.len() == 1).then_some(d)
        }).await;
        assert!(expired[0]["last_error"].as_str().unwrap().contains("WEBHOOK_DELIVERY_TTL_HOURS"));
        assert_eq!(receiver.received().len(), 1, "not sent again");

        // Finished 91 days ago: purged with its attempts.
        backdate(&app, "webhook_deliveries", "completed_at", "endpoint_id", &id, 91).await;
        let purged = timebridge::webhooks::retention::purge(&app.db, 90).await.unwrap();
        assert_eq!(purged, 1);
        assert!(deliveries(&app, &admin, &id, "").await.is_empty());
    }
}
