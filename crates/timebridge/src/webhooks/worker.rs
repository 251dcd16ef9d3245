//! The delivery worker: claims endpoints whose head delivery is due, sends each endpoint's
//! deliveries one at a time in event order, and records every attempt.
//!
//! * **Claims** are leases on the endpoint row (`lease_owner`, `lease_expires_at`), taken with
//!   the platform's lease helper ([`crate::platform::lease`]), oldest due first,
//!   so several instances share the endpoints, an endpoint has one sender at a time (its order
//!   holds), and a crashed instance's endpoints are taken over when its leases expire.
//! * **Waking**: a commit that queued deliveries wakes this process at once
//!   ([`super::deliveries_queued`]) and, on PostgreSQL, every instance (`NOTIFY`); otherwise the
//!   worker polls every second for retries that came due.
//! * **At least once**: a delivery is marked done only after its receiver answered, so a crash
//!   between the two sends it again, with the same `webhook-id`.
//! * **Fairness**: an endpoint is held for at most [`FAIR_SHARE`] before it goes back in line.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use ::time::OffsetDateTime;
use rand::Rng;
use sea_orm::{
    ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use tokio::{sync::Semaphore, task::JoinHandle};
use tracing::Instrument;
use uuid::Uuid;

use super::{
    SECRET_PURPOSE,
    entity::{DeliveryStatus, RetryPolicy, delivery, endpoint},
    message_id, ops,
    signing::{self, WebhookSecret},
};
use crate::{
    app::AppState,
    config::WebhookConfig,
    platform::{
        db::Db,
        http_client::{self, TargetPolicy},
        lease::{self, Claim, Leased},
        outbox::{EventView, event},
        time,
    },
};

/// Deliveries read per round trip.
const BATCH: u64 = 50;
/// How long one claim may keep an endpoint before it goes back in line.
const FAIR_SHARE: Duration = Duration::from_secs(5);
/// How often the worker looks for due retries when nothing wakes it.
const POLL: Duration = Duration::from_secs(1);
/// Longest `Retry-After` honoured.
const RETRY_AFTER_MAX: u64 = 3600;
/// Bytes of a receiver's answer kept in the attempt log.
const EXCERPT_BYTES: usize = 1024;

/// What every sending task shares.
pub(super) struct Shared {
    pub app: AppState,
    pub owner: String,
    pub client: reqwest::Client,
    pub policy: TargetPolicy,
}

impl Shared {
    fn config(&self) -> &WebhookConfig {
        &self.app.config.webhooks
    }

    fn db(&self) -> &Db {
        &self.app.db
    }
}

/// Starts the worker (unless `WEBHOOK_WORKERS=0`). Returns the tasks and the lease owner name.
pub fn spawn(app: AppState) -> (Vec<JoinHandle<()>>, Option<String>) {
    let workers = app.config.webhooks.workers as usize;
    if workers == 0 {
        return (Vec::new(), None);
    }
    let policy = super::endpoints::policy(&app);
    let shared = Arc::new(Shared {
        client: http_client::client(policy, app.config.webhooks.timeout, USER_AGENT),
        owner: format!("tb-{}", Uuid::now_v7().simple()),
        policy,
        app,
    });
    let tasks = vec![tokio::spawn(dispatch(shared.clone(), workers))];
    (tasks, Some(shared.owner.clone()))
}

const USER_AGENT: &str = concat!("Timebridge-Webhooks/", env!("CARGO_PKG_VERSION"));

/// Claims due endpoints while there are free senders, and hands each to a task.
async fn dispatch(shared: Arc<Shared>, workers: usize) {
    let slots = Arc::new(Semaphore::new(workers));
    let finished = Arc::new(tokio::sync::Notify::new());
    let wake = super::deliveries_queued(shared.db());
    loop {
        let free = slots.available_permits();
        if free > 0 {
            match claim(&shared, free as u64).await {
                Ok(claimed) => {
                    for endpoint in claimed {
                        // Cannot fail: the semaphore is never closed, and `free` permits exist.
                        let Ok(permit) = slots.clone().try_acquire_owned() else {
                            break;
                        };
                        let (shared, finished) = (shared.clone(), finished.clone());
                        tokio::spawn(async move {
                            serve_endpoint(&shared, endpoint).await;
                            drop(permit);
                            finished.notify_one();
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhook worker: cannot claim endpoints"),
            }
        }
        tokio::select! {
            _ = wake.raised() => {}
            _ = finished.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

impl Leased for endpoint::Entity {
    const ID: endpoint::Column = endpoint::Column::Id;
    const OWNER: endpoint::Column = endpoint::Column::LeaseOwner;
    const EXPIRES: endpoint::Column = endpoint::Column::LeaseExpiresAt;
}

/// Leases up to `n` endpoints whose head delivery is due, oldest due first.
async fn claim(shared: &Shared, n: u64) -> Result<Vec<endpoint::Model>, DbErr> {
    let due = Condition::all()
        .add(endpoint::Column::Active.eq(true))
        .add(endpoint::Column::NextDueAt.lte(time::now()));
    lease::claim(
        shared.db(),
        Claim::<endpoint::Entity> {
            due,
            order_by: endpoint::Column::NextDueAt,
            limit: n,
            owner: &shared.owner,
            lease: shared.config().lease,
            also: Vec::new(),
        },
    )
    .await
}

/// Where an endpoint's queue stands when its sender lets it go.
#[derive(Debug)]
enum Release {
    /// Nothing pending.
    Idle,
    /// The head waits for a retry at this time.
    At(OffsetDateTime),
    /// More is due, but others get a turn first.
    Now,
    /// Disabled while sending; nothing more goes out.
    Disabled,
}

/// Delivers what is due for one claimed endpoint, then gives the lease back.
async fn serve_endpoint(shared: &Shared, endpoint: endpoint::Model) {
    let span = tracing::info_span!(
        "webhook.endpoint",
        endpoint = %endpoint.id,
        workspace = %endpoint.workspace_id,
    );
    serve_endpoint_in_span(shared, endpoint)
        .instrument(span)
        .await
}

async fn serve_endpoint_in_span(shared: &Shared, endpoint: endpoint::Model) {
    let release = match drain(shared, &endpoint).await {
        Ok(release) => release,
        Err(e) => {
            tracing::warn!(endpoint = %endpoint.id, error = %e, "webhook delivery round failed");
            Release::At(time::now() + Duration::from_secs(5))
        }
    };
    if let Err(e) = give_back(shared, &endpoint, release).await {
        // The lease expires on its own; another round (or instance) takes over.
        tracing::warn!(endpoint = %endpoint.id, error = %e, "cannot release webhook endpoint");
    }
}

/// The secrets that sign: the current one, and the previous one during a rotation.
fn signing_secrets(
    shared: &Shared,
    endpoint: &endpoint::Model,
) -> Result<Vec<WebhookSecret>, DbErr> {
    let open = |sealed: &str| -> Result<WebhookSecret, DbErr> {
        let bytes = shared
            .app
            .secret_key
            .open(SECRET_PURPOSE, sealed)
            .map_err(|e| DbErr::Custom(format!("webhook secret: {e}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| DbErr::Custom("webhook secret is not text".into()))?;
        WebhookSecret::parse(&text).map_err(|e| DbErr::Custom(format!("webhook secret: {e}")))
    };
    let mut secrets = vec![open(&endpoint.secret)?];
    let rotating = endpoint
        .previous_secret_expires_at
        .is_some_and(|until| until > time::now());
    if let (true, Some(previous)) = (rotating, &endpoint.previous_secret) {
        secrets.push(open(previous)?);
    }
    Ok(secrets)
}

async fn drain(shared: &Shared, endpoint: &endpoint::Model) -> Result<Release, DbErr> {
    let started = Instant::now();
    let secrets = signing_secrets(shared, endpoint)?;
    let policy = endpoint.retry_policy;
    let mut failing_since = endpoint.failing_since;
    let mut renewed = started;
    loop {
        let batch = pending(shared.db(), endpoint.id).await?;
        if batch.is_empty() {
            return Ok(Release::Idle);
        }
        let bodies = payloads(shared.db(), &batch).await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut stop = None;
        for d in batch {
            let now = time::now();
            if d.next_attempt_at > now {
                stop = Some(Release::At(d.next_attempt_at));
                break;
            }
            // Debug level: an info span per attempt costs the drain about 4 %; a failed
            // attempt logs its delivery and attempt number itself, inside the endpoint's span.
            let span =
                tracing::debug_span!("webhook.attempt", delivery = %d.id, attempt = d.attempts + 1);
            let outcome = attempt(shared, endpoint, &secrets, policy, &d, &bodies)
                .instrument(span)
                .await;
            if !outcome.succeeded {
                tracing::info!(
                    delivery = %d.id,
                    event = %d.event_type,
                    attempt = d.attempts + 1,
                    status_code = ?outcome.status_code,
                    error = outcome.error.as_deref().unwrap_or_default(),
                    next = ?outcome.status,
                    "webhook delivery attempt failed"
                );
            }
            let retry_at = outcome.retry_at();
            let gone = outcome.gone;
            outcomes.push(outcome);
            if gone {
                stop = Some(Release::Disabled);
                break;
            }
            if let Some(at) = retry_at {
                stop = Some(Release::At(at));
                break;
            }
            // Slow receivers: keep the lease while sending, and let others have a turn.
            if renewed.elapsed() > shared.config().lease / 2 {
                renew(shared, endpoint.id).await?;
                renewed = Instant::now();
            }
            if started.elapsed() > FAIR_SHARE {
                stop = Some(Release::Now);
                break;
            }
        }
        let disabled = ops::record(shared, endpoint, &mut failing_since, outcomes).await?;
        if disabled {
            return Ok(Release::Disabled);
        }
        if let Some(release) = stop {
            return Ok(release);
        }
        if started.elapsed() > FAIR_SHARE {
            return Ok(Release::Now);
        }
    }
}

/// The endpoint's pending deliveries, in order.
async fn pending(db: &Db, endpoint_id: Uuid) -> Result<Vec<delivery::Model>, DbErr> {
    delivery::Entity::find()
        .filter(delivery::Column::EndpointId.eq(endpoint_id))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending))
        .order_by_asc(delivery::Column::Sequence)
        .order_by_asc(delivery::Column::Id)
        .limit(BATCH)
        .all(db.conn())
        .await
}

/// The JSON bodies of the batch's events, by event id.
async fn payloads(db: &Db, batch: &[delivery::Model]) -> Result<HashMap<Uuid, String>, DbErr> {
    let ids: Vec<Uuid> = batch.iter().filter_map(|d| d.event_id).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let events = event::Entity::find()
        .filter(event::Column::Id.is_in(ids))
        .all(db.conn())
        .await?;
    let mut bodies = HashMap::with_capacity(events.len());
    for e in events {
        let id = e.id;
        let view = EventView::try_from(e)?;
        let body = serde_json::to_string(&view).map_err(|e| DbErr::Json(e.to_string()))?;
        bodies.insert(id, body);
    }
    Ok(bodies)
}

/// What became of one delivery in this round.
#[derive(Debug)]
pub(super) struct Outcome {
    pub delivery: delivery::Model,
    /// When the attempt was made (`None`: no request was sent, e.g. expired).
    pub attempted_at: Option<OffsetDateTime>,
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub excerpt: Option<String>,
    pub succeeded: bool,
    /// The delivery's new status and next attempt.
    pub status: DeliveryStatus,
    pub next_attempt_at: OffsetDateTime,
    /// The receiver answered 410 Gone: the endpoint is disabled.
    pub gone: bool,
}

impl Outcome {
    fn retry_at(&self) -> Option<OffsetDateTime> {
        (self.status == DeliveryStatus::Pending).then_some(self.next_attempt_at)
    }

    /// Attempts made so far, this one included.
    pub fn attempts(&self) -> i32 {
        self.delivery.attempts + i32::from(self.attempted_at.is_some())
    }
}

/// One delivery: checks, sends, classifies.
async fn attempt(
    shared: &Shared,
    endpoint: &endpoint::Model,
    secrets: &[WebhookSecret],
    policy: RetryPolicy,
    d: &delivery::Model,
    bodies: &HashMap<Uuid, String>,
) -> Outcome {
    let now = time::now();
    let config = shared.config();
    let mut outcome = Outcome {
        delivery: d.clone(),
        attempted_at: None,
        status_code: None,
        duration_ms: 0,
        error: None,
        excerpt: None,
        succeeded: false,
        status: DeliveryStatus::Failed,
        next_attempt_at: d.next_attempt_at,
        gone: false,
    };
    if d.created_at + config.delivery_ttl <= now {
        outcome.status = DeliveryStatus::Expired;
        outcome.error = Some(format!(
            "not delivered within WEBHOOK_DELIVERY_TTL_HOURS ({} h)",
            config.delivery_ttl.as_secs() / 3600
        ));
        return outcome;
    }
    let body = match (&d.payload, d.event_id) {
        (Some(body), _) => body.as_str(),
        (None, Some(id)) => match bodies.get(&id) {
            Some(body) => body.as_str(),
            None => {
                outcome.error = Some("the event is no longer stored".into());
                return outcome;
            }
        },
        (None, None) => {
            outcome.error = Some("the delivery has no payload".into());
            return outcome;
        }
    };
    if body.len() > config.max_payload_bytes {
        outcome.error = Some(format!(
            "payload of {} bytes exceeds WEBHOOK_MAX_PAYLOAD_SIZE_KB ({} KB); not sent",
            body.len(),
            config.max_payload_bytes / 1024
        ));
        return outcome;
    }
    outcome.attempted_at = Some(now);
    let sent = send(shared, endpoint, secrets, d, body).await;
    outcome.duration_ms = sent.duration_ms;
    outcome.status_code = sent.status_code;
    outcome.excerpt = sent.excerpt;
    outcome.error = sent.error;
    match sent.status_code {
        Some(code) if (200..300).contains(&code) => {
            outcome.succeeded = true;
            outcome.status = DeliveryStatus::Succeeded;
            outcome.error = None;
            return outcome;
        }
        Some(410) => {
            outcome.gone = true;
            outcome.error = Some("the receiver answered 410 Gone".into());
            return outcome;
        }
        _ => {}
    }
    let attempts = d.attempts + 1;
    // A ping is tried once, whatever the endpoint's policy.
    let exhausted =
        policy == RetryPolicy::None || d.event_id.is_none() || attempts as u32 > config.max_retries;
    if !exhausted {
        let wait = sent
            .retry_after
            .map(|s| Duration::from_secs(s.clamp(1, RETRY_AFTER_MAX)))
            .unwrap_or_else(|| backoff(policy, config.retry_backoff, attempts as u32));
        outcome.status = DeliveryStatus::Pending;
        outcome.next_attempt_at = time::truncate(now + wait);
    }
    outcome
}

/// The wait before retry `n` (1 = the first retry), with ±20 % jitter, at least a second.
pub fn backoff(policy: RetryPolicy, base: Duration, n: u32) -> Duration {
    let factor = match policy {
        RetryPolicy::Exponential => 2f64.powi(std::cmp::min(n.saturating_sub(1), 20) as i32),
        RetryPolicy::Linear => f64::from(std::cmp::max(n, 1)),
        RetryPolicy::None => 1.0,
    };
    let jitter = rand::rng().random_range(0.8..1.2);
    Duration::from_secs_f64((base.as_secs_f64() * factor * jitter).max(1.0))
}

/// What one HTTP request gave.
struct Sent {
    status_code: Option<i32>,
    retry_after: Option<u64>,
    duration_ms: i64,
    error: Option<String>,
    excerpt: Option<String>,
}

async fn send(
    shared: &Shared,
    endpoint: &endpoint::Model,
    secrets: &[WebhookSecret],
    d: &delivery::Model,
    body: &str,
) -> Sent {
    let mut sent = Sent {
        status_code: None,
        retry_after: None,
        duration_ms: 0,
        error: None,
        excerpt: None,
    };
    // An owned endpoint may send each event to its own URL.
    let url = endpoint
        .routes
        .as_deref()
        .and_then(|r| serde_json::from_str::<HashMap<String, String>>(r).ok())
        .and_then(|mut routes| routes.remove(&d.event_type))
        .unwrap_or_else(|| endpoint.url.clone());
    // The client's resolver refuses private addresses, but is not asked for literal IPs.
    if let Err(e) = http_client::check_url(shared.policy, &url) {
        sent.error = Some(format!("refused: {e}"));
        return sent;
    }
    let id = message_id(d.id);
    let headers = match endpoint.signer.as_deref() {
        None => {
            let timestamp = OffsetDateTime::now_utc().unix_timestamp();
            let refs: Vec<&WebhookSecret> = secrets.iter().collect();
            let signature = signing::signature_header(&refs, &id, timestamp, body.as_bytes());
            vec![
                (signing::WEBHOOK_ID, id),
                (signing::WEBHOOK_TIMESTAMP, timestamp.to_string()),
                (signing::WEBHOOK_SIGNATURE, signature),
            ]
        }
        Some(name) => {
            let signed = match shared.app.delivery_signers.get(name) {
                Some(signer) => signer.headers(&shared.app, endpoint, d, body).await,
                None => Err(format!("no delivery signer '{name}' is registered")),
            };
            match signed {
                Ok(mut headers) => {
                    headers.push((signing::WEBHOOK_ID, id));
                    headers
                }
                Err(e) => {
                    sent.error = Some(format!("not signed: {e}"));
                    return sent;
                }
            }
        }
    };
    let started = Instant::now();
    let mut request = shared
        .client
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(mut response) => {
            let status = response.status().as_u16();
            sent.status_code = Some(i32::from(status));
            if matches!(status, 429 | 502 | 503 | 504) {
                sent.retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
            }
            sent.excerpt = read_excerpt(&mut response).await;
            if !(200..300).contains(&status) {
                sent.error = Some(format!("the receiver answered {status}"));
            }
        }
        Err(e) => {
            sent.error = Some(
                http_client::refusal(&e)
                    .map(|r| format!("refused: {r}"))
                    .unwrap_or_else(|| describe(&e)),
            );
        }
    }
    sent.duration_ms = started.elapsed().as_millis() as i64;
    sent
}

/// Up to [`EXCERPT_BYTES`] of the answer, as text.
async fn read_excerpt(response: &mut reqwest::Response) -> Option<String> {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(EXCERPT_BYTES);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (!text.is_empty()).then_some(text)
}

/// A network error, without the URL (it may carry a token in its query).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text.chars().take(500).collect()
}

/// Extends this instance's lease on the endpoint.
async fn renew(shared: &Shared, endpoint_id: Uuid) -> Result<(), DbErr> {
    let held = lease::renew::<endpoint::Entity>(
        shared.db(),
        endpoint_id,
        &shared.owner,
        shared.config().lease,
    )
    .await?;
    if !held {
        return Err(DbErr::Custom("the lease was taken over".into()));
    }
    Ok(())
}

/// Lets go of the endpoint, saying when its queue is next due. If deliveries were queued since
/// the claim (its `queue_version` moved), it is due now: this round may not have seen them.
async fn give_back(
    shared: &Shared,
    claimed: &endpoint::Model,
    release: Release,
) -> Result<(), DbErr> {
    let now = time::now();
    let next = match release {
        Release::Idle | Release::Disabled => None,
        Release::At(at) => Some(at),
        Release::Now => Some(now),
    };
    let mine = || {
        let mut update = endpoint::Entity::update_many();
        for (column, value) in lease::release_columns::<endpoint::Entity>() {
            update = update.col_expr(column, value);
        }
        update.filter(lease::held_by::<endpoint::Entity>(
            claimed.id,
            &shared.owner,
        ))
    };
    let turn = shared.db().write_turn().await;
    let unchanged = mine()
        .col_expr(endpoint::Column::NextDueAt, Expr::val(next))
        .filter(endpoint::Column::QueueVersion.eq(claimed.queue_version))
        .exec(shared.db().conn())
        .await?;
    if unchanged.rows_affected == 0 {
        mine()
            .col_expr(endpoint::Column::NextDueAt, Expr::val(Some(now)))
            .exec(shared.db().conn())
            .await?;
        drop(turn);
        super::deliveries_queued(shared.db()).raise_locally();
    }
    Ok(())
}

/// Releases every lease this process holds (at shutdown), so other instances need not wait
/// for them to expire.
pub async fn release_all(app: &AppState, owner: &str) -> Result<(), DbErr> {
    lease::release_all::<endpoint::Entity>(&app.db, owner)
        .await
        .map(|_| ())
}
