//! Per-token rate limits (GCRA), in-process or shared through Redis.
//!
//! A token may make `limit` requests per `RATE_LIMIT_WINDOW_SECONDS`, spread evenly: the
//! generic cell rate algorithm allows a burst of the whole budget, then one request every
//! `window / limit`. Without `REDIS_URL` each instance keeps its own state (governor). With it,
//! one Lua script does the same arithmetic atomically inside Redis, so every instance draws on
//! one budget. If Redis stops answering, requests fall back to the in-process limiter (and a
//! warning is logged) rather than failing.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use axum::http::{HeaderMap, HeaderValue};
use governor::{
    Quota, RateLimiter as Gcra,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use uuid::Uuid;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Until the whole budget is available again.
    pub reset_after: Duration,
    /// Until the next request may pass (zero when allowed).
    pub retry_after: Duration,
}

impl Decision {
    /// Writes `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert(
            "ratelimit-reset",
            HeaderValue::from(ceil_secs(self.reset_after)),
        );
    }

    /// Whole seconds to wait before retrying, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        ceil_secs(self.retry_after).max(1)
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}

type KeyedGcra = Gcra<Uuid, DefaultKeyedStateStore<Uuid>, DefaultClock, StateInformationMiddleware>;

/// In-process GCRA, one governor limiter per distinct budget (limit and window).
pub struct LocalLimiter {
    window: Duration,
    by_limit: RwLock<HashMap<(u32, Duration), Arc<KeyedGcra>>>,
}

impl LocalLimiter {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            by_limit: RwLock::new(HashMap::new()),
        }
    }

    fn limiter_for(&self, limit: u32, window: Duration) -> Arc<KeyedGcra> {
        if let Some(found) = self
            .by_limit
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(limit, window))
        {
            return found.clone();
        }
        let mut map = self.by_limit.write().unwrap_or_else(|e| e.into_inner());
        map.entry((limit, window))
            .or_insert_with(|| {
                let burst = NonZeroU32::new(limit.max(1)).unwrap_or(NonZeroU32::MIN);
                // `window / limit` is never zero for the limits config accepts (≥ 1 s / ≤ u32).
                let period = (window / limit.max(1)).max(Duration::from_nanos(1));
                let quota = Quota::with_period(period)
                    .unwrap_or_else(|| Quota::per_second(burst))
                    .allow_burst(burst);
                Arc::new(Gcra::dashmap(quota).with_middleware::<StateInformationMiddleware>())
            })
            .clone()
    }

    /// Spends one request of `key`'s budget of `limit` per window.
    pub fn check(&self, key: Uuid, limit: u32) -> Decision {
        self.check_within(key, limit, self.window)
    }

    /// Spends one request of `key`'s budget of `limit` per `window`.
    pub fn check_within(&self, key: Uuid, limit: u32, window: Duration) -> Decision {
        let limiter = self.limiter_for(limit, window);
        let interval = window / limit.max(1);
        match limiter.check_key(&key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit,
                    remaining,
                    reset_after: interval * limit.saturating_sub(remaining),
                    retry_after: Duration::ZERO,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(limiter.clock().now());
                Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset_after: wait + interval * limit.saturating_sub(1),
                    retry_after: wait,
                }
            }
        }
    }

    /// Forgets keys whose budget is full again, bounding memory.
    pub fn retain_recent(&self) {
        for limiter in self
            .by_limit
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            limiter.retain_recent();
        }
    }
}

/// GCRA in Redis. KEYS[1] holds the theoretical arrival time (µs, Redis clock).
/// ARGV: limit, window in µs. Returns {allowed, remaining, retry_after_us, reset_after_us}.
const GCRA_LUA: &str = r#"
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local interval = math.floor(window / limit)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - window
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
local remaining = math.floor((now - allow_at) / interval)
return {1, remaining, 0, new_tat - now}
"#;

/// The shared limiter.
pub struct RedisLimiter {
    conn: ConnectionManager,
    script: redis::Script,
    window: Duration,
}

impl RedisLimiter {
    /// Connects; fails when Redis cannot be reached at start.
    pub async fn connect(url: &str, window: Duration) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_millis(500)));
        let conn = client.get_connection_manager_with_config(config).await?;
        Ok(Self {
            conn,
            script: redis::Script::new(GCRA_LUA),
            window,
        })
    }

    pub async fn check(&self, key: Uuid, limit: u32) -> redis::RedisResult<Decision> {
        self.check_within(key, limit, self.window).await
    }

    /// Spends one request of `key`'s budget of `limit` per `window`.
    pub async fn check_within(
        &self,
        key: Uuid,
        limit: u32,
        window: Duration,
    ) -> redis::RedisResult<Decision> {
        let mut conn = self.conn.clone();
        let (allowed, remaining, retry_us, reset_us): (i64, i64, i64, i64) = self
            .script
            .key(if window == self.window {
                format!("timebridge:rl:{key}")
            } else {
                // A budget with a window of its own keeps its own state.
                format!("timebridge:rl:{key}:{}", window.as_millis())
            })
            .arg(limit.max(1))
            .arg(window.as_micros() as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(Decision {
            allowed: allowed == 1,
            limit,
            remaining: remaining.clamp(0, i64::from(limit)) as u32,
            reset_after: Duration::from_micros(reset_us.max(0) as u64),
            retry_after: Duration::from_micros(retry_us.max(0) as u64),
        })
    }
}

/// The limiter the API uses: Redis when configured, in-process otherwise or as a fallback.
pub struct RateLimiter {
    local: LocalLimiter,
    redis: Option<RedisLimiter>,
    last_warning: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub fn new(window: Duration, redis: Option<RedisLimiter>) -> Self {
        Self {
            local: LocalLimiter::new(window),
            redis,
            last_warning: Mutex::new(None),
        }
    }

    /// Whether budgets are shared through Redis.
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Spends one request of `key`'s budget.
    pub async fn check(&self, key: Uuid, limit: u32) -> Decision {
        self.check_within(key, limit, self.local.window).await
    }

    /// Spends one request of `key`'s budget of `limit` per `window` (a budget of its own, not
    /// the configured window's).
    pub async fn check_within(&self, key: Uuid, limit: u32, window: Duration) -> Decision {
        if let Some(redis) = &self.redis {
            match redis.check_within(key, limit, window).await {
                Ok(decision) => return decision,
                Err(err) => self.warn_fallback(&err),
            }
        }
        self.local.check_within(key, limit, window)
    }

    /// Periodic housekeeping of the in-process state.
    pub fn retain_recent(&self) {
        self.local.retain_recent();
    }

    fn warn_fallback(&self, err: &redis::RedisError) {
        let mut last = self.last_warning.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| t.elapsed() > Duration::from_secs(30)) {
            *last = Some(Instant::now());
            tracing::warn!(error = %err, "Redis rate limiter unavailable; using the in-process limiter");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_allows_a_burst_then_refuses_with_a_retry_time() {
        let limiter = LocalLimiter::new(Duration::from_secs(60));
        let key = Uuid::now_v7();
        for expected_remaining in (0..5).rev() {
            let d = limiter.check(key, 5);
            assert!(d.allowed);
            assert_eq!(d.remaining, expected_remaining);
        }
        let refused = limiter.check(key, 5);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        // One request every 12 s: the next one is at most 12 s away.
        assert!(refused.retry_after > Duration::from_secs(10));
        assert!(refused.retry_after <= Duration::from_secs(12));
        assert_eq!(refused.retry_after_secs(), 12);
    }

    #[test]
    fn keys_and_budgets_are_independent() {
        let limiter = LocalLimiter::new(Duration::from_secs(60));
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(limiter.check(a, 1).allowed);
        assert!(!limiter.check(a, 1).allowed);
        assert!(limiter.check(b, 1).allowed);
        assert!(
            limiter.check(a, 10).allowed,
            "a different budget is a different limiter"
        );
    }
}
