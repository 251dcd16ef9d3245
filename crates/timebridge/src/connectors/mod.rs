//! Connectors: team members plug their own tools (GitHub, Slack, …) into Timebridge.
//!
//! Every provider implements one object-safe interface, [`Connector`]: its config fields,
//! `test`, `sync`, `revoke`, the webhook receivers it declares, and (optionally) settings it
//! keeps on the member. The connectors are kept in a [`ConnectorRegistry`] on the application
//! state; the uniform routes (`config`, `status`, `test`, `sync`) look the provider up there,
//! and the application gives each declared receiver its own unguarded route
//! ([`routes::receivers`]). Each member keeps one integration record per provider ([`store`]):
//! non-secret fields as JSON, secret fields as a JSON object sealed with
//! `TIMEBRIDGE_SECRET_KEY`. A missing, inactive or broken integration answers
//! `{"ok": false, "error": "Integration not configured"}` and never gets in the way of the timer
//! or anything else. Outbound calls go through [`outbound`] (10-second timeout); inbound
//! webhooks are verified, recorded and de-duplicated in [`ledger`].
//!
//! Adding a provider (Google, ClickUp, …):
//! 1. a variant of [`Provider`] (its stored name in `string_value`, the same in `as_str`, and
//!    the headers of its webhooks worth recording in `recorded_headers`);
//! 2. its folder beside `github/` and `slack/`, with a type that implements [`Connector`];
//! 3. its `register(&mut Capabilities)` adding the connector (and its jobs and event consumers),
//!    called by one line in `app::capabilities()`.

pub mod bindings;
pub mod clickup;
pub mod entity;
pub mod github;
pub mod google_calendar;
pub mod ledger;
pub mod outbound;
mod registry;
pub mod routes;
pub mod slack;
pub mod store;

use std::{fmt, str::FromStr};

use axum::{
    body::Bytes,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use sea_orm::{DbErr, DeriveActiveEnum, EnumIter, Iterable, sea_query::StringLen};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::{
    app::AppState,
    platform::{
        acting::Acting,
        consumers::BoxFuture,
        error::{ApiError, FieldErrors},
    },
};
pub use registry::ConnectorRegistry;
use store::Integration;

/// Plugs in what all connectors share: the sealed secrets column, and an hourly instance job
/// that purges received webhooks (the de-duplication ledger) past
/// `INBOUND_WEBHOOK_RETENTION_DAYS`. Each provider registers itself (`github::register`,
/// `slack::register`).
pub fn register(c: &mut crate::app::Capabilities) {
    c.sealed(store::SEALED);
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
        .filter(entity::integration::Column::Provider.eq(provider))
        .filter(entity::integration::Column::Active.eq(true))
        .into_tuple()
        .all(app.db.conn())
        .await
}

/// What every connector answers when it cannot act.
pub const NOT_CONFIGURED: &str = "Integration not configured";

/// The providers Timebridge connects to, as stored in `integrations.provider` and
/// `inbound_webhooks.provider` and named in paths (`/api/integrations/github/…`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    #[sea_orm(string_value = "github")]
    Github,
    #[sea_orm(string_value = "slack")]
    Slack,
    #[sea_orm(string_value = "clickup")]
    Clickup,
    /// Stored as `google_calendar`, named `google` in paths (`/api/integrations/google/…`).
    #[sea_orm(string_value = "google_calendar")]
    #[serde(rename = "google")]
    GoogleCalendar,
}

impl Provider {
    /// Its stored name (what `string_value` says, without allocating).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Slack => "slack",
            Self::Clickup => "clickup",
            Self::GoogleCalendar => "google_calendar",
        }
    }

    /// Its name in paths and in the API.
    pub fn path_name(self) -> &'static str {
        match self {
            Self::GoogleCalendar => "google",
            other => other.as_str(),
        }
    }

    /// The name the actor of a connector's changes carries (`integration` via this).
    pub fn actor_name(self) -> &'static str {
        self.as_str()
    }

    /// The request headers of its webhooks worth recording in the inbound ledger, besides
    /// [`ledger::COMMON_HEADERS`] (lower case; nothing that carries a credential or a signature).
    pub fn recorded_headers(self) -> &'static [&'static str] {
        match self {
            Self::Github => github::RECORDED_HEADERS,
            Self::Slack => slack::RECORDED_HEADERS,
            Self::GoogleCalendar | Self::Clickup => &[],
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path_name())
    }
}

impl FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::iter()
            .find(|p| p.path_name() == s || p.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Self::iter().map(Self::path_name).collect();
                format!("unknown provider '{s}' (known: {})", known.join(", "))
            })
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
    /// A whole number (the connector clamps or checks its range).
    Integer,
}

/// One config field of a connector.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub description: &'static str,
    /// A value the connector accepts, for the API document.
    #[serde(skip)]
    pub example: &'static str,
    /// The regular expression a text value must match, when the connector checks one.
    #[serde(skip)]
    pub pattern: Option<&'static str>,
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

    /// A failed call as the member sees it: the error's message, or, for a failure on
    /// Timebridge's side (a database error, say), only that: its cause is logged, never shown.
    pub fn failure(error: impl Into<ApiError>) -> Self {
        let error = error.into();
        if !error.status().is_server_error() {
            return Self::error(error.to_string());
        }
        tracing::error!(error = %format!("{error:#}"), "connector call failed on Timebridge's side");
        Self::error(INTERNAL_FAILURE)
    }

    pub fn is_ok(&self) -> bool {
        self.0["ok"] == Value::Bool(true)
    }
}

/// A webhook receiver a connector declares: `POST /api/integrations/{provider}/{name}`, served
/// without a token (the connector checks the provider's signature instead) and documented in
/// the API document from these fields.
#[derive(Clone, Copy, Debug)]
pub struct Receiver {
    /// The last segment of its path.
    pub name: &'static str,
    /// One line for the API document.
    pub summary: &'static str,
    /// What it checks before reading the request, and what it does with it.
    pub description: &'static str,
    /// What the provider sends.
    pub request: &'static str,
    /// Each status it answers with, and when (401 included: a refused signature).
    pub responses: &'static [(u16, &'static str)],
}

impl Receiver {
    /// Its path for `provider`.
    pub fn path(&self, provider: Provider) -> String {
        format!("/api/integrations/{provider}/{}", self.name)
    }
}

/// The interface every provider implements. Object-safe: the registry keeps
/// `Arc<dyn Connector>`, so its methods return boxed futures.
pub trait Connector: Send + Sync {
    fn provider(&self) -> Provider;

    /// The fields of its config.
    fn fields(&self) -> &'static [Field];

    /// Checks a config about to be saved, beyond the field types (a project that exists, a
    /// repository name that looks like one).
    fn check_config<'a>(
        &'a self,
        app: &'a AppState,
        acting: &'a Acting,
        config: &'a Map<String, Value>,
        errors: &'a mut FieldErrors,
    ) -> BoxFuture<'a, Result<(), DbErr>>;

    /// Calls the provider to prove the credentials work.
    fn test<'a>(&'a self, app: &'a AppState, integration: &'a Integration) -> BoxFuture<'a, Reply>;

    /// Pulls the provider's data in (where the provider has something to pull).
    fn sync<'a>(
        &'a self,
        app: &'a AppState,
        acting: &'a Acting,
        integration: &'a Integration,
        params: &'a Value,
    ) -> BoxFuture<'a, Reply>;

    /// Forgets the credentials (and tells the provider, where it has a revoke call).
    fn revoke<'a>(
        &'a self,
        app: &'a AppState,
        integration: &'a Integration,
    ) -> BoxFuture<'a, Reply>;

    /// Starts connecting the member's account at the provider (connectors on an OAuth
    /// connection): what to send their browser to. Others have nothing to connect (404).
    fn connect<'a>(
        &'a self,
        _app: &'a AppState,
        _acting: &'a Acting,
    ) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(async { Err(ApiError::NotFound("Connect route")) })
    }

    /// Whether only workspace admins may run its sync (it changes the workspace's data), or
    /// every member their own (it changes only theirs).
    fn sync_needs_admin(&self) -> bool {
        true
    }

    /// What its status shows besides the common fields (the last sync's counts).
    fn status_details<'a>(
        &'a self,
        _app: &'a AppState,
        _integration: &'a Integration,
    ) -> BoxFuture<'a, Value> {
        Box::pin(async { Value::Null })
    }

    /// The webhook receivers it declares; each becomes a route of its own.
    fn receivers(&self) -> &'static [Receiver] {
        &[]
    }

    /// Receives a request on one of its [`receivers`](Connector::receivers) (named by
    /// `receiver`): verifies it before reading it, records it, applies it once.
    fn receive<'a>(
        &'a self,
        _app: &'a AppState,
        _receiver: &'a str,
        _headers: &'a HeaderMap,
        _body: Bytes,
    ) -> BoxFuture<'a, Response> {
        Box::pin(async { ApiError::NotFound("Route").into_response() })
    }

    /// Its side of data sync bindings, if it offers them (`/api/v1/integration/bindings`).
    fn bindings(&self) -> Option<&dyn bindings::BindingSource> {
        None
    }

    /// Settings of the member it keeps outside the integration record (where other parts of
    /// Timebridge read them), shown beside the config's fields.
    fn member_settings<'a>(
        &'a self,
        _app: &'a AppState,
        _acting: &'a Acting,
    ) -> BoxFuture<'a, Result<Map<String, Value>, DbErr>> {
        Box::pin(async { Ok(Map::new()) })
    }

    /// The member settings [`take_member_settings`](Connector::take_member_settings) takes,
    /// described as fields for the API document.
    fn member_fields(&self) -> &'static [Field] {
        &[]
    }

    /// Takes its member settings out of a config body before the fields are checked, and
    /// checks them; what it returns is saved by
    /// [`save_member_settings`](Connector::save_member_settings) once the config is.
    fn take_member_settings(
        &self,
        _changes: &mut Map<String, Value>,
        _errors: &mut FieldErrors,
    ) -> Map<String, Value> {
        Map::new()
    }

    /// Saves member settings [`take_member_settings`](Connector::take_member_settings) checked.
    fn save_member_settings<'a>(
        &'a self,
        _app: &'a AppState,
        _acting: &'a Acting,
        _settings: Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), DbErr>> {
        Box::pin(async { Ok(()) })
    }
}

/// A receiver's JSON answer.
pub fn answer(status: axum::http::StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// A receiver's refusal: `{"ok": false, "error": …}`.
pub fn refuse(status: axum::http::StatusCode, error: &str) -> Response {
    answer(status, json!({"ok": false, "error": error}))
}

/// What a connector call says of a failure on Timebridge's side; the cause is in the logs.
pub const INTERNAL_FAILURE: &str =
    "Something went wrong on Timebridge's side; the server's log has the cause";

/// What a receiver says of a failure on Timebridge's side; the cause is in the logs.
pub const INTERNAL_ERROR: &str =
    "Something went wrong on Timebridge's side; the request id identifies it in the logs";

/// A receiver's answer to an error: `{"ok": false, "error": …}` (with `errors` per field for a
/// validation error) and the error's status. A server error says only that something went
/// wrong: its cause (a database error, say) is logged with the request id, as every 500's is,
/// and never reaches the provider.
pub fn fail(error: ApiError) -> Response {
    let status = error.status();
    match &error {
        ApiError::Validation(errors) | ApiError::ValidationWith(errors, _) => answer(
            status,
            json!({"ok": false, "error": "Validation failed", "errors": errors}),
        ),
        _ if status.is_server_error() => internal_error(error, refuse(status, INTERNAL_ERROR)),
        _ => refuse(status, &error.to_string()),
    }
}

/// `response`, carrying the cause of `error` for the request log when it is a 500 (see
/// [`fail`]): for receivers that answer a failure in their provider's own shape.
pub fn internal_error(error: ApiError, mut response: Response) -> Response {
    if let ApiError::Internal(cause) = &error {
        response
            .extensions_mut()
            .insert(crate::platform::error::InternalCause(format!("{cause:#}")));
    }
    response
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

/// Whether `hex` is the HMAC-SHA256 of `body` under `secret` (compared in constant time):
/// GitHub's and ClickUp's webhook signatures.
pub fn hmac_sha256_verifies(secret: &[u8], body: &[u8], hex: &str) -> bool {
    use hmac::{Hmac, Mac};
    use subtle::ConstantTimeEq;
    let hex = hex.trim();
    if !hex.len().is_multiple_of(2) {
        return false;
    }
    let given: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    let Some(given) = given else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.finalize().into_bytes().as_slice().ct_eq(&given).into()
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
    fn providers_are_stored_by_key_and_named_by_path() {
        use sea_orm::ActiveEnum;
        for provider in Provider::iter() {
            assert_eq!(provider.to_value(), provider.as_str());
            assert_eq!(provider.as_str().parse(), Ok(provider));
            assert_eq!(provider.path_name().parse(), Ok(provider));
            assert_eq!(
                serde_json::to_value(provider).unwrap(),
                json!(provider.path_name())
            );
            assert_eq!(provider.to_string(), provider.path_name());
        }
        assert_eq!(Provider::GoogleCalendar.as_str(), "google_calendar");
        assert_eq!(Provider::GoogleCalendar.path_name(), "google");
        assert_eq!(
            "gitlab".parse::<Provider>(),
            Err("unknown provider 'gitlab' (known: github, slack, clickup, google)".to_owned())
        );
    }

    #[test]
    fn secrets_show_only_their_prefix() {
        assert_eq!(truncate_secret("ghp_abcdefghijklmnop"), "ghp_…");
        assert_eq!(truncate_secret("xoxb-1234-5678-abcd"), "xoxb-…");
        assert_eq!(truncate_secret("It's a Secret to Everybody"), "It'…");
    }
}
