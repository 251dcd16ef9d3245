//! A webhook receiver on 127.0.0.1: a real HTTP server that records what it is sent and answers
//! with scripted statuses (200 once the script runs out).

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use serde_json::Value;
use tokio::sync::oneshot;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    /// The path requested (`/hook`, `/lifecycle/installed`).
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Answers to give, in order: (status, Retry-After seconds).
    script: VecDeque<(u16, Option<u64>)>,
    /// How long each answer takes.
    delay: Duration,
}

/// The receiver; stops serving when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    stop: Option<oneshot::Sender<()>>,
}

impl Receiver {
    /// Starts on a free port.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("addr")).await
    }

    /// Starts on a given address (to bring a receiver that was down back up).
    pub async fn start_on(addr: SocketAddr) -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new().fallback(receive).with_state(inner.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            addr,
            inner,
            stop: Some(tx),
        }
    }

    /// An address where nothing listens (yet): a receiver that is down.
    pub async fn down_address() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        listener.local_addr().expect("addr")
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Answers the next requests with these statuses (then 200).
    pub fn answer(&self, statuses: &[u16]) {
        let mut inner = self.inner.lock().expect("lock");
        inner.script.extend(statuses.iter().map(|s| (*s, None)));
    }

    /// Answers the next requests with this status and a `Retry-After`.
    pub fn answer_retry_after(&self, status: u16, seconds: u64, times: usize) {
        let mut inner = self.inner.lock().expect("lock");
        inner
            .script
            .extend(std::iter::repeat_n((status, Some(seconds)), times));
    }

    /// Makes every answer take this long (a slow receiver).
    pub fn slow(&self, delay: Duration) {
        self.inner.lock().expect("lock").delay = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("lock").received.clone()
    }

    /// Waits until at least `n` requests came (up to `secs` seconds), and returns them all.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} webhook requests within {secs} s, got {}: {:?}",
                got.len(),
                got.iter().map(|r| r.body.clone()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let delay = inner.lock().expect("lock").delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut inner = inner.lock().expect("lock");
    inner.received.push(Received {
        path: uri.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let (status, retry_after) = inner.script.pop_front().unwrap_or((200, None));
    let mut response_headers = HeaderMap::new();
    if let Some(s) = retry_after {
        response_headers.insert("retry-after", s.to_string().parse().expect("header"));
    }
    (
        StatusCode::from_u16(status).expect("status"),
        response_headers,
        format!("answered {status}"),
    )
}
