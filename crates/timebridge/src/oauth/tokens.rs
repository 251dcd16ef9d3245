//! A usable access token for a connection, refreshed before it expires.
//!
//! At most one refresh of a connection runs at a time, across every task and instance: the
//! refresher takes a lease on the connection's row (`platform::lease`), which only a row that
//! is due can give; everyone else waits for the row to turn fresh and uses what the refresher
//! stored. The new access token and a rotated refresh token are written in one statement with
//! the lease's release, so no reader ever sees one without the other. A provider refusing the
//! refresh token (`invalid_grant`) marks the connection `needs_reauth` and raises
//! `integration.connection_needs_reauth`; nothing calls the provider with it again until the
//! member reconnects.

use std::time::{Duration as StdDuration, Instant};

use ::time::{Duration, OffsetDateTime};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, sea_query::Expr,
};
use uuid::Uuid;

use super::{
    ConnectionStatus, OauthConnectionView, SEAL_ACCESS, SEAL_REFRESH,
    client::{self, Failure},
    entity::connection::{self, Column},
    providers,
};
use crate::{
    app::AppState,
    platform::{
        changes::WorkspaceChange,
        error::ApiError,
        lease::{self, Claim},
        outbox::{Actor, EventType},
        time,
    },
};

/// A token expiring sooner than this is refreshed before it is used.
pub const REFRESH_MARGIN: Duration = Duration::minutes(5);
/// The periodic job refreshes what expires within this, so idle connections never lapse.
pub const JOB_MARGIN: Duration = Duration::minutes(15);
/// How long one refresh may hold the connection (the provider's call times out after 10 s).
const LEASE: StdDuration = StdDuration::from_secs(30);
/// How long a caller waits for someone else's refresh.
const WAIT: StdDuration = StdDuration::from_secs(35);
const POLL: StdDuration = StdDuration::from_millis(20);

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no such connection")]
    NotFound,
    /// The member must connect again; the reason says why.
    #[error("{0}")]
    NeedsReauth(String),
    /// The provider could not be reached or answered nonsense; try again later.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::NotFound => ApiError::NotFound("Connection"),
            TokenError::NeedsReauth(reason) => ApiError::coded(
                axum::http::StatusCode::CONFLICT,
                "needs_reauth",
                format!("The connection must be made again: {reason}"),
            ),
            TokenError::Unavailable(reason) => ApiError::Unavailable(reason),
            TokenError::Db(e) => e.into(),
        }
    }
}

/// The connection's access token, refreshed first when it expires within five minutes.
pub async fn access_token(app: &AppState, id: Uuid) -> Result<String, TokenError> {
    let token = ensure(app, id, REFRESH_MARGIN).await?;
    touch(app, id).await?;
    Ok(token)
}

/// The token, refreshed when it expires within `margin`; waits for a refresh another task or
/// instance is running.
async fn ensure(app: &AppState, id: Uuid, margin: Duration) -> Result<String, TokenError> {
    let deadline = Instant::now() + WAIT;
    loop {
        let row = connection::Entity::find_by_id(id)
            .one(app.db.conn())
            .await?
            .ok_or(TokenError::NotFound)?;
        if row.status == ConnectionStatus::NeedsReauth {
            return Err(TokenError::NeedsReauth(
                row.status_reason
                    .unwrap_or_else(|| "the provider refused it".into()),
            ));
        }
        let now = time::now();
        if !due(&row, now, margin) {
            return open(app, row.access_token.as_deref(), SEAL_ACCESS);
        }
        if row.refresh_token.is_none() {
            let reason = "the access token expired and the provider gave no refresh token";
            mark_needs_reauth(app, &row, reason, None).await?;
            return Err(TokenError::NeedsReauth(reason.into()));
        }
        let owner = format!("oauth-refresh-{}", Uuid::now_v7());
        let claimed = lease::claim::<connection::Entity>(
            &app.db,
            Claim {
                due: Condition::all()
                    .add(Column::Id.eq(id))
                    .add(Column::Status.eq(ConnectionStatus::Active))
                    .add(Column::ExpiresAt.lt(now + margin)),
                order_by: Column::Id,
                limit: 1,
                owner: &owner,
                lease: LEASE,
                also: Vec::new(),
            },
        )
        .await?;
        if let Some(row) = claimed.into_iter().next() {
            return refresh_claimed(app, row, &owner).await;
        }
        if Instant::now() > deadline {
            return Err(TokenError::Unavailable(
                "another refresh of this connection did not finish in time".into(),
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether the row's token must be refreshed before use.
fn due(row: &connection::Model, now: OffsetDateTime, margin: Duration) -> bool {
    row.access_token.is_none() || row.expires_at.is_some_and(|at| at < now + margin)
}

fn open(app: &AppState, sealed: Option<&str>, purpose: &str) -> Result<String, TokenError> {
    let sealed = sealed.ok_or_else(|| TokenError::NeedsReauth("no token is stored".into()))?;
    let bytes = app.secret_key.open(purpose, sealed).map_err(|e| {
        tracing::error!(error = ?e, purpose, "a stored OAuth token does not open");
        TokenError::Unavailable("the stored token cannot be read with the server's key".into())
    })?;
    String::from_utf8(bytes)
        .map_err(|_| TokenError::Unavailable("the stored token is not text".into()))
}

/// Refreshes a connection this caller holds the lease of.
async fn refresh_claimed(
    app: &AppState,
    row: connection::Model,
    owner: &str,
) -> Result<String, TokenError> {
    let outcome = call_provider(app, &row).await;
    match outcome {
        Ok(issued) => {
            let now = time::now();
            let expires_at = issued
                .expires_at
                .unwrap_or_else(|| now + app.config.oauth.token_expiry);
            let mut update = connection::Entity::update_many()
                .col_expr(
                    Column::AccessToken,
                    Expr::val(Some(
                        app.secret_key
                            .seal(SEAL_ACCESS, issued.access_token.as_bytes()),
                    )),
                )
                .col_expr(Column::ExpiresAt, Expr::val(Some(expires_at)))
                .col_expr(Column::LastRefreshedAt, Expr::val(Some(now)))
                .col_expr(Column::UpdatedAt, Expr::val(now));
            // A provider that rotates refresh tokens sends a new one; the old one is dead.
            if let Some(refresh) = &issued.refresh_token {
                update = update.col_expr(
                    Column::RefreshToken,
                    Expr::val(Some(app.secret_key.seal(SEAL_REFRESH, refresh.as_bytes()))),
                );
            }
            if let Some(scopes) = &issued.scopes {
                update = update.col_expr(Column::Scopes, Expr::val(scopes.clone()));
            }
            for (column, value) in lease::release_columns::<connection::Entity>() {
                update = update.col_expr(column, value);
            }
            let _turn = app.db.write_turn().await;
            let written = update
                .filter(lease::held_by::<connection::Entity>(row.id, owner))
                .exec(app.db.conn())
                .await?;
            if written.rows_affected == 0 {
                tracing::warn!(connection = %row.id, "an OAuth refresh outlived its lease");
            }
            Ok(issued.access_token)
        }
        Err(Failure::Refused(reason)) => {
            mark_needs_reauth(app, &row, &reason, Some(owner)).await?;
            Err(TokenError::NeedsReauth(reason))
        }
        Err(Failure::Failed(reason)) => {
            release(app, row.id, owner).await?;
            Err(TokenError::Unavailable(reason))
        }
    }
}

async fn call_provider(app: &AppState, row: &connection::Model) -> Result<client::Issued, Failure> {
    let provider = providers::find(&app.config, &row.provider)
        .ok_or_else(|| Failure::Failed(format!("unknown provider {}", row.provider)))?;
    let credentials = provider.client.clone().ok_or_else(|| {
        Failure::Failed(format!(
            "the operator has not configured a {} OAuth client",
            provider.name
        ))
    })?;
    let refresh = open(app, row.refresh_token.as_deref(), SEAL_REFRESH)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    client::refresh(&provider, &credentials, &refresh).await
}

async fn release(app: &AppState, id: Uuid, owner: &str) -> Result<(), DbErr> {
    let mut update = connection::Entity::update_many();
    for (column, value) in lease::release_columns::<connection::Entity>() {
        update = update.col_expr(column, value);
    }
    let _turn = app.db.write_turn().await;
    update
        .filter(lease::held_by::<connection::Entity>(id, owner))
        .exec(app.db.conn())
        .await?;
    Ok(())
}

/// Treats the connection's access token as expired, so the next use refreshes it: for a
/// provider that refused it before its time (revoked, rotated elsewhere).
pub async fn expire(app: &AppState, id: Uuid) -> Result<(), DbErr> {
    let _turn = app.db.write_turn().await;
    connection::Entity::update_many()
        .col_expr(
            Column::ExpiresAt,
            Expr::val(Some(time::now() - Duration::seconds(1))),
        )
        .filter(Column::Id.eq(id))
        .filter(Column::RefreshToken.is_not_null())
        .exec(app.db.conn())
        .await?;
    Ok(())
}

/// Records that the connection was used (at most once a minute, to spare writes).
async fn touch(app: &AppState, id: Uuid) -> Result<(), DbErr> {
    let now = time::now();
    let _turn = app.db.write_turn().await;
    connection::Entity::update_many()
        .col_expr(Column::LastUsedAt, Expr::val(Some(now)))
        .filter(Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(Column::LastUsedAt.is_null())
                .add(Column::LastUsedAt.lt(now - Duration::minutes(1))),
        )
        .exec(app.db.conn())
        .await?;
    Ok(())
}

/// Marks the connection as needing the member again and raises
/// `integration.connection_needs_reauth`, once (a connection already marked stays quiet).
/// Lets go of the lease `owner` holds, if any.
pub async fn mark_needs_reauth(
    app: &AppState,
    row: &connection::Model,
    reason: &str,
    owner: Option<&str>,
) -> Result<(), DbErr> {
    let now = time::now();
    let actor = Actor::integration("oauth", Some(row.user_id));
    let mut change = WorkspaceChange::begin(&app.db, row.workspace_id, actor).await?;
    let mut update = connection::Entity::update_many()
        .col_expr(Column::Status, Expr::val(ConnectionStatus::NeedsReauth))
        .col_expr(
            Column::StatusReason,
            Expr::val(Some(reason.chars().take(1000).collect::<String>())),
        )
        .col_expr(Column::UpdatedAt, Expr::val(now))
        .filter(Column::Id.eq(row.id))
        .filter(Column::Status.eq(ConnectionStatus::Active));
    if let Some(owner) = owner {
        for (column, value) in lease::release_columns::<connection::Entity>() {
            update = update.col_expr(column, value);
        }
        update = update.filter(Column::LeaseOwner.eq(owner));
    }
    let marked = update.exec(&*change).await?;
    if marked.rows_affected == 1 {
        let updated = connection::Entity::find_by_id(row.id)
            .one(&*change)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("oauth connection".into()))?;
        change.record(
            EventType::IntegrationConnectionNeedsReauth,
            row.id,
            &OauthConnectionView::from(&updated),
        )?;
        tracing::warn!(connection = %row.id, provider = %row.provider, reason, "OAuth connection needs the member again");
    }
    change.commit().await?;
    Ok(())
}

/// What the periodic refresh did.
#[derive(Debug, Default)]
pub struct Refreshed {
    pub refreshed: u64,
    pub needs_reauth: u64,
    pub failed: u64,
}

/// Refreshes every active connection expiring within [`JOB_MARGIN`]; one failing connection
/// never stops the others.
pub async fn refresh_expiring(app: &AppState) -> Result<Refreshed, DbErr> {
    let soon = time::now() + JOB_MARGIN;
    let ids: Vec<Uuid> = connection::Entity::find()
        .filter(Column::Status.eq(ConnectionStatus::Active))
        .filter(Column::RefreshToken.is_not_null())
        .filter(Column::ExpiresAt.lt(soon))
        .all(app.db.conn())
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut outcome = Refreshed::default();
    for id in ids {
        match ensure(app, id, JOB_MARGIN).await {
            Ok(_) => outcome.refreshed += 1,
            Err(TokenError::NeedsReauth(_)) => outcome.needs_reauth += 1,
            Err(TokenError::NotFound) => {}
            Err(TokenError::Db(e)) => return Err(e),
            Err(TokenError::Unavailable(reason)) => {
                tracing::warn!(connection = %id, reason, "OAuth refresh failed; retried next round");
                outcome.failed += 1;
            }
        }
    }
    Ok(outcome)
}

/// Stores tokens a provider issued for a member (a finished flow or a pasted token): the
/// member's one connection to the provider in the workspace, made or replaced.
pub async fn save(
    app: &AppState,
    workspace_id: Uuid,
    user_id: Uuid,
    provider: &str,
    issued: client::Issued,
    requested_scopes: &str,
) -> Result<connection::Model, DbErr> {
    use sea_orm::sea_query::OnConflict;
    let now = time::now();
    let expires_at = match (&issued.expires_at, &issued.refresh_token) {
        (Some(at), _) => Some(*at),
        // A refreshable token that states no lifetime is assumed to last the configured time.
        (None, Some(_)) => Some(now + app.config.oauth.token_expiry),
        (None, None) => None,
    };
    let model = connection::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        user_id: Set(user_id),
        provider: Set(provider.to_owned()),
        status: Set(ConnectionStatus::Active),
        status_reason: Set(None),
        scopes: Set(issued.scopes.unwrap_or_else(|| requested_scopes.to_owned())),
        account_name: Set(issued.account_name.map(|n| n.chars().take(320).collect())),
        access_token: Set(Some(
            app.secret_key
                .seal(SEAL_ACCESS, issued.access_token.as_bytes()),
        )),
        refresh_token: Set(issued
            .refresh_token
            .map(|r| app.secret_key.seal(SEAL_REFRESH, r.as_bytes()))),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        last_refreshed_at: Set(None),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let _turn = app.db.write_turn().await;
    connection::Entity::insert(model)
        .on_conflict(
            OnConflict::columns([Column::WorkspaceId, Column::UserId, Column::Provider])
                .update_columns([
                    Column::Status,
                    Column::StatusReason,
                    Column::Scopes,
                    Column::AccountName,
                    Column::AccessToken,
                    Column::RefreshToken,
                    Column::ExpiresAt,
                    Column::LeaseOwner,
                    Column::LeaseExpiresAt,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(app.db.conn())
        .await?;
    connection::Entity::find()
        .filter(Column::WorkspaceId.eq(workspace_id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Provider.eq(provider))
        .one(app.db.conn())
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("oauth connection".into()))
}

/// Disconnects: revokes at the provider where it can, then forgets the connection even when
/// the provider failed. Returns whether the provider revoked it and, if it failed, why.
pub async fn disconnect(
    app: &AppState,
    row: &connection::Model,
) -> Result<(bool, Option<String>), DbErr> {
    let revoked = match providers::find(&app.config, &row.provider) {
        Some(provider) => {
            let access = row
                .access_token
                .as_deref()
                .and_then(|s| app.secret_key.open(SEAL_ACCESS, s).ok())
                .and_then(|b| String::from_utf8(b).ok());
            let refresh = row
                .refresh_token
                .as_deref()
                .and_then(|s| app.secret_key.open(SEAL_REFRESH, s).ok())
                .and_then(|b| String::from_utf8(b).ok());
            match access {
                Some(access) => {
                    client::revoke(
                        &provider,
                        provider.client.as_ref(),
                        &access,
                        refresh.as_deref(),
                    )
                    .await
                }
                None => Ok(false),
            }
        }
        None => Ok(false),
    };
    let _turn = app.db.write_turn().await;
    connection::Entity::delete_by_id(row.id)
        .exec(app.db.conn())
        .await?;
    Ok(match revoked {
        Ok(done) => (done, None),
        Err(reason) => {
            tracing::warn!(connection = %row.id, reason, "revocation failed; the tokens were forgotten anyway");
            (false, Some(reason))
        }
    })
}
