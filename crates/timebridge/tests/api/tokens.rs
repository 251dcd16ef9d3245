//! `/api/v1/integration/tokens…` and authentication failures.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use timebridge::access::entity::api_token;

use crate::{both, support::*};

const MANAGE: &[&str] = &["read:integrations", "write:integrations", "read:projects"];

async fn create(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    send(app.post(token, "/api/v1/integration/tokens").json(&body)).await
}

both! {
    async fn the_secret_is_shown_once_and_stored_only_as_a_hash(backend) {
        let app = TestApp::start(backend).await;
        let (_, manager) = app.caller(false, MANAGE).await;
        let (status, body) = create(&app, &manager, json!({"name": "CI bot", "scopes": ["read:projects"], "expires_at": "2099-12-31"})).await;
        assert_eq!(status, 201, "{body}");
        let secret = body["token"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("tb_pat_") && secret.len() == 43, "{secret}");
        let view = &body["api_token"];
        assert_eq!(view["prefix"], secret[..11]);
        assert_eq!(view["scopes"], json!(["read:projects"]));
        assert_eq!(view["expires_at"], "2100-01-01T00:00:00Z");
        assert_eq!(view["status"], "active");
        let id = view["id"].as_str().unwrap();

        // The new token works.
        let (status, _) = send(app.get(&secret, "/api/v1/projects")).await;
        assert_eq!(status, 200);

        // Lists and reads never show it again.
        let (_, list) = send(app.get(&manager, "/api/v1/integration/tokens")).await;
        assert!(!list.to_string().contains(&secret));
        let (_, one) = send(app.get(&manager, &format!("/api/v1/integration/tokens/{id}"))).await;
        assert!(!one.to_string().contains(&secret[11..]));
        assert_eq!(one["api_token"]["name"], "CI bot");

        // At rest: only the SHA-256.
        let row = api_token::Entity::find_by_id(uuid::Uuid::parse_str(id).unwrap()).one(app.db.conn()).await.unwrap().unwrap();
        assert_ne!(row.token_hash, secret);
        assert_eq!(row.token_hash.len(), 64);
        assert!(!format!("{row:?}").contains(&secret[11..]));
    }

    async fn bad_token_requests_get_clear_errors(backend) {
        let app = TestApp::start(backend).await;
        let (_, manager) = app.caller(false, MANAGE).await;
        let (status, body) = create(&app, &manager, json!({"name": "x", "scopes": ["read:projects", "fly:kites"]})).await;
        assert_eq!(status, 400);
        assert_eq!(body["error_code"], "validation_error");
        assert_eq!(body["errors"]["scopes"], json!(["unknown scope 'fly:kites'"]));
        assert!(body["valid_scopes"].as_array().unwrap().contains(&json!("write:time_entries")));

        let (status, body) = create(&app, &manager, json!({"name": "x", "scopes": []})).await;
        assert_eq!(status, 400, "{body}");
        let (status, body) = create(&app, &manager, json!({"name": "x", "scopes": ["read:projects"], "expires_at": "2001-01-01"})).await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"]["expires_at"], json!(["must be in the future"]));
        let (status, body) = create(&app, &manager, json!({"name": "x", "scopes": ["read:projects"], "expires_at": "soon"})).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["expires_at"].is_array());
        let (status, body) = create(&app, &manager, json!({"name": "x", "scopes": ["read:projects"], "allowed_ips": ["10.0.0.0/33"]})).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["allowed_ips"].is_array());
        let (status, body) = create(&app, &manager, json!({"scopes": ["read:projects"]})).await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"]["name"], json!(["is required"]));

        // Members cannot hold wildcards; a token cannot mint more than it has.
        let (status, body) = create(&app, &manager, json!({"name": "x", "scopes": ["read:*"]})).await;
        assert_eq!(status, 403, "{body}");
        let (status, body) = create(&app, &manager, json!({"name": "x", "scopes": ["write:projects"]})).await;
        assert_eq!(status, 403);
        assert!(body["message"].as_str().unwrap().contains("more access than it has"));

        let (_, list) = send(app.get(&manager, "/api/v1/integration/tokens")).await;
        assert_eq!(list["pagination"]["total"], 1, "only the manager's own token exists");
    }

    async fn unusable_tokens_get_401_saying_why(backend) {
        let app = TestApp::start(backend).await;
        let (member, manager) = app.caller(false, MANAGE).await;
        let victim = app.token(&member, &["read:projects"]).await;
        let (_, list) = send(app.get(&manager, "/api/v1/integration/tokens")).await;
        let victim_id = list["api_tokens"].as_array().unwrap().iter()
            .find(|t| victim.starts_with(t["prefix"].as_str().unwrap()))
            .unwrap()["id"].as_str().unwrap().to_owned();

        let expect_401 = |token: String, needle: &'static str| {
            let app = &app;
            async move {
                let (status, body) = send(app.get(&token, "/api/v1/projects")).await;
                assert_eq!(status, 401, "{needle}: {body}");
                assert_eq!(body["error_code"], "unauthorized");
                assert!(body["message"].as_str().unwrap().contains(needle), "{needle}: {body}");
            }
        };
        let (status, body) = send(app.client.get(app.url("/api/v1/projects"))).await;
        assert_eq!((status, body["error_code"].as_str()), (401, Some("unauthorized")));
        assert!(body["message"].as_str().unwrap().contains("Missing API token"));
        expect_401("not-a-token".into(), "malformed").await;
        let mut typo = victim.clone();
        typo.replace_range(10..11, if &victim[10..11] == "a" { "b" } else { "a" });
        expect_401(typo, "malformed").await;
        expect_401(timebridge::access::secret::generate().secret, "not recognised").await;

        // Deactivate → inactive; reactivate → works; revoke → revoked.
        let (status, body) = send(app.patch(&manager, &format!("/api/v1/integration/tokens/{victim_id}")).json(&json!({"is_active": false, "name": "renamed"}))).await;
        assert_eq!(status, 200);
        assert_eq!(body["api_token"]["name"], "renamed");
        assert_eq!(body["api_token"]["status"], "inactive");
        expect_401(victim.clone(), "inactive").await;
        let (status, _) = send(app.patch(&manager, &format!("/api/v1/integration/tokens/{victim_id}")).json(&json!({"is_active": true}))).await;
        assert_eq!(status, 200);
        let (status, _) = send(app.get(&victim, "/api/v1/projects")).await;
        assert_eq!(status, 200);
        let (status, body) = send(app.delete(&manager, &format!("/api/v1/integration/tokens/{victim_id}"))).await;
        assert_eq!(status, 200);
        assert_eq!(body["api_token"]["status"], "revoked");
        expect_401(victim.clone(), "revoked").await;
        let (status, _) = send(app.patch(&manager, &format!("/api/v1/integration/tokens/{victim_id}")).json(&json!({"is_active": true}))).await;
        assert_eq!(status, 403, "a revoked token stays revoked");

        // Expired.
        let expiring = app.token(&member, &["read:projects"]).await;
        let hash = timebridge::access::secret::TokenHash::of(&expiring).to_hex();
        let row = api_token::Entity::find()
            .filter(api_token::Column::TokenHash.eq(hash))
            .one(app.db.conn()).await.unwrap().unwrap();
        let mut active: api_token::ActiveModel = row.into();
        active.expires_at = Set(Some(timebridge::platform::time::now() - time::Duration::minutes(1)));
        active.update(app.db.conn()).await.unwrap();
        expect_401(expiring, "expired").await;
    }

    async fn all_three_ways_of_presenting_a_token_work(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, &["read:projects"]).await;
        for (header, value) in [
            ("authorization", format!("Bearer {token}")),
            ("authorization", format!("Token {token}")),
            ("x-api-key", token.clone()),
        ] {
            let (status, body) = send(app.client.get(app.url("/api/v1/projects")).header(header, value)).await;
            assert_eq!(status, 200, "{header}: {body}");
        }
    }

    async fn an_ip_allow_list_admits_only_its_addresses(backend) {
        let app = TestApp::start(backend).await;
        let (_, manager) = app.caller(false, MANAGE).await;
        let (_, far) = create(&app, &manager, json!({"name": "office", "scopes": ["read:projects"], "allowed_ips": ["203.0.113.0/24"]})).await;
        let (_, near) = create(&app, &manager, json!({"name": "local", "scopes": ["read:projects"], "allowed_ips": ["10.0.0.1", "127.0.0.0/8"]})).await;
        assert_eq!(near["api_token"]["allowed_ips"], json!(["10.0.0.1/32", "127.0.0.0/8"]));
        let (status, body) = send(app.get(far["token"].as_str().unwrap(), "/api/v1/projects")).await;
        assert_eq!(status, 403, "{body}");
        assert!(body["message"].as_str().unwrap().contains("127.0.0.1"));
        let (status, _) = send(app.get(near["token"].as_str().unwrap(), "/api/v1/projects")).await;
        assert_eq!(status, 200);
    }

    async fn the_catalog_and_a_tokens_scopes_are_listed(backend) {
        let app = TestApp::start(backend).await;
        let (_, member_token) = app.caller(false, &["read:tasks"]).await;
        let (status, catalog) = send(app.get(&member_token, "/api/v1/integration/tokens/scopes")).await;
        assert_eq!(status, 200, "the catalog needs a token but no scope");
        let scopes = catalog["scopes"].as_array().unwrap();
        assert_eq!(scopes.len(), 33);
        let find = |name: &str| scopes.iter().find(|s| s["scope"] == name).unwrap().clone();
        assert_eq!(find("admin:all")["admin_only"], true);
        assert_eq!(find("admin:all")["available"], false);
        assert_eq!(find("write:invoices")["available"], true);
        assert!(scopes.iter().all(|s| s["description"].as_str().is_some_and(|d| !d.is_empty())));

        let (_, admin) = app.caller(true, &["read:integrations", "write:*"]).await;
        let (_, list) = send(app.get(&admin, "/api/v1/integration/tokens")).await;
        let id = list["api_tokens"][0]["id"].as_str().unwrap();
        let (status, body) = send(app.get(&admin, &format!("/api/v1/integration/tokens/{id}/scopes"))).await;
        assert_eq!(status, 200);
        assert_eq!(body["scopes"], json!(["read:integrations", "write:*"]));
        let effective = body["effective_scopes"].as_array().unwrap();
        assert!(effective.contains(&json!("write:projects")) && effective.contains(&json!("read:users")));
        assert!(!effective.contains(&json!("admin:all")));
    }

    async fn members_manage_their_own_tokens_and_admins_the_workspaces(backend) {
        let app = TestApp::start(backend).await;
        let (admin, admin_token) = app.caller(true, MANAGE).await;
        let colleague = app.member_in(&admin.workspace.name, false, None).await;
        let colleague_token = app.token(&colleague, MANAGE).await;

        let (_, own) = send(app.get(&colleague_token, "/api/v1/integration/tokens?all=true")).await;
        assert_eq!(own["pagination"]["total"], 1, "a member sees only their own, even with all=true");
        let (_, all) = send(app.get(&admin_token, "/api/v1/integration/tokens?all=true")).await;
        assert_eq!(all["pagination"]["total"], 2);
        let admin_token_id = send(app.get(&admin_token, "/api/v1/integration/tokens")).await.1["api_tokens"][0]["id"].as_str().unwrap().to_owned();
        let (status, _) = send(app.delete(&colleague_token, &format!("/api/v1/integration/tokens/{admin_token_id}"))).await;
        assert_eq!(status, 404, "a member cannot see, let alone revoke, an admin's token");
        let colleague_token_id = own["api_tokens"][0]["id"].as_str().unwrap();
        let (status, _) = send(app.patch(&admin_token, &format!("/api/v1/integration/tokens/{colleague_token_id}")).json(&json!({"is_active": false}))).await;
        assert_eq!(status, 200, "an admin can deactivate a member's leaked token");
        let (status, _) = send(app.get(&colleague_token, "/api/v1/projects")).await;
        assert_eq!(status, 401);
    }

    async fn usage_logs_record_each_call_without_slowing_it(backend) {
        let app = TestApp::start(backend).await;
        let (_, token) = app.caller(false, MANAGE).await;
        send(app.get(&token, "/api/v1/projects?page=1")).await;
        send(app.post(&token, "/api/v1/projects").json(&json!({"name": "x"}))).await;
        let logs = eventually(|| async {
            let (_, body) = send(app.get(&token, "/api/v1/integration/tokens/usage-logs")).await;
            let logs = body["usage_logs"].as_array().cloned().unwrap_or_default();
            (logs.len() >= 2).then_some(logs)
        }).await;
        let forbidden = logs.iter().find(|l| l["method"] == "POST").expect("the POST is logged");
        assert_eq!(forbidden["path"], "/api/v1/projects");
        assert_eq!(forbidden["status_code"], 403);
        let listed = logs.iter().find(|l| l["method"] == "GET" && l["path"] == "/api/v1/projects").expect("the GET is logged");
        assert_eq!(listed["status_code"], 200);
        assert_eq!(listed["ip_address"], "127.0.0.1");
        let (_, tokens) = send(app.get(&token, "/api/v1/integration/tokens")).await;
        assert!(tokens["api_tokens"][0]["last_used_at"].is_string(), "last_used_at is written by the batch");
    }

    async fn an_empty_ip_allow_list_entry_is_refused_not_read_as_no_restriction(backend) {
        let app = TestApp::start(backend).await;
        let (_, manager) = app.caller(false, MANAGE).await;
        for entries in [json!([""]), json!(["   "]), json!(["203.0.113.0/24", ""])] {
            let (status, body) = create(&app, &manager, json!({"name": "x", "scopes": ["read:projects"], "allowed_ips": entries})).await;
            assert_eq!(status, 400, "{entries}: {body}");
            assert_eq!(body["error_code"], "validation_error");
            let messages = body["errors"]["allowed_ips"].as_array().unwrap_or_else(|| panic!("{entries}: {body}"));
            assert!(messages[0].as_str().unwrap().contains("empty"), "{body}");
        }
        let (_, list) = send(app.get(&manager, "/api/v1/integration/tokens")).await;
        assert_eq!(list["pagination"]["total"], 1, "no token was created: {list}");

        // Nor can a restricted token lose its restriction through an empty entry.
        let (status, office) = create(&app, &manager, json!({"name": "office", "scopes": ["read:projects"], "allowed_ips": ["203.0.113.0/24"]})).await;
        assert_eq!(status, 201, "{office}");
        let id = office["api_token"]["id"].as_str().unwrap();
        let (status, body) = send(app.patch(&manager, &format!("/api/v1/integration/tokens/{id}")).json(&json!({"allowed_ips": [""]}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["allowed_ips"].is_array(), "{body}");
        let (status, body) = send(app.get(office["token"].as_str().unwrap(), "/api/v1/projects")).await;
        assert_eq!(status, 403, "still restricted: {body}");
        // An empty list is how a token has no restriction.
        let (status, body) = send(app.patch(&manager, &format!("/api/v1/integration/tokens/{id}")).json(&json!({"allowed_ips": []}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["api_token"]["allowed_ips"], json!([]));
    }
}
