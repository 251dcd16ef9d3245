//! `POST /api/v1/time-entries/import-csv` at scale and at its edges: the import's own body
//! limit, a year of a team's entries in one request, re-imports, day-first and month-first
//! dates, offsets written with `+`, and the validation body of a refused file.

use std::time::Instant;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{both, support::*};

const MEMBER: &[&str] = &["read:time_entries", "write:time_entries", "read:projects"];
const IMPORT: &str = "/api/v1/time-entries/import-csv";

fn multipart(csv: impl Into<Vec<u8>>) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::bytes(csv.into()).file_name("entries.csv");
    reqwest::multipart::Form::new().part("file", part)
}

async fn import(app: &TestApp, token: &str, query: &str, csv: &str) -> (u16, Value) {
    send(
        app.post(token, &format!("{IMPORT}{query}"))
            .header("content-type", "text/csv")
            .body(csv.to_owned()),
    )
    .await
}

/// `rows` finished entries in our columns, five minutes apart from 2025-01-01, over ten
/// projects and a few tags.
fn our_rows(rows: usize) -> String {
    let mut csv = String::from("project,start_time,end_time,notes,tags,billable\n");
    let origin = time::macros::datetime!(2025-01-01 00:00 UTC);
    let fmt = time::format_description::well_known::Rfc3339;
    for i in 0..rows {
        let start = origin + time::Duration::minutes(5 * i as i64);
        let end = start + time::Duration::minutes(4);
        csv.push_str(&format!(
            "Project {},{},{},Work item {i} for the client,\"tag{}, review\",{}\n",
            i % 10,
            start.format(&fmt).unwrap(),
            end.format(&fmt).unwrap(),
            i % 7,
            if i % 3 == 0 { "no" } else { "yes" },
        ));
    }
    csv
}

fn clockify(rows: &[(&str, &str)]) -> String {
    let mut csv = String::from(
        "Project,Client,Description,Task,User,Email,Tags,Billable,Start Date,Start Time,End Date,End Time,Duration (h),Duration (decimal)\n",
    );
    for (i, (day, notes)) in rows.iter().enumerate() {
        csv.push_str(&format!(
            "Site,Acme,{notes},,Ada,ada@example.com,,Yes,{day},0{}:00:00 AM,{day},0{}:30:00 AM,00:30:00,0.50\n",
            i % 9 + 1,
            i % 9 + 1
        ));
    }
    csv
}

fn starts(list: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = list["time_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["notes"].as_str().unwrap_or_default().to_owned(),
                e["start_time"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

both! {
    async fn an_import_over_its_body_limit_is_a_json_413_and_under_it_imports(backend) {
        let app = TestApp::with_env(backend, &[("MAX_REQUEST_BODY_KB", "64"), ("IMPORT_MAX_BODY_MB", "1")]).await;
        let (_, token) = app.caller(false, MEMBER).await;
        // Larger than the API's general limit, well within the import's own.
        let medium = our_rows(2_000);
        assert!(medium.len() > 64 * 1024 && medium.len() < 1024 * 1024);
        let (status, body) = send(app.post(&token, IMPORT).multipart(multipart(medium))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["created"], 2000);

        let large = our_rows(20_000);
        assert!(large.len() > 1024 * 1024);
        let (status, body) = send(app.post(&token, IMPORT).multipart(multipart(large.clone()))).await;
        assert_eq!(status, 413, "{body}");
        assert_eq!(body["error_code"], "payload_too_large");
        assert_eq!(body["limit_bytes"], 1024 * 1024);
        let (status, body) = import(&app, &token, "", &large).await;
        assert_eq!(status, 413, "{body}");
        assert_eq!(body["error_code"], "payload_too_large");
        let (_, list) = send(app.get(&token, "/api/v1/time-entries?per_page=1")).await;
        assert_eq!(list["pagination"]["total"], 2000, "nothing of the refused files was imported");
    }

    async fn a_year_of_a_teams_entries_imports_in_one_request(backend) {
        let app = TestApp::start(backend).await;
        let (member, token) = app.caller(false, MEMBER).await;
        let rows = 100_000;
        let csv = our_rows(rows);
        let started = Instant::now();
        let (status, body) = send(app.post(&token, IMPORT).multipart(multipart(csv))).await;
        let took = started.elapsed();
        eprintln!("{backend:?}: imported {rows} rows in {took:?}");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["created"], rows);
        assert_eq!(body["failed"], 0);
        let (_, list) = send(app.get(&token, "/api/v1/time-entries?per_page=2")).await;
        assert_eq!(list["pagination"]["total"], rows);
        let newest = &list["time_entries"][0];
        assert_eq!(newest["notes"], format!("Work item {} for the client", rows - 1));
        assert_eq!(newest["duration_seconds"], 240);
        assert_eq!(newest["tag_list"], json!(["review", format!("tag{}", (rows - 1) % 7)]));
        let (_, projects) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(projects["pagination"]["total"], 10);
        // One event per entry, as for any other import.
        use timebridge::platform::outbox::event;
        let created = event::Entity::find()
            .filter(event::Column::WorkspaceId.eq(member.workspace.id))
            .filter(event::Column::EventType.eq("time_entry.created"))
            .count(&*app.db)
            .await
            .unwrap();
        assert_eq!(created, rows as u64);
    }

    async fn reimporting_a_file_skips_the_entries_it_already_made(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, MEMBER).await;
        let toggl = include_bytes!("../fixtures/toggl_detailed.csv").to_vec();
        let query = "?utc_offset=%2B01:00";
        let (status, first) = send(app.post(&token, &format!("{IMPORT}{query}")).multipart(multipart(toggl.clone()))).await;
        assert_eq!(status, 200, "{first}");
        assert_eq!((first["created"].clone(), first["skipped"].clone()), (json!(6), json!(0)));

        let (status, again) = send(app.post(&token, &format!("{IMPORT}{query}")).multipart(multipart(toggl.clone()))).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!((again["created"].clone(), again["skipped"].clone()), (json!(0), json!(6)), "{again}");
        let skipped = again["skipped_rows"].as_array().unwrap();
        assert_eq!(skipped.iter().map(|s| s["row"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 3, 4, 5, 6, 7]);
        assert!(skipped.iter().all(|s| s["duplicate_of"].is_string()), "{again}");
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(list["pagination"]["total"], 6);
        // The skipped rows point at the entries they repeat.
        let ids: Vec<_> = list["time_entries"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
        assert!(skipped.iter().all(|s| ids.contains(&s["duplicate_of"])));

        // ?duplicates=allow keeps the old behaviour.
        let (status, allowed) = send(app.post(&token, &format!("{IMPORT}{query}&duplicates=allow")).multipart(multipart(toggl))).await;
        assert_eq!(status, 200, "{allowed}");
        assert_eq!((allowed["created"].clone(), allowed["skipped"].clone()), (json!(6), json!(0)));
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(list["pagination"]["total"], 12);
        let (status, body) = import(&app, &token, "?duplicates=maybe", "start_time,end_time\n2026-03-02T09:00:00Z,2026-03-02T10:00:00Z\n").await;
        assert_eq!(status, 400);
        assert!(body["errors"]["duplicates"].is_array(), "{body}");
    }

    async fn a_row_repeated_within_a_file_is_imported_once(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, MEMBER).await;
        let csv = "project,start_time,end_time,notes\n\
            Site,2026-03-02T09:00:00Z,2026-03-02T10:00:00Z,Standup\n\
            Site,2026-03-02T09:00:00Z,2026-03-02T10:00:00Z,Another note\n\
            site,2026-03-02T09:00:00Z,2026-03-02T10:00:00Z,Standup\n";
        let (status, body) = import(&app, &token, "", csv).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((body["created"].clone(), body["skipped"].clone()), (json!(2), json!(1)));
        assert_eq!(body["skipped_rows"], json!([{"row": 4, "duplicate_of": null, "same_as_row": 2}]));
    }

    async fn clockify_dates_are_read_in_the_order_the_file_shows(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, MEMBER).await;
        // 25/11 can only be day-first, so 03/11 is the 3rd of November.
        let day_first = clockify(&[("03/11/2026", "Third"), ("25/11/2026", "Twenty-fifth")]);
        let (status, body) = import(&app, &token, "", &day_first).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["date_format"], "DD/MM/YYYY");
        assert_eq!(body["format"], "clockify");
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(starts(&list), [
            ("Third".to_owned(), "2026-11-03T01:00:00Z".to_owned()),
            ("Twenty-fifth".to_owned(), "2026-11-25T02:00:00Z".to_owned()),
        ]);

        let (_, other) = app.caller(false, MEMBER).await;
        let month_first = clockify(&[("03/11/2026", "Eleventh"), ("11/25/2026", "Twenty-fifth")]);
        let (status, body) = import(&app, &other, "", &month_first).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["date_format"], "MM/DD/YYYY");
        let (_, list) = send(app.get(&other, "/api/v1/time-entries")).await;
        assert_eq!(starts(&list)[0], ("Eleventh".to_owned(), "2026-03-11T01:00:00Z".to_owned()));
    }

    async fn an_ambiguous_date_order_is_refused_until_the_caller_chooses(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, MEMBER).await;
        let ambiguous = clockify(&[("03/11/2026", "Which day?"), ("04/11/2026", "And this one?")]);
        let (status, body) = import(&app, &token, "", &ambiguous).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error_code"], "validation_error");
        let message = body["errors"]["date_format"][0].as_str().unwrap();
        assert!(message.contains("03/11/2026") && message.contains("date_format=DD/MM/YYYY") && message.contains("date_format=MM/DD/YYYY"), "{message}");
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(list["pagination"]["total"], 0);

        let (status, body) = import(&app, &token, "?date_format=DD/MM/YYYY", &ambiguous).await;
        assert_eq!(status, 200, "{body}");
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(starts(&list)[1], ("Which day?".to_owned(), "2026-11-03T01:00:00Z".to_owned()));

        // A file that uses both orders, an unknown format, and a date the chosen order cannot read.
        let mixed = clockify(&[("25/11/2026", "Day first"), ("11/25/2026", "Month first")]);
        let (status, body) = import(&app, &token, "", &mixed).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["date_format"][0].as_str().unwrap().contains("both"), "{body}");
        let (status, body) = import(&app, &token, "?date_format=YYYY", &ambiguous).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["date_format"].is_array(), "{body}");
        let (status, body) = import(&app, &token, "?date_format=MM/DD/YYYY", &clockify(&[("25/11/2026", "Bad")])).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["row_errors"][0]["column"], "start_date", "{body}");
    }

    async fn a_utc_offset_with_a_plus_sign_is_read_as_written(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, MEMBER).await;
        let csv = "start_time,end_time,notes\n2026-03-02 09:00,2026-03-02 10:00,Local morning\n";
        // `+` unencoded in a query string, as people type it.
        let (status, body) = import(&app, &token, "?utc_offset=+02:00", csv).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = import(&app, &token, "?utc_offset=-05:30&duplicates=allow", csv).await;
        assert_eq!(status, 200, "{body}");
        let (_, list) = send(app.get(&token, "/api/v1/time-entries")).await;
        let mut times: Vec<_> = list["time_entries"].as_array().unwrap().iter().map(|e| e["start_time"].as_str().unwrap().to_owned()).collect();
        times.sort();
        assert_eq!(times, ["2026-03-02T07:00:00Z", "2026-03-02T14:30:00Z"]);
        let (status, body) = import(&app, &token, "?utc_offset=2", csv).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["utc_offset"].is_array(), "{body}");
    }

    async fn a_refused_file_answers_the_standard_validation_body_with_its_rows(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, MEMBER).await;
        let csv = "project,start_time,end_time\n\
            Site,2026-03-02T09:00:00Z,2026-03-02T10:00:00Z\n\
            Site,2026-03-02T12:00:00Z,2026-03-02T11:00:00Z\n\
            Site,noon,2026-03-02T11:00:00Z\n";
        let (status, body) = import(&app, &token, "", csv).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "Validation failed");
        assert_eq!(body["error_code"], "validation_error");
        assert!(body["message"].as_str().unwrap().contains("row 3"), "{body}");
        assert_eq!(body["errors"]["end_time"], json!(["row 3: must be after the start"]));
        assert!(body["errors"]["start_time"][0].as_str().unwrap().starts_with("row 4: "), "{body}");
        assert_eq!(body["row_errors"][0], json!({"row": 3, "column": "end_time", "error": "must be after the start"}));
        assert_eq!((body["created"].clone(), body["failed"].clone()), (json!(0), json!(2)));
    }
}
