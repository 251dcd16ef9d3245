//! The token exchange: an add-on trades a JWT Timebridge signed for it (the one on any
//! lifecycle call or webhook it received, still unexpired and never traded before) for an API
//! token limited to its manifest's scopes, its installation's workspace, and one hour. The
//! installation's tokens share one budget of [`PER_SECOND`] requests a second; uninstalling
//! revokes them all at once.

use axum::extract::State;
use base64::Engine;
use sea_orm::{ActiveValue::Set, EntityTrait, sea_query::OnConflict};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    catalog,
    entity::{
        addon, addon_token,
        installation::{self, InstallationStatus},
    },
    signing,
};
use crate::{
    access::{
        scopes::ScopeSet,
        tokens::{self, DelegatedToken},
    },
    app::AppState,
    directory,
    platform::{
        changes::WorkspaceChange,
        error::{ApiError, ErrorBody},
        extract::Json,
        outbox::Actor,
        time as clock,
    },
};

/// An add-on token's lifetime.
pub const TOKEN_SECONDS: i64 = 3600;
/// Requests a second an installation's tokens make together (seed 000's figure).
pub const PER_SECOND: u32 = 50;

/// The unguarded route (the assertion is the credential).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(exchange))
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (the only grant; may be left out).
    #[schema(example = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    pub grant_type: Option<String>,
    /// A JWT Timebridge signed for the add-on (`X-Timebridge-Signature` of a call it received).
    #[schema(example = "eyJhbGciOiJSUzI1NiIsImtpZCI6Ii4uLiJ9.eyJzdWIiOiIuLi4ifQ.c2ln")]
    pub assertion: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenAnswer {
    /// A bearer token for the API (shown once).
    #[schema(example = "tb_pat_3kFq9wJ2xYb7LmN4pR8sT1uV6zA0cD5eG")]
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until it expires.
    #[schema(example = 3600)]
    pub expires_in: i64,
    /// Its scopes, space-separated: the manifest's.
    #[schema(example = "read:time_entries read:projects")]
    pub scope: String,
}

fn refused(message: &str) -> ApiError {
    ApiError::Unauthorized(format!("The assertion is refused: {message}"))
}

/// A JWT's claims, read before its signature is checked (to know which installation it names
/// and who signed it); the signature is checked next.
fn unverified_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The longest an add-on-signed assertion may live.
const ASSERTION_SECONDS: i64 = 300;

/// Checks an assertion the add-on signed itself (RFC 7523: `iss` its key, `sub` the
/// installation, `aud` this token URL, `exp` at most 5 minutes ahead, a `jti`), with a key of
/// the JWK Set at its manifest's `jwksPath`. Answers `(jti, exp)`.
async fn addon_signed(
    app: &AppState,
    token: &str,
    addon: &addon::Model,
) -> Result<(String, i64), ApiError> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
    let manifest = catalog::manifest_of(addon)?;
    let url = manifest.jwks_url().ok_or_else(|| {
        refused("the add-on publishes no keys (jwksPath) to check its own assertions")
    })?;
    let header = jsonwebtoken::decode_header(token).map_err(|_| refused("not a JWT"))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
        return Err(refused("only RS256 and ES256 assertions are taken"));
    }
    let client = crate::platform::http_client::client(
        catalog::policy(&app.config),
        app.config.plugins.execution_timeout,
        "Timebridge add-on keys",
    );
    let keys: JwkSet = client
        .get(url)
        .send()
        .await
        .map_err(|_| refused("the add-on's keys could not be fetched"))?
        .json()
        .await
        .map_err(|_| refused("the add-on's keys are not a JWK Set"))?;
    let jwk = match header.kid.as_deref() {
        Some(kid) => keys.find(kid),
        None => keys.keys.first(),
    }
    .ok_or_else(|| refused("no key of the add-on matches its kid"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| refused("the add-on's key is unusable"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[format!(
        "{}/api/v1/integration/plugins/token",
        signing::issuer(app)
    )]);
    validation.set_issuer(&[addon.key.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 30;
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|e| refused(&format!("its signature or claims do not hold ({e})")))?
        .claims;
    let exp = claims["exp"].as_i64().unwrap_or_default();
    if exp > clock::now().unix_timestamp() + ASSERTION_SECONDS + 30 {
        return Err(refused("it lives longer than 5 minutes"));
    }
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= 128)
        .ok_or_else(|| refused("it has no jti"))?;
    Ok((jti.to_owned(), exp))
}

/// Exchange a Timebridge-signed JWT for an add-on token (no API token: the assertion is the
/// credential). The token has the manifest's scopes, sees only the installation's workspace,
/// and expires after an hour; each assertion is exchanged once.
#[utoipa::path(
    post, path = "/api/v1/integration/plugins/token", tag = "plugins",
    request_body = TokenRequest,
    responses(
        (status = 200, body = TokenAnswer),
        (status = 400, description = "Another grant type", body = ErrorBody),
        (status = 401, description = "A bad, expired or used assertion, or an installation that is uninstalled or switched off", body = ErrorBody),
    )
)]
async fn exchange(
    State(app): State<AppState>,
    Json(body): Json<TokenRequest>,
) -> Result<Json<TokenAnswer>, ApiError> {
    if body
        .grant_type
        .as_deref()
        .is_some_and(|g| g != "urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return Err(ApiError::invalid(
            "grant_type",
            "only urn:ietf:params:oauth:grant-type:jwt-bearer is offered",
        ));
    }
    let unverified = unverified_claims(&body.assertion).ok_or_else(|| refused("not a JWT"))?;
    let id = unverified["sub"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| refused("it names no installation (sub)"))?;
    let row = installation::Entity::find_by_id(id)
        .one(app.db.conn())
        .await?
        .ok_or_else(|| refused("no such installation"))?;
    let addon = addon::Entity::find_by_id(row.addon_id)
        .one(app.db.conn())
        .await?
        .ok_or_else(|| refused("no such add-on"))?;
    // Signed by Timebridge (a call the add-on received), or by the add-on itself.
    let (jti, exp) = if unverified["iss"].as_str() == Some(addon.key.as_str()) {
        addon_signed(&app, &body.assertion, &addon).await?
    } else {
        let claims = signing::verify(&app, &body.assertion, &addon.key)
            .await
            .map_err(|e| refused(&e))?;
        if claims.workspace_id != row.workspace_id {
            return Err(refused("it names another workspace"));
        }
        (claims.jti, claims.exp)
    };
    let usable = row.live == Some(true)
        && row.enabled
        && matches!(
            row.status,
            InstallationStatus::Pending | InstallationStatus::Active
        );
    if !usable {
        return Err(refused("the add-on is uninstalled or switched off here"));
    }
    let manifest = catalog::manifest_of(&addon)?;
    let scopes = ScopeSet::new(manifest.scopes.clone());
    if scopes.is_empty() {
        return Err(refused("the add-on asks for no scopes"));
    }
    let member = directory::service::member(&app.db, row.workspace_id, row.installed_by)
        .await?
        .filter(directory::Member::is_active)
        .ok_or_else(|| refused("the admin who installed the add-on is no longer a member"))?;
    let expires = time::OffsetDateTime::from_unix_timestamp(exp).unwrap_or_else(|_| clock::now());
    let change = WorkspaceChange::begin(&app.db, row.workspace_id, Actor::system()).await?;
    // Each assertion once: a second exchange of it is a replay.
    let first = super::entity::assertion::Entity::insert(super::entity::assertion::ActiveModel {
        jti: Set(jti),
        installation_id: Set(row.id),
        expires_at: Set(expires),
    })
    .on_conflict(
        OnConflict::column(super::entity::assertion::Column::Jti)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&*change)
    .await?;
    if first == 0 {
        return Err(refused("it was exchanged already"));
    }
    let issued = tokens::issue_delegated(
        &*change,
        &member,
        DelegatedToken {
            name: format!("add-on {}", addon.key),
            scopes,
            expires_at: clock::now() + time::Duration::seconds(TOKEN_SECONDS),
            budget: (row.id, PER_SECOND),
        },
    )
    .await
    .map_err(ApiError::from)?;
    addon_token::Entity::insert(addon_token::ActiveModel {
        token_id: Set(issued.token.id),
        installation_id: Set(row.id),
        created_at: Set(clock::now()),
    })
    .exec_without_returning(&*change)
    .await?;
    change.commit().await?;
    Ok(Json(TokenAnswer {
        access_token: issued.secret,
        token_type: "Bearer".into(),
        expires_in: TOKEN_SECONDS,
        scope: issued.token.scopes.clone(),
    }))
}
