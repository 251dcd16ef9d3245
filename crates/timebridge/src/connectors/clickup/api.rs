//! The ClickUp API v2 for one workspace's connection: teams, spaces, folders, lists and tasks.
//!
//! - **Caching** with the seed's lifetimes — teams 1 h, spaces 30 min, folders and lists 15 min,
//!   tasks never — in process, and in Redis when `REDIS_URL` is set, so instances share it.
//! - **An outbound budget** of `CLICKUP_RATE_LIMIT` requests per minute per workspace (GCRA,
//!   shared through Redis when set): a call over it is not sent; it fails with
//!   [`ClickUpError::RateLimited`] and how long to wait. A warning is logged once a minute's
//!   calls pass `CLICKUP_RATE_LIMIT_THRESHOLD`. ClickUp's own `429` (`X-RateLimit-Reset`) is
//!   the same error.
//! - **Typed errors**: a `401` means ClickUp no longer takes the token: the connection is
//!   marked `needs_reauth` and every later call says so at once.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use redis::aio::ConnectionManager;
use reqwest::{Method, Url};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    app::AppState,
    connectors::outbound,
    oauth::{
        entity::connection,
        tokens::{self, TokenError},
    },
    platform::ratelimit::{RateLimiter, RedisLimiter},
};

pub const TEAMS_TTL: Duration = Duration::from_secs(3600);
pub const SPACES_TTL: Duration = Duration::from_secs(30 * 60);
pub const LISTS_TTL: Duration = Duration::from_secs(15 * 60);

/// Why a ClickUp call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClickUpError {
    /// Over the workspace's budget (ours or ClickUp's): try again after `retry_after`.
    #[error("ClickUp's rate limit is reached; try again in {} s", retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    /// ClickUp no longer takes the token: an admin must connect ClickUp again.
    #[error("connect ClickUp again: {0}")]
    NeedsReauth(String),
    /// ClickUp answered an error.
    #[error("ClickUp answered {status}: {message}")]
    Api { status: u16, message: String },
    /// ClickUp could not be reached, or answered nonsense.
    #[error("{0}")]
    Unavailable(String),
}

impl From<TokenError> for ClickUpError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::NeedsReauth(reason) => Self::NeedsReauth(reason),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// What one server keeps for ClickUp: the budget and the cache.
pub struct Shared {
    limiter: RateLimiter,
    redis: Option<ConnectionManager>,
    local: Mutex<HashMap<String, (Instant, Value)>>,
    /// Calls counted per workspace in the current minute, for the threshold warning.
    counted: Mutex<HashMap<Uuid, (Instant, u32)>>,
}

impl Shared {
    /// In process, or shared through Redis when `REDIS_URL` is set (and reachable).
    pub async fn new(redis_url: Option<&str>) -> Self {
        let minute = Duration::from_secs(60);
        let (limiter_redis, cache_redis) = match redis_url {
            Some(url) => {
                let limiter = RedisLimiter::connect(url, minute).await.ok();
                let cache = match redis::Client::open(url) {
                    Ok(client) => client.get_connection_manager().await.ok(),
                    Err(_) => None,
                };
                if limiter.is_none() || cache.is_none() {
                    tracing::warn!("ClickUp: Redis unreachable; budget and cache are per instance");
                }
                (limiter, cache)
            }
            None => (None, None),
        };
        Self {
            limiter: RateLimiter::new(minute, limiter_redis),
            redis: cache_redis,
            local: Mutex::new(HashMap::new()),
            counted: Mutex::new(HashMap::new()),
        }
    }

    async fn cached(&self, key: &str) -> Option<Value> {
        if let Some(redis) = &self.redis {
            let mut conn = redis.clone();
            let found: Option<String> = redis::cmd("GET")
                .arg(key)
                .query_async(&mut conn)
                .await
                .ok()
                .flatten();
            return found.and_then(|text| serde_json::from_str(&text).ok());
        }
        let local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        local
            .get(key)
            .filter(|(until, _)| *until > Instant::now())
            .map(|(_, value)| value.clone())
    }

    async fn keep(&self, key: &str, value: &Value, ttl: Duration) {
        if let Some(redis) = &self.redis {
            let mut conn = redis.clone();
            let stored: redis::RedisResult<()> = redis::cmd("SET")
                .arg(key)
                .arg(value.to_string())
                .arg("PX")
                .arg(ttl.as_millis() as u64)
                .query_async(&mut conn)
                .await;
            if stored.is_ok() {
                return;
            }
        }
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        local.retain(|_, (until, _)| *until > Instant::now());
        local.insert(key.to_owned(), (Instant::now() + ttl, value.clone()));
    }

    /// Forgets what was cached for a workspace (its connection changed).
    pub async fn forget(&self, workspace_id: Uuid) {
        let prefix = cache_prefix(workspace_id);
        if let Some(redis) = &self.redis {
            let mut conn = redis.clone();
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}*"))
                .query_async(&mut conn)
                .await
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<()> =
                    redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
            }
        }
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        local.retain(|key, _| !key.starts_with(&prefix));
    }

    fn warn_at_threshold(&self, workspace_id: Uuid, threshold: u32) {
        let mut counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let entry = counted.entry(workspace_id).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 == threshold {
            tracing::warn!(workspace = %workspace_id, calls = entry.1, "ClickUp: the workspace is near its rate limit");
        }
    }
}

fn cache_prefix(workspace_id: Uuid) -> String {
    format!("timebridge:clickup:{workspace_id}:")
}

/// The limiter's key for a workspace's ClickUp budget (apart from its API tokens' budgets).
fn budget_key(workspace_id: Uuid) -> Uuid {
    Uuid::from_u128(workspace_id.as_u128() ^ 0x636c_6963_6b75_7000_0000_0000_0000_0001)
}

/// ClickUp for one workspace.
pub struct ClickUp<'a> {
    pub app: &'a AppState,
    pub shared: &'a Shared,
    pub workspace_id: Uuid,
    pub connection: connection::Model,
}

impl ClickUp<'_> {
    /// One request, within the budget.
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ClickUpError> {
        let connectors = &self.app.config.connectors;
        let decision = self
            .shared
            .limiter
            .check(budget_key(self.workspace_id), connectors.clickup_rate_limit)
            .await;
        if !decision.allowed {
            return Err(ClickUpError::RateLimited {
                retry_after: decision.retry_after,
            });
        }
        self.shared
            .warn_at_threshold(self.workspace_id, connectors.clickup_rate_limit_threshold);
        let token = tokens::access_token(self.app, self.connection.id).await?;
        let mut url = Url::parse(&self.app.config.oauth.clickup_api_url)
            .map_err(|_| ClickUpError::Unavailable("CLICKUP_API_URL is not a URL".into()))?;
        url.path_segments_mut()
            .map_err(|()| ClickUpError::Unavailable("CLICKUP_API_URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        let mut request = outbound::client()
            .request(method, url)
            .header("Authorization", token)
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            ClickUpError::Unavailable(format!("ClickUp: {}", outbound::describe(&e)))
        })?;
        let status = response.status().as_u16();
        let reset = response
            .headers()
            .get("x-ratelimit-reset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        let json: Value = response.json().await.unwrap_or(Value::Null);
        let message = json
            .get("err")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match status {
            200..=299 => Ok(json),
            429 => {
                let now = crate::platform::time::now().unix_timestamp();
                let wait = reset.map_or(60, |at| (at - now).clamp(1, 3600));
                Err(ClickUpError::RateLimited {
                    retry_after: Duration::from_secs(wait as u64),
                })
            }
            401 => {
                let reason = format!("ClickUp refused the token ({message})");
                crate::oauth::tokens::mark_needs_reauth(self.app, &self.connection, &reason, None)
                    .await
                    .map_err(|e| ClickUpError::Unavailable(e.to_string()))?;
                Err(ClickUpError::NeedsReauth(reason))
            }
            _ => Err(ClickUpError::Api { status, message }),
        }
    }

    async fn cached_get(
        &self,
        what: &str,
        segments: &[&str],
        query: &[(&str, String)],
        ttl: Duration,
    ) -> Result<Value, ClickUpError> {
        let key = format!("{}{what}", cache_prefix(self.workspace_id));
        if let Some(hit) = self.shared.cached(&key).await {
            return Ok(hit);
        }
        let fresh = self.call(Method::GET, segments, query, None).await?;
        self.shared.keep(&key, &fresh, ttl).await;
        Ok(fresh)
    }

    /// The teams (ClickUp workspaces) the token reaches; cached an hour.
    pub async fn teams(&self) -> Result<Vec<Value>, ClickUpError> {
        let answer = self.cached_get("teams", &["team"], &[], TEAMS_TTL).await?;
        Ok(items(&answer, "teams"))
    }

    /// A team's spaces; cached 30 minutes.
    pub async fn spaces(&self, team_id: &str) -> Result<Vec<Value>, ClickUpError> {
        let answer = self
            .cached_get(
                &format!("spaces:{team_id}"),
                &["team", team_id, "space"],
                &[("archived", "false".into())],
                SPACES_TTL,
            )
            .await?;
        Ok(items(&answer, "spaces"))
    }

    /// A space's folders; cached 15 minutes.
    pub async fn folders(&self, space_id: &str) -> Result<Vec<Value>, ClickUpError> {
        let answer = self
            .cached_get(
                &format!("folders:{space_id}"),
                &["space", space_id, "folder"],
                &[("archived", "false".into())],
                LISTS_TTL,
            )
            .await?;
        Ok(items(&answer, "folders"))
    }

    /// A space's lists outside folders; cached 15 minutes.
    pub async fn folderless_lists(&self, space_id: &str) -> Result<Vec<Value>, ClickUpError> {
        let answer = self
            .cached_get(
                &format!("lists:{space_id}"),
                &["space", space_id, "list"],
                &[("archived", "false".into())],
                LISTS_TTL,
            )
            .await?;
        Ok(items(&answer, "lists"))
    }

    /// A folder's lists; cached 15 minutes.
    pub async fn folder_lists(&self, folder_id: &str) -> Result<Vec<Value>, ClickUpError> {
        let answer = self
            .cached_get(
                &format!("folder-lists:{folder_id}"),
                &["folder", folder_id, "list"],
                &[("archived", "false".into())],
                LISTS_TTL,
            )
            .await?;
        Ok(items(&answer, "lists"))
    }

    /// A list's tasks, one page (never cached).
    pub async fn tasks(&self, list_id: &str, page: u32) -> Result<Value, ClickUpError> {
        self.call(
            Method::GET,
            &["list", list_id, "task"],
            &[("page", page.to_string()), ("archived", "false".into())],
            None,
        )
        .await
    }

    /// Creates a task in a list.
    pub async fn create_task(&self, list_id: &str, task: &Value) -> Result<Value, ClickUpError> {
        self.call(Method::POST, &["list", list_id, "task"], &[], Some(task))
            .await
    }
}

fn items(answer: &Value, key: &str) -> Vec<Value> {
    answer
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}
