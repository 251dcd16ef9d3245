//! The command line: `serve`, `migrate`, `user …`, `token …`, `workspace …`, `backup`,
//! `jobs list|run|retry`, `secrets status|rotate`, `keys rotate|list`, `addon register|list`. The
//! operator's user, token and workspace commands are in `cli/users.rs`, `cli/api_tokens.rs` and
//! `cli/workspaces.rs`; `backup` in `cli/backup.rs`; `secrets` in `cli/secrets.rs`; `keys` in
//! `cli/keys.rs`; `addon` in `cli/addons.rs`.

mod addons;
mod api_tokens;
mod backup;
mod keys;
mod secrets;
mod table;
mod users;
mod workspaces;

use std::{io::Read, net::SocketAddr};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::{
    access::tokens::{self, Expiry, NewToken},
    app::App,
    config::Config,
    directory::{self, NewUser, Plan},
    platform::{
        db::{self, Db},
        telemetry,
    },
};

#[derive(Parser, Debug)]
#[command(
    name = "timebridge",
    version,
    about = "Self-hosted time tracking with an integration ecosystem"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply pending migrations, then serve the API.
    Serve {
        /// Address to listen on [env: TIMEBRIDGE_ADDR, default 127.0.0.1:8080].
        #[arg(long)]
        addr: Option<SocketAddr>,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Workspaces and their plans.
    #[command(subcommand)]
    Workspace(workspaces::WorkspaceCommand),
    /// Copy the SQLite database to FILE while the server runs (PostgreSQL: prints the
    /// pg_dump command to use instead).
    Backup(backup::BackupArgs),
    /// The background job queue.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Import data: `import csv` (time entries).
    #[command(subcommand)]
    Import(crate::tracking::time_entries::import::cli::ImportCommand),
    /// The stored secrets and the keys in TIMEBRIDGE_SECRET_KEY: `status`, `rotate`.
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// The keys calls to add-ons are signed with: `rotate`, `list`.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// The add-on catalog: `register <manifest-url|file>`, `list`.
    #[command(subcommand)]
    Addon(addons::AddonCommand),
}

#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// List every job kind with its latest run (the instance's own and every workspace's).
    List,
    /// Run a job now and print it, finished, as JSON. Instance jobs (retention) run as they
    /// are; a workspace job needs --workspace.
    Run {
        /// The job kind, e.g. webhook_retention.
        kind: String,
        /// The workspace's name, for a workspace job.
        #[arg(long)]
        workspace: Option<String>,
    },
    /// Put a failed job back in the queue for one more attempt.
    Retry {
        /// The job's id.
        id: uuid::Uuid,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user (and their workspace when it does not exist); prints the user id.
    Create(UserCreate),
    /// List users: one line per membership (all workspaces, or one).
    List(users::ListArgs),
    /// Show a user, their workspaces and their tokens.
    Show(users::ShowArgs),
    /// Change a user's name or email (every workspace they belong to gets the event).
    Update(users::UpdateArgs),
    /// Make a user admin or member of a workspace.
    SetRole(users::SetRoleArgs),
    /// Deactivate a user in a workspace: their tokens there are refused.
    Deactivate(users::MemberArgs),
    /// Reactivate a user deactivated in a workspace.
    Reactivate(users::MemberArgs),
    /// Add an existing user to another workspace (created when missing).
    Add(users::AddArgs),
    /// Remove a user from a workspace; their tokens there are revoked.
    Remove(users::RemoveArgs),
}

#[derive(Args, Debug)]
pub struct UserCreate {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: String,
    /// Make the user an admin of the workspace.
    #[arg(long)]
    pub admin: bool,
    /// The workspace to join (created when missing).
    #[arg(long, default_value = directory::service::DEFAULT_WORKSPACE)]
    pub workspace: String,
    /// The plan of the workspace when this creates it (default free). An existing workspace
    /// keeps its plan (a different one is refused): see `timebridge workspace set-plan`.
    #[arg(long, value_parser = ["free", "pro", "enterprise"])]
    pub plan: Option<String>,
    /// Read a password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token; prints the secret alone on the last line.
    Create(TokenCreate),
    /// List tokens (never their secrets): all, one user's or one workspace's.
    List(api_tokens::ListArgs),
    /// Revoke a token by id, for good.
    Revoke(api_tokens::RevokeArgs),
}

#[derive(Args, Debug)]
pub struct TokenCreate {
    /// Email of the token's user.
    #[arg(long)]
    pub email: String,
    /// A name for the token.
    #[arg(long)]
    pub name: String,
    /// Comma-separated scopes, e.g. read:projects,write:time_entries.
    #[arg(long, value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
    /// Last day the token is valid (YYYY-MM-DD, UTC). Default: API_TOKEN_EXPIRY_DAYS from now.
    #[arg(long)]
    pub expires: Option<String>,
    /// The workspace, when the user belongs to several.
    #[arg(long)]
    pub workspace: Option<String>,
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::from_env()?;
    // Only the commands that are about the schema report the migrations they apply.
    let log_filter = match &cli.command {
        Command::Serve { .. } | Command::Migrate => config.log_filter.clone(),
        _ => telemetry::without_migration_logs(&config.log_filter),
    };
    let _log_guard = telemetry::init(&log_filter, config.log_format)?;
    match cli.command {
        Command::Serve { addr } => {
            if let Some(addr) = addr {
                config.addr = addr;
            }
            serve(config).await
        }
        Command::Migrate => {
            db::migrate(&config)
                .await
                .context("cannot migrate DATABASE_URL")?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::User(command) => users::run(config, command).await,
        Command::Token(TokenCommand::Create(args)) => create_token(config, args).await,
        Command::Token(command) => api_tokens::run(config, command).await,
        Command::Workspace(command) => workspaces::run(config, command).await,
        Command::Backup(args) => backup::run(config, args).await,
        Command::Jobs(command) => jobs_command(config, command).await,
        Command::Import(command) => {
            let db = open_migrated(&config).await?;
            crate::tracking::time_entries::import::cli::run(&db, command).await
        }
        Command::Secrets(command) => secrets::run(config, command).await,
        Command::Keys(command) => keys::run(config, command).await,
        Command::Addon(command) => addons::run(config, command).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = config.addr;
    let app = App::build(config).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, "timebridge listening");
    app.serve(listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

async fn open_migrated(config: &Config) -> anyhow::Result<Db> {
    db::migrate(config)
        .await
        .context("cannot migrate DATABASE_URL")?;
    let db = db::connect(config)
        .await
        .context("cannot open DATABASE_URL")?;
    crate::app::capabilities().attach_writers(&db);
    Ok(db)
}

async fn jobs_command(mut config: Config, command: JobsCommand) -> anyhow::Result<()> {
    use crate::platform::jobs::{self, JobScope, runner::Runner};
    // The application, for the job handlers; nothing runs in its background.
    config.jobs_enabled = false;
    config.webhooks.workers = 0;
    let app = App::build(config).await?;
    let state = app.state.clone();
    match command {
        JobsCommand::List => {
            for kind in state.jobs.iter() {
                let scope = match kind.scope {
                    JobScope::Instance => "instance",
                    JobScope::Workspace => "workspace",
                };
                let every = kind
                    .every
                    .map(|d| format!("every {} s", d.as_secs()))
                    .unwrap_or_else(|| "on demand".into());
                println!("{}\t{scope}\t{every}\t{}", kind.name, kind.description);
            }
            let filter = jobs::JobFilter::default();
            let (latest, _) = jobs::list(&state.db, &filter, 0, 20).await?;
            for run in latest {
                println!(
                    "{}\t{}\t{:?}\t{}\t{}/{}\t{}",
                    run.id,
                    run.kind,
                    run.workspace_id,
                    serde_json::to_string(&run.status)?,
                    run.attempts,
                    run.max_attempts,
                    run.last_error.unwrap_or_default()
                );
            }
        }
        JobsCommand::Run { kind, workspace } => {
            let found = state
                .jobs
                .get(&kind)
                .with_context(|| format!("no job kind '{kind}' (see `timebridge jobs list`)"))?;
            let workspace_id = match (found.scope, workspace) {
                (JobScope::Instance, None) => None,
                (JobScope::Instance, Some(_)) => {
                    bail!("{kind} is the instance's job: no --workspace")
                }
                (JobScope::Workspace, None) => {
                    bail!("{kind} runs for a workspace: name it with --workspace")
                }
                (JobScope::Workspace, Some(name)) => Some(
                    directory::service::workspace_by_name(&state.db, &name)
                        .await?
                        .with_context(|| format!("no workspace named {name:?}"))?,
                ),
            };
            let runner = Runner {
                db: state.db.clone(),
                registry: state.jobs.clone(),
                state: state.clone(),
                owner: format!("cli-{}", uuid::Uuid::now_v7().simple()),
                queues: None,
            };
            let run = runner
                .run_now(found, workspace_id, &serde_json::json!({}))
                .await?;
            let view = crate::jobs::routes::RunView::from(run);
            println!("{}", serde_json::to_string_pretty(&view)?);
            if view.status != jobs::JobStatus::Succeeded {
                bail!("the job failed: {}", view.last_error.unwrap_or_default());
            }
        }
        JobsCommand::Retry { id } => {
            let run = jobs::retry(&state.db, None, id).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::jobs::routes::RunView::from(run))?
            );
        }
    }
    Ok(())
}

async fn create_user(config: Config, args: UserCreate) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        let password = text.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            bail!("--password-stdin: no password on standard input");
        }
        Some(password)
    } else {
        None
    };
    let plan = args
        .plan
        .as_deref()
        .map(str::parse::<Plan>)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let db = open_migrated(&config).await?;
    let member = directory::service::create_user(
        &db,
        NewUser {
            email: args.email,
            name: args.name,
            password,
            admin: args.admin,
            workspace: args.workspace,
            plan,
        },
    )
    .await?;
    eprintln!(
        "created {} ({}) in workspace {:?} (plan {})",
        member.user.email, member.role, member.workspace.name, member.workspace.plan
    );
    println!("{}", member.user.id);
    Ok(())
}

async fn create_token(config: Config, args: TokenCreate) -> anyhow::Result<()> {
    let expiry = match args.expires.as_deref() {
        None => Expiry::Default,
        Some(text) => Expiry::parse(text).map_err(|m| anyhow::anyhow!("--expires {m}"))?,
    };
    let db = open_migrated(&config).await?;
    let user = directory::service::find_user_by_email(&db, &args.email)
        .await?
        .with_context(|| format!("no user with email {}", args.email))?;
    let memberships = directory::service::memberships_of(&db, &user).await?;
    let member = match &args.workspace {
        Some(name) => memberships
            .iter()
            .find(|m| &m.workspace.name == name)
            .with_context(|| format!("{} is not a member of workspace {name:?}", user.email))?,
        None => match memberships.as_slice() {
            [only] => only,
            [] => bail!("{} belongs to no workspace", user.email),
            many => bail!(
                "{} belongs to several workspaces; choose one with --workspace ({})",
                user.email,
                many.iter()
                    .map(|m| m.workspace.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    };
    let issued = tokens::issue(
        &db,
        member,
        NewToken {
            name: args.name,
            scopes: args.scopes,
            expiry,
            allowed_ips: Vec::new(),
        },
        None,
        config.token_expiry_days,
    )
    .await
    .map_err(|e| match e {
        tokens::TokenError::UnknownScopes(unknown) => anyhow::anyhow!(
            "unknown scopes: {}\nvalid scopes: {}",
            unknown.join(", "),
            crate::access::Scope::catalog()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        tokens::TokenError::Invalid(errors) => anyhow::anyhow!(
            "invalid token: {}",
            serde_json::to_string(&errors).unwrap_or_default()
        ),
        other => anyhow::anyhow!("{other}"),
    })?;
    eprintln!(
        "created token {:?} ({}) for {} with scopes {}",
        issued.token.name, issued.token.token_prefix, user.email, issued.token.scopes
    );
    eprintln!("store it now: it will not be shown again");
    println!("{}", issued.secret);
    Ok(())
}
