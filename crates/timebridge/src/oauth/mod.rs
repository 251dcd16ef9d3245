//! OAuth connections: a member connects their own account at a provider (Google, GitHub,
//! Slack, ClickUp) and Timebridge keeps the connection working for months without asking
//! again.
//!
//! - [`providers`]: the OAuth apps, their endpoints and the operator's clients.
//! - [`flow`]: the authorization-code flow (`state` bound to the member and single use, PKCE
//!   S256 always) and tokens a member pastes.
//! - [`tokens`]: a usable access token for a connection, refreshed when it expires within five
//!   minutes; one refresh at a time per connection across every instance and task (a lease on
//!   the row), the others wait for it and use its result. A refused refresh marks the
//!   connection `needs_reauth` and raises `integration.connection_needs_reauth`.
//! - [`client`]: the provider's token, account and revocation endpoints.
//! - [`routes`]: the `/api/v1/integration/oauth/…` endpoints.
//!
//! Connectors that act with a member's OAuth token call [`tokens::access_token`].

pub mod client;
pub mod entity;
pub mod flow;
pub mod providers;
pub mod routes;
pub mod tokens;

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

pub use entity::connection::ConnectionStatus;

/// Purposes the sealed columns are bound to (see `platform::crypto`).
pub const SEAL_ACCESS: &str = "oauth_connection.access_token";
pub const SEAL_REFRESH: &str = "oauth_connection.refresh_token";
pub const SEAL_VERIFIER: &str = "oauth_state.pkce_verifier";

/// The sealed columns, for `timebridge secrets rotate`.
pub const SEALED: &[crate::platform::sealed::SealedColumn] = &[
    crate::platform::sealed::SealedColumn::new("oauth_connections", "access_token", SEAL_ACCESS),
    crate::platform::sealed::SealedColumn::new("oauth_connections", "refresh_token", SEAL_REFRESH),
    crate::platform::sealed::SealedColumn::new("oauth_states", "pkce_verifier", SEAL_VERIFIER),
];

/// Registers the sealed columns, the background refresh of connections nobody used lately,
/// and the purge of finished and expired flows.
pub fn register(c: &mut crate::app::Capabilities) {
    use crate::{app::AppState, platform::jobs::JobKind};
    c.sealed(SEALED);
    c.job(
        JobKind::new(
            "oauth_refresh",
            "Every 10 minutes: refreshes OAuth connections whose access token expires within \
             15 minutes, so an idle connection never lapses; removes finished or expired \
             authorization flows.",
            |app: AppState, _job| async move {
                let outcome = tokens::refresh_expiring(&app)
                    .await
                    .map_err(|e| e.to_string())?;
                let purged = flow::purge_states(&app).await.map_err(|e| e.to_string())?;
                Ok(serde_json::json!({
                    "refreshed": outcome.refreshed,
                    "needs_reauth": outcome.needs_reauth,
                    "failed": outcome.failed,
                    "states_purged": purged,
                }))
            },
        )
        .instance()
        .periodic(std::time::Duration::from_secs(600)),
    );
}

/// A connection as the API shows it (and as `integration.connection_needs_reauth` carries
/// it). Tokens never appear.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OauthConnectionView {
    pub id: Uuid,
    /// The provider: `github`, `google`, `slack` or `clickup`.
    #[schema(example = "google")]
    pub oauth_app_id: String,
    pub user_id: Uuid,
    pub status: ConnectionStatus,
    /// Why the member must connect again (with `needs_reauth`).
    pub status_reason: Option<String>,
    /// The scopes the provider granted.
    #[schema(example = json!(["openid", "email"]))]
    pub scopes: Vec<String>,
    /// The account at the provider: an email, a login, a Slack workspace.
    #[schema(example = "ada@example.com")]
    pub account_name: Option<String>,
    /// When the access token expires (it is refreshed before); `null`: it does not.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Whether the provider gave a refresh token (without one, the member reconnects when the
    /// access token expires).
    pub refreshable: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_refreshed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&entity::connection::Model> for OauthConnectionView {
    fn from(c: &entity::connection::Model) -> Self {
        Self {
            id: c.id,
            oauth_app_id: c.provider.clone(),
            user_id: c.user_id,
            status: c.status,
            status_reason: c.status_reason.clone(),
            scopes: c.scopes.split_whitespace().map(str::to_owned).collect(),
            account_name: c.account_name.clone(),
            expires_at: c.expires_at,
            refreshable: c.refresh_token.is_some(),
            last_used_at: c.last_used_at,
            last_refreshed_at: c.last_refreshed_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}
