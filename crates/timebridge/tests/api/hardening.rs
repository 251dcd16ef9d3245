//! Input the API must refuse cleanly (a 4xx naming the problem, never a 500), whatever the
//! database: pages past what a database can skip, NUL characters, token guessing.

use serde_json::{Value, json};

use crate::{both, support::*, webhooks::admin_token};

/// Every list the OpenAPI document says takes `page`: `GET` paths without path parameters.
async fn paginated_lists(app: &TestApp) -> Vec<String> {
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut lists = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(params) = item["get"]["parameters"].as_array() else {
            continue;
        };
        let paged = params
            .iter()
            .any(|p| p["name"] == "page" && p["in"] == "query");
        if paged && !path.contains('{') {
            lists.push(path.clone());
        }
    }
    lists
}

/// A token guesser's address, unique to the test (the server trusts `X-Forwarded-For`).
fn guesser() -> String {
    let n = uuid::Uuid::now_v7().as_u128();
    format!("10.{}.{}.{}", (n >> 16) as u8, (n >> 8) as u8, n as u8)
}

async fn bad_token_from(app: &TestApp, ip: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/projects"))
        .bearer_auth(token)
        .header("X-Forwarded-For", ip)
        .send()
        .await
        .unwrap()
}

async fn guessing_tokens_is_limited_per_address(redis: bool) {
    let redis_url = redis_url();
    let mut env = vec![
        ("RATE_LIMIT_AUTH_FAILURES", "5"),
        ("TIMEBRIDGE_TRUST_FORWARDED_FOR", "true"),
    ];
    if redis {
        env.push(("REDIS_URL", redis_url.as_str()));
    }
    let app = TestApp::with_env(Backend::Sqlite, &env).await;
    let (_, valid) = app.caller(true, &["read:projects"]).await;
    let (ip, other) = (guesser(), guesser());
    let unknown = "tb_pat_0000000000000000000000000000000000000";
    for i in 0..5 {
        let r = bad_token_from(&app, &ip, unknown).await;
        assert_eq!(r.status(), 401, "failure {i} is still a 401");
    }
    let refused = bad_token_from(&app, &ip, unknown).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error_code"], "rate_limited", "{body}");
    // The whole address waits out the window, even with a good token...
    assert_eq!(bad_token_from(&app, &ip, &valid).await.status(), 429);
    // ...and nobody else does.
    assert_eq!(bad_token_from(&app, &other, unknown).await.status(), 401);
    assert_eq!(bad_token_from(&app, &other, &valid).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_tokens_is_limited_per_address_in_process() {
    guessing_tokens_is_limited_per_address(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_tokens_is_limited_per_address_across_instances_with_redis() {
    guessing_tokens_is_limited_per_address(true).await;
}

both! {
    async fn a_page_past_the_end_of_any_list_is_a_400_naming_page(backend) {
        let app = TestApp::start(backend).await;
        let token = admin_token(&app).await;
        let lists = paginated_lists(&app).await;
        assert!(lists.len() >= 10, "{lists:?}");
        for list in lists {
            let (status, body) = send(app.get(&token, &format!("{list}?page=9223372036854775807"))).await;
            assert_eq!(status, 400, "{list}: {body}");
            assert!(body["errors"]["page"].is_array(), "{list}: {body}");
        }
    }

    async fn a_nul_character_is_a_400_naming_the_field_on_every_database(backend) {
        let app = TestApp::start(backend).await;
        let token = admin_token(&app).await;
        let (status, body) = send(app.post(&token, "/api/v1/projects").json(&json!({"name": "Web\u{0}site"}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["name"][0].as_str().unwrap().contains("NUL"), "{body}");
        let (status, body) = send(app.post(&token, "/api/v1/clients").json(&json!({"name": "Acme", "address": "a\u{0}"}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["address"].is_array(), "{body}");
        for list in ["/api/v1/projects?search=%00", "/api/v1/clients?search=x%00y", "/api/v1/time-entries?notes=%00"] {
            let (status, body) = send(app.get(&token, list)).await;
            assert_eq!(status, 400, "{list}: {body}");
            assert_eq!(body["error_code"], "validation_error", "{list}: {body}");
        }
        let (status, body) = send(app.get(&token, "/api/v1/projects?search=%00")).await;
        assert!(body["errors"]["search"].is_array(), "{status} {body}");
        // A CSV import: a NUL in a project name or in notes is the row's error, not a 500.
        for csv in [
            "project,start_time,end_time,notes\nWeb\u{0}site,2026-03-02T09:00:00Z,2026-03-02T10:00:00Z,x\n",
            "start_time,end_time,notes\n2026-03-02T09:00:00Z,2026-03-02T10:00:00Z,a\u{0}b\n",
        ] {
            let (status, body) = send(
                app.post(&token, "/api/v1/time-entries/import-csv")
                    .header("content-type", "text/csv")
                    .body(csv),
            )
            .await;
            assert_eq!(status, 400, "{body}");
            assert_eq!(body["error_code"], "validation_error", "{body}");
            assert!(body.to_string().contains("NUL"), "{body}");
        }
    }
}
