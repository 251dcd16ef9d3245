//! One JSON log line per request: request id, method, path (never the query string, which may
//! carry secrets), status, latency, and the token by its prefix only.

use std::time::Instant;

use axum::{
    extract::Request,
    http::{HeaderValue, header::HeaderName},
    middleware::Next,
    response::Response,
};
use tracing::Instrument;
use uuid::Uuid;

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

/// The middleware.
pub async fn log_requests(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let id_text = id.to_str().unwrap_or("unknown").to_owned();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = %id_text);
    let mut response = next.run(req).instrument(span).await;
    response.headers_mut().insert(REQUEST_ID.clone(), id);
    let token = response
        .extensions()
        .get::<TokenPrefix>()
        .map(|t| format!("{}…", t.0));
    tracing::info!(
        target: "timebridge::http",
        request_id = %id_text,
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        token = token.as_deref(),
        "request"
    );
    response
}
