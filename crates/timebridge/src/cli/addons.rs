//! `timebridge addon register|list`: the operator fills the add-on catalog.

use clap::Subcommand;
use serde_json::json;

use super::{api_tokens::rfc3339, open_migrated, table::Table};
use crate::{addons::catalog, config::Config, platform::error::ApiError};

#[derive(Subcommand, Debug)]
pub enum AddonCommand {
    /// Register an add-on from its manifest (a URL or a file), or a new version of one. The
    /// manifest is checked whole: every problem is printed.
    Register {
        /// `https://…/manifest.json` or a file path.
        source: String,
    },
    /// List the catalog: key, name, scopes, registered and updated.
    List,
}

/// Runs `timebridge addon …`.
pub async fn run(config: Config, command: AddonCommand) -> anyhow::Result<()> {
    let db = open_migrated(&config).await?;
    match command {
        AddonCommand::Register { source } => {
            match catalog::register_from(&db, &config, &source).await {
                Ok((row, created)) => {
                    let what = if created { "registered" } else { "updated" };
                    eprintln!("{what} {} ({})", row.key, row.name);
                    println!("{}", row.id);
                    Ok(())
                }
                Err(ApiError::Validation(errors)) => {
                    anyhow::bail!("the manifest is refused: {}", errors.summary())
                }
                Err(other) => Err(anyhow::anyhow!(other.shown())),
            }
        }
        AddonCommand::List => {
            let mut table = Table::new(&["key", "name", "scopes", "created_at", "updated_at"]);
            for row in catalog::list(&db)
                .await
                .map_err(|e| anyhow::anyhow!(e.shown()))?
            {
                let manifest =
                    catalog::manifest_of(&row).map_err(|e| anyhow::anyhow!(e.shown()))?;
                let scopes: Vec<String> = manifest.scopes.iter().map(ToString::to_string).collect();
                table.push(json!({
                    "key": row.key,
                    "name": row.name,
                    "scopes": scopes.join(" "),
                    "created_at": rfc3339(Some(row.created_at)),
                    "updated_at": rfc3339(Some(row.updated_at)),
                }));
            }
            table.print()?;
            Ok(())
        }
    }
}
