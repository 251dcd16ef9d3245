//! Add-ons on both databases: the catalog (a manifest refused with every problem, or
//! registered), installing (pending until the add-on acknowledges its signed INSTALLED call,
//! a failed call recorded and retried), settings and status changes told to the add-on, the
//! per-workspace limit, and uninstalling.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    both,
    receiver::Receiver,
    support::*,
    webhooks::{WEBHOOK_ENV, admin_token},
};

/// A manifest whose add-on is the receiver.
fn manifest(key: &str, receiver: &Receiver) -> Value {
    json!({
        "schemaVersion": "1.3",
        "key": key,
        "name": format!("Add-on {key}"),
        "description": "Sends approved time to accounting.",
        "baseUrl": format!("http://{}", receiver.addr),
        "scopes": ["read:time_entries", "read:projects"],
        "lifecycle": [
            {"type": "INSTALLED", "path": "/lifecycle/installed"},
            {"type": "DELETED", "path": "/lifecycle/deleted"},
            {"type": "SETTINGS_UPDATED", "path": "/lifecycle/settings"},
            {"type": "STATUS_CHANGED", "path": "/lifecycle/status"},
        ],
        "webhooks": [{"event": "time_entry.created", "path": "/webhooks/time-entry"}],
        "settings": {"tabs": [{"id": "general", "name": "General", "settings": [
            {"id": "rounding", "name": "Round to minutes", "type": "NUMBER", "value": 15},
            {"id": "mode", "name": "Mode", "type": "DROPDOWN_SINGLE", "allowedValues": ["daily", "weekly"], "value": "daily"},
        ]}]},
    })
}

async fn register(app: &TestApp, manifest: &Value) -> Value {
    let (row, _) = timebridge::addons::catalog::register(
        &app.db,
        &app.state.config,
        manifest.to_string().as_bytes(),
        "test",
    )
    .await
    .expect("registered");
    json!({"id": row.id, "key": row.key})
}

/// Verifies a call's `X-Timebridge-Signature` against the published keys; answers its claims.
async fn verified(app: &TestApp, call: &crate::receiver::Received, audience: &str) -> Value {
    let token = call.header("x-timebridge-signature");
    let header = jsonwebtoken::decode_header(&token).expect("a JWT");
    let (_, jwks) = send(app.client.get(app.url("/.well-known/jwks.json"))).await;
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header.kid.clone().unwrap().as_str())
        .expect("its key is published");
    let decoding =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    let claims = jsonwebtoken::decode::<Value>(&token, &decoding, &validation)
        .expect("a valid signature")
        .claims;
    let hash: String = Sha256::digest(call.body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        claims["body_sha256"], hash,
        "the token covers this very body"
    );
    claims
}

async fn installation(app: &TestApp, token: &str, key: &str) -> Value {
    let (_, plugin) = send(app.get(token, &format!("/api/v1/integration/plugins/{key}"))).await;
    plugin["installation"].clone()
}

both! {
    async fn a_manifest_is_refused_with_every_problem_at_once(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let receiver = Receiver::start().await;
        let mut bad = manifest("Bad Key", &receiver);
        bad["scopes"] = json!(["read:time_entries", "read:nothing", "admin:all"]);
        bad["lifecycle"] = json!([{"type": "INSTALLED", "path": "/a"}, {"type": "INSTALLED", "path": "/../b"}]);
        bad["webhooks"] = json!([{"event": "time_entry.exploded", "path": "/w"}]);
        let refused = timebridge::addons::catalog::register(&app.db, &app.state.config, bad.to_string().as_bytes(), "test").await.unwrap_err();
        let timebridge::platform::error::ApiError::Validation(errors) = refused else { panic!("a 400") };
        for path in ["key", "scopes[1]", "scopes[2]", "lifecycle[1].type", "lifecycle[1].path", "webhooks[0].event"] {
            assert!(errors.has(path), "{path}: {}", errors.summary());
        }
        // A private base URL is refused where webhooks may not reach private addresses.
        let strict = TestApp::private(backend, &[]).await;
        let refused = timebridge::addons::catalog::register(&strict.db, &strict.state.config, manifest("local", &receiver).to_string().as_bytes(), "test").await.unwrap_err();
        let timebridge::platform::error::ApiError::Validation(errors) = refused else { panic!("a 400") };
        assert!(errors.has("baseUrl"), "{}", errors.summary());
    }

    async fn installing_calls_the_add_on_signed_and_waits_for_its_acknowledgement(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let receiver = Receiver::start().await;
        let owner = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let admin = app.token(&owner, &["admin:all"]).await;
        register(&app, &manifest("invoice-sync", &receiver)).await;
        let (status, catalog) = send(app.get(&admin, "/api/v1/integration/plugins")).await;
        assert_eq!(status, 200, "{catalog}");
        let listed = &catalog["plugins"][0];
        assert_eq!(listed["scopes"], json!(["read:time_entries", "read:projects"]));
        assert_eq!(listed["events"], json!(["time_entry.created"]));
        assert!(listed["installation"].is_null());

        // A setting of the wrong kind is named.
        let (status, body) = send(app.post(&admin, "/api/v1/integration/plugins/invoice-sync/install").json(&json!({"configuration": {"rounding": "a lot", "mode": "hourly"}}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["configuration.rounding"].is_array() && body["errors"]["configuration.mode"].is_array(), "{body}");

        // The add-on fails its first INSTALLED call: recorded, still pending, tried again.
        receiver.answer(&[503]);
        let (status, made) = send(app.post(&admin, "/api/v1/integration/plugins/invoice-sync/install").json(&json!({"configuration": {"mode": "weekly"}}))).await;
        assert_eq!(status, 202, "{made}");
        assert_eq!(made["status"], "pending");
        assert_eq!(made["configuration"], json!({"rounding": 15, "mode": "weekly"}));
        let calls = receiver.wait_for(1, 10).await;
        assert_eq!(calls[0].path, "/lifecycle/installed");
        let failed = eventually(|| async {
            let i = installation(&app, &admin, "invoice-sync").await;
            i["error"].as_str().is_some().then_some(i)
        }).await;
        assert_eq!(failed["status"], "pending");
        assert!(failed["error"].as_str().unwrap().contains("503"), "{failed}");
        let (status, again) = send(app.post(&admin, "/api/v1/integration/plugins/invoice-sync/install").json(&json!({}))).await;
        assert_eq!(status, 409, "installed once: {again}");
        retry_now(&app).await;
        let calls = receiver.wait_for(2, 10).await;
        let active = eventually(|| async {
            let i = installation(&app, &admin, "invoice-sync").await;
            (i["status"] == "active").then_some(i)
        }).await;
        assert!(active["error"].is_null(), "{active}");

        // The call is signed with a published key, for this add-on and installation.
        let body = calls[1].json();
        let claims = verified(&app, &calls[1], "invoice-sync").await;
        assert_eq!(claims["sub"], made["id"]);
        assert_eq!(claims["workspace_id"], body["workspace_id"]);
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
        assert_eq!(body["installation_id"], made["id"]);
        assert_eq!(body["settings"], json!({"rounding": 15, "mode": "weekly"}));
        assert!(body["api_base_url"].as_str().unwrap().ends_with("/api/v1"), "{body}");
        assert_eq!(calls[1].header("x-timebridge-lifecycle"), "INSTALLED");

        // Settings and status changes are told; uninstalling too.
        let (status, changed) = send(app.patch(&admin, "/api/v1/integration/plugins/invoice-sync/config").json(&json!({"configuration": {"rounding": 6}, "enabled": false}))).await;
        assert_eq!(status, 200, "{changed}");
        assert_eq!(changed["configuration"], json!({"rounding": 6, "mode": "weekly"}));
        let calls = receiver.wait_for(4, 10).await;
        let settings = calls.iter().find(|c| c.path == "/lifecycle/settings").expect("SETTINGS_UPDATED");
        assert_eq!(settings.json()["settings"]["rounding"], 6);
        let status_call = calls.iter().find(|c| c.path == "/lifecycle/status").expect("STATUS_CHANGED");
        assert_eq!(status_call.json()["status"], "INACTIVE");
        verified(&app, status_call, "invoice-sync").await;

        let member = app.member_in(&owner.workspace.name, false, None).await;
        let member_token = app.token(&member, &["write:plugins", "read:plugins"]).await;
        let (status, _) = send(app.delete(&member_token, "/api/v1/integration/plugins/invoice-sync/uninstall")).await;
        assert_eq!(status, 403, "only admins uninstall");
        let (status, gone) = send(app.delete(&admin, "/api/v1/integration/plugins/invoice-sync/uninstall")).await;
        assert_eq!(status, 200, "{gone}");
        assert_eq!(gone["status"], "uninstalled");
        let calls = receiver.wait_for(5, 10).await;
        assert!(calls.iter().any(|c| c.path == "/lifecycle/deleted"));
        let (_, installed) = send(app.get(&admin, "/api/v1/integration/plugins/installed")).await;
        assert_eq!(installed["installations"], json!([]));
        // Installing again is a new installation.
        let (status, fresh) = send(app.post(&admin, "/api/v1/integration/plugins/invoice-sync/install").json(&json!({}))).await;
        assert_eq!(status, 202, "{fresh}");
        assert_ne!(fresh["id"], made["id"]);
    }

    async fn a_workspace_installs_at_most_its_limit(backend) {
        let mut env = WEBHOOK_ENV.to_vec();
        env.push(("PLUGIN_MAX_INSTALLABLE_PER_WORKSPACE", "2"));
        let app = TestApp::private(backend, &env).await;
        let receiver = Receiver::start().await;
        let admin = admin_token(&app).await;
        for key in ["one", "two", "three"] {
            register(&app, &manifest(key, &receiver)).await;
        }
        for key in ["one", "two"] {
            let (status, _) = send(app.post(&admin, &format!("/api/v1/integration/plugins/{key}/install")).json(&json!({}))).await;
            assert_eq!(status, 202);
        }
        let (status, body) = send(app.post(&admin, "/api/v1/integration/plugins/three/install").json(&json!({}))).await;
        assert_eq!(status, 409, "{body}");
        assert!(body["message"].as_str().unwrap().contains("PLUGIN_MAX_INSTALLABLE_PER_WORKSPACE"), "{body}");
        // Another workspace has its own limit.
        let other = admin_token(&app).await;
        let (status, _) = send(app.post(&other, "/api/v1/integration/plugins/three/install").json(&json!({}))).await;
        assert_eq!(status, 202);
    }

    async fn operators_register_add_ons_through_the_api_and_the_cli(backend) {
        let (url, _dir) = private_database(backend).await;
        let receiver = Receiver::start().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("manifest.json");
        std::fs::write(&file, manifest("from-file", &receiver).to_string()).unwrap();
        // The operator's command line: a file; a refused manifest prints every problem.
        let out = crate::cli::run_with(&url, &["addon", "register", file.to_str().unwrap()], WEBHOOK_ENV);
        assert!(out.status.success(), "{}", crate::cli::stderr(&out));
        assert!(crate::cli::stderr(&out).contains("registered from-file"), "{}", crate::cli::stderr(&out));
        let mut bad = manifest("bad", &receiver);
        bad["scopes"] = json!(["admin:all"]);
        bad["webhooks"] = json!([{"event": "nothing.happened", "path": "/w"}]);
        std::fs::write(&file, bad.to_string()).unwrap();
        let out = crate::cli::run_with(&url, &["addon", "register", file.to_str().unwrap()], WEBHOOK_ENV);
        assert!(!out.status.success());
        let said = crate::cli::stderr(&out);
        assert!(said.contains("scopes[0]") && said.contains("webhooks[0].event"), "{said}");
        let out = crate::cli::run_with(&url, &["addon", "list"], WEBHOOK_ENV);
        assert!(crate::cli::stdout(&out).contains("from-file"), "{}", crate::cli::stdout(&out));

        // The API: only the operators named in TIMEBRIDGE_OPERATORS.
        let mut env = WEBHOOK_ENV.to_vec();
        env.push(("TIMEBRIDGE_OPERATORS", "Ops@Example.com, other@example.com"));
        let app = TestApp::private(backend, &env).await;
        let operator = timebridge::directory::service::create_user(&app.db, timebridge::directory::NewUser {
            email: "ops@example.com".into(),
            name: "Operator".into(),
            password: None,
            admin: true,
            workspace: "ops".into(),
            plan: Some(timebridge::directory::Plan::Enterprise),
        }).await.unwrap();
        let ops = app.token(&operator, &["admin:all"]).await;
        let admin = admin_token(&app).await;
        let body = json!({"manifest": manifest("via-api", &receiver)});
        let (status, refused) = send(app.post(&admin, "/api/v1/integration/plugins").json(&body)).await;
        assert_eq!(status, 403, "a workspace admin is not an operator: {refused}");
        let (status, made) = send(app.post(&ops, "/api/v1/integration/plugins").json(&body)).await;
        assert_eq!(status, 201, "{made}");
        assert_eq!(made["key"], "via-api");
        let (status, again) = send(app.post(&ops, "/api/v1/integration/plugins").json(&body)).await;
        assert_eq!((status, again["id"].clone()), (200, made["id"].clone()), "a new version of the same add-on");
        let (status, problems) = send(app.post(&ops, "/api/v1/integration/plugins").json(&json!({"manifest": bad}))).await;
        assert_eq!(status, 400);
        assert!(problems["errors"]["scopes[0]"].is_array() && problems["errors"]["webhooks[0].event"].is_array(), "{problems}");
        // By URL: fetched under the outbound rules (the receiver answers no manifest here).
        let (status, fetched) = send(app.post(&ops, "/api/v1/integration/plugins").json(&json!({"manifest_url": receiver.url()}))).await;
        assert_eq!(status, 400, "{fetched}");
    }

    async fn an_add_on_trades_a_signed_call_for_a_scoped_hour_long_token(backend) {
        let mut env = WEBHOOK_ENV.to_vec();
        env.push(("TIMEBRIDGE_TOKEN_CACHE_SECONDS", "0"));
        let app = TestApp::private(backend, &env).await;
        let receiver = Receiver::start().await;
        let owner = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let admin = app.token(&owner, &["admin:all"]).await;
        let (_, ours) = send(app.post(&admin, "/api/v1/projects").json(&json!({"name": "Ours"}))).await;
        let theirs_admin = admin_token(&app).await;
        let (_, theirs) = send(app.post(&theirs_admin, "/api/v1/projects").json(&json!({"name": "Theirs"}))).await;
        register(&app, &manifest("reporter", &receiver)).await;
        send(app.post(&admin, "/api/v1/integration/plugins/reporter/install").json(&json!({}))).await;
        let installed = receiver.wait_for(1, 10).await;
        let assertion = installed[0].header("x-timebridge-signature");
        let exchange = |assertion: &str| send(app.client.post(app.url("/api/v1/integration/plugins/token")).json(&json!({"assertion": assertion})));

        let (status, granted) = exchange(&assertion).await;
        assert_eq!(status, 200, "{granted}");
        assert_eq!((granted["token_type"].clone(), granted["expires_in"].clone()), (json!("Bearer"), json!(3600)));
        let token = granted["access_token"].as_str().unwrap().to_owned();
        let mut scopes: Vec<&str> = granted["scope"].as_str().unwrap().split(' ').collect();
        scopes.sort_unstable();
        assert_eq!(scopes, ["read:projects", "read:time_entries"]);
        // Each assertion once; a forged one never.
        let (status, replay) = exchange(&assertion).await;
        assert_eq!(status, 401, "{replay}");
        let mut forged = assertion.clone();
        forged.push('x');
        let (status, _) = exchange(&forged).await;
        assert_eq!(status, 401);

        // What its scopes allow, in its workspace only; never more.
        let (status, listed) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(status, 200, "{listed}");
        let names: Vec<&str> = listed["projects"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Ours"]);
        let (status, _) = send(app.get(&token, &format!("/api/v1/projects/{}", theirs["project"]["id"].as_str().unwrap()))).await;
        assert_eq!(status, 404, "another workspace's project is not there");
        let (status, body) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "Sneaky"}))).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["required_scope"], "write:projects");
        let (status, _) = send(app.post(&token, "/api/v1/integration/tokens").json(&json!({"name": "more", "scopes": ["read:projects"]}))).await;
        assert_eq!(status, 403, "an add-on never mints tokens");
        // The installation's tokens draw on one budget of 50 a second.
        let (status, _, headers) = send_with_headers(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(status, 200);
        assert_eq!(headers["ratelimit-limit"], "50");
        let burst = futures_util::future::join_all((0..300).map(|_| send(app.get(&token, &format!("/api/v1/projects/{}", ours["project"]["id"].as_str().unwrap()))))).await;
        assert!(burst.iter().any(|(status, _)| *status == 429), "300 requests at once exceed 50 a second");

        // An hour later it is refused.
        {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
            use timebridge::access::entity::api_token;
            let _turn = app.db.write_turn().await;
            api_token::Entity::update_many()
                .col_expr(api_token::Column::ExpiresAt, Expr::val(Some(time::OffsetDateTime::now_utc() - time::Duration::seconds(1))))
                .filter(api_token::Column::Name.eq("add-on reporter"))
                .exec(app.db.conn())
                .await
                .unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let (status, _) = send(app.get(&token, "/api/v1/projects")).await;
        assert_eq!(status, 401, "expired");

        // Uninstalling revokes every token at once, and exchanges stop.
        receiver.answer(&[200, 200]);
        retry_now(&app).await;
        send(app.patch(&admin, "/api/v1/integration/plugins/reporter/config").json(&json!({"configuration": {"rounding": 5}}))).await;
        let calls = receiver.wait_for(2, 10).await;
        let (status, second) = exchange(&calls[1].header("x-timebridge-signature")).await;
        assert_eq!(status, 200, "{second}");
        let fresh = second["access_token"].as_str().unwrap().to_owned();
        let (status, _) = send(app.get(&fresh, "/api/v1/projects")).await;
        assert_eq!(status, 200);
        send(app.delete(&admin, "/api/v1/integration/plugins/reporter/uninstall")).await;
        let (status, _) = send(app.get(&fresh, "/api/v1/projects")).await;
        assert_eq!(status, 401, "revoked with the installation");
        let calls = receiver.wait_for(3, 10).await;
        let (status, _) = exchange(&calls[2].header("x-timebridge-signature")).await;
        assert_eq!(status, 401, "an uninstalled add-on gets no token");
    }

    async fn subscribed_events_reach_the_add_on_signed_through_the_webhook_engine(backend) {
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let receiver = Receiver::start().await;
        let admin = admin_token(&app).await;
        register(&app, &manifest("tracker", &receiver)).await;
        let (_, project) = send(app.post(&admin, "/api/v1/projects").json(&json!({"name": "Site"}))).await;
        let entry = json!({"project_id": project["project"]["id"], "start_time": "2026-11-30T09:00:00Z", "end_time": "2026-11-30T10:00:00Z", "notes": "one"});
        // Before the add-on acknowledged its installation, nothing is sent to it.
        receiver.answer(&[503]);
        send(app.post(&admin, "/api/v1/integration/plugins/tracker/install").json(&json!({}))).await;
        receiver.wait_for(1, 10).await;
        let (status, _) = send(app.post(&admin, "/api/v1/time-entries").json(&entry)).await;
        assert_eq!(status, 201);
        retry_now(&app).await;
        eventually(|| async {
            let i = installation(&app, &admin, "tracker").await;
            (i["status"] == "active").then_some(())
        }).await;

        // Acknowledged: a time entry made now is delivered to its path, signed over its body.
        let mut second = entry.clone();
        second["notes"] = json!("two");
        send(app.post(&admin, "/api/v1/time-entries").json(&second)).await;
        let calls = receiver.wait_for(3, 10).await;
        let hooks: Vec<_> = calls.iter().filter(|c| c.path == "/webhooks/time-entry").collect();
        assert_eq!(hooks.len(), 1, "only what happened after the acknowledgement: {:?}", calls.iter().map(|c| &c.path).collect::<Vec<_>>());
        assert_eq!(hooks[0].header("x-timebridge-event"), "time_entry.created");
        assert_eq!(hooks[0].json()["data"]["notes"], "two", "{}", hooks[0].body);
        let claims = verified(&app, hooks[0], "tracker").await;
        assert_eq!(claims["sub"], installation(&app, &admin, "tracker").await["id"]);

        // The admin sees its deliveries among the workspace's webhooks.
        let (_, hooks_list) = send(app.get(&admin, "/api/v1/integration/webhooks")).await;
        let owned = hooks_list["webhooks"].as_array().unwrap().iter().find(|w| w["name"] == "add-on tracker").expect("the add-on's endpoint is listed").clone();
        let (_, deliveries) = send(app.get(&admin, &format!("/api/v1/integration/webhooks/{}/deliveries", owned["id"].as_str().unwrap()))).await;
        assert_eq!(deliveries["deliveries"][0]["status"], "succeeded", "{deliveries}");

        // Switched off: nothing more is sent.
        send(app.patch(&admin, "/api/v1/integration/plugins/tracker/config").json(&json!({"enabled": false}))).await;
        let mut third = entry.clone();
        third["notes"] = json!("three");
        send(app.post(&admin, "/api/v1/time-entries").json(&third)).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let hooks = receiver.received().into_iter().filter(|c| c.path == "/webhooks/time-entry").count();
        assert_eq!(hooks, 1, "a switched-off add-on receives no webhooks");
    }

    async fn an_add_on_may_sign_its_own_assertion_with_a_key_it_publishes(backend) {
        use jsonwebtoken::{Algorithm, EncodingKey, Header};
        let app = TestApp::private(backend, WEBHOOK_ENV).await;
        let admin = admin_token(&app).await;
        let (ours, jwks) = add_on_key();
        let (stranger, _) = add_on_key();
        // The add-on: its public keys at /keys.json, every lifecycle call acknowledged.
        let keys = jwks.clone();
        let router = axum::Router::new()
            .route("/keys.json", axum::routing::get(move || async move { axum::Json(keys) }))
            .fallback(|| async { "ok" });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let manifest = json!({
            "schemaVersion": "1.3", "key": "self-signer", "name": "Self signer",
            "baseUrl": format!("http://{addr}"), "jwksPath": "/keys.json", "scopes": ["read:projects"],
            "lifecycle": [{"type": "INSTALLED", "path": "/installed"}],
        });
        register(&app, &manifest).await;
        let (_, made) = send(app.post(&admin, "/api/v1/integration/plugins/self-signer/install").json(&json!({}))).await;
        eventually(|| async {
            let i = installation(&app, &admin, "self-signer").await;
            (i["status"] == "active").then_some(())
        }).await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let audience = format!("{}/api/v1/integration/plugins/token", timebridge::addons::signing::issuer(&app.state));
        let assertion = |key: &(EncodingKey, String), claims: Value| {
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some(key.1.clone());
            jsonwebtoken::encode(&header, &claims, &key.0).unwrap()
        };
        let claims = |exp: i64, aud: &str| json!({"iss": "self-signer", "sub": made["id"], "aud": aud, "iat": now, "exp": now + exp, "jti": uuid::Uuid::now_v7().to_string()});
        let exchange = |token: String| send(app.client.post(app.url("/api/v1/integration/plugins/token")).json(&json!({"assertion": token})));

        let good = assertion(&ours, claims(120, &audience));
        let (status, granted) = exchange(good.clone()).await;
        assert_eq!(status, 200, "{granted}");
        let (status, _) = send(app.get(granted["access_token"].as_str().unwrap(), "/api/v1/projects")).await;
        assert_eq!(status, 200);
        let (status, _) = exchange(good).await;
        assert_eq!(status, 401, "each assertion once");
        let (status, body) = exchange(assertion(&(stranger.0, ours.1.clone()), claims(120, &audience))).await;
        assert_eq!(status, 401, "signed by a key it does not publish: {body}");
        let (status, body) = exchange(assertion(&ours, claims(3600, &audience))).await;
        assert_eq!(status, 401, "an hour-long assertion: {body}");
        let (status, body) = exchange(assertion(&ours, claims(120, "https://elsewhere.example.com/token"))).await;
        assert_eq!(status, 401, "for another audience: {body}");
    }
}

/// Makes every waiting job due now and wakes the runner.
async fn retry_now(app: &TestApp) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    use timebridge::platform::jobs::job;
    {
        let _turn = app.db.write_turn().await;
        job::Entity::update_many()
            .col_expr(
                job::Column::RunAfter,
                Expr::val(time::OffsetDateTime::now_utc() - time::Duration::seconds(1)),
            )
            .filter(job::Column::Status.eq(timebridge::platform::jobs::JobStatus::Pending))
            .exec(app.db.conn())
            .await
            .unwrap();
    }
    timebridge::platform::jobs::jobs_queued(&app.db).raise_locally();
}

/// An RSA key of an add-on: its encoding key and kid, and its public JWK Set.
fn add_on_key() -> ((jsonwebtoken::EncodingKey, String), Value) {
    use base64::Engine;
    use rsa::{pkcs1::EncodeRsaPrivateKey, traits::PublicKeyParts};
    let private = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("a key");
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let kid = uuid::Uuid::now_v7().to_string();
    let der = private.to_pkcs1_der().expect("DER");
    let jwks = json!({"keys": [{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(&private.n_bytes()), "e": b64(&private.e_bytes())}]});
    (
        (jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()), kid),
        jwks,
    )
}
