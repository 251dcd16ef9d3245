//! The webhook receiver: an axum server on 127.0.0.1 that checks every delivery's Standard
//! Webhooks signature, drops duplicates by `webhook-id`, and records when each
//! (endpoint, resource id) arrived.
//!
//! Endpoint `i` is registered as `http://ADDR/hook/i`, so the path says which secret signs.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::net::TcpListener;

type HmacSha256 = Hmac<Sha256>;

/// How far a `webhook-timestamp` may be from the receiver's clock (Standard Webhooks suggests
/// five minutes).
const TOLERANCE_SECS: i64 = 300;

/// What the receiver has seen so far.
#[derive(Default)]
pub struct Tally {
    /// First arrival per (endpoint index, resource id).
    pub arrivals: HashMap<(usize, String), Instant>,
    /// `webhook-id`s already accepted.
    seen: HashSet<String>,
    /// Deliveries whose signature (or timestamp) did not verify.
    pub bad_signatures: u64,
    /// Deliveries repeated with a `webhook-id` already seen.
    pub duplicates: u64,
    /// Deliveries with a signature that verified but no `resource.id`, or to an unknown path.
    pub malformed: u64,
    /// A second delivery of one (endpoint, resource) under a different `webhook-id`.
    pub repeated_resources: u64,
}

pub struct Receiver {
    /// HMAC key of endpoint `i` (the base64-decoded part after `whsec_`).
    keys: Vec<Vec<u8>>,
    pub tally: Mutex<Tally>,
}

impl Receiver {
    /// A receiver for endpoints `0..secrets.len()`, given their `whsec_…` secrets.
    pub fn new(secrets: &[String]) -> Result<Arc<Self>, String> {
        let keys = secrets
            .iter()
            .map(|s| decode_secret(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(Self {
            keys,
            tally: Mutex::new(Tally::default()),
        }))
    }

    /// Deliveries accepted (signature valid, not a duplicate).
    pub fn received(&self) -> usize {
        self.tally.lock().unwrap().arrivals.len()
    }

    /// Waits until `expected` deliveries arrived or `timeout` passed; returns whether all did.
    pub async fn wait_for(&self, expected: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.received() >= expected {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn decode_secret(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix("whsec_")
        .ok_or_else(|| format!("secret does not start with whsec_: {secret:.10}…"))?;
    STANDARD
        .decode(encoded)
        .map_err(|e| format!("secret is not base64: {e}"))
}

/// Whether `header` holds a `v1,` signature of `{id}.{timestamp}.{body}` under `key`.
pub fn verify(key: &[u8], header: &str, id: &str, timestamp: &str, body: &[u8]) -> bool {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    header.split_ascii_whitespace().any(|candidate| {
        let Some(sig) = candidate
            .strip_prefix("v1,")
            .and_then(|b| STANDARD.decode(b).ok())
        else {
            return false;
        };
        // `verify_slice` compares in constant time.
        mac.clone().verify_slice(&sig).is_ok()
    })
}

fn timestamp_fresh(timestamp: &str) -> bool {
    let Ok(ts) = timestamp.parse::<i64>() else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    (now - ts).abs() <= TOLERANCE_SECS
}

async fn hook(
    State(receiver): State<Arc<Receiver>>,
    Path(index): Path<usize>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let arrived = Instant::now();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(key), Some(id), Some(ts), Some(sig)) = (
        receiver.keys.get(index),
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        receiver.tally.lock().unwrap().bad_signatures += 1;
        return StatusCode::BAD_REQUEST;
    };
    if !timestamp_fresh(ts) || !verify(key, sig, id, ts, &body) {
        receiver.tally.lock().unwrap().bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let resource = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["resource"]["id"].as_str().map(str::to_owned));
    let mut tally = receiver.tally.lock().unwrap();
    let Some(resource) = resource else {
        tally.malformed += 1;
        // 2xx anyway: a retry would not make the body any better.
        return StatusCode::NO_CONTENT;
    };
    if !tally.seen.insert(id.to_owned()) {
        tally.duplicates += 1;
        return StatusCode::NO_CONTENT;
    }
    if tally.arrivals.insert((index, resource), arrived).is_some() {
        tally.repeated_resources += 1;
    }
    StatusCode::NO_CONTENT
}

/// Binds the receiver's listener on `addr` (port 0: any free port).
pub async fn bind(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

/// Serves the receiver on `listener` in the background.
pub fn serve(receiver: Arc<Receiver>, listener: TcpListener) {
    let app = Router::new()
        .route("/hook/{index}", post(hook))
        .route("/health", get(|| async { "ok" }))
        .with_state(receiver);
    // Without TCP_NODELAY a small response can wait 40 ms for the client's delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("receiver stopped: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_the_standard_webhooks_vector() {
        let key = decode_secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        let id = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
        let good = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        assert!(verify(&key, good, id, "1649367553", body));
        assert!(verify(
            &key,
            &format!("v1,AAAA {good}"),
            id,
            "1649367553",
            body
        ));
        assert!(!verify(&key, good, id, "1649367554", body));
        assert!(!verify(&key, "v1,AAAA", id, "1649367553", body));
    }
}
