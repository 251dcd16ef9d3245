//! `timebridge keys rotate|list`: the RSA keys Timebridge signs its calls to add-ons with (see
//! `addons::signing`). Only key ids and dates are ever shown, never private material.

use clap::Subcommand;
use serde_json::json;

use super::{api_tokens::rfc3339, open_migrated, table::Table};
use crate::{addons::signing, config::Config, platform::crypto::load_secret_key};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make a new key for signing calls to add-ons; prints its kid. The previous key stops
    /// signing at once and stays published at /.well-known/jwks.json until the tokens it
    /// signed have expired, so add-ons need no reinstall.
    Rotate,
    /// List the signing keys: kid, generation, created, superseded and retired.
    List,
}

/// Runs `timebridge keys …`.
pub async fn run(config: Config, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate => {
            let keys = load_secret_key(&config)?;
            let db = open_migrated(&config).await?;
            let rotation = signing::rotate(&db, &keys).await?;
            match &rotation.previous {
                Some(previous) => eprintln!(
                    "{} signs from now on; {} stays published until {}",
                    rotation.kid,
                    previous.kid,
                    rfc3339(Some(previous.published_until))
                        .as_str()
                        .unwrap_or("?"),
                ),
                None => eprintln!("{} is the first signing key", rotation.kid),
            }
            if !rotation.deleted.is_empty() {
                eprintln!("deleted retired keys: {}", rotation.deleted.join(", "));
            }
            println!("{}", rotation.kid);
            Ok(())
        }
        KeysCommand::List => {
            let db = open_migrated(&config).await?;
            let mut table = Table::new(&[
                "kid",
                "generation",
                "created_at",
                "superseded_at",
                "retired_at",
            ]);
            for key in signing::list(&db).await? {
                table.push(json!({
                    "kid": key.kid,
                    "generation": key.generation,
                    "created_at": rfc3339(Some(key.created_at)),
                    "superseded_at": rfc3339(key.superseded_at),
                    "retired_at": rfc3339(key.retired_at),
                }));
            }
            Ok(table.print()?)
        }
    }
}
