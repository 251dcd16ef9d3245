//! Connecting: the authorization-code flow and pasted tokens.
//!
//! A flow starts with a `state` (128 random bits, stored only as its SHA-256) bound to the
//! member and workspace that started it and a PKCE S256 challenge whose verifier stays on the
//! server, sealed. The callback must bring that `state` back before it expires
//! (`OAUTH_AUTHORIZATION_CODE_EXPIRY_MINUTES`); it is used once; a callback made by another
//! member is refused and stores nothing.

use ::time::OffsetDateTime;
use oauth2::{CsrfToken, PkceCodeChallenge, Scope};
use sea_orm::{ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, sea_query::Expr};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    SEAL_VERIFIER,
    client::{self, Failure, Issued},
    entity::{connection, state},
    providers::{self, Provider},
    tokens,
};
use crate::{
    app::AppState,
    config::{Config, OAuthClient},
    platform::{error::ApiError, time},
};

/// Where providers send the member's browser back.
pub fn redirect_uri(config: &Config) -> String {
    format!(
        "{}/api/v1/integration/oauth/callback",
        config.oauth.redirect_uri_base
    )
}

/// A flow just started.
pub struct Started {
    pub authorization_url: String,
    pub state: String,
    pub expires_at: OffsetDateTime,
}

fn hash(state: &str) -> String {
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The provider named by `oauth_app_id`, or a 400 listing the valid ones.
pub fn provider(config: &Config, id: &str) -> Result<Provider, ApiError> {
    providers::find(config, id.trim()).ok_or_else(|| {
        ApiError::invalid(
            "oauth_app_id",
            format!("must be one of: {}", providers::IDS.join(", ")),
        )
    })
}

/// The operator's client for `provider`, or a 422 saying which settings configure it.
pub fn credentials(provider: &Provider) -> Result<OAuthClient, ApiError> {
    provider.client.clone().ok_or_else(|| {
        let prefix = provider.id.to_uppercase();
        ApiError::coded(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "oauth_app_not_configured",
            format!(
                "{} connections are not set up on this server: the operator sets \
                 {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET",
                provider.name
            ),
        )
    })
}

/// The scopes asked for: the provider's defaults, or those named (each one it offers).
fn scopes(provider: &Provider, asked: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let Some(asked) = asked else {
        return Ok(provider
            .default_scopes
            .iter()
            .map(|s| (*s).to_owned())
            .collect());
    };
    let mut chosen: Vec<String> = Vec::new();
    for scope in asked.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !provider.scopes.iter().any(|(offered, _)| *offered == scope) {
            let offered: Vec<&str> = provider.scopes.iter().map(|(s, _)| *s).collect();
            return Err(ApiError::invalid(
                "scopes",
                format!(
                    "{scope} is not offered by {} (offered: {})",
                    provider.name,
                    if offered.is_empty() {
                        "none".to_owned()
                    } else {
                        offered.join(", ")
                    }
                ),
            ));
        }
        if !chosen.iter().any(|c| c == scope) {
            chosen.push(scope.to_owned());
        }
    }
    Ok(chosen)
}

/// Starts a flow for the member: the URL to send their browser to.
pub async fn start(
    app: &AppState,
    workspace_id: Uuid,
    user_id: Uuid,
    provider: &Provider,
    asked: Option<Vec<String>>,
) -> Result<Started, ApiError> {
    start_with_redirect(app, workspace_id, user_id, provider, asked, None).await
}

/// [`start`], sending the provider's answer to `redirect` instead of the OAuth callback (a
/// connector whose operator registered its own callback, as ClickUp's may).
pub async fn start_with_redirect(
    app: &AppState,
    workspace_id: Uuid,
    user_id: Uuid,
    provider: &Provider,
    asked: Option<Vec<String>>,
    redirect: Option<String>,
) -> Result<Started, ApiError> {
    let credentials = credentials(provider)?;
    let scopes = scopes(provider, asked)?;
    let redirect = redirect.unwrap_or_else(|| redirect_uri(&app.config));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let client = client::build(provider, &credentials, &redirect);
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge);
    if provider.scope_separator == " " {
        request = request.add_scopes(scopes.iter().cloned().map(Scope::new));
    } else if !scopes.is_empty() {
        request = request.add_scope(Scope::new(scopes.join(provider.scope_separator)));
    }
    for (name, value) in provider.authorize_params {
        request = request.add_extra_param(*name, *value);
    }
    let (url, state) = request.url();
    let now = time::now();
    let expires_at = now + app.config.oauth.authorization_code_expiry;
    let row = state::ActiveModel {
        id: Set(Uuid::now_v7()),
        state_hash: Set(hash(state.secret())),
        workspace_id: Set(workspace_id),
        user_id: Set(user_id),
        provider: Set(provider.id.to_owned()),
        scopes: Set(scopes.join(" ")),
        redirect_uri: Set(redirect),
        pkce_verifier: Set(app
            .secret_key
            .seal(SEAL_VERIFIER, verifier.secret().as_bytes())),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    };
    let _turn = app.db.write_turn().await;
    state::Entity::insert(row)
        .exec_without_returning(app.db.conn())
        .await?;
    Ok(Started {
        authorization_url: url.to_string(),
        state: state.secret().clone(),
        expires_at,
    })
}

/// What the provider sent back to the callback.
pub struct Callback<'a> {
    pub state: &'a str,
    pub code: Option<&'a str>,
    /// The provider's `error` when the member declined (`access_denied`).
    pub error: Option<&'a str>,
}

/// Finishes a flow: checks the `state` (known, unexpired, unused, and — when `member` is
/// given — started by that member in that workspace), uses it up, exchanges the code with the
/// PKCE verifier and stores the connection.
pub async fn finish(
    app: &AppState,
    callback: Callback<'_>,
    member: Option<(Uuid, Uuid)>,
) -> Result<connection::Model, ApiError> {
    let found = state::Entity::find()
        .filter(state::Column::StateHash.eq(hash(callback.state.trim())))
        .one(app.db.conn())
        .await?;
    let Some(flow) = found else {
        return Err(ApiError::invalid(
            "state",
            "is not a connection this server started: start the connection again",
        ));
    };
    if let Some(member) = member
        && member != (flow.workspace_id, flow.user_id)
    {
        return Err(ApiError::Forbidden(
            "This authorization was started by another member".into(),
        ));
    }
    if flow.used_at.is_some() {
        return Err(ApiError::invalid(
            "state",
            "was already used: start the connection again",
        ));
    }
    if flow.expires_at < time::now() {
        return Err(ApiError::invalid(
            "state",
            "has expired: start the connection again",
        ));
    }
    // Used up before anything else happens, so a replay racing this call finds it used.
    let used = {
        let _turn = app.db.write_turn().await;
        state::Entity::update_many()
            .col_expr(state::Column::UsedAt, Expr::val(Some(time::now())))
            .filter(state::Column::Id.eq(flow.id))
            .filter(state::Column::UsedAt.is_null())
            .exec(app.db.conn())
            .await?
    };
    if used.rows_affected == 0 {
        return Err(ApiError::invalid(
            "state",
            "was already used: start the connection again",
        ));
    }
    if let Some(error) = callback.error.map(str::trim).filter(|e| !e.is_empty()) {
        return Err(ApiError::invalid(
            "error",
            format!("the provider did not authorize the connection: {error}"),
        ));
    }
    let code = callback
        .code
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::invalid("code", "is required"))?;
    let provider = provider(&app.config, &flow.provider)?;
    let credentials = credentials(&provider)?;
    let verifier = app
        .secret_key
        .open(SEAL_VERIFIER, &flow.pkce_verifier)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("an OAuth flow's verifier does not open"))
        })?;
    let issued = client::exchange_code(&provider, &credentials, &flow.redirect_uri, code, verifier)
        .await
        .map_err(exchange_error)?;
    Ok(tokens::save(
        app,
        flow.workspace_id,
        flow.user_id,
        provider.id,
        issued,
        &flow.scopes,
    )
    .await?)
}

fn exchange_error(failure: Failure) -> ApiError {
    match failure {
        Failure::Refused(message) => ApiError::invalid("code", message),
        Failure::Failed(message) => ApiError::Unavailable(message),
    }
}

/// A token the member pasted (as seed 001 shows): stored like an issued one.
pub struct Pasted {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
    pub scopes: Option<Vec<String>>,
}

/// Stores a pasted token as the member's connection to `provider`.
pub async fn paste(
    app: &AppState,
    workspace_id: Uuid,
    user_id: Uuid,
    provider: &Provider,
    pasted: Pasted,
) -> Result<connection::Model, ApiError> {
    let scopes = match pasted.scopes {
        Some(asked) => scopes(provider, Some(asked))?,
        None => Vec::new(),
    };
    if pasted.refresh_token.is_some() {
        // Refreshing needs the operator's client.
        credentials(provider)?;
    }
    let account_name = match &provider.account {
        providers::Account::GithubUser(url) => {
            client::github_login(url, &pasted.access_token).await
        }
        _ => None,
    };
    let issued = Issued {
        access_token: pasted.access_token,
        refresh_token: pasted.refresh_token,
        expires_at: pasted
            .expires_in
            .map(|s| time::now() + ::time::Duration::seconds(s)),
        scopes: None,
        account_name,
    };
    Ok(tokens::save(
        app,
        workspace_id,
        user_id,
        provider.id,
        issued,
        &scopes.join(" "),
    )
    .await?)
}

/// Removes flows past their expiry (used or not).
pub async fn purge_states(app: &AppState) -> Result<u64, DbErr> {
    let _turn = app.db.write_turn().await;
    let done = state::Entity::delete_many()
        .filter(state::Column::ExpiresAt.lt(time::now()))
        .exec(app.db.conn())
        .await?;
    Ok(done.rows_affected)
}
