//! The admins' `/api/v1/users…`: showing, adding, changing, deactivating and removing members
//! of their own workspace, with the `user.*` events, and never past it.

use serde_json::{Value, json};
use timebridge::directory::{Member, service};

use crate::{both, support::*};

/// Two workspaces, each with its admin (and an `admin:all` token), and a member of the first.
struct Two {
    app: TestApp,
    admin_a: Member,
    a: String,
    admin_b: Member,
    b: String,
    user: Member,
    /// The member's token in the first workspace.
    user_a: String,
}

impl Two {
    async fn start(backend: Backend) -> Self {
        let app = TestApp::start(backend).await;
        let (admin_a, a) = app.caller(true, &["admin:all"]).await;
        let (admin_b, b) = app.caller(true, &["admin:all"]).await;
        let user = app.member_in(&admin_a.workspace.name, false, None).await;
        let user_a = app.token(&user, &["read:users", "read:projects"]).await;
        Self {
            app,
            admin_a,
            a,
            admin_b,
            b,
            user,
            user_a,
        }
    }

    fn user_path(&self, member: &Member) -> String {
        format!("/api/v1/users/{}", member.user.id)
    }

    /// Adds the member (by their email now) to the second workspace through the API and
    /// returns their token there.
    async fn share_user_with_b(&self, email: &str) -> String {
        let (status, body) = send(
            self.app
                .post(&self.b, "/api/v1/users")
                .json(&json!({"email": email.to_uppercase()})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["user"]["role"], "member");
        let in_b = service::member(&self.app.db, self.admin_b.workspace.id, self.user.user.id)
            .await
            .unwrap()
            .expect("a member of the second workspace now");
        self.app.token(&in_b, &["read:users"]).await
    }

    async fn last_sequence(&self, admin_token: &str) -> i64 {
        events_after(&self.app, admin_token, 0)
            .await
            .last()
            .and_then(|e| e["sequence"].as_i64())
            .unwrap_or(0)
    }
}

async fn types_after(app: &TestApp, admin_token: &str, after: i64) -> Vec<String> {
    events_after(app, admin_token, after)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn me(app: &TestApp, token: &str) -> (u16, Value) {
    send(app.get(token, "/api/v1/users/me")).await
}

both! {
    async fn deactivating_a_member_stops_their_tokens_here_at_once_and_nowhere_else(backend) {
        let t = Two::start(backend).await;
        let user_b = t.share_user_with_b(&t.user.user.email).await;
        // Both tokens are verified, and cached, before the change.
        assert_eq!(me(&t.app, &t.user_a).await.0, 200);
        assert_eq!(me(&t.app, &user_b).await.0, 200);
        let (after_a, after_b) = (t.last_sequence(&t.a).await, t.last_sequence(&t.b).await);

        let (status, body) = send(t.app.patch(&t.a, &t.user_path(&t.user)).json(&json!({"is_active": false}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["is_active"], false);
        let (status, body) = me(&t.app, &t.user_a).await;
        assert_eq!(status, 401, "{body}");
        assert!(body["message"].as_str().unwrap().contains("deactivated"), "{body}");
        assert_eq!(me(&t.app, &user_b).await.0, 200, "the other workspace is not affected");
        let (_, seen_by_b) = send(t.app.get(&t.b, &t.user_path(&t.user))).await;
        assert_eq!(seen_by_b["user"]["is_active"], true);
        let (_, listed) = send(t.app.get(&t.a, "/api/v1/users")).await;
        let row = listed["users"].as_array().unwrap().iter().find(|u| u["id"] == t.user.user.id.to_string()).cloned().unwrap();
        assert_eq!(row["is_active"], false, "deactivated members stay listed");

        let (status, _) = send(t.app.patch(&t.a, &t.user_path(&t.user)).json(&json!({"is_active": true}))).await;
        assert_eq!(status, 200);
        assert_eq!(me(&t.app, &t.user_a).await.0, 200, "reactivated: the same token works again");

        let events = events_after(&t.app, &t.a, after_a).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["user.deactivated", "user.activated"]);
        assert_eq!(events[0]["data"]["is_active"], false);
        assert_eq!(events[0]["resource"], json!({"type": "user", "id": t.user.user.id.to_string()}));
        assert_eq!(events[0]["actor"]["user_id"], t.admin_a.user.id.to_string());
        assert!(types_after(&t.app, &t.b, after_b).await.is_empty(), "nothing happened in the other workspace");
    }

    async fn an_admin_reaches_no_member_of_another_workspace(backend) {
        let t = Two::start(backend).await;
        let outsider = t.app.member_in(&t.admin_b.workspace.name, false, None).await;
        let outsider_token = t.app.token(&outsider, &["read:users"]).await;
        let path = t.user_path(&outsider);
        let (status, _) = send(t.app.get(&t.a, &path)).await;
        assert_eq!(status, 404);
        let (status, _) = send(t.app.patch(&t.a, &path).json(&json!({"is_active": false, "name": "Taken over"}))).await;
        assert_eq!(status, 404);
        let (status, _) = send(t.app.delete(&t.a, &path)).await;
        assert_eq!(status, 404);
        let (status, body) = me(&t.app, &outsider_token).await;
        assert_eq!(status, 200);
        assert_eq!(body["user"]["name"], "Test User");
        let (_, listed) = send(t.app.get(&t.a, "/api/v1/users")).await;
        assert!(!listed.to_string().contains(&outsider.user.email));

        // A member (no admin:all) manages nobody.
        let (status, body) = send(t.app.patch(&t.user_a, &t.user_path(&t.admin_a)).json(&json!({"role": "member"}))).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["required_scope"], "admin:all");
    }

    async fn the_workspace_always_keeps_an_active_admin(backend) {
        let t = Two::start(backend).await;
        let own = t.user_path(&t.admin_a);
        for change in [json!({"role": "member"}), json!({"is_active": false})] {
            let (status, body) = send(t.app.patch(&t.a, &own).json(&change)).await;
            assert_eq!(status, 409, "{change}: {body}");
            assert_eq!(body["error_code"], "last_admin");
        }
        let (status, body) = send(t.app.delete(&t.a, &own)).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error_code"], "last_admin");

        // With a second admin, the first can step down; their admin-only token goes with it.
        let after = t.last_sequence(&t.a).await;
        let (status, body) = send(t.app.patch(&t.a, &t.user_path(&t.user)).json(&json!({"role": "admin"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["is_admin"], true);
        let promoted = service::member(&t.app.db, t.admin_a.workspace.id, t.user.user.id).await.unwrap().unwrap();
        let new_admin = t.app.token(&promoted, &["admin:all"]).await;
        let kept = t.app.token(&t.admin_a, &["read:users"]).await;
        let (status, body) = send(t.app.patch(&new_admin, &own).json(&json!({"role": "member"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["role"], "member");
        let (status, body) = send(t.app.get(&t.a, "/api/v1/users")).await;
        assert_eq!(status, 401, "a demoted admin's admin:all token is revoked: {body}");
        let (status, body) = me(&t.app, &kept).await;
        assert_eq!(status, 200, "a member's scopes keep working: {body}");
        assert_eq!(body["user"]["role"], "member");
        assert_eq!(types_after(&t.app, &new_admin, after).await, ["user.updated", "user.updated"]);
    }

    async fn names_and_emails_change_for_a_member_of_this_workspace_alone(backend) {
        let t = Two::start(backend).await;
        let path = t.user_path(&t.user);
        assert_eq!(me(&t.app, &t.user_a).await.1["user"]["name"], "Test User", "cached before the change");
        let after = t.last_sequence(&t.a).await;
        let email = format!("Renamed-{}@Example.com", uuid::Uuid::now_v7());
        let (status, body) = send(t.app.patch(&t.a, &path).json(&json!({"name": " Grace ", "email": email}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["name"], "Grace");
        assert_eq!(body["user"]["email"], email.to_lowercase());
        let events = events_after(&t.app, &t.a, after).await;
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["user.email_changed", "user.updated"]);
        assert_eq!(events[0]["data"], body["user"]);
        assert_eq!(me(&t.app, &t.user_a).await.1["user"]["name"], "Grace", "the cached users/me follows");

        let (status, body) = send(t.app.patch(&t.a, &path).json(&json!({"email": t.admin_a.user.email}))).await;
        assert_eq!(status, 409, "{body}");
        let (status, body) = send(t.app.patch(&t.a, &path).json(&json!({"email": "not-an-email", "name": "  "}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["email"].is_array(), "{body}");
        assert!(body["errors"]["name"].is_array(), "{body}");
        let (status, body) = send(t.app.patch(&t.a, &path).json(&json!({"is_admin": true}))).await;
        assert_eq!(status, 400, "an unknown field is refused, not ignored: {body}");
        let (status, body) = send(t.app.patch(&t.a, &path).json(&json!({"role": "owner"}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["role"].is_array(), "{body}");

        // Shared with another workspace: its name and email are not this admin's to change.
        t.share_user_with_b(&email).await;
        let after = t.last_sequence(&t.a).await;
        let (status, body) = send(t.app.patch(&t.a, &path).json(&json!({"name": "Mine now"}))).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error_code"], "user_in_other_workspaces");
        assert!(types_after(&t.app, &t.a, after).await.is_empty());
    }

    async fn admins_add_existing_users_and_remove_members(backend) {
        let t = Two::start(backend).await;
        let (status, body) = send(t.app.post(&t.b, "/api/v1/users").json(&json!({"email": "nobody-here@example.com"}))).await;
        assert_eq!(status, 404, "{body}");
        let (status, body) = send(t.app.post(&t.b, "/api/v1/users").json(&json!({"email": t.user.user.email, "role": "owner"}))).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["role"].is_array(), "{body}");
        let after_b = t.last_sequence(&t.b).await;
        let user_b = t.share_user_with_b(&t.user.user.email).await;
        let (status, _) = send(t.app.post(&t.b, "/api/v1/users").json(&json!({"email": t.user.user.email}))).await;
        assert_eq!(status, 409, "already a member");
        let joined = events_after(&t.app, &t.b, after_b).await;
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0]["type"], "user.joined");
        assert_eq!(joined[0]["data"]["email"], t.user.user.email);

        assert_eq!(me(&t.app, &t.user_a).await.0, 200);
        let after_a = t.last_sequence(&t.a).await;
        let (status, body) = send(t.app.delete(&t.a, &t.user_path(&t.user))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["email"], t.user.user.email);
        let (status, body) = me(&t.app, &t.user_a).await;
        assert_eq!(status, 401, "their token here stops at once: {body}");
        assert_eq!(me(&t.app, &user_b).await.0, 200, "their other workspace keeps them");
        assert_eq!(types_after(&t.app, &t.a, after_a).await, ["user.removed"]);
        let (status, _) = send(t.app.get(&t.a, &t.user_path(&t.user))).await;
        assert_eq!(status, 404);

        // Added back, they start afresh: the old token was revoked, not suspended.
        let (status, _) = send(t.app.post(&t.a, "/api/v1/users").json(&json!({"email": t.user.user.email}))).await;
        assert_eq!(status, 201);
        let (status, body) = me(&t.app, &t.user_a).await;
        assert_eq!(status, 401, "{body}");
        assert!(body["message"].as_str().unwrap().contains("revoked"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_endpoints_are_documented_with_their_scope() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (_, doc) = send(app.client.get(app.url("/openapi.json"))).await;
    for (path, method) in [
        ("/api/v1/users", "post"),
        ("/api/v1/users/{id}", "get"),
        ("/api/v1/users/{id}", "patch"),
        ("/api/v1/users/{id}", "delete"),
    ] {
        let op = &doc["paths"][path][method];
        assert_eq!(op["x-required-scope"], "admin:all", "{method} {path}");
        assert!(
            op["responses"]["404"].is_object() || method == "post",
            "{method} {path}"
        );
    }
}
