//! `/api/v1/integration/tokens…`: seed 001's seven token endpoints (and `GET /tokens/{id}`).

use axum::{extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    authority::parse_allowed_ips,
    entity::{api_token, api_usage_log},
    scopes::{Scope, ScopeSet},
    tokens::{self, Expiry, NewToken, TokenChanges, UsageFilter},
};
use crate::{
    app::AppState,
    directory,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query, double_option},
        pagination::{PageParams, PageRequest, Pagination},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(scope_catalog))
        .routes(routes!(usage_logs))
        .routes(routes!(get_token, update_token, revoke_token))
        .routes(routes!(token_scopes))
}

/// Where a token stands.
#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    Active,
    Inactive,
    Expired,
    Revoked,
}

/// A token as lists show it: never the secret, only its prefix.
#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the secret (`tb_pat_ab12`).
    #[schema(example = "tb_pat_ab12")]
    pub prefix: String,
    pub user_id: Uuid,
    #[schema(example = json!(["read:projects", "write:time_entries"]))]
    pub scopes: Vec<String>,
    /// Addresses and CIDR ranges the token may be used from; empty = anywhere.
    pub allowed_ips: Vec<String>,
    pub is_active: bool,
    pub status: TokenStatus,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<api_token::Model> for TokenView {
    fn from(t: api_token::Model) -> Self {
        let status = if t.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if t
            .expires_at
            .is_some_and(|at| at <= OffsetDateTime::now_utc())
        {
            TokenStatus::Expired
        } else if !t.is_active {
            TokenStatus::Inactive
        } else {
            TokenStatus::Active
        };
        Self {
            id: t.id,
            name: t.name,
            prefix: t.token_prefix,
            user_id: t.user_id,
            scopes: t.scopes.split_whitespace().map(str::to_owned).collect(),
            allowed_ips: parse_allowed_ips(t.allowed_ips.as_deref())
                .iter()
                .map(ToString::to_string)
                .collect(),
            is_active: t.is_active,
            status,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
            created_at: t.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct CreateToken {
    /// 1 to 200 characters (trimmed; not only spaces).
    #[schema(example = "CI bot", min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// At least one scope of the catalog (`GET /api/v1/integration/tokens/scopes`): `read:R`
    /// or `write:R` for a resource R (`projects`, `time_entries`, `tasks`, `clients`, `tags`,
    /// `expenses`, `quotes`, `invoices`, `reports`, `users` (read only), `inventory`,
    /// `webhooks`, `integrations`, `plugins`, `consents`), or the admin-only `admin:all`,
    /// `read:*`, `write:*` and `*`. Entries are trimmed; blank ones are ignored. A member may
    /// not hold admin-only scopes (403), and a token creating a token may hand out only
    /// scopes it grants itself (403).
    #[schema(example = json!(["read:projects", "write:time_entries"]), min_items = 1)]
    pub scopes: Vec<String>,
    /// `YYYY-MM-DD` (valid through that day, UTC) or an RFC 3339 date-time, in the future;
    /// `null` for no expiry; omitted for `API_TOKEN_EXPIRY_DAYS` from now.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(
        value_type = Option<String>,
        example = "2099-12-31",
        pattern = "^\\s*[0-9]{4}-[0-9]{2}-[0-9]{2}"
    )]
    pub expires_at: Option<Option<String>>,
    /// Addresses and CIDR ranges the token may be used from (IPv4 or IPv6; no empty
    /// entries); empty or left out: anywhere.
    #[serde(default)]
    #[schema(example = json!(["203.0.113.7", "10.0.0.0/8"]))]
    pub allowed_ips: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenCreated {
    pub message: String,
    /// The secret. It is shown this once and cannot be retrieved again.
    #[schema(example = "tb_pat_3kTq0bX1c9yWm2Lr8Zf4Hs7Dg6Nv5Pq1a2B3c4")]
    pub token: String,
    pub api_token: TokenView,
}

#[derive(Serialize, ToSchema)]
pub struct TokenEnvelope {
    pub api_token: TokenView,
}

#[derive(Serialize, ToSchema)]
pub struct TokenRevoked {
    pub message: String,
    pub api_token: TokenView,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub api_tokens: Vec<TokenView>,
    pub pagination: Pagination,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenListFilter {
    /// Admins: every token of the workspace, not only their own.
    #[serde(default)]
    pub all: bool,
    /// Include revoked tokens.
    #[serde(default)]
    pub include_revoked: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateToken {
    /// 1 to 200 characters (trimmed; not only spaces). `null` or left out: unchanged.
    #[schema(
        example = "CI bot (staging)",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: Option<String>,
    pub is_active: Option<bool>,
    /// Replaces the allow-list: addresses and CIDR ranges (no empty entries); `[]` for
    /// anywhere. `null` or left out: unchanged. A revoked token cannot be changed (403).
    #[schema(example = json!(["203.0.113.7", "10.0.0.0/8"]))]
    pub allowed_ips: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct ScopeInfo {
    #[schema(example = "read:projects")]
    pub scope: String,
    pub description: String,
    /// Only workspace admins may hold it.
    pub admin_only: bool,
    /// Whether the caller's user may hold it.
    pub available: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ScopeCatalog {
    pub scopes: Vec<ScopeInfo>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenScopes {
    pub id: Uuid,
    /// The scopes as granted.
    pub scopes: Vec<String>,
    /// Every concrete scope they open (wildcards and implications expanded).
    pub effective_scopes: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UsageLogView {
    pub id: Uuid,
    pub token_id: Uuid,
    pub user_id: Uuid,
    pub method: String,
    pub path: String,
    pub status_code: i32,
    pub duration_ms: i32,
    pub ip_address: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<api_usage_log::Model> for UsageLogView {
    fn from(l: api_usage_log::Model) -> Self {
        Self {
            id: l.id,
            token_id: l.token_id,
            user_id: l.user_id,
            method: l.method,
            path: l.path,
            status_code: l.status_code,
            duration_ms: l.duration_ms,
            ip_address: l.ip_address,
            created_at: l.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UsageLogList {
    pub usage_logs: Vec<UsageLogView>,
    pub pagination: Pagination,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageLogFilter {
    /// Only this token's calls.
    pub token_id: Option<Uuid>,
    /// From this instant (RFC 3339, with an offset), inclusive.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime, example = "2026-11-30T00:00:00Z")]
    pub since: Option<OffsetDateTime>,
    /// Until this instant (RFC 3339, with an offset), exclusive.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime, example = "2026-12-01T00:00:00Z")]
    pub until: Option<OffsetDateTime>,
    /// Admins: the whole workspace's calls.
    #[serde(default)]
    pub all: bool,
}

/// Create a token. The secret is in the response once and never again.
#[utoipa::path(
    post, path = "/api/v1/integration/tokens", tag = "tokens",
    request_body = CreateToken,
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 201, body = TokenCreated),
        (status = 400, description = "Invalid fields or unknown scopes (the valid ones are listed)", body = ErrorBody),
        (status = 403, description = "A scope the user may not hold, or more than the calling token has", body = ErrorBody),
    )
)]
async fn create_token(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateToken>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    let expiry = match body.expires_at {
        None => Expiry::Default,
        Some(None) => Expiry::Never,
        Some(Some(text)) => Expiry::parse(&text).map_err(|m| ApiError::invalid("expires_at", m))?,
    };
    let member = directory::service::member(&app.db, caller.workspace_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("User"))?;
    let issued = tokens::issue(
        &app.db,
        &member,
        NewToken {
            name: body.name,
            scopes: body.scopes,
            expiry,
            allowed_ips: body.allowed_ips,
        },
        // Fail closed: a caller whose scopes are unknown here may hand out none.
        Some(
            &super::authority::scopes_of(&caller)
                .cloned()
                .unwrap_or_default(),
        ),
        app.config.token_expiry_days,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            message: "Store this token now: it will not be shown again".into(),
            token: issued.secret,
            api_token: issued.token.into(),
        }),
    ))
}

/// List tokens: the caller's own, or (admins, `all=true`) the workspace's.
#[utoipa::path(
    get, path = "/api/v1/integration/tokens", tag = "tokens",
    params(PageParams, TokenListFilter),
    security(("api_token" = ["read:integrations"])),
    responses((status = 200, body = TokenList))
)]
async fn list_tokens(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<TokenListFilter>,
) -> Result<Json<TokenList>, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let (rows, total) =
        tokens::list(&app.db, &caller, filter.all, filter.include_revoked, page).await?;
    Ok(Json(TokenList {
        api_tokens: rows.into_iter().map(TokenView::from).collect(),
        pagination: Pagination::new(page, total),
    }))
}

/// Get a token.
#[utoipa::path(
    get, path = "/api/v1/integration/tokens/{id}", tag = "tokens",
    params(("id" = Uuid, Path, description = "Token id")),
    security(("api_token" = ["read:integrations"])),
    responses((status = 200, body = TokenEnvelope), (status = 404, body = ErrorBody))
)]
async fn get_token(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<TokenEnvelope>, ApiError> {
    let token = tokens::find_visible(&app.db, &caller, id).await?;
    Ok(Json(TokenEnvelope {
        api_token: token.into(),
    }))
}

/// Rename, activate or deactivate a token, or change its IP allow-list.
#[utoipa::path(
    patch, path = "/api/v1/integration/tokens/{id}", tag = "tokens",
    params(("id" = Uuid, Path, description = "Token id")),
    request_body = UpdateToken,
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, body = TokenEnvelope),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
async fn update_token(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateToken>,
) -> Result<Json<TokenEnvelope>, ApiError> {
    let changes = TokenChanges {
        name: body.name,
        is_active: body.is_active,
        allowed_ips: body.allowed_ips,
    };
    let token = tokens::update(&app.db, &caller, id, changes).await?;
    app.tokens.forget(&token.token_hash);
    Ok(Json(TokenEnvelope {
        api_token: token.into(),
    }))
}

/// Revoke a token, for good.
#[utoipa::path(
    delete, path = "/api/v1/integration/tokens/{id}", tag = "tokens",
    params(("id" = Uuid, Path, description = "Token id")),
    security(("api_token" = ["write:integrations"])),
    responses((status = 200, body = TokenRevoked), (status = 404, body = ErrorBody))
)]
async fn revoke_token(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<TokenRevoked>, ApiError> {
    let token = tokens::revoke(&app.db, &caller, id).await?;
    app.tokens.forget(&token.token_hash);
    Ok(Json(TokenRevoked {
        message: "Token revoked".into(),
        api_token: token.into(),
    }))
}

/// The scope catalog, with which scopes the caller's user may hold.
#[utoipa::path(
    get, path = "/api/v1/integration/tokens/scopes", tag = "tokens",
    security(("api_token" = [])),
    responses((status = 200, body = ScopeCatalog))
)]
async fn scope_catalog(caller: Caller) -> Json<ScopeCatalog> {
    let scopes = Scope::catalog()
        .into_iter()
        .map(|s| ScopeInfo {
            scope: s.to_string(),
            description: s.description().to_owned(),
            admin_only: s.is_admin_only(),
            available: !s.is_admin_only() || caller.is_admin(),
        })
        .collect();
    Json(ScopeCatalog { scopes })
}

/// A token's scopes, and everything they open.
#[utoipa::path(
    get, path = "/api/v1/integration/tokens/{id}/scopes", tag = "tokens",
    params(("id" = Uuid, Path, description = "Token id")),
    security(("api_token" = ["read:integrations"])),
    responses((status = 200, body = TokenScopes), (status = 404, body = ErrorBody))
)]
async fn token_scopes(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<TokenScopes>, ApiError> {
    let token = tokens::find_visible(&app.db, &caller, id).await?;
    let scopes = ScopeSet::parse_stored(&token.scopes).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(TokenScopes {
        id: token.id,
        scopes: scopes.strings(),
        effective_scopes: scopes.effective().iter().map(ToString::to_string).collect(),
    }))
}

/// The API usage log: the caller's tokens' calls (admins: `all=true` for the workspace).
#[utoipa::path(
    get, path = "/api/v1/integration/tokens/usage-logs", tag = "tokens",
    params(PageParams, UsageLogFilter),
    security(("api_token" = ["read:integrations"])),
    responses((status = 200, body = UsageLogList), (status = 400, body = ErrorBody))
)]
async fn usage_logs(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<UsageLogFilter>,
) -> Result<Json<UsageLogList>, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let filter = UsageFilter {
        token_id: filter.token_id,
        since: filter.since,
        until: filter.until,
        whole_workspace: filter.all,
    };
    let (rows, total) = tokens::usage_logs(&app.db, &caller, filter, page).await?;
    Ok(Json(UsageLogList {
        usage_logs: rows.into_iter().map(UsageLogView::from).collect(),
        pagination: Pagination::new(page, total),
    }))
}
