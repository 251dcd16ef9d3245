//! `timebridge workspace list|set-plan`: the server's workspaces and their plans. A plan is
//! changed only here, explicitly (`user create --plan` applies to a new workspace alone).

use clap::Subcommand;
use serde_json::json;

use super::{api_tokens::rfc3339, open_migrated, table::Table, users::explain};
use crate::{
    config::Config,
    directory::{Plan, workspaces},
};

#[derive(Subcommand, Debug)]
pub enum WorkspaceCommand {
    /// List workspaces with their plan and how many members and admins they have.
    List,
    /// Put a workspace on another plan (which sets its tokens' rate limit).
    SetPlan {
        /// The workspace's name.
        name: String,
        #[arg(value_parser = ["free", "pro", "enterprise"])]
        plan: String,
    },
}

pub async fn run(config: Config, command: WorkspaceCommand) -> anyhow::Result<()> {
    let cache_secs = config.token_cache_ttl.as_secs();
    let db = open_migrated(&config).await?;
    match command {
        WorkspaceCommand::List => {
            let mut table = Table::new(&["name", "plan", "members", "admins"]);
            for summary in workspaces::list(&db).await.map_err(explain)? {
                let w = summary.workspace;
                table.push(json!({
                    "id": w.id,
                    "name": w.name,
                    "plan": w.plan.as_str(),
                    "members": summary.members,
                    "admins": summary.admins,
                    "created_at": rfc3339(Some(w.created_at)),
                }));
            }
            Ok(table.print()?)
        }
        WorkspaceCommand::SetPlan { name, plan } => {
            let plan: Plan = plan.parse().map_err(anyhow::Error::msg)?;
            let (workspace, previous) = workspaces::set_plan(&db, &name, plan)
                .await
                .map_err(explain)?;
            if previous == plan {
                eprintln!(
                    "workspace {:?} is already on the {plan} plan",
                    workspace.name
                );
            } else {
                eprintln!(
                    "workspace {:?}: plan {previous} → {plan}; a running server applies its rate \
                     limit to each token within {cache_secs} s (TIMEBRIDGE_TOKEN_CACHE_SECONDS)",
                    workspace.name
                );
            }
            Ok(())
        }
    }
}
