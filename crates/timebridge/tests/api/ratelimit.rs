//! Rate limits per token by plan, in-process and shared through Redis.

use timebridge::directory::Plan;

use crate::{both, support::*};

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

/// Sends `n` requests spread over `apps`, returning each status.
async fn burst(apps: &[&TestApp], token: &str, n: usize) -> Vec<reqwest::Response> {
    let mut out = Vec::new();
    for i in 0..n {
        let app = apps[i % apps.len()];
        out.push(app.get(token, "/api/v1/projects").send().await.unwrap());
    }
    out
}

async fn the_budget_runs_out_with_429_and_retry_after(backend: Backend, redis: bool) {
    let redis_url = redis_url();
    let mut env = vec![
        ("RATE_LIMIT_TIER_FREE_REQ_PER_MIN", "3"),
        ("RATE_LIMIT_TIER_PRO_REQ_PER_MIN", "7"),
    ];
    if redis {
        env.push(("REDIS_URL", redis_url.as_str()));
    }
    let app = TestApp::with_env(backend, &env).await;
    let (_, token) = app.caller(false, &["read:projects"]).await;
    let responses = burst(&[&app], &token, 4).await;
    for (i, r) in responses.iter().take(3).enumerate() {
        assert_eq!(r.status(), 200);
        assert_eq!(header(r, "ratelimit-limit"), Some(3));
        assert_eq!(header(r, "ratelimit-remaining"), Some(2 - i as u64));
        assert!(header(r, "ratelimit-reset").is_some());
    }
    let refused = responses.into_iter().nth(3).unwrap();
    assert_eq!(refused.status(), 429);
    let retry = header(&refused, "retry-after").expect("Retry-After");
    assert!((1..=20).contains(&retry), "one request per 20 s: {retry}");
    assert_eq!(header(&refused, "ratelimit-remaining"), Some(0));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "Rate limit exceeded");
    assert_eq!(body["error_code"], "rate_limited");
    assert_eq!(body["retry_after"], retry);

    // Another token has its own budget, and a pro workspace a bigger one.
    let pro = app.member(false, Plan::Pro).await;
    let pro_token = app.token(&pro, &["read:projects"]).await;
    let r = app
        .get(&pro_token, "/api/v1/projects")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "ratelimit-limit"), Some(7));
    // 403s spend budget and carry the headers too.
    let r = app
        .post(&pro_token, "/api/v1/projects")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "ratelimit-remaining"), Some(5));
}

both! {
    async fn in_process_limits_refuse_the_request_over_budget(backend) {
        the_budget_runs_out_with_429_and_retry_after(backend, false).await;
    }
}

/// The budget lives in Redis, whatever the database: one run is enough (on SQLite, which needs
/// nothing shared).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_limits_refuse_the_request_over_budget() {
    the_budget_runs_out_with_429_and_retry_after(Backend::Sqlite, true).await;
}

/// Two servers on different ports sharing one PostgreSQL database; `n` requests alternate
/// between them with one token. Returns the statuses in order.
async fn alternate_between_two_servers(env: &[(&str, &str)], n: usize) -> Vec<u16> {
    let url = postgres_url();
    ensure_postgres_database(&url).await;
    let a = TestApp::on_database(&url, env).await;
    let b = TestApp::on_database(&url, env).await;
    assert_ne!(a.base, b.base);
    let (_, token) = a.caller(false, &["read:projects"]).await;
    burst(&[&a, &b], &token, n)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect()
}

/// Two servers, one database, one Redis: one budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_sharing_redis_share_one_budget() {
    let redis_url = redis_url();
    let env = [
        ("RATE_LIMIT_TIER_FREE_REQ_PER_MIN", "5"),
        ("REDIS_URL", redis_url.as_str()),
    ];
    let statuses = alternate_between_two_servers(&env, 7).await;
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429]);
}

/// Without Redis, each instance keeps its own budget (documented behaviour).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_without_redis_each_keep_their_own_budget() {
    let env = [("RATE_LIMIT_TIER_FREE_REQ_PER_MIN", "2")];
    let statuses = alternate_between_two_servers(&env, 6).await;
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
}

/// A budget tokens share with a window of its own (an add-on installation's tokens draw on one,
/// 50 a second) is one budget across servers on Redis, and in one process without it. The
/// window here is an hour so that nothing refills while the test runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_budget_with_its_own_window_is_one_budget_across_servers() {
    use std::time::Duration;
    use timebridge::platform::ratelimit::{RateLimiter, RedisLimiter};
    let configured = Duration::from_secs(60);
    let server = || async {
        let redis = RedisLimiter::connect(&redis_url(), configured)
            .await
            .expect("Redis answers");
        RateLimiter::new(configured, Some(redis))
    };
    let (a, b) = (server().await, server().await);
    let key = uuid::Uuid::now_v7();
    let hour = Duration::from_secs(3600);
    let mut allowed = 0;
    for i in 0..80 {
        let limiter = if i % 2 == 0 { &a } else { &b };
        let decision = limiter.check_within(key, 50, hour).await;
        assert_eq!(decision.limit, 50);
        allowed += usize::from(decision.allowed);
    }
    assert_eq!(allowed, 50, "two servers, one budget of 50");

    let local = RateLimiter::new(configured, None);
    let mut allowed = 0;
    for _ in 0..80 {
        allowed += usize::from(local.check_within(key, 50, hour).await.allowed);
    }
    assert_eq!(allowed, 50);
    // The configured window's budget of the same key is another one.
    assert!(local.check(key, 50).await.allowed);
}
