//! Health, the OpenAPI document and its explorer, and the error bodies of the router itself.

use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::{both, support::*};

both! {
    async fn health_checks_the_database(backend) {
        let app = TestApp::start(backend).await;
        let (status, body) = send(app.client.get(app.url("/health"))).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["database"], "ok");
    }

    async fn unknown_routes_and_methods_answer_json(backend) {
        let app = TestApp::start(backend).await;
        let (status, body) = send(app.client.get(app.url("/api/v1/nothing-here"))).await;
        assert_eq!(status, 404);
        assert_eq!(body["error_code"], "not_found");
        let (status, body) = send(app.client.post(app.url("/health"))).await;
        assert_eq!(status, 405);
        assert_eq!(body["error_code"], "method_not_allowed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_when_the_database_is_gone() {
    let base = postgres_url();
    let (server, _) = base.rsplit_once('/').unwrap();
    let name = format!("timebridge_gone_{}", uuid::Uuid::now_v7().simple());
    let url = format!("{server}/{name}");
    ensure_postgres_database(&url).await;
    let app = TestApp::on_database(&url, &[]).await;
    let (status, _) = send(app.client.get(app.url("/health"))).await;
    assert_eq!(status, 200);

    let admin = sea_orm::Database::connect(format!("{server}/postgres"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
    let (status, body) = send(app.client.get(app.url("/health"))).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_declares_every_routes_scope_and_errors() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (status, doc) = send(app.client.get(app.url("/openapi.json"))).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["api_token"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["name"],
        "X-API-Key"
    );
    for schema in ["ErrorBody", "ScopeErrorBody", "RateLimitBody"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !path.starts_with("/api/") {
                continue;
            }
            // The providers' receivers authenticate by signature, not by token: exactly these.
            // The page a member's browser lands on after a provider's consent screen: its
            // single-use `state` is the proof, the browser has no token.
            if matches!(
                path.as_str(),
                "/api/v1/integration/oauth/callback" | "/api/v1/clickup/oauth/callback"
            ) && method == "get"
            {
                assert!(
                    op.get("security").is_none(),
                    "{method} {path} takes no token"
                );
                continue;
            }
            if SIGNATURE_VERIFIED.contains(&path.as_str()) {
                assert!(
                    op.get("security").is_none(),
                    "{method} {path} takes no token"
                );
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path} documents 401"
                );
                continue;
            }
            checked += 1;
            let security = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} has no security"));
            let scopes = &security[0]["api_token"];
            assert!(scopes.is_array(), "{method} {path}");
            assert_eq!(
                op["x-required-scope"],
                scopes.get(0).cloned().unwrap_or(Value::Null)
            );
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path} documents 401"
            );
            assert!(
                op["responses"]["429"].is_object(),
                "{method} {path} documents 429"
            );
            if !scopes.as_array().unwrap().is_empty() {
                assert!(
                    op["responses"]["403"].is_object(),
                    "{method} {path} documents 403"
                );
            }
        }
    }
    assert!(checked >= 13, "every API operation was checked ({checked})");
    assert_eq!(
        doc["paths"]["/api/v1/projects"]["post"]["x-required-scope"],
        "write:projects"
    );
    assert_eq!(
        doc["paths"]["/api/v1/users"]["get"]["x-required-scope"],
        "admin:all"
    );

    let html = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(html.status(), 200);
    let text = html.text().await.unwrap();
    assert!(
        text.contains("swagger-ui"),
        "the explorer is served from the binary"
    );
    assert!(
        !text.contains("cdn."),
        "no CDN: the explorer must work offline"
    );
}

/// The served document passes a standard OpenAPI 3.1 validator (every response described,
/// every operationId unique, every schema well-formed), so code generators accept it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_valid_openapi_3_1() {
    let app = TestApp::start(Backend::Sqlite).await;
    let doc = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let python = crate::support::python_with("openapi_spec_validator", "openapi-spec-validator");
    let script = "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(sys.stdin))\nprint('valid')";
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(doc.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "valid",
        "{}",
        stderr
            .chars()
            .rev()
            .take(3000)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
    );
    let parsed: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let mut ids = std::collections::HashSet::new();
    for item in parsed["paths"].as_object().unwrap().values() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(id) = op["operationId"].as_str() {
                assert!(
                    ids.insert(id.to_owned()),
                    "operationId {id} ({method}) is used twice"
                );
            }
        }
    }
}

/// Routes providers call, authenticated by their signatures instead of a token; and the
/// add-on token exchange, authenticated by the JWT Timebridge signed for the add-on.
const SIGNATURE_VERIFIED: &[&str] = &[
    "/api/integrations/github/webhook",
    "/api/integrations/slack/events",
    "/api/integrations/clickup/webhook",
    "/api/v1/integration/plugins/token",
];

/// Every route the router serves under /api is in the access table (none is left unguarded).
#[test]
fn every_api_route_declares_its_access() {
    let (_, doc) = timebridge::app::api_routes().split_for_parts();
    let doc = timebridge::platform::openapi::finalize(doc);
    let table = timebridge::platform::openapi::AccessTable::from_openapi(&doc, |s| {
        s.parse::<timebridge::access::Scope>().is_ok()
    });
    let operations: usize = doc
        .paths
        .paths
        .values()
        .map(|item| {
            [&item.get, &item.post, &item.put, &item.patch, &item.delete]
                .iter()
                .filter(|op| op.is_some())
                .count()
        })
        .sum();
    assert_eq!(table.len(), operations);
}
