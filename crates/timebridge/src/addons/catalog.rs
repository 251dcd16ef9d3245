//! The catalog: add-ons the operator registered (`timebridge addon register`, or the operators'
//! API), each by its manifest, checked whole before it is kept.

use std::time::Duration;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::{
    entity::addon,
    manifest::{self, Manifest, Problem},
};
use crate::{
    config::Config,
    platform::{
        db::Db,
        error::{ApiError, FieldErrors},
        http_client::{self, TargetPolicy},
        time as clock,
    },
};

/// The largest manifest taken, in bytes (`PLUGIN_MAX_SIZE_MB`).
pub fn max_bytes(config: &Config) -> usize {
    usize::try_from(config.plugins.max_size_mb)
        .unwrap_or(usize::MAX / (1024 * 1024))
        .saturating_mul(1024 * 1024)
}

/// Where add-ons may be: the outbound rules of webhooks.
pub fn policy(config: &Config) -> TargetPolicy {
    TargetPolicy {
        allow_private: config.webhooks.allow_private_targets,
        require_https: config.webhooks.require_https,
    }
}

/// Every problem of a manifest as a 400, each under its place in the manifest.
pub fn refused(problems: Vec<Problem>) -> ApiError {
    let mut errors = FieldErrors::new();
    for p in problems {
        errors.add(p.path, p.message);
    }
    ApiError::Validation(errors)
}

/// Reads a manifest (refusing it whole, with every problem).
pub fn read(config: &Config, bytes: &[u8]) -> Result<Manifest, ApiError> {
    manifest::parse(bytes, policy(config), max_bytes(config)).map_err(refused)
}

/// Fetches a manifest from its URL (the same outbound rules as webhooks; at most
/// `PLUGIN_MAX_SIZE_MB`, within `PLUGIN_EXECUTION_TIMEOUT_SECONDS`).
pub async fn fetch(config: &Config, url: &str) -> Result<Vec<u8>, ApiError> {
    let bad = |message: String| ApiError::invalid("manifest_url", message);
    let target = http_client::check_url(policy(config), url).map_err(|e| bad(e.to_string()))?;
    let client = http_client::client(
        policy(config),
        config.plugins.execution_timeout.max(Duration::from_secs(1)),
        "Timebridge add-on catalog",
    );
    let mut response = client.get(target).send().await.map_err(|e| {
        bad(http_client::refusal(&e).unwrap_or_else(|| format!("could not be fetched: {e}")))
    })?;
    if !response.status().is_success() {
        return Err(bad(format!("answered {}", response.status().as_u16())));
    }
    let limit = max_bytes(config);
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| bad(format!("could not be read: {e}")))?
    {
        if body.len() + chunk.len() > limit {
            return Err(bad(format!(
                "is larger than PLUGIN_MAX_SIZE_MB ({} MB)",
                config.plugins.max_size_mb
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Registers a manifest: a new add-on, or a new version of the one with its key. Answers the
/// row and whether it is new.
pub async fn register(
    db: &Db,
    config: &Config,
    bytes: &[u8],
    source: &str,
) -> Result<(addon::Model, bool), ApiError> {
    let manifest = read(config, bytes)?;
    let now = clock::now();
    let existing = addon::Entity::find()
        .filter(addon::Column::Key.eq(manifest.key.as_str()))
        .one(db.conn())
        .await?;
    let text = manifest.to_json().to_string();
    let _turn = db.write_turn().await;
    match existing {
        Some(found) => {
            let mut active: addon::ActiveModel = found.into();
            active.name = Set(manifest.name.clone());
            active.manifest = Set(text);
            active.source = Set(source.chars().take(2048).collect());
            active.updated_at = Set(now);
            Ok((active.update(db.conn()).await?, false))
        }
        None => {
            let made = addon::ActiveModel {
                id: Set(Uuid::now_v7()),
                key: Set(manifest.key.clone()),
                name: Set(manifest.name.clone()),
                manifest: Set(text),
                source: Set(source.chars().take(2048).collect()),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db.conn())
            .await?;
            Ok((made, true))
        }
    }
}

/// The catalog, by name.
pub async fn list(db: &Db) -> Result<Vec<addon::Model>, ApiError> {
    Ok(addon::Entity::find()
        .order_by_asc(addon::Column::Name)
        .order_by_asc(addon::Column::Key)
        .all(db.conn())
        .await?)
}

/// An add-on by its id or its key.
pub async fn find(db: &Db, id_or_key: &str) -> Result<addon::Model, ApiError> {
    let query = match Uuid::parse_str(id_or_key) {
        Ok(id) => addon::Entity::find_by_id(id),
        Err(_) => addon::Entity::find().filter(addon::Column::Key.eq(id_or_key)),
    };
    query
        .one(db.conn())
        .await?
        .ok_or(ApiError::NotFound("Add-on"))
}

/// A stored add-on's manifest. It was checked whole when registered, network rules included;
/// it is read again without them (calls to it are checked when they are made).
pub fn manifest_of(row: &addon::Model) -> Result<Manifest, ApiError> {
    manifest::parse(
        row.manifest.as_bytes(),
        http_client::TargetPolicy {
            allow_private: true,
            require_https: false,
        },
        usize::MAX,
    )
    .map_err(|problems| {
        ApiError::Internal(anyhow::anyhow!(
            "the stored manifest of {} no longer reads: {problems:?}",
            row.key
        ))
    })
}

/// Registers a manifest from a URL (fetched as [`fetch`] says) or a file: what `timebridge addon
/// register` does.
pub async fn register_from(
    db: &Db,
    config: &Config,
    source: &str,
) -> Result<(addon::Model, bool), ApiError> {
    let bytes = if source.starts_with("http://") || source.starts_with("https://") {
        fetch(config, source).await?
    } else {
        let path = std::path::Path::new(source);
        let size = std::fs::metadata(path)
            .map_err(|e| ApiError::invalid("manifest", format!("{source}: {e}")))?
            .len();
        if usize::try_from(size).unwrap_or(usize::MAX) > max_bytes(config) {
            return Err(ApiError::invalid(
                "manifest",
                format!(
                    "{source} is larger than PLUGIN_MAX_SIZE_MB ({} MB)",
                    config.plugins.max_size_mb
                ),
            ));
        }
        std::fs::read(path).map_err(|e| ApiError::invalid("manifest", format!("{source}: {e}")))?
    };
    let label = if source.contains("://") {
        source.to_owned()
    } else {
        format!("file:{source}")
    };
    register(db, config, &bytes, &label).await
}
