//! `timebridge user …`: the server's operator managing users across every workspace, under
//! the same rules as a workspace admin's API (`directory::members`): every change records its
//! `user.*` event, no workspace is left without an active admin. A running server applies
//! changes to tokens within `TIMEBRIDGE_TOKEN_CACHE_SECONDS` (it caches verified tokens).

use std::collections::BTreeMap;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use serde_json::json;

use super::{UserCommand, api_tokens, open_migrated, table::Table};
use crate::{
    access::tokens::{self, TokenOwner},
    config::Config,
    directory::{
        Member, Plan, Role,
        entity::user,
        members::{self, MemberChanges},
        service,
    },
    platform::{acting::Acting, db::Db, error::ApiError, outbox::Actor},
};

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this workspace's members.
    #[arg(long)]
    pub workspace: Option<String>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    #[arg(long)]
    pub email: String,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The user's current email.
    #[arg(long)]
    pub email: String,
    /// Their new name.
    #[arg(long)]
    pub name: Option<String>,
    /// Their new email.
    #[arg(long)]
    pub new_email: Option<String>,
}

#[derive(Args, Debug)]
pub struct SetRoleArgs {
    #[arg(long)]
    pub email: String,
    #[arg(long, value_parser = ["admin", "member"])]
    pub role: String,
    /// The workspace, when the user belongs to several.
    #[arg(long)]
    pub workspace: Option<String>,
}

#[derive(Args, Debug)]
pub struct MemberArgs {
    #[arg(long)]
    pub email: String,
    /// The workspace, when the user belongs to several.
    #[arg(long)]
    pub workspace: Option<String>,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    #[arg(long)]
    pub email: String,
    /// The workspace to add them to (created when missing).
    #[arg(long)]
    pub workspace: String,
    /// Make them an admin of it.
    #[arg(long)]
    pub admin: bool,
    /// The plan of the workspace when this creates it (default free); an existing workspace
    /// keeps its plan.
    #[arg(long, value_parser = ["free", "pro", "enterprise"])]
    pub plan: Option<String>,
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    #[arg(long)]
    pub email: String,
    /// The workspace to remove them from.
    #[arg(long)]
    pub workspace: String,
}

pub async fn run(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let note = cache_note(&config);
    match command {
        UserCommand::Create(args) => super::create_user(config, args).await,
        UserCommand::List(args) => list(&open_migrated(&config).await?, args).await,
        UserCommand::Show(args) => show(&open_migrated(&config).await?, args).await,
        UserCommand::Update(args) => update(&open_migrated(&config).await?, args).await,
        UserCommand::SetRole(args) => {
            let role: Role = args.role.parse().map_err(anyhow::Error::msg)?;
            let target = MemberArgs {
                email: args.email,
                workspace: args.workspace,
            };
            let changes = MemberChanges {
                role: Some(role),
                ..Default::default()
            };
            let member = change(&open_migrated(&config).await?, &target, changes).await?;
            eprintln!(
                "{} is now {role} of workspace {:?}{note}",
                member.user.email, member.workspace.name
            );
            Ok(())
        }
        UserCommand::Deactivate(target) => {
            activity(&open_migrated(&config).await?, &target, false, &note).await
        }
        UserCommand::Reactivate(target) => {
            activity(&open_migrated(&config).await?, &target, true, &note).await
        }
        UserCommand::Add(args) => add(&open_migrated(&config).await?, args).await,
        UserCommand::Remove(args) => remove(&open_migrated(&config).await?, args, &note).await,
    }
}

/// `deactivate` / `reactivate`: the user's standing in one workspace.
async fn activity(db: &Db, target: &MemberArgs, active: bool, note: &str) -> anyhow::Result<()> {
    let changes = MemberChanges {
        is_active: Some(active),
        ..Default::default()
    };
    let member = change(db, target, changes).await?;
    let state = if active { "reactivated" } else { "deactivated" };
    eprintln!(
        "{} is {state} in workspace {:?}{note}",
        member.user.email, member.workspace.name
    );
    Ok(())
}

/// What a running server needs to apply a change made here to tokens it has cached.
fn cache_note(config: &Config) -> String {
    match config.token_cache_ttl.as_secs() {
        0 => String::new(),
        secs => format!(
            " (a running server applies this to their tokens within {secs} s: \
             TIMEBRIDGE_TOKEN_CACHE_SECONDS)"
        ),
    }
}

/// An API error as a line for the terminal.
pub(super) fn explain(err: ApiError) -> anyhow::Error {
    match err {
        ApiError::Validation(errors) | ApiError::ValidationWith(errors, _) => {
            let fields: BTreeMap<String, Vec<String>> = serde_json::to_value(&errors)
                .ok()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            let problems: Vec<String> = fields
                .iter()
                .map(|(field, messages)| format!("{field} {}", messages.join("; ")))
                .collect();
            anyhow!("invalid: {}", problems.join(", "))
        }
        ApiError::Internal(cause) => cause,
        other => anyhow!("{other}"),
    }
}

async fn user_by_email(db: &Db, email: &str) -> anyhow::Result<user::Model> {
    service::find_user_by_email(db, email)
        .await?
        .with_context(|| format!("no user with email {email}"))
}

/// The user's membership in the named workspace, or in their only one.
pub(super) fn choose<'a>(
    memberships: &'a [Member],
    email: &str,
    workspace: Option<&str>,
) -> anyhow::Result<&'a Member> {
    match workspace {
        Some(name) => memberships
            .iter()
            .find(|m| m.workspace.name == name)
            .with_context(|| format!("{email} is not a member of workspace {name:?}")),
        None => match memberships {
            [only] => Ok(only),
            [] => bail!("{email} belongs to no workspace"),
            many => bail!(
                "{email} belongs to several workspaces; choose one with --workspace ({})",
                many.iter()
                    .map(|m| m.workspace.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }
}

/// Applies `changes` to the user's membership named by `target`, as the operator.
async fn change(db: &Db, target: &MemberArgs, changes: MemberChanges) -> anyhow::Result<Member> {
    let user = user_by_email(db, &target.email).await?;
    let memberships = service::memberships_of(db, &user).await?;
    let member = choose(&memberships, &user.email, target.workspace.as_deref())?;
    let operator = Acting::system(member.workspace.id, Actor::system());
    members::update(db, &operator, user.id, changes)
        .await
        .map_err(explain)?;
    let mut member = member.clone();
    if let Some(found) = service::member(db, member.workspace.id, user.id).await? {
        member = found;
    }
    Ok(member)
}

async fn list(db: &Db, args: ListArgs) -> anyhow::Result<()> {
    let workspace_id = match &args.workspace {
        Some(name) => Some(
            service::workspace_by_name(db, name)
                .await?
                .with_context(|| format!("no workspace named {name:?}"))?,
        ),
        None => None,
    };
    let (placed, unplaced) = members::roster(db, workspace_id).await.map_err(explain)?;
    let mut table = Table::new(&["email", "name", "workspace", "role", "active"]);
    for m in &placed {
        table.push(json!({
            "id": m.user.id,
            "email": m.user.email,
            "name": m.user.name,
            "workspace": m.workspace.name,
            "role": m.role.as_str(),
            "active": m.is_active(),
        }));
    }
    for u in &unplaced {
        table.push(json!({
            "id": u.id,
            "email": u.email,
            "name": u.name,
            "workspace": null,
            "role": null,
            "active": u.is_active,
        }));
    }
    Ok(table.print()?)
}

async fn show(db: &Db, args: ShowArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let user = user_by_email(db, &args.email).await?;
    let memberships = service::memberships_of(db, &user).await?;
    let held = tokens::list_for_operator(db, TokenOwner::User(user.id)).await?;
    let names: BTreeMap<_, _> = memberships
        .iter()
        .map(|m| (m.workspace.id, m.workspace.name.clone()))
        .collect();
    let shown = json!({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "is_active": user.is_active,
        "created_at": api_tokens::rfc3339(Some(user.created_at)),
        "workspaces": memberships.iter().map(|m| json!({
            "name": m.workspace.name,
            "plan": m.workspace.plan.as_str(),
            "role": m.role.as_str(),
            "active": m.is_active(),
        })).collect::<Vec<_>>(),
        "tokens": held.into_iter().map(|t| {
            let workspace = names.get(&t.workspace_id).cloned();
            api_tokens::row(t, &user.email, workspace.as_deref())
        }).collect::<Vec<_>>(),
    });
    if std::io::stdout().is_terminal() {
        println!("{}", serde_json::to_string_pretty(&shown)?);
    } else {
        println!("{shown}");
    }
    Ok(())
}

async fn update(db: &Db, args: UpdateArgs) -> anyhow::Result<()> {
    if args.name.is_none() && args.new_email.is_none() {
        bail!("nothing to change: give --name, --new-email or both");
    }
    let user = user_by_email(db, &args.email).await?;
    let workspaces = service::memberships_of(db, &user).await?.len();
    let updated = members::update_profile(db, user.id, args.name, args.new_email)
        .await
        .map_err(explain)?;
    eprintln!(
        "{} is now {:?} <{}> in {workspaces} workspace(s)",
        user.email, updated.name, updated.email
    );
    Ok(())
}

async fn add(db: &Db, args: AddArgs) -> anyhow::Result<()> {
    let user = user_by_email(db, &args.email).await?;
    let role = if args.admin {
        Role::Admin
    } else {
        Role::Member
    };
    let plan = args
        .plan
        .as_deref()
        .map(str::parse::<Plan>)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let member = members::join_workspace(db, user.id, &args.workspace, role, plan)
        .await
        .map_err(explain)?;
    eprintln!(
        "added {} to workspace {:?} (plan {}) as {role}",
        member.user.email, member.workspace.name, member.workspace.plan
    );
    Ok(())
}

async fn remove(db: &Db, args: RemoveArgs, note: &str) -> anyhow::Result<()> {
    let user = user_by_email(db, &args.email).await?;
    let memberships = service::memberships_of(db, &user).await?;
    let member = choose(&memberships, &user.email, Some(&args.workspace))?;
    let operator = Acting::system(member.workspace.id, Actor::system());
    members::remove(db, &operator, user.id)
        .await
        .map_err(explain)?;
    eprintln!(
        "removed {} from workspace {:?}; their tokens there are revoked{note}",
        user.email, member.workspace.name
    );
    Ok(())
}
