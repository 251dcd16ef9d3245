//! Webhooks to add-ons, through the same outbox and delivery engine as every outbound webhook
//! (a queue per endpoint in event order, retries, history the workspace admin sees): each
//! installation whose manifest subscribes to events owns one webhook endpoint, each event sent
//! to its manifest path, signed as lifecycle calls are (an RS256 JWT in
//! `X-Timebridge-Signature` covering the body) through the `addon_jwt` delivery signer. The
//! endpoint is active only while the installation is acknowledged and switched on.

use std::collections::BTreeMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::Expr,
};
use uuid::Uuid;

use super::{
    entity::{addon, installation},
    manifest::Manifest,
    signing,
};
use crate::{
    app::AppState,
    platform::{consumers::BoxFuture, error::ApiError, time as clock},
    webhooks::{
        SECRET_PURPOSE,
        entity::{RetryPolicy, delivery, endpoint},
        signers::DeliverySigner,
        signing::WebhookSecret,
    },
};

/// The signer's registered name.
pub const SIGNER: &str = "addon_jwt";

fn owner(installation_id: Uuid) -> String {
    format!("addon_installation:{installation_id}")
}

/// Signs an add-on's deliveries.
pub struct AddonSigner;

impl DeliverySigner for AddonSigner {
    fn headers<'a>(
        &'a self,
        app: &'a AppState,
        endpoint: &'a endpoint::Model,
        delivery: &'a delivery::Model,
        body: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(&'static str, String)>, String>> {
        Box::pin(async move {
            let id = endpoint
                .owner
                .as_deref()
                .and_then(|o| o.strip_prefix("addon_installation:"))
                .and_then(|id| Uuid::parse_str(id).ok())
                .ok_or("the endpoint is no add-on's")?;
            let row = installation::Entity::find_by_id(id)
                .one(app.db.conn())
                .await
                .map_err(|e| ApiError::from(e).shown())?
                .ok_or("the installation is gone")?;
            let addon = addon::Entity::find_by_id(row.addon_id)
                .one(app.db.conn())
                .await
                .map_err(|e| ApiError::from(e).shown())?
                .ok_or("the add-on is gone")?;
            let claims = signing::claims(
                &signing::issuer(app),
                &addon.key,
                row.id,
                row.workspace_id,
                body.as_bytes(),
            );
            let token = signing::sign(app, &claims).await.map_err(|e| e.shown())?;
            Ok(vec![
                ("x-timebridge-signature", token),
                ("x-timebridge-event", delivery.event_type.clone()),
            ])
        })
    }
}

/// Makes the installation's endpoint (inactive until the add-on acknowledges), when its
/// manifest subscribes to events.
pub async fn make_endpoint<C: ConnectionTrait>(
    app: &AppState,
    conn: &C,
    row: &installation::Model,
    addon: &addon::Model,
    manifest: &Manifest,
) -> Result<(), ApiError> {
    if manifest.webhooks.is_empty() {
        return Ok(());
    }
    let mut routes = BTreeMap::new();
    for subscription in &manifest.webhooks {
        if let Some(url) = manifest.webhook_url(subscription.event) {
            routes.insert(subscription.event.as_str().to_owned(), url.to_string());
        }
    }
    let events: Vec<&String> = routes.keys().collect();
    let secret = WebhookSecret::generate().expose();
    let now = clock::now();
    endpoint::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(row.workspace_id),
        name: Set(format!("add-on {}", addon.key)),
        url: Set(manifest.base_url.to_string()),
        // Unused (the add-on signer signs), kept sealed as every endpoint's.
        secret: Set(app.secret_key.seal(SECRET_PURPOSE, secret.as_bytes())),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
        events: Set(serde_json::to_string(&events).unwrap_or_else(|_| "[]".into())),
        retry_policy: Set(RetryPolicy::Exponential),
        active: Set(false),
        disabled_reason: Set(Some(
            "the add-on has not acknowledged its installation".into(),
        )),
        disabled_at: Set(None),
        failing_since: Set(None),
        created_by: Set(Some(row.installed_by)),
        created_at: Set(now),
        updated_at: Set(now),
        queue_version: Set(0),
        next_due_at: Set(None),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        owner: Set(Some(owner(row.id))),
        signer: Set(Some(SIGNER.to_owned())),
        routes: Set(Some(serde_json::to_string(&routes).unwrap_or_default())),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Switches the installation's endpoint on (acknowledged and enabled) or off.
pub async fn follow<C: ConnectionTrait>(
    conn: &C,
    row: &installation::Model,
) -> Result<(), ApiError> {
    let on = row.live == Some(true)
        && row.enabled
        && row.status == installation::InstallationStatus::Active;
    let reason = (!on).then(|| {
        if row.live != Some(true) {
            "the add-on was uninstalled"
        } else if !row.enabled {
            "the add-on is switched off"
        } else {
            "the add-on has not acknowledged its installation"
        }
    });
    endpoint::Entity::update_many()
        .col_expr(endpoint::Column::Active, Expr::value(on))
        .col_expr(endpoint::Column::DisabledReason, Expr::value(reason))
        .col_expr(endpoint::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(endpoint::Column::Owner.eq(owner(row.id)))
        .exec(conn)
        .await?;
    Ok(())
}
