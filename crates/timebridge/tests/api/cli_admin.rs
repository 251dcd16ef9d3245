//! The operator's commands: `user …`, `token list|revoke`, `workspace …`, `backup`.

use std::process::Output;

use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

use crate::{
    both,
    cli::{run, stderr, stdout},
    startup::ok,
    support::*,
};

/// Each line of stdout as JSON (what list commands print when piped).
fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7())
}

/// Creates a user and a token for them; returns the token's secret.
fn user_with_token(url: &str, email: &str, workspace: &str, admin: bool, scopes: &str) -> String {
    let mut args = vec![
        "user",
        "create",
        "--email",
        email,
        "--name",
        "Cli",
        "--workspace",
        workspace,
    ];
    if admin {
        args.push("--admin");
    }
    ok(run(url, &args, None));
    token_for(url, email, workspace, scopes)
}

fn token_for(url: &str, email: &str, workspace: &str, scopes: &str) -> String {
    let out = ok(run(
        url,
        &[
            "token",
            "create",
            "--email",
            email,
            "--name",
            "cli",
            "--scopes",
            scopes,
            "--workspace",
            workspace,
        ],
        None,
    ));
    stdout(&out).lines().last().unwrap().to_owned()
}

both! {
    async fn user_create_never_changes_the_plan_of_an_existing_workspace(backend) {
        let (url, _dir) = database(backend).await;
        let workspace = unique("acme");
        let ada = format!("{}@example.com", unique("ada"));
        ok(run(&url, &["user", "create", "--email", &ada, "--name", "Ada", "--admin", "--workspace", &workspace, "--plan", "pro"], None));

        let bob = format!("{}@example.com", unique("bob"));
        let out = run(&url, &["user", "create", "--email", &bob, "--name", "Bob", "--workspace", &workspace, "--plan", "enterprise"], None);
        assert!(!out.status.success(), "a different plan for an existing workspace is refused");
        assert!(stderr(&out).contains("workspace set-plan"), "{}", stderr(&out));
        let plan_of = |url: &str| {
            let out = ok(run(url, &["workspace", "list"], None));
            json_lines(&out).into_iter().find(|w| w["name"] == workspace.as_str()).expect("listed")["plan"].clone()
        };
        assert_eq!(plan_of(&url), "pro");
        // Joining with the same plan, or none, is fine.
        ok(run(&url, &["user", "create", "--email", &bob, "--name", "Bob", "--workspace", &workspace, "--plan", "pro"], None));

        // Changing a plan is its own command; the workspace's tokens get its budget.
        let secret = token_for(&url, &ada, &workspace, "read:projects");
        let out = ok(run(&url, &["workspace", "set-plan", &workspace, "enterprise"], None));
        assert!(stderr(&out).contains("pro → enterprise"), "{}", stderr(&out));
        assert_eq!(plan_of(&url), "enterprise");
        let listed = json_lines(&ok(run(&url, &["workspace", "list"], None)));
        let row = listed.iter().find(|w| w["name"] == workspace.as_str()).unwrap();
        assert_eq!((row["members"].clone(), row["admins"].clone()), (json!(2), json!(1)));
        let app = TestApp::on_database(&url, &[]).await;
        let response = app.get(&secret, "/api/v1/projects").send().await.unwrap();
        assert_eq!(response.headers()["ratelimit-limit"], "5000");
        let out = run(&url, &["workspace", "set-plan", &unique("nowhere"), "pro"], None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("Workspace not found"), "{}", stderr(&out));
    }

    async fn the_operator_manages_users_from_the_cli(backend) {
        let (url, _dir) = database(backend).await;
        let (home, side) = (unique("home"), unique("side"));
        let ada = format!("{}@example.com", unique("ada"));
        let bob = format!("{}@example.com", unique("bob"));
        let ada_token = user_with_token(&url, &ada, &home, true, "admin:all");
        let bob_home = user_with_token(&url, &bob, &home, false, "read:users");
        let app = TestApp::on_database(&url, &[("TIMEBRIDGE_TOKEN_CACHE_SECONDS", "0")]).await;
        let me = |token: &str| send(app.get(token, "/api/v1/users/me"));

        ok(run(&url, &["user", "deactivate", "--email", &bob], None));
        assert_eq!(me(&bob_home).await.0, 401);
        ok(run(&url, &["user", "reactivate", "--email", &bob], None));
        assert_eq!(me(&bob_home).await.0, 200);
        let out = run(&url, &["user", "set-role", "--email", &ada, "--role", "member"], None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("without an active admin"), "{}", stderr(&out));

        // Another workspace, created on a plan, where bob is admin.
        ok(run(&url, &["user", "add", "--email", &bob, "--workspace", &side, "--admin", "--plan", "pro"], None));
        let bob_side = token_for(&url, &bob, &side, "admin:all");
        let out = run(&url, &["user", "deactivate", "--email", &bob], None);
        assert!(!out.status.success(), "two workspaces: which one must be said");
        assert!(stderr(&out).contains("--workspace"), "{}", stderr(&out));
        let listed = json_lines(&ok(run(&url, &["user", "list", "--workspace", &side], None)));
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0]["email"].clone(), listed[0]["role"].clone()), (json!(bob), json!("admin")));

        // A new name and email reach every workspace the user is in.
        let (after_home, after_side) = (last_sequence(&app, &ada_token).await, last_sequence(&app, &bob_side).await);
        let robert = format!("{}@example.com", unique("robert"));
        ok(run(&url, &["user", "update", "--email", &bob, "--name", "Robert", "--new-email", &robert], None));
        for (token, after) in [(&ada_token, after_home), (&bob_side, after_side)] {
            let events = events_after(&app, token, after).await;
            let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
            assert_eq!(types, ["user.email_changed", "user.updated"]);
            assert_eq!(events[1]["data"]["name"], "Robert");
            assert_eq!(events[1]["actor"]["kind"], "system");
        }
        let shown: Value = serde_json::from_str(&stdout(&ok(run(&url, &["user", "show", "--email", &robert], None)))).unwrap();
        assert_eq!(shown["workspaces"].as_array().unwrap().len(), 2);
        assert_eq!(shown["tokens"].as_array().unwrap().len(), 2);

        ok(run(&url, &["user", "remove", "--email", &robert, "--workspace", &home], None));
        assert_eq!(me(&bob_home).await.0, 401);
        assert_eq!(me(&bob_side).await.0, 200);
        assert_eq!(types_after(&app, &ada_token, after_home).await.last().map(String::as_str), Some("user.removed"));
    }

    async fn the_operator_lists_and_revokes_tokens_without_seeing_secrets(backend) {
        let (url, _dir) = database(backend).await;
        let (one, two) = (unique("one"), unique("two"));
        let ada = format!("{}@example.com", unique("ada"));
        let eve = format!("{}@example.com", unique("eve"));
        let ada_secret = user_with_token(&url, &ada, &one, true, "read:projects");
        let eve_secret = user_with_token(&url, &eve, &two, true, "read:projects,read:tasks");

        let out = ok(run(&url, &["token", "list", "--email", &ada], None));
        let listed = json_lines(&out);
        assert_eq!(listed.len(), 1);
        let token = &listed[0];
        assert_eq!(token["prefix"], ada_secret[..11]);
        assert_eq!(token["user"], ada.as_str());
        assert_eq!(token["workspace"], one.as_str());
        assert_eq!(token["scopes"], json!(["read:projects"]));
        assert_eq!(token["status"], "active");
        assert!(token["expires_at"].is_string() && token["last_used_at"].is_null(), "{token}");
        let out = ok(run(&url, &["token", "list", "--workspace", &two], None));
        assert_eq!(json_lines(&out).len(), 1);
        assert_eq!(json_lines(&out)[0]["user"], eve.as_str());
        let everything = stdout(&ok(run(&url, &["token", "list"], None)));
        for secret in [&ada_secret, &eve_secret] {
            assert!(!everything.contains(&secret[11..]), "never a secret");
        }
        assert!(!everything.contains("token_hash") && !everything.contains("hash"), "never a hash");

        let app = TestApp::on_database(&url, &[]).await;
        assert_eq!(send(app.get(&ada_secret, "/api/v1/projects")).await.0, 200);
        let id = token["id"].as_str().unwrap();
        ok(run(&url, &["token", "revoke", id], None));
        let fresh = TestApp::on_database(&url, &[]).await;
        let (status, body) = send(fresh.get(&ada_secret, "/api/v1/projects")).await;
        assert_eq!(status, 401, "{body}");
        let listed = json_lines(&ok(run(&url, &["token", "list", "--email", &ada], None)));
        assert_eq!(listed[0]["status"], "revoked");
        assert!(listed[0]["revoked_at"].is_string());
        assert_eq!(send(fresh.get(&eve_secret, "/api/v1/projects")).await.0, 200);
        let out = run(&url, &["token", "revoke", &uuid::Uuid::now_v7().to_string()], None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
    }

}

async fn last_sequence(app: &TestApp, admin_token: &str) -> i64 {
    events_after(app, admin_token, 0)
        .await
        .last()
        .and_then(|e| e["sequence"].as_i64())
        .unwrap_or(0)
}

async fn types_after(app: &TestApp, admin_token: &str, after: i64) -> Vec<String> {
    events_after(app, admin_token, after)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A backup taken while the server takes writes is a consistent database holding what was
/// committed before it began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_the_sqlite_database_while_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("live.db").display());
    let app = TestApp::on_database(&url, &[]).await;
    let (_, token) = app.caller(true, &["write:projects"]).await;
    let (status, _) = send(
        app.post(&token, "/api/v1/projects")
            .json(&json!({"name": "Before the backup"})),
    )
    .await;
    assert_eq!(status, 201);

    let writer = {
        let (client, base, token) = (app.client.clone(), app.base.clone(), token.clone());
        tokio::spawn(async move {
            for n in 0..200 {
                let _ = client
                    .post(format!("{base}/api/v1/projects"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("During {n}")}))
                    .send()
                    .await;
            }
        })
    };
    let backup = dir.path().join("copy.db");
    let out = tokio::task::spawn_blocking({
        let (url, backup) = (url.clone(), backup.clone());
        move || run(&url, &["backup", backup.to_str().unwrap()], None)
    })
    .await
    .unwrap();
    writer.await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value =
        serde_json::from_str(stdout(&out).trim()).expect("one JSON line when piped");
    assert_eq!(summary["backup"], backup.display().to_string());

    let copy = Database::connect(format!("sqlite://{}?mode=ro", backup.display()))
        .await
        .unwrap();
    let check = copy
        .query_one_raw(Statement::from_string(
            copy.get_database_backend(),
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(check.try_get_by_index::<String>(0).unwrap(), "ok");
    let found = copy
        .query_one_raw(Statement::from_string(
            copy.get_database_backend(),
            "SELECT COUNT(*) FROM projects WHERE name = 'Before the backup'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.try_get_by_index::<i64>(0).unwrap(), 1);

    let again = run(&url, &["backup", backup.to_str().unwrap()], None);
    assert!(
        !again.status.success(),
        "an existing file is never overwritten"
    );
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn backup_on_postgres_gives_the_pg_dump_command() {
    let out = run(&postgres_url(), &["backup", "timebridge.dump"], None);
    assert!(!out.status.success(), "nothing was backed up");
    let text = stderr(&out);
    assert!(
        text.contains(&format!(
            "pg_dump --format=custom --file='timebridge.dump' '{}'",
            postgres_url()
        )),
        "{text}"
    );
    assert!(text.contains("pg_restore"), "{text}");
}
