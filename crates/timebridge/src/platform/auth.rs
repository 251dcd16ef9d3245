//! The request guard in front of every API route: authenticate the token, spend one request of
//! its rate-limit budget, check the route's declared scope, then let the handler run. It also
//! stamps the `RateLimit-*` headers on the response and queues the usage-log record.

use std::{
    net::{IpAddr, SocketAddr},
    ops::Deref,
    sync::Arc,
    time::Instant,
};

use axum::{
    extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State},
    http::{HeaderMap, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{
    acting::Acting,
    error::ApiError,
    openapi::{Access, AccessTable},
    outbox::Actor,
    request_log::TokenPrefix,
};
use crate::{
    access::{Principal, usage::UsageRecord},
    app::AppState,
};

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

/// What the guard needs: the app and the table of declared access.
#[derive(Clone)]
pub struct Guard {
    pub app: AppState,
    pub table: Arc<AccessTable>,
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
    let app = &guard.app;
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
    let peer = client_ip(&req, app.config.trust_forwarded_for);
    let principal = match presented_token(req.headers()) {
        Err(err) => return err.into_response(),
        Ok(token) => match app.tokens.authenticate(token, peer).await {
            Ok(principal) => principal,
            Err(Ok(failure)) => return ApiError::from(failure).into_response(),
            Err(Err(db)) => return ApiError::from(db).into_response(),
        },
    };

    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let limit = app.config.rate_limits.limit_for(principal.plan);
    let decision = app.limiter.check(principal.token_id, limit).await;
    let mut response = if !decision.allowed {
        ApiError::RateLimited {
            limit,
            window_secs: app.config.rate_limits.window.as_secs(),
            retry_after_secs: decision.retry_after_secs(),
        }
        .into_response()
    } else if let Access::Token(Some(required)) = access
        && !principal.scopes.grants(required)
    {
        ApiError::MissingScope {
            required: required.to_string(),
            available: principal.scopes.strings(),
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
    app.usage.record(UsageRecord {
        token_id: principal.token_id,
        workspace_id: principal.workspace_id,
        user_id: principal.user_id,
        method,
        path,
        status: response.status().as_u16(),
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
