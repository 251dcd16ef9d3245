//! The Slack connector against a local stand-in of slack.com, with requests signed exactly as
//! Slack signs them; and the scheduler that posts the daily summary.

use serde_json::{Value, json};
use timebridge::connectors::slack::signature;

use crate::{
    both,
    github::{DATABASE_WORDS, break_the_ledger, ledger_rows},
    stand_ins::*,
    support::*,
    webhooks::admin_token,
};

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const BOT_TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";
const SLACK_USER: &str = "U2CERLKJA";

struct Setup {
    app: TestApp,
    token: String,
    /// The admin's workspace.
    workspace: String,
    slack: StandIn,
}

async fn setup(backend: Backend, slack_url: Option<&str>) -> Setup {
    let slack = StandIn::slack(BOT_TOKEN).await;
    let url = slack_url
        .map(str::to_owned)
        .unwrap_or_else(|| slack.base.clone());
    // Jobs run only when a test runs them: a scheduled summary would be a second message.
    let app = TestApp::private(
        backend,
        &[("SLACK_API_URL", &url), ("TIMEBRIDGE_JOBS", "false")],
    )
    .await;
    let admin = app
        .member(true, timebridge::directory::Plan::Enterprise)
        .await;
    let token = app.token(&admin, &["admin:all"]).await;
    let workspace = admin.workspace.name.clone();
    for name in ["Website redesign", "Mobile app", "Website hosting"] {
        let (status, _) = send(
            app.post(&token, "/api/v1/projects")
                .json(&json!({"name": name})),
        )
        .await;
        assert_eq!(status, 201);
    }
    let (status, body) = send(app.put(&token, "/api/integrations/slack/config").json(&json!({
        "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET, "slack_user_id": SLACK_USER,
        "channel": "C0123456789",
    }))).await;
    assert_eq!(status, 200, "{body}");
    Setup {
        app,
        token,
        workspace,
        slack,
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Posts a body signed as Slack signs it, at `timestamp`.
async fn slack_post(
    app: &TestApp,
    body: &str,
    content_type: &str,
    timestamp: i64,
    secret: &str,
) -> (u16, Value) {
    let ts = timestamp.to_string();
    send(
        app.client
            .post(app.url("/api/integrations/slack/events"))
            .header("Content-Type", content_type)
            .header("X-Slack-Request-Timestamp", &ts)
            .header(
                "X-Slack-Signature",
                signature::sign(secret, &ts, body.as_bytes()),
            )
            .body(body.to_owned()),
    )
    .await
}

/// Runs `/tt <text>` as Slack sends it.
async fn command(app: &TestApp, text: &str, trigger: &str) -> Value {
    let (status, reply) = command_answer(app, text, trigger).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["response_type"], "ephemeral", "{reply}");
    reply
}

/// Runs `/tt <text>` and returns Slack's view of the answer: status and body.
async fn command_answer(app: &TestApp, text: &str, trigger: &str) -> (u16, Value) {
    let body = serde_urlencoded::to_string([
        ("token", "xyzz0WbapA4vBCDEFasx0q6G"),
        ("team_id", "T1DC2JH3J"),
        ("team_domain", "testteamnow"),
        ("channel_id", "G8PSS9T3V"),
        ("channel_name", "foobar"),
        ("user_id", SLACK_USER),
        ("user_name", "roadrunner"),
        ("command", "/tt"),
        ("text", text),
        (
            "response_url",
            "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN",
        ),
        ("trigger_id", trigger),
    ])
    .unwrap();
    slack_post(
        app,
        &body,
        "application/x-www-form-urlencoded",
        now(),
        SIGNING_SECRET,
    )
    .await
}

both! {
    async fn the_tt_command_runs_the_timer_and_notifies_the_channel(backend) {
        let s = setup(backend, None).await;
        let reply = command(&s.app, "help", "t-1").await;
        assert!(reply["text"].as_str().unwrap().contains("/tt start"));
        let reply = command(&s.app, "start website", "t-2").await;
        assert!(reply["text"].as_str().unwrap().contains("Several projects"), "{reply}");
        let reply = command(&s.app, "start mobile", "t-3").await;
        assert!(reply["text"].as_str().unwrap().contains("Mobile app"), "{reply}");
        let (_, timer) = send(s.app.get(&s.token, "/api/v1/timer/status")).await;
        assert_eq!(timer["active"], true);
        // A replayed command does nothing twice.
        let reply = command(&s.app, "start mobile", "t-3").await;
        assert!(reply["text"].as_str().unwrap().contains("already handled"), "{reply}");
        let reply = command(&s.app, "status", "t-4").await;
        assert!(reply["text"].as_str().unwrap().contains("Mobile app"), "{reply}");
        let reply = command(&s.app, "stop", "t-5").await;
        assert!(reply["text"].as_str().unwrap().contains("stopped"), "{reply}");
        let reply = command(&s.app, "today", "t-6").await;
        assert!(reply["text"].as_str().unwrap().contains("Mobile app"), "{reply}");
        let reply = command(&s.app, "stop", "t-7").await;
        assert!(reply["text"].as_str().unwrap().contains("No timer"), "{reply}");

        // The channel heard the start and the stop, with the bot token.
        let messages = eventually(|| async {
            let m = s.slack.messages();
            (m.len() >= 2).then_some(m)
        }).await;
        // Each notice is posted by its own task after its commit: a timer stopped at once may
        // be announced in either order.
        assert!(messages.iter().all(|m| m["channel"] == "C0123456789"), "{messages:?}");
        assert!(messages.iter().any(|m| m["text"].as_str().unwrap().contains("started a timer on *Mobile app*")), "{messages:?}");
        assert!(messages.iter().any(|m| m["text"].as_str().unwrap().contains("stopped")), "{messages:?}");
        // The timer's events name Slack as the author.
        let events = events_after(&s.app, &s.token, 0).await;
        let started = events.iter().find(|e| e["type"] == "timer.started").unwrap();
        assert_eq!(started["actor"]["via"], "slack");
    }

    async fn tt_stop_in_the_second_the_timer_started_stops_it(backend) {
        let s = setup(backend, None).await;
        command(&s.app, "start mobile", "t-1").await;
        let (_, timer) = send(s.app.get(&s.token, "/api/v1/timer/status")).await;
        let id = timer["timer"]["id"].as_str().unwrap();
        crate::timer::start_in_the_future(&s.app, id).await;
        let reply = command(&s.app, "stop", "t-2").await;
        assert_eq!(reply["text"], "✅ Timer stopped: 0m.", "{reply}");
        let (_, timer) = send(s.app.get(&s.token, "/api/v1/timer/status")).await;
        assert_eq!(timer["active"], false);
        let (_, entry) = send(s.app.get(&s.token, &format!("/api/v1/time-entries/{id}"))).await;
        assert_eq!(entry["time_entry"]["duration_seconds"], 0, "the API and /tt agree: {entry}");
    }

    async fn unsigned_stale_and_foreign_requests_are_refused(backend) {
        let s = setup(backend, None).await;
        let challenge = json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).to_string();
        let (status, body) = slack_post(&s.app, &challenge, "application/json", now(), SIGNING_SECRET).await;
        assert_eq!(status, 200);
        assert_eq!(body, json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}));
        let (status, _) = slack_post(&s.app, &challenge, "application/json", now(), "another secret").await;
        assert_eq!(status, 401);
        let (status, body) = slack_post(&s.app, &challenge, "application/json", now() - 301, SIGNING_SECRET).await;
        assert_eq!(status, 401);
        assert!(body["error"].as_str().unwrap().contains("5 minutes"));
        let (status, _) = send(s.app.client.post(s.app.url("/api/integrations/slack/events")).body(challenge)).await;
        assert_eq!(status, 401);
        // Events are recorded once and acknowledged.
        let event = json!({"type": "event_callback", "event_id": "Ev08MFMKH6", "event": {"type": "app_mention", "text": "hi"}}).to_string();
        let (status, body) = slack_post(&s.app, &event, "application/json", now(), SIGNING_SECRET).await;
        assert_eq!((status, body["ignored"].as_bool()), (200, Some(true)), "{body}");
        let (_, body) = slack_post(&s.app, &event, "application/json", now(), SIGNING_SECRET).await;
        assert_eq!(body["duplicate"], true);
        // A Slack user nobody linked.
        let form = "command=%2Ftt&text=start+x&user_id=U999&trigger_id=z";
        let (status, body) = slack_post(&s.app, form, "application/x-www-form-urlencoded", now(), SIGNING_SECRET).await;
        assert_eq!(status, 200);
        assert!(body["text"].as_str().unwrap().contains("not linked"), "{body}");
    }

    async fn a_deactivated_member_cannot_run_the_timer_from_slack(backend) {
        let s = setup(backend, None).await;
        let (_, me) = send(s.app.get(&s.token, "/api/v1/users/me")).await;
        let colleague = s.app.member_in(&s.workspace, true, None).await;
        let other_admin = s.app.token(&colleague, &["admin:all"]).await;
        let path = format!("/api/v1/users/{}", me["user"]["id"].as_str().or(me["id"].as_str()).unwrap());
        let (status, body) = send(s.app.patch(&other_admin, &path).json(&json!({"is_active": false}))).await;
        assert_eq!(status, 200, "{body}");
        let reply = command(&s.app, "start Website redesign", "deactivated-1").await;
        assert!(reply["text"].as_str().unwrap().contains("deactivated"), "{reply}");
        let (status, body) = send(s.app.patch(&other_admin, &path).json(&json!({"is_active": true}))).await;
        assert_eq!(status, 200, "{body}");
        let reply = command(&s.app, "start Website redesign", "deactivated-2").await;
        assert!(reply["text"].as_str().unwrap().contains("Timer started"), "{reply}");
    }

    async fn a_nul_character_in_a_command_is_answered_not_a_500(backend) {
        let s = setup(backend, None).await;
        let reply = command(&s.app, "start Web\u{0}site", "nul-1").await;
        assert!(reply["text"].as_str().unwrap().contains("NUL"), "{reply}");
    }

    async fn a_slack_outage_never_stops_the_timer(backend) {
        // Port 9 (discard): nothing listens there. (A port freed by another test could be
        // taken again by a third test's server while this one runs.)
        let s = setup(backend, Some("http://127.0.0.1:9")).await;
        let (status, project) = send(s.app.post(&s.token, "/api/v1/projects").json(&json!({"name": "Support"}))).await;
        assert_eq!(status, 201);
        let (status, body) = send(s.app.post(&s.token, "/api/v1/timer/start").json(&json!({"project_id": project["project"]["id"]}))).await;
        assert_eq!(status, 201, "{body}");
        let (status, _) = send(s.app.post(&s.token, "/api/v1/timer/stop")).await;
        assert_eq!(status, 200);
        let (_, test) = send(s.app.post(&s.token, "/api/integrations/slack/test")).await;
        assert_eq!(test["ok"], false);
        assert!(test["error"].as_str().unwrap().contains("connect"), "{test}");
    }

    async fn the_daily_summary_is_posted_once_per_member_and_one_failure_blocks_no_one(backend) {
        let s = setup(backend, None).await;
        let now = time::OffsetDateTime::now_utc();
        let hhmm = format!("{:02}:{:02}", now.hour(), now.minute());
        send(s.app.put(&s.token, "/api/integrations/slack/config").json(&json!({"daily_summary_time": hhmm}))).await;
        // A second member of the workspace, whose token Slack refuses.
        let colleague = s.app.member_in(&s.workspace, true, None).await;
        let other = s.app.token(&colleague, &["admin:all"]).await;
        let (status, body) = send(s.app.put(&other, "/api/integrations/slack/config").json(&json!({
            "bot_token": "xoxb-revoked", "signing_secret": "x", "slack_user_id": "U0OTHER", "channel": "C1", "daily_summary_time": hhmm,
        }))).await;
        assert_eq!(status, 200, "{body}");
        let (status, run) = send(s.app.post(&s.token, "/api/v1/integration/jobs/slack_daily_summary/run")).await;
        assert_eq!(status, 200, "{run}");
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["outcome"]["posted"], 1, "{run}");
        assert_eq!(run["outcome"]["failed"], 1);
        assert!(run["outcome"]["failures"][0]["error"].as_str().unwrap().contains("invalid_auth"));
        let summaries: Vec<_> = s.slack.messages().into_iter().filter(|m| m["channel"] == "C0123456789").collect();
        assert_eq!(summaries.len(), 1);
        assert!(summaries[0]["text"].as_str().unwrap().contains("No time tracked today"), "{summaries:?}");

        let (_, jobs) = send(s.app.get(&s.token, "/api/v1/integration/jobs")).await;
        let job = jobs["jobs"].as_array().unwrap().iter().find(|j| j["name"] == "slack_daily_summary").unwrap();
        assert_eq!(job["every_seconds"], 1800);
        assert!(job["last_run"]["status"].is_string(), "{job}");
        let (status, _) = send(s.app.post(&s.token, "/api/v1/integration/jobs/nope/run")).await;
        assert_eq!(status, 404);
    }

    async fn two_instances_run_each_occurrence_once(backend) {
        let (url, _dir) = private_database(backend).await;
        let a = TestApp::on_database(&url, &[("TIMEBRIDGE_JOBS", "false")]).await;
        let b = TestApp::on_database(&url, &[("TIMEBRIDGE_JOBS", "false")]).await;
        // Two workspaces with Slack: each occurrence fans out into one job per workspace.
        for app in [&a, &b] {
            let token = admin_token(app).await;
            let (status, body) = send(app.put(&token, "/api/integrations/slack/config").json(&json!({
                "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET, "slack_user_id": SLACK_USER,
            }))).await;
            assert_eq!(status, 200, "{body}");
        }
        let runner = |app: &TestApp, owner: &str| timebridge::platform::jobs::runner::Runner {
            db: app.db.clone(),
            registry: app.state.jobs.clone(),
            state: app.state.clone(),
            owner: owner.into(),
            queues: None,
        };
        let (ra, rb) = (runner(&a, "instance-a"), runner(&b, "instance-b"));
        let (ta, tb) = tokio::join!(ra.tick(), rb.tick());
        ta.unwrap();
        tb.unwrap();
        use sea_orm::EntityTrait;
        use timebridge::platform::jobs::{JobStatus, job};
        let jobs = job::Entity::find().all(a.db.conn()).await.unwrap();
        let now = timebridge::platform::time::now();
        for kind in a.state.jobs.iter() {
            // One-off kinds (ClickUp's task creation) run only when enqueued.
            let Some(at) = kind.occurrence(now) else { continue };
            let mine: Vec<_> = jobs.iter().filter(|j| j.kind == kind.name && j.occurrence_at == Some(at)).collect();
            let occurrence: Vec<_> = mine.iter().filter(|j| j.workspace_id.is_none()).collect();
            assert_eq!(occurrence.len(), 1, "{}: one row per occurrence", kind.name);
            for j in &mine {
                assert_eq!((j.attempts, j.status), (1, JobStatus::Succeeded), "{}: run once: {j:?}", kind.name);
            }
            let per_workspace = mine.len() - 1;
            let expected = if kind.name == "slack_daily_summary" { 2 } else { 0 };
            assert_eq!(per_workspace, expected, "{}: one job per workspace with the integration", kind.name);
        }
    }

    async fn ids_longer_than_the_ledger_keeps_are_still_handled_once(backend) {
        let s = setup(backend, None).await;
        // A slash command's trigger_id past 200 characters, replayed.
        let trigger = format!("13345224609.738474920.{}", "8".repeat(240));
        let reply = command(&s.app, "start mobile", &trigger).await;
        assert!(reply["text"].as_str().unwrap().contains("Mobile app"), "{reply}");
        let reply = command(&s.app, "start mobile", &trigger).await;
        assert!(reply["text"].as_str().unwrap().contains("already handled"), "{reply}");
        // An event_id past 200 characters, delivered twice.
        let event = json!({"type": "event_callback", "event_id": format!("Ev{}", "9".repeat(240)), "event": {"type": "app_mention"}}).to_string();
        let (status, body) = slack_post(&s.app, &event, "application/json", now(), SIGNING_SECRET).await;
        assert_eq!((status, body["ignored"].as_bool()), (200, Some(true)), "{body}");
        let (status, body) = slack_post(&s.app, &event, "application/json", now(), SIGNING_SECRET).await;
        assert_eq!((status, body["duplicate"].as_bool()), (200, Some(true)), "{body}");
        assert_eq!(ledger_rows(&s.app, timebridge::connectors::Provider::Slack).await.len(), 2);
    }

    async fn credential_headers_are_never_recorded_in_the_ledger(backend) {
        let s = setup(backend, None).await;
        let event = json!({"type": "event_callback", "event_id": "Ev0CREDS", "event": {"type": "app_mention"}}).to_string();
        let ts = now().to_string();
        let (status, body) = send(s.app.client
            .post(s.app.url("/api/integrations/slack/events"))
            .header("Content-Type", "application/json")
            .header("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
            .header("X-Slack-Request-Timestamp", &ts)
            .header("X-Slack-Signature", signature::sign(SIGNING_SECRET, &ts, event.as_bytes()))
            .header("X-Slack-Retry-Num", "1")
            .header("X-Slack-Retry-Reason", "http_timeout")
            .header("X-API-Key", "leaked-api-key")
            .header("Authorization", "Bearer leaked-bearer")
            .header("Cookie", "session=leaked-cookie")
            .header("X-Anything-Token", "leaked-token")
            .body(event)).await;
        assert_eq!(status, 200, "{body}");
        let rows = ledger_rows(&s.app, timebridge::connectors::Provider::Slack).await;
        assert_eq!(rows.len(), 1);
        let recorded: Value = serde_json::from_str(&rows[0].headers).unwrap();
        assert_eq!(recorded, json!({
            "content-type": "application/json",
            "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "x-slack-request-timestamp": ts,
            "x-slack-retry-num": "1",
            "x-slack-retry-reason": "http_timeout",
        }));
        assert!(!rows[0].headers.contains("leaked") && !rows[0].headers.contains("v0="), "{}", rows[0].headers);
    }

    async fn a_database_failure_is_never_shown_to_the_member_or_to_slack(backend) {
        let s = setup(backend, None).await;
        break_the_ledger(&s.app).await;
        let (status, reply) = command_answer(&s.app, "start mobile", "t-broken").await;
        assert_eq!(status, 200, "Slack shows the member a reply, not an error page: {reply}");
        let text = reply["text"].as_str().unwrap();
        assert!(text.contains("Something went wrong on Timebridge's side"), "{text}");
        let event = json!({"type": "event_callback", "event_id": "Ev0BROKEN", "event": {"type": "app_mention"}}).to_string();
        let (status, body) = slack_post(&s.app, &event, "application/json", now(), SIGNING_SECRET).await;
        assert_eq!(status, 500, "{body}");
        assert_eq!(body["ok"], false, "{body}");
        for shown in [reply.to_string(), body.to_string()] {
            for word in DATABASE_WORDS {
                assert!(!shown.to_lowercase().contains(&word.to_lowercase()), "{word}: {shown}");
            }
        }
    }
}
