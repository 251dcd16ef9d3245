//! Serialized responses of read endpoints, each valid while its workspace's data is unchanged.
//!
//! Every write to a workspace's data advances `workspaces.data_version` in its transaction
//! ([`super::changes`]). A cached body remembers the version it was built at and is served only
//! while that is still the workspace's version, so a reader never sees data older than the
//! last write it could have observed:
//! - SQLite: this process makes every write through the API, and records each version as it
//!   commits, so the check is an in-memory lookup. Writes from another process on the same
//!   file (the `timebridge user` CLI) are picked up by [`ReadCache::refresh`], every second.
//! - PostgreSQL: other instances write too, so every read confirms the version with one
//!   primary-key lookup before it trusts a cached body.

use std::{future::Future, hash::Hash};

use axum::{
    body::{Body, Bytes},
    http::{HeaderValue, header},
    response::Response,
};
use quick_cache::{Weighter, sync::Cache};
use sea_orm::DbErr;
use serde::Serialize;
use uuid::Uuid;

use super::{
    db::{self, Db},
    error::ApiError,
};

/// What a cached body is: one view of one workspace's data, e.g. `("projects.list", "p=1&…")`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReadKey {
    pub workspace_id: Uuid,
    /// The endpoint, e.g. `projects.list`.
    pub view: &'static str,
    /// Everything else the body depends on: validated parameters, and the viewer when what
    /// they may see depends on who they are.
    pub variant: String,
}

impl ReadKey {
    pub fn new(workspace_id: Uuid, view: &'static str, variant: String) -> Self {
        Self {
            workspace_id,
            view,
            variant,
        }
    }
}

#[derive(Clone)]
struct Page {
    version: i64,
    body: Bytes,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<ReadKey, Page> for ByBytes {
    fn weight(&self, key: &ReadKey, page: &Page) -> u64 {
        (page.body.len() + key.variant.len() + 64) as u64
    }
}

/// The cache. Disabled (every read loads) when its capacity is 0.
pub struct ReadCache {
    db: Db,
    pages: Option<Cache<ReadKey, Page, ByBytes>>,
    /// Confirm the version in the database on every read (other processes write too).
    confirm_each_read: bool,
}

impl ReadCache {
    pub fn new(db: Db, capacity_bytes: u64) -> Self {
        let pages = (capacity_bytes > 0).then(|| {
            let estimated_items = (capacity_bytes / 16_384).clamp(64, 1_000_000) as usize;
            Cache::with_weighter(estimated_items, capacity_bytes, ByBytes)
        });
        Self {
            confirm_each_read: !db.is_sqlite(),
            db,
            pages,
        }
    }

    /// The JSON body for `key`: cached while the workspace's data is unchanged, else built by
    /// `load`, answered and kept.
    pub async fn json<T, F, Fut>(&self, key: ReadKey, load: F) -> Result<Response, ApiError>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let Some(pages) = &self.pages else {
            return serialize(&load().await?).map(json_response);
        };
        // The version is read before the data, so a body is never labelled newer than it is.
        let version = self.version(key.workspace_id).await?;
        if let Some(page) = pages.get(&key)
            && page.version == version
        {
            return Ok(json_response(page.body));
        }
        let body = serialize(&load().await?)?;
        pages.insert(
            key,
            Page {
                version,
                body: body.clone(),
            },
        );
        Ok(json_response(body))
    }

    async fn version(&self, workspace_id: Uuid) -> Result<i64, DbErr> {
        if !self.confirm_each_read
            && let Some(version) = self.db.versions().known(workspace_id)
        {
            return Ok(version);
        }
        let version = db::data_version(self.db.conn(), workspace_id).await?;
        self.db.versions().observe(workspace_id, version);
        Ok(version)
    }

    /// Re-reads the versions of the workspaces this process has cached, to notice writes made
    /// by other processes. Housekeeping calls it every second on SQLite.
    pub async fn refresh(&self) -> Result<(), DbErr> {
        if self.pages.is_none() || self.confirm_each_read {
            return Ok(());
        }
        let workspaces = self.db.versions().workspaces();
        for (workspace_id, version) in db::data_versions(self.db.conn(), &workspaces).await? {
            self.db.versions().observe(workspace_id, version);
        }
        Ok(())
    }
}

fn serialize<T: Serialize>(value: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| ApiError::Internal(e.into()))
}

fn json_response(body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
