//! The application: shared state, the router assembled from every capability's routes, and
//! serving with graceful shutdown.

use std::{net::SocketAddr, ops::Deref, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::json;
use tokio::{net::TcpListener, task::JoinHandle};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    access::{self, TokenAuthority, usage::UsageRecorder},
    addons,
    config::Config,
    connectors, directory, events, jobs, oauth,
    platform::{
        self,
        auth::{Authority, Guard, guard},
        constraints::ConstraintRule,
        consumers::{AfterCommit, InTransaction},
        crypto::{Keyring, load_secret_key},
        db::{self, Db},
        error::ApiError,
        extract::BodyLimit,
        jobs::{
            JobKind, JobRegistry,
            runner::{self, RunnerSettings},
        },
        openapi::{self, AccessTable, ApiDoc},
        ratelimit::{RateLimiter, RedisLimiter},
        read_cache::ReadCache,
        request_log::log_requests,
        sealed::SealedColumn,
    },
    tracking, webhooks,
};

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub reads: ReadCache,
    pub tokens: Arc<TokenAuthority>,
    pub limiter: Arc<RateLimiter>,
    pub usage: UsageRecorder,
    /// The keys that seal stored secrets (`TIMEBRIDGE_SECRET_KEY`).
    pub secret_key: Keyring,
    /// The connectors this server offers (registered in `capabilities`).
    pub connectors: Arc<connectors::ConnectorRegistry>,
    /// Active connector integrations, for the webhook receivers.
    pub integrations: connectors::store::ActiveIntegrations,
    /// Applies verified GitHub deliveries, many per transaction.
    pub github: connectors::github::batch::Batcher,
    /// The job kinds every capability registered.
    pub jobs: Arc<JobRegistry<AppState>>,
    /// The key this instance signs its calls to add-ons with, decoded.
    pub addon_keys: addons::signing::SigningKeys,
    /// Signers of owned endpoints' deliveries (registered in `capabilities`).
    pub delivery_signers: webhooks::signers::Signers,
}

impl AppState {
    /// A handle that does not keep the application alive, for what the application itself
    /// holds (event consumers): no reference cycle, so a stopped application is freed.
    pub fn downgrade(&self) -> WeakApp {
        WeakApp(Arc::downgrade(&self.0))
    }
}

/// See [`AppState::downgrade`].
#[derive(Clone)]
pub struct WeakApp(std::sync::Weak<Inner>);

impl WeakApp {
    /// The application, unless it has stopped.
    pub fn upgrade(&self) -> Option<AppState> {
        self.0.upgrade().map(AppState)
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// A built application, ready to serve.
pub struct App {
    pub router: Router,
    pub openapi: utoipa::openapi::OpenApi,
    pub state: AppState,
    background: Vec<JoinHandle<()>>,
    usage_writer: JoinHandle<()>,
    /// The webhook worker's lease owner in this process, when it runs.
    worker_owner: Option<String>,
}

type MakeInTransaction = Box<dyn Fn(&Db) -> Arc<dyn InTransaction>>;
type MakeAfterCommit = Box<dyn Fn(&AppState) -> Arc<dyn AfterCommit>>;

/// What the capabilities plug into the platform at start-up: event consumers and job kinds.
/// Each capability has one `register(&mut Capabilities)` function; [`capabilities`] calls them.
#[derive(Default)]
pub struct Capabilities {
    in_transaction: Vec<MakeInTransaction>,
    after_commit: Vec<MakeAfterCommit>,
    constraints: Vec<&'static [ConstraintRule]>,
    sealed: Vec<&'static [SealedColumn]>,
    /// The connectors, by provider.
    pub connectors: connectors::ConnectorRegistry,
    jobs: JobRegistry<AppState>,
    delivery_signers: webhooks::signers::Signers,
}

impl Capabilities {
    /// An event consumer that writes in each change's transaction (made per database).
    pub fn in_transaction(&mut self, make: impl Fn(&Db) -> Arc<dyn InTransaction> + 'static) {
        self.in_transaction.push(Box::new(make));
    }

    /// An event consumer that reacts after each commit (made once the application exists).
    pub fn after_commit(&mut self, make: impl Fn(&AppState) -> Arc<dyn AfterCommit> + 'static) {
        self.after_commit.push(Box::new(make));
    }

    /// A connector: its uniform routes and receivers answer from then on.
    pub fn connector(&mut self, connector: Arc<dyn connectors::Connector>) {
        self.connectors.register(connector);
    }

    /// A kind of background job.
    pub fn job(&mut self, kind: JobKind<AppState>) {
        self.jobs.register(kind);
    }

    /// A signer for the webhook deliveries of endpoints a capability owns (their `signer`
    /// names it), used instead of the Standard Webhooks HMAC.
    pub fn delivery_signer(
        &mut self,
        name: &'static str,
        signer: Arc<dyn webhooks::signers::DeliverySigner>,
    ) {
        self.delivery_signers.register(name, signer);
    }

    /// The rules turning violations of a capability's database constraints into 4xx answers
    /// (see `platform::constraints`).
    pub fn constraints(&mut self, rules: &'static [ConstraintRule]) {
        self.constraints.push(rules);
    }

    /// The columns a capability stores sealed with the server's keys, which
    /// `timebridge secrets rotate` moves to the current key (see `platform::sealed`).
    pub fn sealed(&mut self, columns: &'static [SealedColumn]) {
        self.sealed.push(columns);
    }

    /// Every registered sealed column.
    pub fn sealed_columns(&self) -> Vec<SealedColumn> {
        self.sealed.iter().flat_map(|c| c.iter().copied()).collect()
    }

    /// What every process that writes needs (the server, the CLI): the in-transaction
    /// consumers on `db`, and the constraint rules.
    pub fn attach_writers(&self, db: &Db) {
        for make in &self.in_transaction {
            db.consumers().add_in_transaction(make(db));
        }
        for rules in &self.constraints {
            platform::constraints::register(rules);
        }
    }
}

/// Every capability that plugs into the platform: the one list to extend when adding one.
pub fn capabilities() -> Capabilities {
    let mut c = Capabilities::default();
    c.constraints(directory::CONSTRAINTS);
    c.constraints(tracking::CONSTRAINTS);
    tracking::time_entries::register(&mut c);
    tracking::expenses::register(&mut c);
    webhooks::register(&mut c);
    connectors::register(&mut c);
    connectors::github::register(&mut c);
    connectors::slack::register(&mut c);
    connectors::google_calendar::register(&mut c);
    connectors::clickup::register(&mut c);
    connectors::bindings::register(&mut c);
    addons::register(&mut c);
    oauth::register(&mut c);
    c
}

/// Every API route with its OpenAPI description, before the guard is attached.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(tracking::clients::routes::routes())
        .merge(tracking::projects::routes::routes())
        .merge(tracking::time_entries::routes::routes())
        .merge(tracking::tasks::routes::routes())
        .merge(tracking::tags::routes::routes())
        .merge(tracking::expenses::routes::routes())
        .merge(tracking::quotes::routes::routes())
        .merge(tracking::invoices::routes::routes())
        .merge(tracking::reports::routes::routes())
        .merge(tracking::time_off::routes::routes())
        .merge(tracking::timesheets::routes::routes())
        .merge(events::routes::routes())
        .merge(webhooks::routes::routes())
        .merge(connectors::routes::routes())
        .merge(oauth::routes::routes())
        .merge(connectors::clickup::routes::routes())
        .merge(connectors::bindings::routes::routes())
        .merge(addons::routes::routes())
        .merge(jobs::routes::routes())
        .merge(directory::routes::routes())
        .merge(access::routes::routes())
}

impl App {
    /// Connects to the database, applies migrations, connects to Redis when configured, and
    /// assembles the router.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let secret_key = load_secret_key(&config)?;
        db::migrate(&config)
            .await
            .map_err(|e| anyhow::anyhow!("cannot migrate DATABASE_URL: {e}"))?;
        let db = db::connect(&config)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open DATABASE_URL: {e}"))?;
        let redis = match &config.redis_url {
            Some(url) => Some(
                RedisLimiter::connect(url, config.rate_limits.window)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot connect to REDIS_URL: {e}"))?,
            ),
            None => None,
        };
        let (usage, usage_writer) = access::usage::start(
            db.conn().clone(),
            config.usage_log_flush,
            config.usage_log_retention_days,
        );
        let batch_db = db.clone();
        let capabilities = capabilities();
        capabilities.attach_writers(&db);
        let Capabilities {
            after_commit,
            jobs,
            connectors: registered_connectors,
            delivery_signers,
            ..
        } = capabilities;
        let state = AppState(Arc::new(Inner {
            tokens: Arc::new(TokenAuthority::new(
                db.conn().clone(),
                config.token_cache_ttl,
                config.rate_limits.clone(),
            )),
            reads: ReadCache::new(db.clone(), config.read_cache_bytes),
            limiter: Arc::new(RateLimiter::new(config.rate_limits.window, redis)),
            usage,
            db,
            secret_key,
            config,
            connectors: Arc::new(registered_connectors),
            integrations: Default::default(),
            github: connectors::github::batch::Batcher::start(batch_db),
            jobs: Arc::new(jobs),
            addon_keys: Default::default(),
            delivery_signers,
        }));
        for make in &after_commit {
            state.db.consumers().add_after_commit(make(&state));
        }
        let mut background = vec![
            spawn_housekeeping(state.clone()),
            spawn_version_refresh(state.clone()),
        ];
        let (worker_tasks, worker_owner) = webhooks::worker::spawn(state.clone());
        background.extend(worker_tasks);
        if state.config.jobs_enabled {
            let settings = RunnerSettings {
                workers: state.config.job_workers as usize,
                queues: state.config.job_queues.clone(),
            };
            let (runner, _) = runner::spawn(
                state.db.clone(),
                state.jobs.clone(),
                state.clone(),
                settings,
            );
            background.push(runner);
        }
        // Last: it listens on every signal the workers above asked for.
        background.extend(platform::signal::spawn_listener(state.db.clone()));
        let (router, openapi) = router(state.clone());
        Ok(Self {
            router,
            openapi,
            state,
            background,
            usage_writer,
            worker_owner,
        })
    }

    /// Serves on `listener` until `shutdown` resolves, then drains in-flight requests and writes
    /// the usage logs still queued.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            router,
            state,
            background,
            usage_writer,
            worker_owner,
            ..
        } = self;
        let release_state = state.clone();
        drop(state);
        // Without TCP_NODELAY, the last small segment of a response can wait for the client's
        // delayed ACK: a 40 ms stall on a keep-alive connection.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        for task in background {
            task.abort();
        }
        // Other instances can take this one's webhook endpoints over at once.
        if let Some(owner) = worker_owner
            && let Err(e) = webhooks::worker::release_all(&release_state, &owner).await
        {
            tracing::warn!(error = %e, "could not release webhook leases");
        }
        drop(release_state);
        // The router (and with it every usage recorder) is gone: the writer drains and stops.
        let _ = tokio::time::timeout(Duration::from_secs(10), usage_writer).await;
        Ok(())
    }
}

fn spawn_housekeeping(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            state.limiter.retain_recent();
        }
    })
}

/// Notices writes other processes made to the SQLite file (see `platform::read_cache`).
fn spawn_version_refresh(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = state.reads.refresh().await {
                tracing::warn!(error = %e, "could not refresh workspace data versions");
            }
        }
    })
}

/// Assembles the whole router and the final OpenAPI document.
fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (api, mut doc) = api_routes().split_for_parts();
    // Unguarded: health, the receivers providers call (authenticated by signatures), and the
    // keys add-ons verify our calls with.
    let (system, system_doc) = OpenApiRouter::<AppState>::new()
        .routes(routes!(health))
        .merge(connectors::routes::receivers(&state.connectors))
        .merge(oauth::routes::browser())
        .merge(connectors::clickup::routes::browser())
        .merge(addons::signing::well_known())
        .merge(addons::exchange::routes())
        .split_for_parts();
    doc.merge(system_doc);
    connectors::routes::document_configs(&mut doc, &state.connectors);
    let doc = openapi::finalize(doc);
    let authority = Arc::new(access::TokenGate {
        tokens: state.tokens.clone(),
        usage: state.usage.clone(),
    });
    let table = Arc::new(AccessTable::from_openapi(&doc, |s| {
        authority.knows_scope(s)
    }));
    let guard_state = Guard {
        authority,
        limiter: state.limiter.clone(),
        window: state.config.rate_limits.window,
        trust_forwarded_for: state.config.trust_forwarded_for,
        table,
        auth_failures: state.config.rate_limits.auth_failures,
        blocked: Arc::new(quick_cache::sync::Cache::new(10_000)),
    };
    let api = api.route_layer(middleware::from_fn_with_state(guard_state, guard));

    let max_body = state.config.max_body_bytes;
    let router = Router::new()
        .merge(api)
        .merge(system)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", doc.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(
            platform::extract::json_payload_too_large,
        ))
        .layer(axum::Extension(BodyLimit(max_body)))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(middleware::from_fn(platform::extract::refuse_nul_in_query))
        .layer(middleware::from_fn(log_requests))
        .with_state(state);
    (router, doc)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("Route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal(anyhow::anyhow!("a handler panicked")).into_response()
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
    /// `ok`, or what is wrong with the database.
    pub database: String,
    pub version: String,
}

/// Liveness and database check: 200 when the database answers, 503 when it does not.
#[utoipa::path(
    get, path = "/health", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health))
)]
async fn health(State(state): State<AppState>) -> Response {
    let check = tokio::time::timeout(Duration::from_secs(3), db::ping(&state.db)).await;
    let (status, database) = match check {
        Ok(Ok(())) => (StatusCode::OK, "ok".to_owned()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "unreachable".to_owned())
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "timed out".to_owned()),
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ok" } else { "unavailable" },
        "database": database,
        "version": env!("CARGO_PKG_VERSION"),
    });
    (status, axum::Json(body)).into_response()
}
