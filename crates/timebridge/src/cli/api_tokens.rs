//! `timebridge token list|revoke`: the server's operator looking over and revoking API
//! tokens of any user or workspace. A token is shown by its prefix, never its secret or hash.

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use uuid::Uuid;

use super::{TokenCommand, open_migrated, table::Table, users::explain};
use crate::{
    access::{
        entity::api_token,
        routes::TokenView,
        tokens::{self, TokenOwner},
    },
    config::Config,
    directory::service,
    platform::db::Db,
};

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this user's tokens.
    #[arg(long, conflicts_with = "workspace")]
    pub email: Option<String>,
    /// Only this workspace's tokens.
    #[arg(long)]
    pub workspace: Option<String>,
}

#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The token's id (see `timebridge token list`).
    pub id: Uuid,
}

pub async fn run(config: Config, command: TokenCommand) -> anyhow::Result<()> {
    let cache_secs = config.token_cache_ttl.as_secs();
    let db = open_migrated(&config).await?;
    match command {
        TokenCommand::Create(_) => anyhow::bail!("`token create` is handled by the CLI itself"),
        TokenCommand::List(args) => list(&db, args).await,
        TokenCommand::Revoke(args) => {
            let token = tokens::revoke_for_operator(&db, args.id)
                .await
                .map_err(|e| explain(e.into()))?;
            eprintln!(
                "revoked token {:?} ({}…); a running server refuses it within {cache_secs} s \
                 (TIMEBRIDGE_TOKEN_CACHE_SECONDS)",
                token.name, token.token_prefix
            );
            Ok(())
        }
    }
}

async fn list(db: &Db, args: ListArgs) -> anyhow::Result<()> {
    let owner = match (&args.email, &args.workspace) {
        (Some(email), _) => {
            let user = service::find_user_by_email(db, email)
                .await?
                .with_context(|| format!("no user with email {email}"))?;
            TokenOwner::User(user.id)
        }
        (None, Some(name)) => TokenOwner::Workspace(
            service::workspace_by_name(db, name)
                .await?
                .with_context(|| format!("no workspace named {name:?}"))?,
        ),
        (None, None) => TokenOwner::Everyone,
    };
    let found = tokens::list_for_operator(db, owner).await?;
    let emails = service::emails_of(db, found.iter().map(|t| t.user_id)).await?;
    let workspaces = service::workspace_names(db).await?;
    let mut table = Table::new(&[
        "id",
        "prefix",
        "name",
        "user",
        "workspace",
        "scopes",
        "last_used_at",
        "expires_at",
        "status",
    ]);
    for token in found {
        let email = emails.get(&token.user_id).cloned().unwrap_or_default();
        let workspace = workspaces.get(&token.workspace_id).cloned();
        table.push(row(token, &email, workspace.as_deref()));
    }
    Ok(table.print()?)
}

/// A token as the operator sees it: everything but its secret and hash.
pub(super) fn row(token: api_token::Model, email: &str, workspace: Option<&str>) -> Value {
    let view = TokenView::from(token);
    json!({
        "id": view.id,
        "prefix": view.prefix,
        "name": view.name,
        "user": email,
        "workspace": workspace,
        "scopes": view.scopes,
        "allowed_ips": view.allowed_ips,
        "last_used_at": rfc3339(view.last_used_at),
        "expires_at": rfc3339(view.expires_at),
        "revoked_at": rfc3339(view.revoked_at),
        "status": view.status,
        "created_at": rfc3339(Some(view.created_at)),
    })
}

/// An instant as RFC 3339 text, or nothing.
pub(super) fn rfc3339(at: Option<OffsetDateTime>) -> Value {
    at.and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}
