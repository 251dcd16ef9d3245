//! Calls to an add-on's lifecycle URLs (`INSTALLED`, `SETTINGS_UPDATED`, `STATUS_CHANGED`,
//! `DELETED`), each a job of the `addon_lifecycle` kind (queue `addons`, 5 tries 30 s to 10 min
//! apart, `PLUGIN_EXECUTION_TIMEOUT_SECONDS` a try), each signed: an RS256 JWT in
//! `X-Timebridge-Signature` whose `body_sha256` is the hash of the exact body sent.
//!
//! An installation stays `pending` until its add-on answers `INSTALLED` with a 2xx; a failed
//! call is recorded in the installation's `error` and tried again; after the last try an
//! installation still pending is `failed`.

use std::time::Duration;

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    catalog,
    entity::{
        addon,
        installation::{self, InstallationStatus},
    },
    manifest::LifecycleKind,
    signing,
};
use crate::{
    app::AppState,
    platform::{
        error::ApiError,
        http_client,
        jobs::{self, JobKind, JobOptions, RetryPolicy},
        time as clock,
    },
};

pub const KIND: &str = "addon_lifecycle";
const ATTEMPTS: u32 = 5;

/// The job kind.
pub fn kind() -> JobKind<AppState> {
    JobKind::new(
        KIND,
        "Calls an add-on's lifecycle URL (INSTALLED, SETTINGS_UPDATED, STATUS_CHANGED, DELETED), signed.",
        |app: AppState, job| async move {
            let id = job
                .payload
                .get("installation_id")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or("the job names no installation")?;
            let kind = job.payload["type"].as_str().unwrap_or_default().to_owned();
            call(&app, id, &kind, job.attempt >= ATTEMPTS)
                .await
                .map_err(|e| e.to_string())
        },
    )
    .queue("addons")
    .retry(RetryPolicy::attempts(ATTEMPTS, &[30, 60, 120, 600]))
}

/// Enqueues a lifecycle call inside the caller's transaction.
pub async fn enqueue<C: ConnectionTrait>(
    app: &AppState,
    conn: &C,
    installation: &installation::Model,
    kind: LifecycleKind,
) -> Result<(), ApiError> {
    let job_kind = app
        .jobs
        .get(KIND)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("{KIND} is not registered")))?;
    jobs::enqueue(
        conn,
        job_kind,
        &json!({"installation_id": installation.id, "type": kind.as_str()}),
        JobOptions {
            workspace_id: Some(installation.workspace_id),
            timeout: Some(app.config.plugins.execution_timeout + Duration::from_secs(5)),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

/// What a lifecycle call carries.
fn body(app: &AppState, addon: &addon::Model, row: &installation::Model, kind: &str) -> Value {
    let settings: Value = serde_json::from_str(&row.settings).unwrap_or_else(|_| json!({}));
    let base = signing::issuer(app);
    let mut body = json!({
        "type": kind,
        "installation_id": row.id,
        "addon_key": addon.key,
        "workspace_id": row.workspace_id,
    });
    match kind {
        "INSTALLED" => {
            body["api_base_url"] = json!(format!("{base}/api/v1"));
            body["token_url"] = json!(format!("{base}/api/v1/integration/plugins/token"));
            body["jwks_url"] = json!(format!("{base}/.well-known/jwks.json"));
            body["settings"] = settings;
        }
        "SETTINGS_UPDATED" => body["settings"] = settings,
        "STATUS_CHANGED" => {
            body["status"] = json!(if row.enabled { "ACTIVE" } else { "INACTIVE" });
        }
        _ => {}
    }
    body
}

/// Makes one lifecycle call; answers what happened.
async fn call(app: &AppState, id: Uuid, kind: &str, last_try: bool) -> Result<Value, ApiError> {
    let Some(row) = installation::Entity::find_by_id(id)
        .one(app.db.conn())
        .await?
    else {
        return Ok(json!({"skipped": "the installation is gone"}));
    };
    let addon = addon::Entity::find_by_id(row.addon_id)
        .one(app.db.conn())
        .await?
        .ok_or(ApiError::NotFound("Add-on"))?;
    let manifest = catalog::manifest_of(&addon)?;
    let Ok(lifecycle) = kind.parse::<LifecycleKind>() else {
        return Err(ApiError::invalid(
            "type",
            format!("unknown lifecycle type {kind}"),
        ));
    };
    let Some(url) = manifest.lifecycle_url(lifecycle) else {
        // Nothing to call: an add-on without an INSTALLED path is active at once.
        if lifecycle == LifecycleKind::Installed {
            acknowledge(app, row).await?;
        }
        return Ok(json!({"skipped": format!("{} declares no {kind} path", addon.key)}));
    };
    if lifecycle != LifecycleKind::Deleted && row.status == InstallationStatus::Uninstalled {
        return Ok(json!({"skipped": "uninstalled since"}));
    }
    let payload = serde_json::to_vec(&body(app, &addon, &row, kind))
        .map_err(|e| ApiError::Internal(e.into()))?;
    let claims = signing::claims(
        &signing::issuer(app),
        &addon.key,
        row.id,
        row.workspace_id,
        &payload,
    );
    let token = signing::sign(app, &claims).await?;
    let client = http_client::client(
        catalog::policy(&app.config),
        app.config.plugins.execution_timeout,
        "Timebridge add-ons",
    );
    let sent = client
        .post(url.clone())
        .header("content-type", "application/json")
        .header("x-timebridge-signature", token)
        .header("x-timebridge-lifecycle", kind)
        .body(payload)
        .send()
        .await;
    let failure = match sent {
        Ok(answer) if answer.status().is_success() => None,
        Ok(answer) => Some(format!("{kind} answered {}", answer.status().as_u16())),
        Err(e) => Some(http_client::refusal(&e).unwrap_or_else(|| {
            if e.is_timeout() {
                format!("{kind} timed out after PLUGIN_EXECUTION_TIMEOUT_SECONDS")
            } else {
                format!("{kind} could not be delivered")
            }
        })),
    };
    match failure {
        None => {
            if lifecycle == LifecycleKind::Installed {
                acknowledge(app, row).await?;
            } else if row.error.is_some() {
                record_error(app, row, None, None).await?;
            }
            Ok(json!({"delivered": kind}))
        }
        Some(error) => {
            let give_up = (last_try && lifecycle == LifecycleKind::Installed)
                .then_some(InstallationStatus::Failed);
            record_error(app, row, Some(error.clone()), give_up).await?;
            Err(ApiError::Unavailable(error))
        }
    }
}

async fn acknowledge(app: &AppState, row: installation::Model) -> Result<(), ApiError> {
    if row.status != InstallationStatus::Pending && row.status != InstallationStatus::Failed {
        return Ok(());
    }
    let now = clock::now();
    let mut active: installation::ActiveModel = row.into();
    active.status = Set(InstallationStatus::Active);
    active.acknowledged_at = Set(Some(now));
    active.error = Set(None);
    active.updated_at = Set(now);
    let _turn = app.db.write_turn().await;
    let saved = active.update(app.db.conn()).await?;
    // Its webhooks flow from now on.
    super::webhooks::follow(app.db.conn(), &saved).await?;
    Ok(())
}

async fn record_error(
    app: &AppState,
    row: installation::Model,
    error: Option<String>,
    status: Option<InstallationStatus>,
) -> Result<(), ApiError> {
    let mut active: installation::ActiveModel = row.into();
    active.error = Set(error);
    if let Some(status) = status {
        active.status = Set(status);
    }
    active.updated_at = Set(clock::now());
    let _turn = app.db.write_turn().await;
    active.update(app.db.conn()).await?;
    Ok(())
}
