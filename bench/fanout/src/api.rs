//! The calls the benchmark makes to Timebridge: register endpoints, and create events: tags
//! through the API, or tasks from signed GitHub `issues.opened` deliveries.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::{sync::Semaphore, task::JoinSet};

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    auth: String,
    /// Set by [`Api::use_github`]: events come from GitHub deliveries.
    github: Option<Arc<GithubSource>>,
}

/// The GitHub integration the benchmark signs deliveries for.
pub struct GithubSource {
    secret: String,
    repo: String,
    next_issue: std::sync::atomic::AtomicU64,
}

const GITHUB_SECRET: &str = "fanout bench webhook secret";
const GITHUB_REPO: &str = "octo-org/fanout-bench";

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
            github: None,
        }
    }

    /// Makes events come from GitHub: creates a project, configures the caller's GitHub
    /// integration for it, and from then on [`Api::create_event`] sends a signed
    /// `issues.opened` delivery (one `task.created` event) instead of creating a tag.
    pub async fn use_github(&mut self, first_issue: u64) -> Result<(), String> {
        let project = self
            .post(
                "/api/v1/projects",
                &json!({"name": format!("fanout {first_issue}")}),
            )
            .await?;
        let project_id = project["project"]["id"].as_str().ok_or("no project id")?;
        let config =
            json!({"repo": GITHUB_REPO, "webhook_secret": GITHUB_SECRET, "project_id": project_id});
        let response = self
            .client
            .put(format!("{}/api/integrations/github/config", self.base))
            .header("authorization", &self.auth)
            .json(&config)
            .send()
            .await
            .map_err(|e| format!("PUT github config: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("PUT github config: {}", response.status()));
        }
        self.github = Some(Arc::new(GithubSource {
            secret: GITHUB_SECRET.into(),
            repo: GITHUB_REPO.into(),
            next_issue: std::sync::atomic::AtomicU64::new(first_issue),
        }));
        Ok(())
    }

    /// Creates one event; returns the id of the resource it carries.
    pub async fn create_event(&self, name: &str) -> Result<String, String> {
        let Some(github) = &self.github else {
            return self.create_tag(name).await;
        };
        let number = github
            .next_issue
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body = json!({
            "action": "opened",
            "issue": {"number": number, "title": name, "body": "fanout bench", "labels": [],
                      "html_url": format!("https://github.com/{}/issues/{number}", github.repo)},
            "repository": {"full_name": github.repo},
            "sender": {"login": "octocat"},
        })
        .to_string();
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(github.secret.as_bytes())
                .expect("any key length");
        hmac::Mac::update(&mut mac, body.as_bytes());
        let hex: String = hmac::Mac::finalize(mac)
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let response = self
            .client
            .post(format!("{}/api/integrations/github/webhook", self.base))
            .header("X-GitHub-Event", "issues")
            .header("X-GitHub-Delivery", format!("fanout-{number}"))
            .header("X-Hub-Signature-256", format!("sha256={hex}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("POST github webhook: {e}"))?;
        let status = response.status();
        let reply: Value = response
            .json()
            .await
            .map_err(|e| format!("github webhook: {e}"))?;
        if !status.is_success() {
            return Err(format!("github webhook: {status}: {reply}"));
        }
        reply["task_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no task id in {reply}"))
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

    /// Registers endpoint `index` at `http://receiver/hook/index`, subscribed to `tag.created`
    /// and `task.created` (the two event sources);
    /// returns its `whsec_…` secret.
    pub async fn register(&self, receiver: &str, index: usize) -> Result<String, String> {
        let body = json!({
            "name": format!("fanout bench {index}"),
            "url": format!("http://{receiver}/hook/{index}"),
            "events": ["tag.created", "task.created"],
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
