//! `TestApp`: a running server plus helpers to make workspaces, users and tokens.

use std::{collections::HashMap, time::Duration};

use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use tempfile::TempDir;
use timebridge::{
    access::tokens::{self, Expiry, NewToken},
    app::App,
    config::Config,
    directory::{Member, NewUser, Plan, service::create_user},
    platform::db::Db,
};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Where the test server keeps its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fixed 32-byte key (base64) for PostgreSQL test servers.
pub const TEST_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/timebridge_test".to_owned())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Creates a PostgreSQL database when it does not exist yet (concurrent callers are fine).
pub async fn ensure_postgres_database(url: &str) {
    let (server, name) = url
        .rsplit_once('/')
        .expect("a database URL ends with /name");
    let admin = Database::connect(format!("{server}/postgres"))
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 (see README: Running the tests)");
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        ))
        .await
        .expect("query pg_database")
        .is_some();
    if !exists {
        // Another test may win the race; "already exists" is fine.
        let _ = admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await;
    }
    let _ = admin.close().await;
}

/// A database for one test: a fresh SQLite file (kept while the `TempDir` lives), or the
/// shared PostgreSQL test database (tests isolate themselves by workspace).
pub async fn database(backend: Backend) -> (String, Option<TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => {
            let url = postgres_url();
            ensure_postgres_database(&url).await;
            (url, None)
        }
    }
}

/// A database of the test's own on either backend: on PostgreSQL a new database beside the
/// shared one (`timebridge_test_<id>`; `scripts/test.sh` drops them before each run). For tests
/// whose background work must not meet other tests' data (the webhook worker claims endpoints
/// across the whole database).
pub async fn private_database(backend: Backend) -> (String, Option<TempDir>) {
    match backend {
        Backend::Sqlite => database(backend).await,
        Backend::Postgres => {
            let shared = postgres_url();
            let (server, name) = shared
                .rsplit_once('/')
                .expect("a database URL ends with /name");
            let url = format!("{server}/{name}_{}", Uuid::now_v7().simple());
            ensure_postgres_database(&url).await;
            (url, None)
        }
    }
}

/// A running server.
pub struct TestApp {
    pub base: String,
    /// The server's own pool: writes through it are seen by the server as its own.
    pub db: Db,
    /// The server's shared state (for calling services and jobs directly).
    pub state: timebridge::app::AppState,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: Option<TempDir>,
}

impl TestApp {
    pub async fn start(backend: Backend) -> Self {
        Self::with_env(backend, &[]).await
    }

    /// A server with extra configuration, on a fresh database (SQLite) or the shared test
    /// database (PostgreSQL; tests isolate themselves by workspace).
    pub async fn with_env(backend: Backend, env: &[(&str, &str)]) -> Self {
        let (url, dir) = database(backend).await;
        let mut app = Self::on_database(&url, env).await;
        app._dir = dir;
        app
    }

    /// A server with extra configuration on a database of its own (see [`private_database`]).
    pub async fn private(backend: Backend, env: &[(&str, &str)]) -> Self {
        let (url, dir) = private_database(backend).await;
        let mut app = Self::on_database(&url, env).await;
        app._dir = dir;
        app
    }

    /// A server on a given database URL (two servers may share one).
    /// Unless `env` says otherwise, the server's public URL is its own address, so the URLs it
    /// gives add-ons reach it.
    pub async fn on_database(url: &str, env: &[(&str, &str)]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut vars: HashMap<String, String> = HashMap::from([
            ("DATABASE_URL".into(), url.to_owned()),
            ("TIMEBRIDGE_SECRET_KEY".into(), TEST_KEY.into()),
            ("API_USAGE_LOG_FLUSH_MS".into(), "20".into()),
            ("DATABASE_MAX_CONNECTIONS".into(), "5".into()),
            ("TIMEBRIDGE_PUBLIC_URL".into(), base.clone()),
        ]);
        for (k, v) in env {
            vars.insert((*k).into(), (*v).into());
        }
        let config = Config::from_map(&vars).expect("valid test configuration");
        let app = App::build(config).await.expect("the app builds");
        let db = app.state.db.clone();
        let state = app.state.clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            app.serve(listener, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        Self {
            base,
            db,
            state,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            _dir: None,
        }
    }

    /// A new user in a new workspace.
    pub async fn member(&self, admin: bool, plan: Plan) -> Member {
        self.member_in(&format!("ws-{}", Uuid::now_v7()), admin, Some(plan))
            .await
    }

    /// A new user in the named workspace (created when missing).
    pub async fn member_in(&self, workspace: &str, admin: bool, plan: Option<Plan>) -> Member {
        create_user(
            &self.db,
            NewUser {
                email: format!("user-{}@example.com", Uuid::now_v7()),
                name: "Test User".into(),
                password: None,
                admin,
                workspace: workspace.into(),
                plan,
            },
        )
        .await
        .expect("user created")
    }

    /// Issues a token with these scopes (no expiry).
    pub async fn token(&self, member: &Member, scopes: &[&str]) -> String {
        tokens::issue(
            &self.db,
            member,
            NewToken {
                name: "test".into(),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                expiry: Expiry::Never,
                allowed_ips: Vec::new(),
            },
            None,
            365,
        )
        .await
        .expect("token issued")
        .secret
    }

    /// A member of a new free workspace with a token of these scopes.
    pub async fn caller(&self, admin: bool, scopes: &[&str]) -> (Member, String) {
        let member = self.member(admin, Plan::Free).await;
        let token = self.token(&member, scopes).await;
        (member, token)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(token)
    }

    pub fn patch(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.client.patch(self.url(path)).bearer_auth(token)
    }

    pub fn put(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.client.put(self.url(path)).bearer_auth(token)
    }

    pub fn delete(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(token)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// [`send`], also answering the response's headers.
pub async fn send_with_headers(
    request: reqwest::RequestBuilder,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body read");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    )
}

/// Sends a request and returns the status and the JSON body (`Null` when there is none).
pub async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body read");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, body)
}

/// Polls `check` until it returns `Some`, for at most five seconds.
pub async fn eventually<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..100 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within five seconds");
}

/// Writes each test once per backend: `both! { async fn name(backend) { ... } }` becomes
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn case($backend: $crate::support::Backend) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    case($crate::support::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    case($crate::support::Backend::Postgres).await;
                }
            }
        )*
    };
}

/// What an endpoint needs of a token, for [`scope_matrix`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    Read,
    Write,
}

/// The scope matrix of a resource's endpoints: with no token each answers 401; with a token of
/// only `read:<resource>`, reads are let through and writes answer 403 naming
/// `write:<resource>`; with `write:<resource>` everything is let through. "Let through" means
/// the answer is neither 401 nor 403 (it may still be 404 or 400 for the placeholder ids).
pub async fn scope_matrix(
    app: &TestApp,
    admin: bool,
    resource: &str,
    endpoints: &[(reqwest::Method, String, Needs)],
) {
    let member = app.member(admin, Plan::Enterprise).await;
    let read = app.token(&member, &[&format!("read:{resource}")]).await;
    let write = app.token(&member, &[&format!("write:{resource}")]).await;
    for (method, path, needs) in endpoints {
        let request = |token: Option<&str>| {
            let mut r = app.client.request(method.clone(), app.url(path));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            if *method != reqwest::Method::GET {
                r = r.json(&serde_json::json!({}));
            }
            r
        };
        let (status, body) = send(request(None)).await;
        assert_eq!(status, 401, "{method} {path} without a token: {body}");
        assert_eq!(body["error_code"], "unauthorized");

        let (status, body) = send(request(Some(&read))).await;
        match needs {
            Needs::Read => assert!(
                status != 401 && status != 403,
                "{method} {path} with read:{resource} got {status}: {body}"
            ),
            Needs::Write => {
                assert_eq!(status, 403, "{method} {path} with read:{resource}: {body}");
                assert_eq!(body["required_scope"], format!("write:{resource}"));
            }
        }
        let (status, body) = send(request(Some(&write))).await;
        assert!(
            status != 401 && status != 403,
            "{method} {path} with write:{resource} got {status}: {body}"
        );
    }
}

/// The workspace's events after `after`, as the feed returns them.
pub async fn events_after(app: &TestApp, admin_token: &str, after: i64) -> Vec<Value> {
    let (status, page) = send(app.get(
        admin_token,
        &format!("/api/v1/integration/events?after={after}&limit=1000"),
    ))
    .await;
    assert_eq!(status, 200, "{page}");
    page["events"].as_array().cloned().unwrap_or_default()
}

/// A Python that can import `module`, installing `package` from PyPI when it cannot yet (for
/// tests that check our output with a standard library: webhook signatures, the OpenAPI
/// document).
pub fn python_with(module: &str, package: &str) -> &'static str {
    use std::process::Command;
    let python = if Command::new("python3").arg("--version").output().is_ok() {
        "python3"
    } else {
        "python"
    };
    let has = || {
        Command::new(python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has() {
        let out = Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                package,
            ])
            .output()
            .expect("pip runs");
        assert!(
            out.status.success(),
            "pip install {package}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    python
}
