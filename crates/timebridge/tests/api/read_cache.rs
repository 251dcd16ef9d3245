//! The read cache never serves data older than the last write a client could have seen: on the
//! instance that wrote, on another instance sharing PostgreSQL, and after another process
//! wrote to the SQLite file.

use serde_json::{Value, json};

use crate::{both, cli, support::*};

const RW: &[&str] = &["read:projects", "write:projects"];

fn names(list: &Value) -> Vec<String> {
    list["projects"]
        .as_array()
        .expect("a project list")
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

both! {
    async fn every_write_shows_in_the_very_next_read(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        let (_, empty) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(empty["pagination"]["total"], 0);

        let (status, created) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "First"}))).await;
        assert_eq!(status, 201);
        let id = created["project"]["id"].as_str().unwrap().to_owned();
        let (_, list) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(names(&list), ["First"]);
        let (_, one) = send(app.get(&token, &format!("/api/v1/projects/{id}"))).await;
        assert_eq!(one["project"]["name"], "First");

        send(app.patch(&token, &format!("/api/v1/projects/{id}")).json(&json!({"name": "Renamed"}))).await;
        let (_, list) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(names(&list), ["Renamed"]);
        let (_, one) = send(app.get(&token, &format!("/api/v1/projects/{id}"))).await;
        assert_eq!(one["project"]["name"], "Renamed");

        send(app.delete(&token, &format!("/api/v1/projects/{id}"))).await;
        let (_, active) = send(app.get(&token, "/api/v1/projects?status=active")).await;
        assert_eq!(active["pagination"]["total"], 0);
    }

    async fn a_failed_write_changes_nothing_that_is_read(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, RW).await;
        send(app.post(&token, "/api/v1/projects").json(&json!({"name": "Kept", "hourly_rate": 10}))).await;
        let (_, before) = send(app.get(&token, "/api/v1/projects")).await;
        let id = before["projects"][0]["id"].as_str().unwrap().to_owned();
        let (status, _) = send(app.patch(&token, &format!("/api/v1/projects/{id}")).json(&json!({"name": "", "hourly_rate": -1}))).await;
        assert_eq!(status, 400);
        let (_, after) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(after, before);
    }

    async fn workspaces_never_see_each_others_cached_pages(backend) {
        let app = TestApp::start(backend).await;
        let (_, mine) = app.caller(false, RW).await;
        let (_, theirs) = app.caller(false, RW).await;
        send(app.post(&mine, "/api/v1/projects").json(&json!({"name": "Mine"}))).await;
        let (_, a) = send(app.get(&mine, "/api/v1/projects")).await;
        let (_, b) = send(app.get(&theirs, "/api/v1/projects")).await;
        assert_eq!(names(&a), ["Mine"]);
        assert!(names(&b).is_empty());
    }

    async fn with_the_cache_off_reads_still_follow_writes(backend) {
        let app = TestApp::with_env(backend, &[("TIMEBRIDGE_READ_CACHE_MB", "0")]).await;
        let (_, token) = app.caller(false, RW).await;
        send(app.get(&token, "/api/v1/projects")).await;
        send(app.post(&token, "/api/v1/projects").json(&json!({"name": "Uncached"}))).await;
        let (_, list) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(names(&list), ["Uncached"]);
    }
}

/// Instances confirm the version on every read, so a write on one is seen by the next read on
/// any other: no window in which a load balancer could hand out an older page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_postgres_instance_is_read_at_once_on_another() {
    let (url, _) = database(Backend::Postgres).await;
    let a = TestApp::on_database(&url, &[]).await;
    let b = TestApp::on_database(&url, &[]).await;
    let (_, token) = a.caller(false, RW).await;
    for n in 0..5 {
        // B caches the list, A writes, B must answer with the write.
        let (_, before) = send(b.get(&token, "/api/v1/projects?per_page=100")).await;
        assert_eq!(before["pagination"]["total"], n);
        let (status, _) = send(
            a.post(&token, "/api/v1/projects")
                .json(&json!({"name": format!("P{n}")})),
        )
        .await;
        assert_eq!(status, 201);
        let (_, after) = send(b.get(&token, "/api/v1/projects?per_page=100")).await;
        assert_eq!(
            after["pagination"]["total"],
            n + 1,
            "instance B served a stale page"
        );
    }
}

/// Another process writing to the same SQLite file (here the real `timebridge user create`)
/// is noticed by the server's once-a-second version refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_write_to_the_sqlite_file_reaches_the_running_server() {
    let (url, _dir) = database(Backend::Sqlite).await;
    let app = TestApp::on_database(&url, &[]).await;
    let workspace = format!("ws-{}", uuid::Uuid::now_v7());
    let admin = app.member_in(&workspace, true, None).await;
    let token = app.token(&admin, &["admin:all"]).await;
    let (_, before) = send(app.get(&token, "/api/v1/users")).await;
    assert_eq!(before["pagination"]["total"], 1);

    let out = cli::run(
        &url,
        &[
            "user",
            "create",
            "--email",
            "late@example.com",
            "--name",
            "Late",
            "--workspace",
            &workspace,
        ],
        None,
    );
    assert!(out.status.success(), "{}", cli::stderr(&out));
    eventually(|| async {
        let (_, after) = send(app.get(&token, "/api/v1/users")).await;
        (after["pagination"]["total"] == 2).then_some(())
    })
    .await;
}
