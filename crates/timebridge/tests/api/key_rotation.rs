//! Rotating `TIMEBRIDGE_SECRET_KEY`: secrets sealed under the old key move to the new one with
//! `timebridge secrets rotate` while a server configured with both keeps serving them, and a
//! server with the new key alone opens every one afterwards.

use std::{
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use timebridge::{connectors::truncate_secret, platform::crypto::Keyring};

use crate::{
    both,
    receiver::Receiver,
    support::*,
    webhooks::{WEBHOOK_ENV, admin_token, register, verifies},
};

const OLD: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const NEW: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
/// A key no server in these tests is given.
const LOST: &str = "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=";

const BOT_TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";
const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// Endpoints beyond one batch of the rotation (200 rows), so it takes several.
const FILLER_ENDPOINTS: usize = 200;
/// Rounds of pings to each watched endpoint while the rotation runs.
const PING_ROUNDS: usize = 8;

/// Runs `timebridge secrets <command>` with these keys; stdout is piped.
fn secrets(url: &str, keys: &str, command: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_timebridge"))
        .args(["secrets", command])
        .env("DATABASE_URL", url)
        .env("TIMEBRIDGE_SECRET_KEY", keys)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `secrets status` as its JSON lines: one per column and key id.
fn secrets_status(url: &str, keys: &str) -> Vec<Value> {
    let out = secrets(url, keys, "status");
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// The values of each kind of key (`current`, `previous`, `unknown`) in a status.
fn values_by_key(rows: &[Value], key: &str) -> u64 {
    rows.iter()
        .filter(|r| r["key"] == key)
        .map(|r| r["values"].as_u64().unwrap())
        .sum()
}

async fn server(url: &str, keys: &str) -> TestApp {
    let env = [
        WEBHOOK_ENV,
        &[
            ("TIMEBRIDGE_SECRET_KEY", keys),
            ("GOOGLE_CLIENT_ID", "rotation-client"),
            ("GOOGLE_CLIENT_SECRET", "rotation-secret"),
            ("GOOGLE_OAUTH_URL", "http://127.0.0.1:9"),
        ],
    ]
    .concat();
    TestApp::on_database(url, &env).await
}

/// A member of a new workspace with a Slack integration (its bot token and signing secret
/// sealed), and their token.
async fn slack_member(app: &TestApp) -> String {
    let member = app
        .member(true, timebridge::directory::Plan::Enterprise)
        .await;
    let token = app.token(&member, &["admin:all"]).await;
    configure_slack(app, &token).await;
    token
}

async fn configure_slack(app: &TestApp, token: &str) {
    let (status, body) = send(app.put(token, "/api/integrations/slack/config").json(&json!({
        "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET, "slack_user_id": "U2CERLKJA",
    })))
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Whether the config read shows both secrets (truncated): each was opened.
async fn slack_secrets_open(app: &TestApp, token: &str) -> Result<(), String> {
    let (status, view) = send(app.get(token, "/api/integrations/slack/config")).await;
    let config = &view["config"];
    let opened = config["bot_token"] == truncate_secret(BOT_TOKEN).as_str()
        && config["signing_secret"] == truncate_secret(SIGNING_SECRET).as_str();
    if status == 200 && opened {
        Ok(())
    } else {
        Err(format!("{status}: {view}"))
    }
}

/// An endpoint whose every delivery reaches its own receiver, with its secret(s).
struct Watched {
    id: String,
    receiver: Receiver,
    secrets: Vec<String>,
}

async fn ping(app: &TestApp, token: &str, watched: &Watched) -> Result<(), String> {
    let path = format!("/api/v1/integration/webhooks/{}/test", watched.id);
    let (status, body) = send(app.post(token, &path)).await;
    if status == 202 {
        Ok(())
    } else {
        Err(format!("ping {status}: {body}"))
    }
}

/// Waits for `n` deliveries to the endpoint and checks each verifies with every secret it had.
async fn assert_delivered_and_verified(watched: &Watched, n: usize) {
    let got = watched.receiver.wait_for(n, 30).await;
    assert_eq!(got.len(), n, "each ping is delivered once");
    for request in &got {
        for secret in &watched.secrets {
            assert!(verifies(request, secret), "signed with {secret}");
        }
    }
}

both! {
    async fn secrets_move_to_a_new_key_while_a_server_serves_them(backend) {
        let (url, _dir) = private_database(backend).await;

        // Under the old key alone: webhook endpoints (one with a rotated secret, so its
        // previous secret is sealed too) and Slack integrations.
        let app = server(&url, OLD).await;
        let admin = admin_token(&app).await;
        let mut watched = Vec::new();
        for _ in 0..3 {
            let receiver = Receiver::start().await;
            let (id, secret) = register(&app, &admin, &receiver.url(), json!(["tag.created"])).await;
            watched.push(Watched { id, receiver, secrets: vec![secret] });
        }
        let path = format!("/api/v1/integration/webhooks/{}/rotate-secret", watched[0].id);
        let (status, rotated) = send(app.post(&admin, &path)).await;
        assert_eq!(status, 200, "{rotated}");
        watched[0].secrets.push(rotated["secret"].as_str().unwrap().to_owned());
        for _ in 0..FILLER_ENDPOINTS {
            register(&app, &admin, "http://127.0.0.1:9/hook", json!(["tag.created"])).await;
        }
        let reader = slack_member(&app).await;
        let writer = slack_member(&app).await;
        // An OAuth connection: its access and refresh tokens are sealed too.
        let (status, pasted) = send(app.post(&admin, "/api/v1/integration/oauth/connections").json(&json!({
            "oauth_app_id": "google", "access_token": "ya29.rotated-with-the-key", "refresh_token": "1//0kept"
        }))).await;
        assert_eq!(status, 201, "{pasted}");
        let connection: uuid::Uuid = pasted["connection"]["id"].as_str().unwrap().parse().unwrap();
        drop(app);
        let sealed = (3 + 1 + FILLER_ENDPOINTS + 2 + 2) as u64;

        // Restarted with the new key first and the old one after.
        let app = server(&url, &format!("{NEW},{OLD}")).await;
        let before = secrets_status(&url, &format!("{NEW},{OLD}"));
        assert_eq!(values_by_key(&before, "previous"), sealed, "{before:?}");
        assert_eq!(values_by_key(&before, "current"), 0, "{before:?}");
        slack_secrets_open(&app, &reader).await.expect("the old key still opens");

        // The rotation runs while requests read the secrets (and one member saves theirs).
        let rotation = {
            let url = url.clone();
            tokio::task::spawn_blocking(move || secrets(&url, &format!("{NEW},{OLD}"), "rotate"))
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut requests, mut rounds, mut failures) = (0, 0, Vec::new());
        loop {
            let finished = rotation.is_finished();
            requests += 1;
            if let Err(e) = slack_secrets_open(&app, &reader).await {
                failures.push(e);
            }
            if requests % 3 == 0 && rounds < PING_ROUNDS {
                rounds += 1;
                for w in &watched {
                    requests += 1;
                    if let Err(e) = ping(&app, &admin, w).await {
                        failures.push(e);
                    }
                }
            }
            if requests % 7 == 0 {
                configure_slack(&app, &writer).await;
            }
            if (finished && rounds == PING_ROUNDS) || requests > 5_000 || Instant::now() > deadline {
                break;
            }
        }
        assert!(failures.is_empty(), "{} of {requests} requests failed: {failures:?}", failures.len());
        let out = rotation.await.expect("the rotation ran");
        assert!(out.status.success(), "{}", stderr(&out));
        let summary: Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
        let moved = summary["resealed"].as_u64().unwrap() + summary["changed_meanwhile"].as_u64().unwrap();
        assert!(summary["resealed"].as_u64().unwrap() > 0, "{summary}");
        assert_eq!(moved + summary["already_current"].as_u64().unwrap(), sealed, "{summary}");
        assert_eq!(summary["unreadable"], 0, "{summary}");
        assert_eq!(summary["still_under_previous_keys"], 0, "{summary}");
        let registered = timebridge::app::capabilities().sealed_columns().len();
        assert_eq!(summary["columns"].as_array().unwrap().len(), registered, "{summary}");
        for w in &watched {
            assert_delivered_and_verified(w, PING_ROUNDS).await;
        }

        // Every secret is under the new key: the old one can be dropped.
        let after = secrets_status(&url, &format!("{NEW},{OLD}"));
        assert_eq!(values_by_key(&after, "current"), sealed, "{after:?}");
        assert_eq!(values_by_key(&after, "previous") + values_by_key(&after, "unknown"), 0, "{after:?}");
        drop(app);

        // A server with the new key alone opens every secret: deliveries verify with the
        // secrets the endpoints were given, and the Slack secrets open.
        let app = server(&url, NEW).await;
        for w in &watched {
            ping(&app, &admin, w).await.expect("a ping is queued");
            assert_delivered_and_verified(w, PING_ROUNDS + 1).await;
        }
        slack_secrets_open(&app, &reader).await.expect("the new key opens");
        slack_secrets_open(&app, &writer).await.expect("the new key opens");
        let token = timebridge::oauth::tokens::access_token(&app.state, connection).await;
        assert_eq!(token.expect("the new key opens"), "ya29.rotated-with-the-key");
        let again = secrets(&url, NEW, "rotate");
        assert!(again.status.success(), "{}", stderr(&again));
        let summary: Value = serde_json::from_slice(&again.stdout).unwrap();
        assert_eq!((summary["resealed"].clone(), summary["already_current"].clone()), (json!(0), json!(sealed)), "{summary}");
    }

    async fn a_secret_no_configured_key_opens_is_reported_and_left_as_it_is(backend) {
        let (url, _dir) = private_database(backend).await;
        let app = server(&url, OLD).await;
        let admin = admin_token(&app).await;
        let (id, _) = register(&app, &admin, "http://127.0.0.1:9/hook", json!(["tag.created"])).await;
        let (lost_id, _) = register(&app, &admin, "http://127.0.0.1:9/hook", json!(["tag.created"])).await;
        // A secret sealed under a key the operator no longer has.
        let lost = Keyring::parse(LOST).unwrap().seal(timebridge::webhooks::SECRET_PURPOSE, b"whsec_x");
        {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
            use timebridge::webhooks::entity::endpoint;
            let replaced = endpoint::Entity::update_many()
                .col_expr(endpoint::Column::Secret, Expr::value(lost))
                .filter(endpoint::Column::Id.eq(uuid::Uuid::parse_str(&lost_id).unwrap()))
                .exec(app.db.conn())
                .await
                .expect("the secret is replaced");
            assert_eq!(replaced.rows_affected, 1);
        }
        drop(app);

        let rows = secrets_status(&url, &format!("{NEW},{OLD}"));
        assert_eq!(values_by_key(&rows, "unknown"), 1, "{rows:?}");
        let out = secrets(&url, &format!("{NEW},{OLD}"), "rotate");
        assert!(!out.status.success(), "a value no key opens fails the rotation");
        assert!(stderr(&out).contains(&lost_id), "{}", stderr(&out));
        let summary: Value = serde_json::from_slice(&out.stdout).expect("the summary is printed still");
        assert_eq!(summary["resealed"], 1, "the other endpoint moved: {summary}");
        assert_eq!(summary["unreadable"], 1, "{summary}");
        let column = summary["columns"].as_array().unwrap().iter()
            .find(|c| c["column"] == "webhook_endpoints.secret").unwrap().clone();
        assert_eq!(column["unreadable_ids"], json!([lost_id]), "{summary}");
        let rows = secrets_status(&url, NEW);
        assert_eq!(values_by_key(&rows, "current"), 1, "{rows:?} ({id} moved)");
        assert_eq!(values_by_key(&rows, "unknown"), 1, "{rows:?}: left as it was");
    }
}
