//! The calls the benchmark makes to Timebridge: register endpoints, create tags.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::{sync::Semaphore, task::JoinSet};

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    auth: String,
}

impl Api {
    /// A client keeping at most `connections` idle connections to `base` (`http://host:port`).
    pub fn new(base: &str, token: &str, connections: usize) -> Self {
        let client = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(connections)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a plain HTTP client builds");
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            auth: format!("Bearer {token}"),
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        if status != reqwest::StatusCode::CREATED {
            return Err(format!("POST {path}: {status}: {text:.300}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("POST {path}: {e}"))
    }

    /// Registers endpoint `index` at `http://receiver/hook/index`, subscribed to `tag.created`;
    /// returns its `whsec_…` secret.
    pub async fn register(&self, receiver: &str, index: usize) -> Result<String, String> {
        let body = json!({
            "name": format!("fanout bench {index}"),
            "url": format!("http://{receiver}/hook/{index}"),
            "events": ["tag.created"],
        });
        let created = self.post("/api/v1/integration/webhooks", &body).await?;
        created["secret"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no secret in {created}"))
    }

    /// Registers endpoints `0..n`, returning their secrets in order.
    pub async fn register_all(&self, receiver: &str, n: usize) -> Result<Vec<String>, String> {
        let mut secrets = Vec::with_capacity(n);
        for index in 0..n {
            secrets.push(self.register(receiver, index).await?);
        }
        Ok(secrets)
    }

    /// Creates a tag (one `tag.created` event); returns its id.
    pub async fn create_tag(&self, name: &str) -> Result<String, String> {
        let created = self.post("/api/v1/tags", &json!({ "name": name })).await?;
        created["tag"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no tag id in {created}"))
    }

    /// Creates `count` tags named `{prefix}-{i}`, `concurrency` at a time; returns their ids.
    pub async fn create_tags(
        &self,
        prefix: &str,
        count: usize,
        concurrency: usize,
    ) -> Result<Vec<String>, String> {
        let slots = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for i in 0..count {
            let (api, slots, name) = (self.clone(), slots.clone(), format!("{prefix}-{i}"));
            tasks.spawn(async move {
                let _permit = slots.acquire_owned().await.expect("never closed");
                api.create_tag(&name).await
            });
        }
        let mut ids = Vec::with_capacity(count);
        while let Some(done) = tasks.join_next().await {
            ids.push(done.map_err(|e| e.to_string())??);
        }
        Ok(ids)
    }
}
