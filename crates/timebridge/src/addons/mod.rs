//! Add-ons (seed 001's plugin marketplace, the platform side of seed 000): manifests in
//! Clockify's schema-1.3 shape, a catalog the operator fills, installations per workspace with
//! scoped short-lived credentials, and every call to an add-on signed with an RS256 JWT whose
//! keys are published at `/.well-known/jwks.json`. No long-lived broad credential ever leaves
//! the server.

pub mod catalog;
pub mod entity;
pub mod exchange;
pub mod installations;
pub mod lifecycle;
pub mod manifest;
pub mod routes;
pub mod signing;
pub mod webhooks;

use std::time::Duration;

use serde_json::json;

use crate::{
    app::{AppState, Capabilities},
    platform::jobs::JobKind,
};

/// Plugs add-ons in: the signing keys' sealed column, the lifecycle calls, and the daily purge
/// of uninstalled installations.
pub fn register(c: &mut Capabilities) {
    signing::register(c);
    c.delivery_signer(webhooks::SIGNER, std::sync::Arc::new(webhooks::AddonSigner));
    c.job(lifecycle::kind());
    c.job(
        JobKind::new(
            "addon_purge",
            "Daily: purges add-on installations uninstalled more than 90 days ago.",
            |app: AppState, _job| async move {
                let purged = installations::purge(&app)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(json!({"purged": purged}))
            },
        )
        .instance()
        .periodic(Duration::from_secs(24 * 3600)),
    );
}
