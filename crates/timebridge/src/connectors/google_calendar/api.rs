//! Google Calendar API v3, for one member's OAuth connection: listing events page by page
//! (full or incremental with a sync token), inserting events. Each call takes a fresh token
//! from the connection (refreshed when it expires within five minutes). Quota refusals (429,
//! and 403 `rateLimitExceeded` / `userRateLimitExceeded`) and Google's 5xx are retried with
//! exponential backoff (`GOOGLE_CALENDAR_BACKOFF_MS`, doubled each time, honouring
//! `Retry-After`), five tries in all.

use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    app::AppState,
    connectors::outbound,
    oauth::tokens::{self, TokenError},
};

const TRIES: u32 = 5;
/// The longest wait a `Retry-After` may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// 410: the sync token is no longer valid; a full sync is required.
    Gone,
    /// 409: an event with this id exists already.
    Duplicate,
    NotFound,
    /// No usable token: the member must reconnect, or the refresh failed for now.
    Token(TokenError),
    /// Anything else, in words.
    Failed(String),
}

impl CallError {
    pub fn message(&self) -> String {
        match self {
            Self::Gone => "Google asked for a full sync".into(),
            Self::Duplicate => "the event exists already".into(),
            Self::NotFound => "Google Calendar answered 404 (no such calendar or event)".into(),
            Self::Token(TokenError::NeedsReauth(reason)) => {
                format!("connect Google again: {reason}")
            }
            Self::Token(e) => e.to_string(),
            Self::Failed(m) => m.clone(),
        }
    }
}

pub struct Calendar<'a> {
    app: &'a AppState,
    connection: Uuid,
}

impl<'a> Calendar<'a> {
    pub fn new(app: &'a AppState, connection: Uuid) -> Self {
        Self { app, connection }
    }

    fn url(&self, segments: &[&str]) -> Result<Url, CallError> {
        let mut url = Url::parse(&self.app.config.connectors.google_calendar_api_url)
            .map_err(|_| CallError::Failed("GOOGLE_CALENDAR_API_URL is not a URL".into()))?;
        url.path_segments_mut()
            .map_err(|()| CallError::Failed("GOOGLE_CALENDAR_API_URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let mut wait = self.app.config.connectors.google_calendar_backoff;
        let mut last = String::new();
        let mut refreshed = false;
        for attempt in 1..=TRIES {
            let token = tokens::access_token(self.app, self.connection)
                .await
                .map_err(CallError::Token)?;
            let mut request = outbound::client()
                .request(method.clone(), url.clone())
                .bearer_auth(token)
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    return Err(CallError::Failed(format!(
                        "Google Calendar: {}",
                        outbound::describe(&e)
                    )));
                }
            };
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s).min(MAX_WAIT));
            let text = response.text().await.unwrap_or_default();
            let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let message = json
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            match status {
                200..=299 => return Ok(json),
                // Google no longer takes the access token (revoked, or expired early): refresh
                // it once and try again. A refresh Google refuses marks the connection
                // `needs_reauth`.
                401 if !refreshed => {
                    refreshed = true;
                    tokens::expire(self.app, self.connection)
                        .await
                        .map_err(|e| CallError::Token(e.into()))?;
                    continue;
                }
                401 => {
                    return Err(CallError::Failed(
                        "Google Calendar refused a freshly refreshed token".into(),
                    ));
                }
                404 => return Err(CallError::NotFound),
                409 => return Err(CallError::Duplicate),
                410 => return Err(CallError::Gone),
                429 | 500..=599 => {}
                403 if quota(&json) => {}
                _ => {
                    return Err(CallError::Failed(format!(
                        "Google Calendar answered {status}: {message}"
                    )));
                }
            }
            last = format!("Google Calendar answered {status}: {message}");
            if attempt < TRIES {
                tracing::info!(
                    status,
                    attempt,
                    "Google Calendar asked to slow down; retrying"
                );
                tokio::time::sleep(retry_after.unwrap_or(wait)).await;
                wait *= 2;
            }
        }
        Err(CallError::Failed(format!(
            "{last} ({TRIES} tries); the next sync tries again"
        )))
    }

    /// Every event of a listing, following `nextPageToken`; and the `nextSyncToken` of its
    /// last page.
    pub async fn list(
        &self,
        calendar_id: &str,
        params: &[(&str, String)],
    ) -> Result<(Vec<Value>, Option<String>), CallError> {
        let url = self.url(&["calendars", calendar_id, "events"])?;
        let mut items = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query: Vec<(&str, String)> = params.to_vec();
            query.push(("maxResults", "250".into()));
            if let Some(token) = &page_token {
                query.push(("pageToken", token.clone()));
            }
            let page = self.send(Method::GET, url.clone(), &query, None).await?;
            if let Some(list) = page.get("items").and_then(Value::as_array) {
                items.extend(list.iter().cloned());
            }
            match page.get("nextPageToken").and_then(Value::as_str) {
                Some(next) => page_token = Some(next.to_owned()),
                None => {
                    let sync = page
                        .get("nextSyncToken")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    return Ok((items, sync));
                }
            }
        }
    }

    /// Inserts an event (with its own `id`).
    pub async fn insert(&self, calendar_id: &str, event: &Value) -> Result<Value, CallError> {
        let url = self.url(&["calendars", calendar_id, "events"])?;
        self.send(Method::POST, url, &[], Some(event)).await
    }
}

/// Whether a 403 is a quota refusal (retry later) rather than a missing permission.
fn quota(body: &Value) -> bool {
    body.pointer("/error/errors")
        .and_then(Value::as_array)
        .is_some_and(|errors| {
            errors.iter().any(|e| {
                matches!(
                    e.get("reason").and_then(Value::as_str),
                    Some("rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded")
                )
            })
        })
}
