//! Verifying a presented API token and answering "who is calling, with which scopes".
//!
//! A verified token is cached in memory for `TIMEBRIDGE_TOKEN_CACHE_SECONDS`, so the hot path
//! is a hash and a map lookup: no database read, and never a write (last-used times are
//! written by the batched usage log). Revoking or deactivating a token evicts it here at once;
//! other instances see the change when their cached copy expires.

use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use ipnet::IpNet;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use time::OffsetDateTime;

use super::{
    entity::api_token,
    scopes::{Scope, ScopeSet},
    secret::{self, TokenHash},
    usage::{UsageRecord, UsageRecorder},
};
pub use crate::platform::auth::Principal;
use crate::{
    config::RateLimitConfig,
    directory::{self, Plan, Role},
    platform::{
        auth::{Authority, Budget, Call},
        consumers::BoxFuture,
        error::ApiError,
    },
};

/// Why a presented token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    Malformed,
    Unknown,
    Expired(OffsetDateTime),
    Revoked,
    Inactive,
    UserInactive,
    IpNotAllowed(IpAddr),
}

impl From<AuthFailure> for ApiError {
    fn from(failure: AuthFailure) -> Self {
        let message = match failure {
            AuthFailure::Malformed => {
                "The API token is malformed: Timebridge tokens look like tb_pat_… (43 characters)"
                    .to_owned()
            }
            AuthFailure::Unknown => "The API token is not recognised".to_owned(),
            AuthFailure::Expired(at) => format!(
                "The API token expired at {}",
                at.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            ),
            AuthFailure::Revoked => "The API token has been revoked".to_owned(),
            AuthFailure::Inactive => "The API token is inactive".to_owned(),
            AuthFailure::UserInactive => {
                "The API token's user is deactivated or no longer a member".to_owned()
            }
            AuthFailure::IpNotAllowed(ip) => {
                return ApiError::Forbidden(format!("The API token may not be used from {ip}"));
            }
        };
        ApiError::Unauthorized(message)
    }
}

/// What the database says about a token, as cached.
struct TokenRecord {
    principal: Arc<Principal>,
    allowed_ips: Vec<IpNet>,
    is_active: bool,
    /// False when the user is deactivated (on the server, or in the token's workspace) or no
    /// longer a member of the token's workspace.
    user_active: bool,
    revoked: bool,
    expires_at: Option<OffsetDateTime>,
    loaded_at: Instant,
}

/// Verifies presented tokens, with a short-lived in-memory cache.
pub struct TokenAuthority {
    db: DatabaseConnection,
    cache: quick_cache::sync::Cache<TokenHash, Arc<TokenRecord>>,
    ttl: Duration,
    limits: RateLimitConfig,
}

impl TokenAuthority {
    pub fn new(db: DatabaseConnection, ttl: Duration, limits: RateLimitConfig) -> Self {
        Self {
            db,
            cache: quick_cache::sync::Cache::new(10_000),
            ttl,
            limits,
        }
    }

    /// Verifies `presented` (from `peer`, when known) and returns the caller.
    pub async fn authenticate(
        &self,
        presented: &str,
        peer: Option<IpAddr>,
    ) -> Result<Arc<Principal>, Result<AuthFailure, DbErr>> {
        if !secret::is_well_formed(presented) {
            return Err(Ok(AuthFailure::Malformed));
        }
        let hash = TokenHash::of(presented);
        let record = match self.cache.get(&hash) {
            Some(record) if record.loaded_at.elapsed() < self.ttl => record,
            _ => {
                let Some(record) = self.load(hash).await.map_err(Err)? else {
                    return Err(Ok(AuthFailure::Unknown));
                };
                let record = Arc::new(record);
                if !self.ttl.is_zero() {
                    self.cache.insert(hash, record.clone());
                }
                record
            }
        };
        check(&record, peer).map_err(Ok)?;
        Ok(record.principal.clone())
    }

    /// Drops a token from the cache, so a revocation or change applies to the next request.
    pub fn forget(&self, token_hash_hex: &str) {
        if let Some(hash) = parse_hex(token_hash_hex) {
            self.cache.remove(&hash);
        }
    }

    async fn load(&self, hash: TokenHash) -> Result<Option<TokenRecord>, DbErr> {
        let Some(token) = api_token::Entity::find()
            .filter(api_token::Column::TokenHash.eq(hash.to_hex()))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let member =
            directory::service::member(&self.db, token.workspace_id, token.user_id).await?;
        let scopes = ScopeSet::parse_stored(&token.scopes).map_err(|e| {
            DbErr::Custom(format!("token {} has a corrupt scope list: {e}", token.id))
        })?;
        let (plan, role, user_active) = match &member {
            Some(m) => (m.workspace.plan, m.role, m.is_active()),
            None => (Plan::Free, Role::Member, false),
        };
        Ok(Some(TokenRecord {
            principal: Arc::new(Principal {
                token_id: token.id,
                token_prefix: token.token_prefix.clone(),
                user_id: token.user_id,
                workspace_id: token.workspace_id,
                admin: role == Role::Admin,
                rate_limit: self.limits.limit_for(plan),
                budget: token
                    .budget_key
                    .zip(token.budget_per_second)
                    .map(|(key, per_second)| Budget {
                        key,
                        limit: u32::try_from(per_second).unwrap_or(1).max(1),
                        window: Duration::from_secs(1),
                    }),
                grants: Arc::new(scopes),
            }),
            allowed_ips: parse_allowed_ips(token.allowed_ips.as_deref()),
            is_active: token.is_active,
            user_active,
            revoked: token.revoked_at.is_some(),
            expires_at: token.expires_at,
            loaded_at: Instant::now(),
        }))
    }
}

/// The request guard's view of API access: tokens verified by a [`TokenAuthority`], calls
/// written to the usage log.
pub struct TokenGate {
    pub tokens: Arc<TokenAuthority>,
    pub usage: UsageRecorder,
}

impl Authority for TokenGate {
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
        peer: Option<IpAddr>,
    ) -> BoxFuture<'a, Result<Arc<Principal>, ApiError>> {
        Box::pin(async move {
            match self.tokens.authenticate(token, peer).await {
                Ok(principal) => Ok(principal),
                Err(Ok(failure)) => Err(failure.into()),
                Err(Err(db)) => Err(db.into()),
            }
        })
    }

    fn knows_scope(&self, scope: &str) -> bool {
        scope.parse::<Scope>().is_ok()
    }

    fn record(&self, call: Call) {
        self.usage.record(UsageRecord {
            token_id: call.principal.token_id,
            workspace_id: call.principal.workspace_id,
            user_id: call.principal.user_id,
            method: call.method,
            path: call.path,
            status: call.status,
            duration: call.duration,
            ip: call.ip,
            at: call.at,
        });
    }
}

/// The scopes of a caller's token (every principal this authority makes carries them).
pub fn scopes_of(principal: &Principal) -> Option<&ScopeSet> {
    let grants: &dyn std::any::Any = principal.grants.as_ref();
    grants.downcast_ref::<ScopeSet>()
}

fn check(record: &TokenRecord, peer: Option<IpAddr>) -> Result<(), AuthFailure> {
    if record.revoked {
        return Err(AuthFailure::Revoked);
    }
    if !record.user_active {
        return Err(AuthFailure::UserInactive);
    }
    if !record.is_active {
        return Err(AuthFailure::Inactive);
    }
    if let Some(at) = record.expires_at
        && at <= OffsetDateTime::now_utc()
    {
        return Err(AuthFailure::Expired(at));
    }
    if !record.allowed_ips.is_empty() {
        let allowed = peer.is_some_and(|ip| record.allowed_ips.iter().any(|net| net.contains(&ip)));
        if !allowed {
            return Err(AuthFailure::IpNotAllowed(
                peer.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            ));
        }
    }
    Ok(())
}

/// Parses the stored allow-list; entries were validated when written.
pub fn parse_allowed_ips(stored: Option<&str>) -> Vec<IpNet> {
    stored
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn parse_hex(hex: &str) -> Option<TokenHash> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(TokenHash(out))
}
