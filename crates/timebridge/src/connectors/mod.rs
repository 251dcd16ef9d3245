//! Connectors: team members plug their own tools (GitHub, Slack, …) into Timebridge.
//!
//! Every provider implements one interface, [`Connector`]: its config fields, `test`, `sync`,
//! `handle_webhook` and `revoke` (`status` is the same for all). Each member keeps one
//! integration record per provider ([`store`]): non-secret fields as JSON, secret fields as a
//! JSON object sealed with `TIMEBRIDGE_SECRET_KEY`. A missing, inactive or broken integration
//! answers `{"ok": false, "error": "Integration not configured"}` and never gets in the way of
//! the timer or anything else. Outbound calls go through [`outbound`] (10-second timeout);
//! inbound webhooks are verified, recorded and de-duplicated in [`ledger`].

pub mod entity;
pub mod github;
pub mod ledger;
pub mod outbound;
pub mod routes;
pub mod slack;
pub mod store;

use std::{fmt, str::FromStr};

use axum::{body::Bytes, http::HeaderMap, response::Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::{
    app::AppState,
    platform::{acting::Acting, error::FieldErrors},
};
use store::Integration;

/// Plugs in what all connectors share: an hourly instance job that purges received webhooks
/// (the de-duplication ledger) past `INBOUND_WEBHOOK_RETENTION_DAYS`. Each provider registers
/// itself (`github::register`, `slack::register`).
pub fn register(c: &mut crate::app::Capabilities) {
    c.job(
        crate::platform::jobs::JobKind::new(
            "inbound_webhook_retention",
            "Hourly: purges received connector webhooks past INBOUND_WEBHOOK_RETENTION_DAYS.",
            |app: AppState, _job| async move {
                let purged = ledger::purge(&app.db, app.config.connectors.inbound_retention_days)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(json!({"inbound_webhooks_purged": purged}))
            },
        )
        .instance()
        .periodic(std::time::Duration::from_secs(3600)),
    );
}

/// The workspaces with an active integration of `provider`: whom its periodic jobs run for.
pub async fn workspaces_with(
    app: &AppState,
    provider: Provider,
) -> Result<Vec<uuid::Uuid>, sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    entity::integration::Entity::find()
        .select_only()
        .column(entity::integration::Column::WorkspaceId)
        .distinct()
        .filter(entity::integration::Column::Provider.eq(provider.as_str()))
        .filter(entity::integration::Column::Active.eq(true))
        .into_tuple()
        .all(app.db.conn())
        .await
}

/// What every connector answers when it cannot act.
pub const NOT_CONFIGURED: &str = "Integration not configured";

/// The providers Timebridge connects to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Github,
    Slack,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Self::Github, Self::Slack];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Slack => "slack",
        }
    }

    /// The name the actor of a connector's changes carries (`integration` via this).
    pub fn actor_name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown provider '{s}' (known: github, slack)"))
    }
}

/// The kind of value a config field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    /// Stored sealed; shown only as a truncation (`ghp_…`).
    Secret,
    Bool,
    Uuid,
    /// `HH:MM`, 24-hour, UTC.
    Time,
}

/// One config field of a connector.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub description: &'static str,
}

/// A connector's answer: `{"ok": true, …}` or `{"ok": false, "error": "…"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply(pub Value);

impl Reply {
    /// Success, with more fields.
    pub fn ok(fields: Value) -> Self {
        let mut map = Map::new();
        map.insert("ok".into(), Value::Bool(true));
        if let Value::Object(extra) = fields {
            map.extend(extra);
        }
        Self(Value::Object(map))
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self(json!({"ok": false, "error": message.into()}))
    }

    pub fn not_configured() -> Self {
        Self::error(NOT_CONFIGURED)
    }

    pub fn is_ok(&self) -> bool {
        self.0["ok"] == Value::Bool(true)
    }
}

/// The interface every provider implements.
pub trait Connector: Sync {
    fn provider(&self) -> Provider;

    /// The fields of its config.
    fn fields(&self) -> &'static [Field];

    /// Checks a config about to be saved, beyond the field types (a project that exists, a
    /// repository name that looks like one).
    fn check_config(
        &self,
        app: &AppState,
        acting: &Acting,
        config: &Map<String, Value>,
        errors: &mut FieldErrors,
    ) -> impl Future<Output = Result<(), sea_orm::DbErr>> + Send;

    /// Calls the provider to prove the credentials work.
    fn test(&self, app: &AppState, integration: &Integration)
    -> impl Future<Output = Reply> + Send;

    /// Pulls the provider's data in (where the provider has something to pull).
    fn sync(
        &self,
        app: &AppState,
        acting: &Acting,
        integration: &Integration,
        params: &Value,
    ) -> impl Future<Output = Reply> + Send;

    /// Receives a webhook: verifies it before reading it, records it, applies it once.
    fn handle_webhook(
        &self,
        app: &AppState,
        headers: &HeaderMap,
        body: Bytes,
    ) -> impl Future<Output = Response> + Send;

    /// Forgets the credentials (and tells the provider, where it has a revoke call).
    fn revoke(
        &self,
        app: &AppState,
        integration: &Integration,
    ) -> impl Future<Output = Reply> + Send;
}

/// Runs `$body` with `$c` bound to the connector of `$provider`.
#[macro_export]
macro_rules! with_connector {
    ($provider:expr, $c:ident => $body:expr) => {
        match $provider {
            $crate::connectors::Provider::Github => {
                let $c = &$crate::connectors::github::GithubConnector;
                $body
            }
            $crate::connectors::Provider::Slack => {
                let $c = &$crate::connectors::slack::SlackConnector;
                $body
            }
        }
    };
}

/// A receiver's JSON answer.
pub fn answer(status: axum::http::StatusCode, body: Value) -> Response {
    use axum::response::IntoResponse;
    (status, axum::Json(body)).into_response()
}

/// A receiver's refusal: `{"ok": false, "error": …}`.
pub fn refuse(status: axum::http::StatusCode, error: &str) -> Response {
    answer(status, json!({"ok": false, "error": error}))
}

/// A request header as trimmed, non-empty text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Lower-case hex of HMAC-SHA256 over `parts` (GitHub's and Slack's signatures).
pub fn hmac_sha256_hex(secret: &str, parts: &[&[u8]]) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC accepts keys of any length");
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A secret as logs and answers may show it: its recognisable prefix (`ghp_`, `xoxb-`) and an
/// ellipsis, never more.
pub fn truncate_secret(secret: &str) -> String {
    let prefix: String = secret
        .char_indices()
        .take(6)
        .find(|(_, c)| *c == '_' || *c == '-')
        .map(|(i, c)| secret[..i + c.len_utf8()].to_owned())
        .unwrap_or_else(|| secret.chars().take(3).collect());
    format!("{prefix}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_show_only_their_prefix() {
        assert_eq!(truncate_secret("ghp_abcdefghijklmnop"), "ghp_…");
        assert_eq!(truncate_secret("xoxb-1234-5678-abcd"), "xoxb-…");
        assert_eq!(truncate_secret("It's a Secret to Everybody"), "It'…");
    }
}
