//! The request guard in front of every API route: authenticate the token, spend one request of
//! its rate-limit budget, check the route's declared scope, then let the handler run. It also
//! stamps the `RateLimit-*` headers on the response and reports the call for the usage log.
//!
//! Who may call is not the platform's to know: an [`Authority`] (the access capability's
//! token authority) turns a presented token into a [`Principal`] and records each call.

use std::{
    net::{IpAddr, SocketAddr},
    ops::Deref,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State},
    http::{HeaderMap, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};

use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    acting::Acting,
    consumers::BoxFuture,
    error::ApiError,
    openapi::{Access, AccessTable},
    outbox::Actor,
    ratelimit::RateLimiter,
    request_log::TokenPrefix,
};

/// Who is calling: a token, its user, their workspace, and what the token grants.
#[derive(Debug)]
pub struct Principal {
    pub token_id: Uuid,
    /// `tb_pat_ab12`: the only part of a token that may be logged.
    pub token_prefix: String,
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    /// Whether the user is an admin of the workspace.
    pub admin: bool,
    /// Requests this caller may make per rate-limit window.
    pub rate_limit: u32,
    /// A budget the token shares with others (an add-on installation's tokens), used instead
    /// of its own `rate_limit`.
    pub budget: Option<Budget>,
    /// The token's scopes.
    pub grants: Arc<dyn Grants>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.admin
    }
}

/// A rate budget several tokens draw on together: `limit` requests per `window`, spread
/// evenly (a token bucket of `limit` refilling over `window`), under `key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub key: Uuid,
    pub limit: u32,
    pub window: Duration,
}

/// What a caller's credentials grant, asked by scope name (`read:projects`).
pub trait Grants: std::any::Any + std::fmt::Debug + Send + Sync {
    /// Whether the credentials grant `scope`.
    fn grants(&self, scope: &str) -> bool;
    /// The scopes held, as the 403 body lists them.
    fn names(&self) -> Vec<String>;
}

/// Turns presented tokens into callers, and hears about every call made.
pub trait Authority: Send + Sync {
    /// The caller presenting `token` from `peer`, or the 401/403 refusing them.
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
        peer: Option<IpAddr>,
    ) -> BoxFuture<'a, Result<Arc<Principal>, ApiError>>;

    /// Whether `scope` is a scope routes may declare (checked once, at start-up).
    fn knows_scope(&self, scope: &str) -> bool;

    /// A call the guard let in (or refused after authenticating), for the usage log.
    fn record(&self, call: Call);
}

/// One authenticated call, as the guard saw it.
#[derive(Debug)]
pub struct Call {
    pub principal: Arc<Principal>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub duration: std::time::Duration,
    pub ip: Option<IpAddr>,
    pub at: OffsetDateTime,
}

/// The authenticated caller, for handlers: `async fn handler(caller: Caller, ...)`.
#[derive(Clone, Debug)]
pub struct Caller(pub Arc<Principal>);

impl Deref for Caller {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl Caller {
    /// The caller as the author of a change.
    pub fn actor(&self) -> Actor {
        Actor::user(self.user_id, self.token_id)
    }

    /// The caller as services see them.
    pub fn acting(&self) -> Acting {
        Acting {
            workspace_id: self.workspace_id,
            user_id: self.user_id,
            is_admin: self.is_admin(),
            actor: self.actor(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "handler needs a caller but its route is not guarded"
            ))
        })
    }
}

/// What the guard needs: the authority, the rate limiter and the table of declared access.
#[derive(Clone)]
pub struct Guard {
    pub authority: Arc<dyn Authority>,
    pub limiter: Arc<RateLimiter>,
    /// The rate-limit window, for the 429 body.
    pub window: std::time::Duration,
    /// Take the client address from `X-Forwarded-For` (behind a trusted proxy).
    pub trust_forwarded_for: bool,
    pub table: Arc<AccessTable>,
    /// Refused tokens one client address may present per window (0: unlimited).
    pub auth_failures: u32,
    /// Addresses over that budget, until when: refused without asking the authority.
    pub blocked: Arc<quick_cache::sync::Cache<IpAddr, Instant>>,
}

impl Guard {
    /// The refusal for an address over its failed-authentication budget, if it is.
    fn still_blocked(&self, peer: Option<IpAddr>) -> Option<ApiError> {
        let until = self.blocked.get(&peer?)?;
        let now = Instant::now();
        (until > now).then(|| self.too_many_failures(until - now))
    }

    fn too_many_failures(&self, retry_after: std::time::Duration) -> ApiError {
        ApiError::RateLimited {
            limit: self.auth_failures,
            window_secs: self.window.as_secs(),
            retry_after_secs: retry_after.as_millis().div_ceil(1000).max(1) as u64,
        }
    }

    /// Counts a refused token against the address; past the budget, blocks it and answers
    /// 429 instead of `refusal`.
    async fn failed(&self, peer: Option<IpAddr>, refusal: ApiError) -> ApiError {
        let Some(ip) = peer.filter(|_| self.auth_failures > 0) else {
            return refusal;
        };
        if refusal.status() != axum::http::StatusCode::UNAUTHORIZED {
            return refusal;
        }
        let decision = self
            .limiter
            .check(address_key(ip), self.auth_failures)
            .await;
        if decision.allowed {
            return refusal;
        }
        self.blocked
            .insert(ip, Instant::now() + decision.retry_after);
        tracing::info!(client = %ip, "too many failed authentications; address blocked for the window");
        self.too_many_failures(decision.retry_after)
    }
}

/// The rate-limit key of a client address's failed authentications: its IPv6 form (IPv4
/// mapped), marked so it never equals a token id.
fn address_key(ip: IpAddr) -> Uuid {
    const MARK: u128 = 0x6661_696c_6564_2d61_7574_682d_6970_0000;
    let v6 = match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    Uuid::from_u128(u128::from(v6) ^ MARK)
}

const MISSING_TOKEN: &str = "Missing API token: send it as 'Authorization: Bearer <token>', \
    'Authorization: Token <token>' or 'X-API-Key: <token>'";

/// Finds the presented token in `Authorization: Bearer|Token …` or `X-API-Key`.
fn presented_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| {
            ApiError::Unauthorized("The Authorization header is not valid text".into())
        })?;
        let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
        if !(scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")) {
            return Err(ApiError::Unauthorized(
                "Unsupported Authorization scheme: use 'Bearer <token>' or 'Token <token>'".into(),
            ));
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(ApiError::Unauthorized(MISSING_TOKEN.into()));
        }
        return Ok(token);
    }
    match headers.get("x-api-key").map(|v| v.to_str().map(str::trim)) {
        Some(Ok(token)) if !token.is_empty() => Ok(token),
        Some(Err(_)) => Err(ApiError::Unauthorized(
            "The X-API-Key header is not valid text".into(),
        )),
        _ => Err(ApiError::Unauthorized(MISSING_TOKEN.into())),
    }
}

/// The client's address: the peer, or the last `X-Forwarded-For` hop when configured to trust it.
pub fn client_ip(req: &Request, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok())
    {
        return Some(ip);
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The middleware: authenticate → rate-limit → scope → handler.
pub async fn guard(State(guard): State<Guard>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let Some(access) = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|matched| guard.table.get(req.method(), matched.as_str()))
    else {
        // Fail closed: a route that declares no access is a bug, not a public route.
        return ApiError::Internal(anyhow::anyhow!(
            "{} {} declares no access in its OpenAPI attribute",
            req.method(),
            req.uri().path()
        ))
        .into_response();
    };
    let peer = client_ip(&req, guard.trust_forwarded_for);
    let principal = match presented_token(req.headers()) {
        Err(err) => return err.into_response(),
        Ok(token) => {
            // Token guessing costs the guesser, not the database.
            if let Some(blocked) = guard.still_blocked(peer) {
                return blocked.into_response();
            }
            match guard.authority.authenticate(token, peer).await {
                Ok(principal) => principal,
                Err(refused) => return guard.failed(peer, refused).await.into_response(),
            }
        }
    };

    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let (key, limit, window) = match principal.budget {
        Some(b) => (b.key, b.limit, b.window),
        None => (principal.token_id, principal.rate_limit, guard.window),
    };
    let decision = guard.limiter.check_within(key, limit, window).await;
    let mut response = if !decision.allowed {
        ApiError::RateLimited {
            limit,
            window_secs: window.as_secs().max(1),
            retry_after_secs: decision.retry_after_secs(),
        }
        .into_response()
    } else if let Access::Token(Some(required)) = access
        && !principal.grants.grants(required)
    {
        ApiError::MissingScope {
            required: required.to_string(),
            available: principal.grants.names(),
        }
        .into_response()
    } else {
        req.extensions_mut().insert(Caller(principal.clone()));
        next.run(req).await
    };

    decision.write_headers(response.headers_mut());
    response
        .extensions_mut()
        .insert(TokenPrefix(principal.token_prefix.clone()));
    guard.authority.record(Call {
        status: response.status().as_u16(),
        principal,
        method,
        path,
        duration: started.elapsed(),
        ip: peer,
        at: super::time::now(),
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_token_is_found_in_all_three_places() {
        for h in [
            headers(&[("authorization", "Bearer tb_pat_x")]),
            headers(&[("authorization", "Token tb_pat_x")]),
            headers(&[("authorization", "bearer   tb_pat_x ")]),
            headers(&[("x-api-key", "tb_pat_x")]),
        ] {
            assert_eq!(presented_token(&h).unwrap(), "tb_pat_x");
        }
    }

    #[test]
    fn other_schemes_and_empty_headers_are_refused() {
        assert!(presented_token(&headers(&[("authorization", "Basic dTpw")])).is_err());
        assert!(presented_token(&headers(&[("authorization", "Bearer ")])).is_err());
        assert!(presented_token(&HeaderMap::new()).is_err());
    }
}
