//! Issuing, listing, changing and revoking API tokens, and reading their usage log.
//!
//! Rules: a token's scopes come from the catalog; wildcards and `admin:all` only for workspace
//! admins; a token used to create another token can only hand out scopes it grants itself.
//! Members see and manage their own tokens; admins may act on every token of the workspace.

use std::net::IpAddr;

use ::time::{
    Date, Duration, OffsetDateTime, format_description::well_known::Rfc3339,
    macros::format_description,
};
use ipnet::IpNet;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    authority::Principal,
    entity::{api_token, api_usage_log},
    scopes::{Scope, ScopeSet},
    secret,
};
use crate::{
    directory::{Member, Role},
    platform::{
        db::count as count_rows,
        error::{ApiError, FieldErrors},
        pagination::PageRequest,
        time as clock,
    },
};

/// When a new token stops working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// `API_TOKEN_EXPIRY_DAYS` from now (or never when that is 0).
    Default,
    Never,
    At(OffsetDateTime),
}

impl Expiry {
    /// Parses `YYYY-MM-DD` (valid through the end of that day, UTC) or an RFC 3339 instant.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
            let end_of_day = date
                .next_day()
                .ok_or("is out of range")?
                .midnight()
                .assume_utc();
            return Ok(Self::At(end_of_day));
        }
        OffsetDateTime::parse(text, &Rfc3339)
            .map(|t| Self::At(clock::truncate(t)))
            .map_err(|_| "must be a date (YYYY-MM-DD) or an RFC 3339 date-time".to_owned())
    }

    fn resolve(&self, default_days: u32, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Self::Default if default_days == 0 => None,
            Self::Default => Some(now + Duration::days(i64::from(default_days))),
            Self::Never => None,
            Self::At(t) => Some(*t),
        }
    }
}

/// A request for a new token.
pub struct NewToken {
    pub name: String,
    pub scopes: Vec<String>,
    pub expiry: Expiry,
    pub allowed_ips: Vec<String>,
}

/// A token just issued: the secret is in here and nowhere else, ever again.
pub struct IssuedToken {
    pub secret: String,
    pub token: api_token::Model,
}

/// Why a token request was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0:?}")]
    Invalid(FieldErrors),
    #[error("unknown scopes: {}", .0.join(", "))]
    UnknownScopes(Vec<String>),
    #[error("{0}")]
    NotAllowed(String),
    #[error("API token not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Invalid(errors) => ApiError::Validation(errors),
            TokenError::UnknownScopes(unknown) => {
                let mut errors = FieldErrors::new();
                for s in &unknown {
                    errors.add("scopes", format!("unknown scope '{s}'"));
                }
                let valid: Vec<String> = Scope::catalog().iter().map(ToString::to_string).collect();
                ApiError::ValidationWith(errors, json!({ "valid_scopes": valid }))
            }
            TokenError::NotAllowed(m) => ApiError::Forbidden(m),
            TokenError::NotFound => ApiError::NotFound("API token"),
            TokenError::Db(e) => e.into(),
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> TokenError {
    let mut errors = FieldErrors::new();
    errors.add(field, message);
    TokenError::Invalid(errors)
}

/// Parses requested scopes and checks the member may hold them and, when a token is the
/// requester, that the requesting token grants each of them.
pub fn check_scopes(
    requested: &[String],
    role: Role,
    ceiling: Option<&ScopeSet>,
) -> Result<ScopeSet, TokenError> {
    if requested.iter().all(|s| s.trim().is_empty()) {
        return Err(invalid("scopes", "at least one scope is required"));
    }
    let mut parsed = Vec::new();
    let mut unknown = Vec::new();
    for text in requested.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        match text.parse::<Scope>() {
            Ok(scope) => parsed.push(scope),
            Err(_) => unknown.push(text.to_owned()),
        }
    }
    if !unknown.is_empty() {
        return Err(TokenError::UnknownScopes(unknown));
    }
    for scope in &parsed {
        if scope.is_admin_only() && role != Role::Admin {
            return Err(TokenError::NotAllowed(format!(
                "The scope '{scope}' can only be held by workspace admins"
            )));
        }
        if let Some(ceiling) = ceiling
            && !ceiling.iter().any(|held| covers(held, *scope))
        {
            return Err(TokenError::NotAllowed(format!(
                "A token cannot create a token with more access than it has: '{scope}' is not granted by this token"
            )));
        }
    }
    Ok(ScopeSet::new(parsed))
}

/// Whether holding `held` covers every permission of `wanted` (wildcards included).
fn covers(held: Scope, wanted: Scope) -> bool {
    match wanted {
        Scope::All | Scope::AdminAll => held.grants(Scope::AdminAll),
        Scope::ReadAll => held.grants(Scope::ReadAll),
        Scope::WriteAll => held.grants(Scope::WriteAll),
        concrete => held.grants(concrete),
    }
}

/// Parses an IP allow-list (addresses and CIDR ranges) into its stored form.
pub fn check_allowed_ips(entries: &[String]) -> Result<Option<String>, TokenError> {
    let mut errors = FieldErrors::new();
    let stored = allowed_ips_into(entries, &mut errors);
    if errors.is_empty() {
        Ok(stored)
    } else {
        Err(TokenError::Invalid(errors))
    }
}

/// An empty list is no restriction; an empty entry is an error, never read as one (`[""]`
/// would otherwise open a token its owner meant to restrict).
fn allowed_ips_into(entries: &[String], errors: &mut FieldErrors) -> Option<String> {
    let mut nets = Vec::new();
    for entry in entries.iter().map(|e| e.trim()) {
        if entry.is_empty() {
            errors.add(
                "allowed_ips",
                "an entry is empty: give an IP address or CIDR range (send [] for no restriction)",
            );
            continue;
        }
        match entry.parse::<IpNet>() {
            Ok(net) => nets.push(net.trunc()),
            Err(_) => match entry.parse::<IpAddr>() {
                Ok(ip) => nets.push(IpNet::from(ip)),
                Err(_) => errors.add(
                    "allowed_ips",
                    format!("'{entry}' is not an IP address or CIDR range"),
                ),
            },
        }
    }
    (!nets.is_empty()).then(|| {
        nets.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    })
}

fn token_name_into(name: &str, errors: &mut FieldErrors) -> String {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.add("name", "must be 1 to 200 characters");
    }
    name.to_owned()
}

/// Issues a token to `member`. `ceiling` is the requesting token's scopes, when a token asks.
pub async fn issue(
    db: &DatabaseConnection,
    member: &Member,
    new: NewToken,
    ceiling: Option<&ScopeSet>,
    default_expiry_days: u32,
) -> Result<IssuedToken, TokenError> {
    let mut errors = FieldErrors::new();
    let name = token_name_into(&new.name, &mut errors);
    let allowed_ips = allowed_ips_into(&new.allowed_ips, &mut errors);
    let now = clock::now();
    let expires_at = new.expiry.resolve(default_expiry_days, now);
    if expires_at.is_some_and(|t| t <= now) {
        errors.add("expires_at", "must be in the future");
    }
    if !errors.is_empty() {
        return Err(TokenError::Invalid(errors));
    }
    let scopes = check_scopes(&new.scopes, member.role, ceiling)?;

    let generated = secret::generate();
    let token = api_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(member.workspace.id),
        user_id: Set(member.user.id),
        name: Set(name),
        token_prefix: Set(generated.display_prefix.clone()),
        token_hash: Set(generated.hash.to_hex()),
        scopes: Set(scopes.to_stored()),
        allowed_ips: Set(allowed_ips),
        is_active: Set(true),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        budget_key: Set(None),
        budget_per_second: Set(None),
    }
    .insert(db)
    .await?;
    Ok(IssuedToken {
        secret: generated.secret,
        token,
    })
}

/// A token another capability issues on a member's behalf (an add-on installation's): scopes
/// given (never admin-only ones), an expiry, a budget shared with its other tokens.
pub struct DelegatedToken {
    pub name: String,
    pub scopes: ScopeSet,
    pub expires_at: OffsetDateTime,
    /// The shared budget's key and its requests per second.
    pub budget: (Uuid, u32),
}

/// Issues a [`DelegatedToken`] to `member` inside the caller's transaction.
pub async fn issue_delegated<C: sea_orm::ConnectionTrait>(
    conn: &C,
    member: &Member,
    delegated: DelegatedToken,
) -> Result<IssuedToken, TokenError> {
    let scopes = check_scopes(&delegated.scopes.strings(), member.role, None)?;
    let generated = secret::generate();
    let now = clock::now();
    let token = api_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(member.workspace.id),
        user_id: Set(member.user.id),
        name: Set(delegated.name.chars().take(200).collect()),
        token_prefix: Set(generated.display_prefix.clone()),
        token_hash: Set(generated.hash.to_hex()),
        scopes: Set(scopes.to_stored()),
        allowed_ips: Set(None),
        is_active: Set(true),
        expires_at: Set(Some(delegated.expires_at)),
        last_used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        budget_key: Set(Some(delegated.budget.0)),
        budget_per_second: Set(Some(i32::try_from(delegated.budget.1).unwrap_or(i32::MAX))),
    }
    .insert(conn)
    .await?;
    Ok(IssuedToken {
        secret: generated.secret,
        token,
    })
}

/// Restricts a query to the tokens the caller may see: their own, or the workspace's for admins.
fn visible_to(principal: &Principal, whole_workspace: bool) -> Condition {
    let mut cond = Condition::all().add(api_token::Column::WorkspaceId.eq(principal.workspace_id));
    if !(whole_workspace && principal.is_admin()) {
        cond = cond.add(api_token::Column::UserId.eq(principal.user_id));
    }
    cond
}

/// One page of the caller's tokens (the workspace's with `all` for admins), newest first.
pub async fn list(
    db: &DatabaseConnection,
    principal: &Principal,
    all: bool,
    include_revoked: bool,
    page: PageRequest,
) -> Result<(Vec<api_token::Model>, u64), DbErr> {
    let mut cond = visible_to(principal, all);
    if !include_revoked {
        cond = cond.add(api_token::Column::RevokedAt.is_null());
    }
    let total = count_rows(api_token::Entity::find().filter(cond.clone()), db).await?;
    let rows = api_token::Entity::find()
        .filter(cond)
        .order_by_desc(api_token::Column::CreatedAt)
        .order_by_desc(api_token::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// A token the caller may see and manage.
pub async fn find_visible(
    db: &DatabaseConnection,
    principal: &Principal,
    id: Uuid,
) -> Result<api_token::Model, TokenError> {
    api_token::Entity::find_by_id(id)
        .filter(visible_to(principal, true))
        .one(db)
        .await?
        .ok_or(TokenError::NotFound)
}

/// Changes to a token.
#[derive(Default)]
pub struct TokenChanges {
    pub name: Option<String>,
    pub is_active: Option<bool>,
    pub allowed_ips: Option<Vec<String>>,
}

/// Applies `changes` to a token the caller may manage. A revoked token cannot be changed.
pub async fn update(
    db: &DatabaseConnection,
    principal: &Principal,
    id: Uuid,
    changes: TokenChanges,
) -> Result<api_token::Model, TokenError> {
    let token = find_visible(db, principal, id).await?;
    if token.revoked_at.is_some() {
        return Err(TokenError::NotAllowed(
            "A revoked token cannot be changed".into(),
        ));
    }
    let mut errors = FieldErrors::new();
    let name = changes
        .name
        .as_deref()
        .map(|n| token_name_into(n, &mut errors));
    let allowed_ips = changes
        .allowed_ips
        .as_deref()
        .map(|ips| allowed_ips_into(ips, &mut errors));
    if !errors.is_empty() {
        return Err(TokenError::Invalid(errors));
    }
    let mut active: api_token::ActiveModel = token.into();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(is_active) = changes.is_active {
        active.is_active = Set(is_active);
    }
    if let Some(allowed_ips) = allowed_ips {
        active.allowed_ips = Set(allowed_ips);
    }
    active.updated_at = Set(clock::now());
    Ok(active.update(db).await?)
}

/// Revokes a token for good. Revoking twice is harmless.
pub async fn revoke(
    db: &DatabaseConnection,
    principal: &Principal,
    id: Uuid,
) -> Result<api_token::Model, TokenError> {
    let token = find_visible(db, principal, id).await?;
    revoke_loaded(db, token).await
}

/// Revokes a token already read (unless it is revoked already).
async fn revoke_loaded(
    db: &DatabaseConnection,
    token: api_token::Model,
) -> Result<api_token::Model, TokenError> {
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    let now = clock::now();
    let mut active: api_token::ActiveModel = token.into();
    active.is_active = Set(false);
    active.revoked_at = Set(Some(now));
    active.updated_at = Set(now);
    Ok(active.update(db).await?)
}

/// Revokes every token `matching` selects; returns how many.
async fn revoke_matching<C: sea_orm::ConnectionTrait>(
    conn: &C,
    matching: sea_orm::Condition,
) -> Result<u64, DbErr> {
    use sea_orm::sea_query::Expr;
    let now = clock::now();
    let done = api_token::Entity::update_many()
        .col_expr(api_token::Column::IsActive, Expr::value(false))
        .col_expr(api_token::Column::RevokedAt, Expr::value(now))
        .col_expr(api_token::Column::UpdatedAt, Expr::value(now))
        .filter(matching)
        .exec(conn)
        .await?;
    Ok(done.rows_affected)
}

/// Revokes these tokens (another capability's, e.g. an add-on installation's); returns their
/// hashes, for the token cache to forget.
pub async fn revoke_ids<C: sea_orm::ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> Result<Vec<String>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let chosen = sea_orm::Condition::all()
        .add(api_token::Column::Id.is_in(ids.iter().copied()))
        .add(api_token::Column::RevokedAt.is_null());
    revoke_matching(conn, chosen).await?;
    api_token::Entity::find()
        .filter(api_token::Column::Id.is_in(ids.iter().copied()))
        .select_only()
        .column(api_token::Column::TokenHash)
        .into_tuple()
        .all(conn)
        .await
}

/// The hashes of every token a member holds in a workspace, for the token cache to forget
/// when the member's standing there changes (role, deactivation, removal).
pub async fn member_token_hashes<C: sea_orm::ConnectionTrait>(
    conn: &C,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<String>, DbErr> {
    api_token::Entity::find()
        .filter(api_token::Column::WorkspaceId.eq(workspace_id))
        .filter(api_token::Column::UserId.eq(user_id))
        .select_only()
        .column(api_token::Column::TokenHash)
        .into_tuple()
        .all(conn)
        .await
}

/// Revokes every token a member holds in a workspace (they left it); returns the hashes of
/// their tokens there, for the token cache to forget.
pub async fn revoke_member_tokens<C: sea_orm::ConnectionTrait>(
    conn: &C,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<String>, DbErr> {
    let theirs = sea_orm::Condition::all()
        .add(api_token::Column::WorkspaceId.eq(workspace_id))
        .add(api_token::Column::UserId.eq(user_id))
        .add(api_token::Column::RevokedAt.is_null());
    revoke_matching(conn, theirs).await?;
    member_token_hashes(conn, workspace_id, user_id).await
}

/// Revokes a member's tokens that hold scopes only admins may hold (wildcards, `admin:all`):
/// what a member demoted from admin keeps is what a member may hold. Returns how many.
pub async fn revoke_admin_only_tokens<C: sea_orm::ConnectionTrait>(
    conn: &C,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<u64, DbErr> {
    let held: Vec<(Uuid, String)> = api_token::Entity::find()
        .filter(api_token::Column::WorkspaceId.eq(workspace_id))
        .filter(api_token::Column::UserId.eq(user_id))
        .filter(api_token::Column::RevokedAt.is_null())
        .select_only()
        .column(api_token::Column::Id)
        .column(api_token::Column::Scopes)
        .into_tuple()
        .all(conn)
        .await?;
    let admin_only: Vec<Uuid> = held
        .into_iter()
        .filter(|(_, scopes)| {
            // An unreadable scope list is treated as admin-only: revoking it fails closed.
            ScopeSet::parse_stored(scopes).map_or(true, |set| set.iter().any(Scope::is_admin_only))
        })
        .map(|(id, _)| id)
        .collect();
    if admin_only.is_empty() {
        return Ok(0);
    }
    revoke_matching(
        conn,
        sea_orm::Condition::all().add(api_token::Column::Id.is_in(admin_only)),
    )
    .await
}

/// Whose tokens the server's operator lists (`timebridge token list`).
#[derive(Clone, Copy, Debug)]
pub enum TokenOwner {
    Everyone,
    User(Uuid),
    Workspace(Uuid),
}

/// Every token of `owner`, revoked ones included, newest first. For the operator, who sees
/// the whole server; the API lists with [`list`].
pub async fn list_for_operator(
    db: &DatabaseConnection,
    owner: TokenOwner,
) -> Result<Vec<api_token::Model>, DbErr> {
    let cond = match owner {
        TokenOwner::Everyone => Condition::all(),
        TokenOwner::User(id) => Condition::all().add(api_token::Column::UserId.eq(id)),
        TokenOwner::Workspace(id) => Condition::all().add(api_token::Column::WorkspaceId.eq(id)),
    };
    api_token::Entity::find()
        .filter(cond)
        .order_by_desc(api_token::Column::CreatedAt)
        .order_by_desc(api_token::Column::Id)
        .all(db)
        .await
}

/// Revokes any token of the server by id (the operator's `timebridge token revoke`). Revoking
/// twice is harmless.
pub async fn revoke_for_operator(
    db: &DatabaseConnection,
    id: Uuid,
) -> Result<api_token::Model, TokenError> {
    let token = api_token::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(TokenError::NotFound)?;
    revoke_loaded(db, token).await
}

/// Filters of the usage log.
#[derive(Default)]
pub struct UsageFilter {
    pub token_id: Option<Uuid>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub whole_workspace: bool,
}

/// One page of usage log entries the caller may see, newest first.
pub async fn usage_logs(
    db: &DatabaseConnection,
    principal: &Principal,
    filter: UsageFilter,
    page: PageRequest,
) -> Result<(Vec<api_usage_log::Model>, u64), DbErr> {
    use api_usage_log::Column as C;
    let mut cond = Condition::all().add(C::WorkspaceId.eq(principal.workspace_id));
    if !(filter.whole_workspace && principal.is_admin()) {
        cond = cond.add(C::UserId.eq(principal.user_id));
    }
    if let Some(token_id) = filter.token_id {
        cond = cond.add(C::TokenId.eq(token_id));
    }
    if let Some(since) = filter.since {
        cond = cond.add(C::CreatedAt.gte(since));
    }
    if let Some(until) = filter.until {
        cond = cond.add(C::CreatedAt.lt(until));
    }
    let total = count_rows(api_usage_log::Entity::find().filter(cond.clone()), db).await?;
    let rows = api_usage_log::Entity::find()
        .filter(cond)
        .order_by_desc(C::CreatedAt)
        .order_by_desc(C::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn members_cannot_hold_wildcards_or_admin() {
        for s in ["*", "read:*", "write:*", "admin:all"] {
            assert!(matches!(
                check_scopes(&strings(&[s]), Role::Member, None),
                Err(TokenError::NotAllowed(_))
            ));
            assert!(check_scopes(&strings(&[s]), Role::Admin, None).is_ok());
        }
    }

    #[test]
    fn unknown_and_empty_scopes_are_invalid() {
        assert!(matches!(
            check_scopes(&strings(&["read:projects", "fly:kites"]), Role::Admin, None),
            Err(TokenError::UnknownScopes(u)) if u == ["fly:kites"]
        ));
        assert!(matches!(
            check_scopes(&[], Role::Admin, None),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn a_token_cannot_mint_more_than_it_has() {
        let ceiling = ScopeSet::parse_stored("write:projects read:tasks").unwrap();
        assert!(check_scopes(&strings(&["read:projects"]), Role::Member, Some(&ceiling)).is_ok());
        assert!(check_scopes(&strings(&["write:tasks"]), Role::Member, Some(&ceiling)).is_err());
        let admin = ScopeSet::parse_stored("read:*").unwrap();
        assert!(check_scopes(&strings(&["read:*"]), Role::Admin, Some(&admin)).is_ok());
        assert!(check_scopes(&strings(&["write:*"]), Role::Admin, Some(&admin)).is_err());
        assert!(check_scopes(&strings(&["admin:all"]), Role::Admin, Some(&admin)).is_err());
    }

    #[test]
    fn allow_lists_take_addresses_and_ranges() {
        assert_eq!(
            check_allowed_ips(&strings(&["10.1.2.3", "192.168.0.0/16", "::1"])).unwrap(),
            Some("10.1.2.3/32,192.168.0.0/16,::1/128".to_owned())
        );
        assert!(check_allowed_ips(&strings(&["10.0.0.300"])).is_err());
        assert_eq!(check_allowed_ips(&[]).unwrap(), None);
        for empty in [&[""][..], &["  "], &["10.0.0.1", ""]] {
            assert!(check_allowed_ips(&strings(empty)).is_err(), "{empty:?}");
        }
    }

    #[test]
    fn a_date_expiry_lasts_through_that_day() {
        let Expiry::At(t) = Expiry::parse("2030-12-31").unwrap() else {
            panic!("a date is an instant");
        };
        assert_eq!(t.format(&Rfc3339).unwrap(), "2031-01-01T00:00:00Z");
        assert!(Expiry::parse("tomorrow").is_err());
    }
}
