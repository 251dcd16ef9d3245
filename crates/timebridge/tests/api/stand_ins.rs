//! Local stand-ins for the providers' APIs, on 127.0.0.1, speaking their real protocols:
//! GitHub's REST API (repository, paged issue list with `Link` headers, the user, an OAuth
//! app's grant deletion) and Slack's Web API
//! (`auth.test`, `auth.revoke`, `chat.postMessage`, each checking the bearer token).

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// What a stand-in was asked.
#[derive(Clone, Debug)]
pub struct Call {
    pub path: String,
    pub query: std::collections::HashMap<String, String>,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    token: String,
    issues: Vec<Value>,
}

/// A stand-in server; stops when dropped.
pub struct StandIn {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    _stop: oneshot::Sender<()>,
}

impl StandIn {
    async fn serve(router: Router<Arc<Mutex<Inner>>>, token: &str) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            token: token.to_owned(),
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let app = router.with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            base: format!("http://{addr}"),
            inner,
            _stop: tx,
        }
    }

    /// GitHub's REST API for one token, serving `issues` (open ones) page by page.
    pub async fn github(token: &str, issues: Vec<Value>) -> Self {
        let router = Router::new()
            .route("/repos/{owner}/{repo}", get(github_repo))
            .route("/repos/{owner}/{repo}/issues", get(github_issues))
            .route("/user", get(github_user))
            .route(
                "/applications/{client_id}/grant",
                axum::routing::delete(github_delete_grant),
            );
        let stand_in = Self::serve(router, token).await;
        stand_in.inner.lock().unwrap().issues = issues;
        stand_in
    }

    /// Slack's Web API for one bot token.
    pub async fn slack(token: &str) -> Self {
        let router = Router::new().route("/{method}", post(slack_method));
        Self::serve(router, token).await
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// The `chat.postMessage` bodies received.
    pub fn messages(&self) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.path == "chat.postMessage")
            .map(|c| c.body)
            .collect()
    }
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned()
}

fn record(
    inner: &Arc<Mutex<Inner>>,
    path: &str,
    query: std::collections::HashMap<String, String>,
    body: Value,
) {
    inner.lock().unwrap().calls.push(Call {
        path: path.to_owned(),
        query,
        body,
    });
}

async fn github_repo(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    record(
        &inner,
        &format!("repos/{owner}/{repo}"),
        Default::default(),
        Value::Null,
    );
    if bearer(&headers) != inner.lock().unwrap().token {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}))).into_response();
    }
    axum::Json(json!({"id": 1296269, "full_name": format!("{owner}/{repo}"), "private": false}))
        .into_response()
}

async fn github_issues(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    record(
        &inner,
        &format!("repos/{owner}/{repo}/issues"),
        query.clone(),
        Value::Null,
    );
    let state = inner.lock().unwrap();
    if bearer(&headers) != state.token {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    let per_page: usize = query
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30);
    let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let label = query.get("labels");
    let matching: Vec<&Value> = state
        .issues
        .iter()
        .filter(|i| {
            label.is_none_or(|l| {
                i["labels"]
                    .as_array()
                    .is_some_and(|ls| ls.iter().any(|x| x["name"] == l.as_str()))
            })
        })
        .collect();
    let slice: Vec<Value> = matching
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|v| (*v).clone())
        .collect();
    let mut response = axum::Json(slice).into_response();
    if page * per_page < matching.len() {
        let next = format!(
            "<https://api.github.com/repositories/1/issues?page={}>; rel=\"next\"",
            page + 1
        );
        response.headers_mut().insert("link", next.parse().unwrap());
    }
    response
}

/// `GET /user`: the authenticated user (the login only matters here).
async fn github_user(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    record(&inner, "user", Default::default(), Value::Null);
    if bearer(&headers) != inner.lock().unwrap().token {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    axum::Json(json!({"login": "octocat", "id": 583231, "type": "User"})).into_response()
}

/// `DELETE /applications/{client_id}/grant`: an OAuth app deletes a user's grant, with the
/// app's basic auth and `{"access_token": …}` (204; 404 for an unknown token; 401 for bad
/// client credentials). The basic auth's `client_id:secret` must be `{client_id}:` + the
/// stand-in's token's "client secret", which tests set as `secret-for-{client_id}`.
async fn github_delete_grant(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    record(
        &inner,
        &format!("applications/{client_id}/grant"),
        Default::default(),
        body.clone(),
    );
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or_default();
    if basic != format!("{client_id}:secret-for-{client_id}") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    if body["access_token"] != inner.lock().unwrap().token.as_str() {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Not Found"})),
        )
            .into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn slack_method(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    record(&inner, &method, Default::default(), body.clone());
    if bearer(&headers) != inner.lock().unwrap().token {
        return axum::Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    match method.as_str() {
        "auth.test" => axum::Json(
            json!({"ok": true, "team": "Acme", "user": "timebridge", "team_id": "T1DC2JH3J"}),
        )
        .into_response(),
        "auth.revoke" => axum::Json(json!({"ok": true, "revoked": true})).into_response(),
        "chat.postMessage" if body["channel"].is_string() && body["text"].is_string() => {
            axum::Json(json!({"ok": true, "channel": body["channel"], "ts": "1503435956.000247"}))
                .into_response()
        }
        "chat.postMessage" => {
            axum::Json(json!({"ok": false, "error": "channel_not_found"})).into_response()
        }
        _ => axum::Json(json!({"ok": false, "error": "unknown_method"})).into_response(),
    }
}

/// A realistic GitHub issue (the REST API's shape, trimmed).
pub fn issue(number: u64, title: &str, labels: &[&str]) -> Value {
    json!({
        "id": 1_000_000 + number,
        "node_id": format!("I_kwDO{number}"),
        "number": number,
        "title": title,
        "body": format!("Steps to reproduce issue {number}"),
        "state": "open",
        "html_url": format!("https://github.com/octo-org/hello-world/issues/{number}"),
        "labels": labels.iter().map(|l| json!({"id": 1, "name": l, "color": "d73a4a"})).collect::<Vec<_>>(),
        "assignee": null,
        "assignees": [],
        "user": {"login": "octocat", "id": 1},
        "created_at": "2026-11-20T10:00:00Z",
        "updated_at": "2026-11-20T10:00:00Z",
    })
}
