//! The Google Calendar connector end to end, against stand-ins for Google's OAuth endpoints and
//! Calendar API: import (skips, recurring instances, pending events), incremental sync with
//! sync tokens, 410 resync, moves and cancellations, export without duplicates after a lost
//! answer or a crash, quota backoff, one member's failure blocking no one, time zones.

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

use crate::{
    both, google_calendar_stand_in::GoogleCalendar, google_stand_in::GoogleOAuth, support::*,
};

struct Setup {
    app: TestApp,
    oauth: GoogleOAuth,
    calendar: GoogleCalendar,
}

async fn setup(backend: Backend) -> Setup {
    let oauth = GoogleOAuth::start().await;
    let calendar = GoogleCalendar::start().await;
    let mut env = oauth.env();
    env.extend(calendar.env());
    env.push(("GOOGLE_CALENDAR_BACKOFF_MS", "20".into()));
    // No scheduled sync: a test counts what its own syncs import (the periodic job, racing a
    // test's sync on a loaded machine, once imported a week's events first).
    env.push(("TIMEBRIDGE_JOBS", "false".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::with_env(backend, &env).await;
    Setup {
        app,
        oauth,
        calendar,
    }
}

const SCOPES: &[&str] = &["write:integrations", "write:time_entries"];

/// Connects a member's Google account through the connector's connect route; answers their
/// token.
async fn connect(s: &Setup, member: &timebridge::directory::Member, code: &str) -> String {
    let token = s.app.token(member, SCOPES).await;
    let (status, started) = send(s.app.post(&token, "/api/integrations/google/connect")).await;
    assert_eq!(status, 200, "{started}");
    s.oauth
        .consent(started["authorization_url"].as_str().unwrap(), code);
    let (status, body) = send(
        s.app
            .post(&token, "/api/v1/integration/oauth/callback")
            .json(&json!({"state": started["state"], "code": code})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    token
}

async fn configure(s: &Setup, token: &str, config: Value) {
    let (status, body) = send(
        s.app
            .patch(token, "/api/integrations/google/config")
            .json(&config),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn sync(s: &Setup, token: &str) -> Value {
    let (status, reply) = send(s.app.post(token, "/api/integrations/google/sync")).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["ok"], true, "{reply}");
    reply["counts"].clone()
}

async fn entries(s: &Setup, token: &str) -> Vec<Value> {
    let (status, list) = send(s.app.get(token, "/api/v1/time-entries?per_page=100")).await;
    assert_eq!(status, 200, "{list}");
    let mut all = list["time_entries"].as_array().unwrap().clone();
    all.sort_by_key(|e| e["start_time"].as_str().unwrap().to_owned());
    all
}

fn at(t: OffsetDateTime, offset_hours: i8, offset_minutes: i8) -> String {
    let offset = UtcOffset::from_hms(offset_hours, offset_minutes, 0).unwrap();
    t.to_offset(offset).format(&Rfc3339).unwrap()
}

fn utc(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC).format(&Rfc3339).unwrap()
}

/// Today at `hour`:00 UTC, `days` days back.
fn day(days: i64, hour: u8) -> OffsetDateTime {
    let today = OffsetDateTime::now_utc().date();
    (today - Duration::days(days))
        .with_hms(hour, 0, 0)
        .unwrap()
        .assume_utc()
}

fn timed(summary: &str, start: OffsetDateTime, end: OffsetDateTime) -> Value {
    json!({
        "summary": summary,
        "start": {"dateTime": at(start, 1, 0), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": at(end, 1, 0), "timeZone": "Europe/Berlin"},
    })
}

/// Loses what the member's last syncs stored: the sync state, and (with `links`) the links.
async fn forget_progress(s: &Setup, member: &timebridge::directory::Member, links: bool) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use timebridge::connectors::{
        Provider,
        entity::integration,
        google_calendar::entity::{link, sync_state},
    };
    let found = integration::Entity::find()
        .filter(integration::Column::WorkspaceId.eq(member.workspace.id))
        .filter(integration::Column::UserId.eq(member.user.id))
        .filter(integration::Column::Provider.eq(Provider::GoogleCalendar))
        .one(s.app.db.conn())
        .await
        .unwrap()
        .expect("the integration");
    let _turn = s.app.db.write_turn().await;
    sync_state::Entity::delete_by_id(found.id)
        .exec(s.app.db.conn())
        .await
        .unwrap();
    if links {
        link::Entity::delete_many()
            .filter(link::Column::IntegrationId.eq(found.id))
            .exec(s.app.db.conn())
            .await
            .unwrap();
    }
}

both! {
    async fn events_become_entries_once_and_only_the_right_ones(backend) {
        let s = setup(backend).await;
        let member = s.app.member(false, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&s, &member, "code-import").await;
        let cal = "primary";
        let standup = s.calendar.add_event(cal, timed("Standup", day(1, 9), day(1, 9) + Duration::minutes(15)));
        s.calendar.add_event(cal, json!({"summary": "Offsite", "start": {"date": "2026-11-30"}, "end": {"date": "2026-12-01"}}));
        s.calendar.add_event(cal, timed("[TT] Website -- homepage", day(2, 9), day(2, 10)));
        s.calendar.add_event(cal, {
            let mut e = timed("Exported elsewhere", day(2, 11), day(2, 12));
            e["extendedProperties"] = json!({"private": {"timebridgeEntryId": "0193f2c4-a1b2-7c3d-9e8f-00112233aabb"}});
            e
        });
        let master = s.calendar.add_event(cal, json!({
            "summary": "Weekly review", "recurrence": ["RRULE:FREQ=DAILY;COUNT=2"],
            "start": {"dateTime": at(day(3, 14), 1, 0), "timeZone": "Europe/Berlin"},
            "end": {"dateTime": at(day(3, 15), 1, 0), "timeZone": "Europe/Berlin"},
        }));
        for d in [3, 2] {
            s.calendar.add_event(cal, json!({
                "summary": "Weekly review", "recurringEventId": master,
                "originalStartTime": {"dateTime": at(day(d, 14), 1, 0), "timeZone": "Europe/Berlin"},
                "start": {"dateTime": at(day(d, 14), 1, 0), "timeZone": "Europe/Berlin"},
                "end": {"dateTime": at(day(d, 15), 1, 0), "timeZone": "Europe/Berlin"},
            }));
        }
        s.calendar.add_event(cal, timed("Too long ago", day(20, 9), day(20, 10)));
        let later = OffsetDateTime::now_utc() + Duration::hours(3);
        s.calendar.add_event(cal, timed("Later today", later, later + Duration::hours(1)));
        configure(&s, &token, json!({"sync_days_back": 7, "sync_direction": "import"})).await;

        let counts = sync(&s, &token).await;
        assert_eq!(counts["imported"], 3, "the standup and two instances: {counts}");
        assert_eq!(counts["pending"], 1, "{counts}");
        let list = entries(&s, &token).await;
        assert_eq!(list.len(), 3, "{list:?}");
        let first_sync = s.calendar.requests().into_iter().find(|r| r.method == "GET").unwrap();
        assert!(first_sync.query.iter().any(|(k, v)| k == "singleEvents" && v == "true"));
        assert!(first_sync.query.iter().any(|(k, _)| k == "timeMin"));
        let standup_entry = list.iter().find(|e| e["notes"] == "Standup").expect("the standup");
        assert_eq!(standup_entry["start_time"], utc(day(1, 9)));
        assert_eq!(standup_entry["end_time"], utc(day(1, 9) + Duration::minutes(15)));
        assert_eq!(standup_entry["source"], "google_calendar");
        assert_eq!(list.iter().filter(|e| e["notes"] == "Weekly review").count(), 2);

        // Again: Google is asked only for changes, and nothing is made twice.
        let counts = sync(&s, &token).await;
        assert_eq!(counts["imported"], 0, "{counts}");
        assert_eq!(entries(&s, &token).await.len(), 3);
        let last = s.calendar.requests().into_iter().rfind(|r| r.method == "GET").unwrap();
        assert!(last.query.iter().any(|(k, _)| k == "syncToken"), "{:?}", last.query);

        let (_, status) = send(s.app.get(&token, "/api/integrations/google/status")).await;
        assert_eq!(status["connected"], "active", "{status}");
        assert_eq!(status["account"], "ada@example.com");
        assert_eq!(status["incremental"], true);
        assert_eq!(status["last_sync"]["imported"], 0, "{status}");
        assert!(status["last_sync_at"].is_string());
        let _ = standup;
    }

    async fn a_moved_or_cancelled_event_moves_or_removes_its_entry_only(backend) {
        let s = setup(backend).await;
        let member = s.app.member(false, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&s, &member, "code-move").await;
        let moved = s.calendar.add_event("primary", timed("Planning", day(2, 9), day(2, 10)));
        let cancelled = s.calendar.add_event("primary", timed("Retro", day(2, 13), day(2, 14)));
        configure(&s, &token, json!({"sync_direction": "import"})).await;
        sync(&s, &token).await;
        // An entry the member made themselves is never the sync's to touch.
        let (status, own) = send(s.app.post(&token, "/api/v1/time-entries").json(&json!({
            "start_time": utc(day(2, 13)), "end_time": utc(day(2, 14)), "notes": "Retro"
        }))).await;
        assert_eq!(status, 201, "{own}");

        s.calendar.update_event("primary", &moved, json!({
            "summary": "Planning (moved)",
            "start": {"dateTime": at(day(2, 15), 1, 0), "timeZone": "Europe/Berlin"},
            "end": {"dateTime": at(day(2, 16) + Duration::minutes(30), 1, 0), "timeZone": "Europe/Berlin"},
        }));
        s.calendar.cancel_event("primary", &cancelled);
        let counts = sync(&s, &token).await;
        assert_eq!((counts["updated"].clone(), counts["removed"].clone()), (json!(1), json!(1)), "{counts}");
        let list = entries(&s, &token).await;
        assert_eq!(list.len(), 2, "{list:?}");
        let planning = list.iter().find(|e| e["source"] == "google_calendar").unwrap();
        assert_eq!(planning["notes"], "Planning (moved)");
        assert_eq!(planning["start_time"], utc(day(2, 15)));
        assert_eq!(planning["end_time"], utc(day(2, 16) + Duration::minutes(30)));
        assert_eq!(list.iter().find(|e| e["source"] != "google_calendar").unwrap()["id"], own["time_entry"]["id"]);
    }

    async fn a_410_runs_a_full_resync_that_duplicates_nothing(backend) {
        let s = setup(backend).await;
        let member = s.app.member(false, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&s, &member, "code-410").await;
        s.calendar.add_event("primary", timed("Kept", day(1, 9), day(1, 10)));
        let gone = s.calendar.add_event("primary", timed("Deleted while the token was lost", day(1, 11), day(1, 12)));
        s.calendar.page_size(1);
        configure(&s, &token, json!({"sync_direction": "import"})).await;
        assert_eq!(sync(&s, &token).await["imported"], 2);

        s.calendar.invalidate_sync_tokens();
        s.calendar.cancel_event("primary", &gone);
        s.calendar.add_event("primary", timed("New", day(1, 14), day(1, 15)));
        let counts = sync(&s, &token).await;
        assert_eq!(counts["imported"], 1, "only the new event: {counts}");
        assert_eq!(counts["removed"], 1, "the deleted one's entry: {counts}");
        let notes: Vec<String> = entries(&s, &token).await.iter().map(|e| e["notes"].as_str().unwrap().to_owned()).collect();
        assert_eq!(notes, ["Kept", "New"]);
        let gets: Vec<_> = s.calendar.requests().into_iter().filter(|r| r.method == "GET").collect();
        let resync = gets.iter().rposition(|r| r.query.iter().any(|(k, _)| k == "syncToken")).unwrap();
        assert!(gets[resync + 1..].iter().any(|r| r.query.iter().any(|(k, _)| k == "timeMin")), "a full listing followed the 410");
        // And the next run is incremental again.
        assert_eq!(sync(&s, &token).await["imported"], 0);
    }

    async fn exports_survive_a_lost_answer_and_a_crash_without_a_duplicate(backend) {
        let s = setup(backend).await;
        let member = s.app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&s, &member, "code-export").await;
        let (status, project) = send(s.app.post(&s.app.token(&member, &["write:projects"]).await, "/api/v1/projects").json(&json!({"name": "Website"}))).await;
        assert_eq!(status, 201, "{project}");
        for (start, notes) in [(day(1, 9), "Homepage"), (day(1, 13), "Checkout")] {
            let (status, body) = send(s.app.post(&token, "/api/v1/time-entries").json(&json!({
                "start_time": utc(start), "end_time": utc(start + Duration::hours(1)),
                "notes": notes, "project_id": project["project"]["id"],
            }))).await;
            assert_eq!(status, 201, "{body}");
        }
        configure(&s, &token, json!({"sync_direction": "export"})).await;

        // Google stores the first insert but its answer is lost: the retry answers 409.
        s.calendar.lose_next_insert_response();
        sync(&s, &token).await;
        let events = s.calendar.events("primary");
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(s.calendar.inserts(), 2);
        let titles: Vec<&str> = events.iter().map(|e| e["summary"].as_str().unwrap()).collect();
        assert_eq!(titles, ["[TT] Website -- Homepage", "[TT] Website -- Checkout"]);
        for e in &events {
            assert_eq!(e["start"]["timeZone"], "UTC");
            assert!(e["extendedProperties"]["private"]["timebridgeEntryId"].is_string(), "{e}");
        }

        // A crash after Google accepted the inserts, before the links and the sync's state
        // were stored.
        forget_progress(&s, &member, true).await;
        let counts = sync(&s, &token).await;
        assert_eq!(counts["exported"], 0, "{counts}");
        assert_eq!(s.calendar.events("primary").len(), 2, "no duplicate");
        assert_eq!(s.calendar.inserts(), 2);
        // The links are back: with the state lost again, nothing is even sent.
        forget_progress(&s, &member, false).await;
        let posts = s.calendar.requests().iter().filter(|r| r.method == "POST").count();
        sync(&s, &token).await;
        assert_eq!(s.calendar.requests().iter().filter(|r| r.method == "POST").count(), posts);

        // Exported events are not imported back.
        configure(&s, &token, json!({"sync_direction": "both"})).await;
        let counts = sync(&s, &token).await;
        assert_eq!(counts["imported"], 0, "{counts}");
        assert_eq!(entries(&s, &token).await.len(), 2);
    }

    async fn quota_refusals_back_off_and_one_members_failure_blocks_no_one(backend) {
        let s = setup(backend).await;
        let admin = s.app.member(true, timebridge::directory::Plan::Enterprise).await;
        let admin_token = s.app.token(&admin, &["admin:all"]).await;
        let ok = s.app.member_in(&admin.workspace.name, false, None).await;
        let broken = s.app.member_in(&admin.workspace.name, false, None).await;
        let ok_token = connect(&s, &ok, "code-ok").await;
        let broken_token = connect(&s, &broken, "code-broken").await;
        s.calendar.add_event("primary", timed("Shared calendar event", day(1, 9), day(1, 10)));

        // Two quota refusals, then Google answers: the sync waits and goes on.
        s.calendar.rate_limit_next(2, 429);
        assert_eq!(sync(&s, &ok_token).await["imported"], 1);
        assert_eq!(s.calendar.requests().len(), 3, "two refusals, then the listing");

        // The broken member's grant is revoked at Google and their token has expired.
        s.oauth.revoke_all();
        {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
            use timebridge::oauth::entity::connection;
            let _turn = s.app.db.write_turn().await;
            connection::Entity::update_many()
                .col_expr(connection::Column::ExpiresAt, Expr::val(Some(OffsetDateTime::now_utc() - Duration::minutes(1))))
                .filter(connection::Column::UserId.eq(broken.user.id))
                .exec(s.app.db.conn())
                .await
                .unwrap();
        }
        s.calendar.add_event("primary", timed("Another", day(1, 11), day(1, 12)));
        s.calendar.rate_limit_next(1, 403);
        let (status, run) = send(s.app.post(&admin_token, "/api/v1/integration/jobs/google_calendar_sync/run")).await;
        assert_eq!(status, 200, "{run}");
        assert_eq!(run["outcome"]["synced"], 1, "{run}");
        assert_eq!(run["outcome"]["failed"], 1, "{run}");
        assert!(run["outcome"]["failures"][0]["error"].as_str().unwrap().contains("connect Google again"), "{run}");
        assert_eq!(entries(&s, &ok_token).await.len(), 2, "the other member's sync went on");
        let (_, status) = send(s.app.get(&broken_token, "/api/integrations/google/status")).await;
        assert_eq!(status["connected"], "needs_reauth", "{status}");
        assert!(status["last_error"].as_str().unwrap().contains("connect Google again"), "{status}");
    }

    async fn a_dst_week_and_other_time_zones_land_at_their_utc_instants(backend) {
        let s = setup(backend).await;
        let member = s.app.member(false, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&s, &member, "code-dst").await;
        // A week of 09:00 meetings in Berlin as Google sends them around a change to summer
        // time: +01:00 before it, +02:00 after; and meetings set in New York and Kolkata.
        let mut expected = Vec::new();
        for (days, offset) in [(6, 1), (5, 1), (4, 1), (3, 2), (2, 2), (1, 2)] {
            let local_nine = day(days, 9) - Duration::hours(offset);
            s.calendar.add_event("primary", json!({
                "summary": format!("Berlin {days}"),
                "start": {"dateTime": at(local_nine, offset as i8, 0), "timeZone": "Europe/Berlin"},
                "end": {"dateTime": at(local_nine + Duration::hours(1), offset as i8, 0), "timeZone": "Europe/Berlin"},
            }));
            expected.push((format!("Berlin {days}"), utc(local_nine)));
        }
        let ny = day(2, 14);
        s.calendar.add_event("primary", json!({"summary": "New York", "start": {"dateTime": at(ny, -5, 0), "timeZone": "America/New_York"}, "end": {"dateTime": at(ny + Duration::hours(1), -5, 0), "timeZone": "America/New_York"}}));
        expected.push(("New York".into(), utc(ny)));
        let kolkata = day(2, 4) + Duration::minutes(30);
        s.calendar.add_event("primary", json!({"summary": "Kolkata", "start": {"dateTime": at(kolkata, 5, 30), "timeZone": "Asia/Kolkata"}, "end": {"dateTime": at(kolkata + Duration::minutes(45), 5, 30), "timeZone": "Asia/Kolkata"}}));
        expected.push(("Kolkata".into(), utc(kolkata)));
        configure(&s, &token, json!({"sync_direction": "import"})).await;
        assert_eq!(sync(&s, &token).await["imported"], 8);
        let list = entries(&s, &token).await;
        for (notes, start) in expected {
            let e = list.iter().find(|e| e["notes"] == notes.as_str()).unwrap_or_else(|| panic!("{notes}"));
            assert_eq!(e["start_time"], start.as_str(), "{notes}");
        }
        let berlin: Vec<&str> = list.iter().filter(|e| e["notes"].as_str().unwrap().starts_with("Berlin")).map(|e| &e["start_time"].as_str().unwrap()[11..]).collect();
        assert_eq!(berlin, ["08:00:00Z", "08:00:00Z", "08:00:00Z", "07:00:00Z", "07:00:00Z", "07:00:00Z"]);
    }

    async fn disconnecting_revokes_at_google_and_removes_the_integration(backend) {
        let s = setup(backend).await;
        let member = s.app.member(false, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&s, &member, "code-bye").await;
        let (status, reply) = send(s.app.post(&token, "/api/integrations/google/disconnect")).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["ok"], true, "{reply}");
        assert_eq!(reply["revoked"], true, "{reply}");
        assert_eq!(s.oauth.revoked().len(), 1);
        let (_, status) = send(s.app.get(&token, "/api/integrations/google/status")).await;
        assert_eq!(status["ok"], false);
        let (_, connections) = send(s.app.get(&token, "/api/v1/integration/oauth/connections")).await;
        assert_eq!(connections["connections"], json!([]));
    }

    async fn two_syncs_at_once_import_each_event_once(backend) {
        let s = setup(backend).await;
        let member = s.app.member(false, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&s, &member, "code-race").await;
        for h in [8, 10, 12, 14, 16] {
            s.calendar.add_event("primary", timed(&format!("Meeting {h}"), day(1, h), day(1, h) + Duration::minutes(45)));
        }
        configure(&s, &token, json!({"sync_direction": "import"})).await;
        let runs: Vec<_> = (0..3)
            .map(|_| {
                let request = s.app.post(&token, "/api/integrations/google/sync");
                tokio::spawn(async move { send(request).await })
            })
            .collect();
        let mut imported = 0;
        for run in runs {
            let (status, reply) = run.await.unwrap();
            assert_eq!(status, 200, "{reply}");
            assert_eq!(reply["ok"], true, "{reply}");
            imported += reply["counts"]["imported"].as_u64().unwrap();
        }
        assert_eq!(imported, 5, "each event imported by exactly one of the syncs");
        assert_eq!(entries(&s, &token).await.len(), 5);
    }

    async fn a_token_google_refuses_is_refreshed_once_and_a_dead_grant_asks_to_reconnect(backend) {
        let s = setup(backend).await;
        let member = s.app.member(false, timebridge::directory::Plan::Enterprise).await;
        let token = s.app.token(&member, SCOPES).await;
        s.oauth.add_refresh_token("1//0live");
        // An access token Google no longer takes, well before its stated expiry.
        let (status, body) = send(s.app.post(&token, "/api/v1/integration/oauth/connections").json(&json!({
            "oauth_app_id": "google", "access_token": "stale-token", "refresh_token": "1//0live", "expires_in": 3600
        }))).await;
        assert_eq!(status, 201, "{body}");
        configure(&s, &token, json!({"sync_direction": "import"})).await;
        s.calendar.add_event("primary", timed("Call", day(1, 9), day(1, 10)));
        assert_eq!(sync(&s, &token).await["imported"], 1);
        assert_eq!(s.oauth.refreshes(), 1);
        let bearers: Vec<String> = s.calendar.requests().iter().map(|r| r.bearer.clone()).collect();
        assert_eq!(bearers[0], "stale-token");
        assert!(bearers[1].starts_with("ya29."), "{bearers:?}");

        // The member revoked the grant at Google: the refresh is refused, and the sync says so.
        s.oauth.revoke_all();
        let (_, body) = send(s.app.post(&token, "/api/v1/integration/oauth/connections").json(&json!({
            "oauth_app_id": "google", "access_token": "stale-again", "refresh_token": "1//0revoked", "expires_in": 3600
        }))).await;
        assert_eq!(body["connection"]["status"], "active");
        let (status, reply) = send(s.app.post(&token, "/api/integrations/google/sync")).await;
        assert_eq!(status, 200);
        assert_eq!(reply["ok"], false, "{reply}");
        assert!(reply["error"].as_str().unwrap().contains("connect Google again"), "{reply}");
        let (_, connections) = send(s.app.get(&token, "/api/v1/integration/oauth/connections")).await;
        assert_eq!(connections["connections"][0]["status"], "needs_reauth", "{connections}");
    }
}
