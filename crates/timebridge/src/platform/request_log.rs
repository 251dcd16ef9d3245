//! One JSON log line per request: request id, method, path (never the query string, which may
//! carry secrets), status, latency, and the token by its prefix only.

use std::time::Instant;

use axum::{
    extract::Request,
    http::{HeaderValue, header::HeaderName},
    middleware::Next,
    response::Response,
};
use uuid::Uuid;

use super::error::InternalCause;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The recognisable prefix of the token that made the request, set by the guard for the log.
#[derive(Clone, Debug)]
pub struct TokenPrefix(pub String);

/// Accepts a caller's `X-Request-Id` when it is short and printable, else makes one.
fn request_id(req: &Request) -> HeaderValue {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            v.len() <= 64
                && v.as_bytes()
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&Uuid::now_v7().to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
        })
}

/// The middleware. No tracing span per request: it would cost a quarter of a cheap request;
/// the one line below carries everything, including the cause of a 500.
pub async fn log_requests(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut response = next.run(req).await;
    let id_text = id.to_str().unwrap_or("unknown").to_owned();
    response.headers_mut().insert(REQUEST_ID.clone(), id);
    let token = response
        .extensions()
        .get::<TokenPrefix>()
        .map(|t| format!("{}…", t.0));
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(
            target: "timebridge::http",
            request_id = %id_text, method = %method, path = %path, status, latency_ms,
            token = token.as_deref(), error = %cause,
            "request failed"
        );
    } else {
        tracing::info!(
            target: "timebridge::http",
            request_id = %id_text, method = %method, path = %path, status, latency_ms,
            token = token.as_deref(),
            "request"
        );
    }
    response
}
