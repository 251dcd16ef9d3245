//! The inbound webhook ledger: every verified webhook is recorded (provider, delivery id, the
//! headers worth keeping, payload, outcome) and de-duplicated by its delivery id. The check and
//! the record run inside the change that applies the webhook, under the workspace's write lock,
//! so a delivery received twice, or twice at once, is applied once. Rows are purged after
//! `INBOUND_WEBHOOK_RETENTION_DAYS`.
//!
//! Headers are kept by an allow-list ([`Provider::recorded_headers`] and [`COMMON_HEADERS`]),
//! never by a deny-list: a credential header nobody thought of (`X-API-Key`, a proxy's
//! `X-Auth-Token`) is not recorded. Delivery ids are stored and looked up as one value,
//! [`ledger_key`], however long the provider's id is.

use std::{borrow::Cow, collections::HashMap};

use axum::http::HeaderMap;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use super::entity::inbound::InboundStatus;
use super::{Provider, entity::inbound};
use crate::platform::{db::Db, time};

/// What the ledger knows of a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Never received.
    New,
    /// Received before and failed: it may be applied now (the row is reused).
    Failed(Uuid),
    /// Already applied or ignored: this is a duplicate.
    Done(InboundStatus),
}

impl Seen {
    fn of(row: &inbound::Model) -> Self {
        match row.status {
            InboundStatus::Failed => Self::Failed(row.id),
            done => Self::Done(done),
        }
    }
}

/// A received webhook, as the ledger keeps it.
pub struct Received<'a> {
    pub provider: Provider,
    pub delivery_id: &'a str,
    pub integration_id: Option<Uuid>,
    pub workspace_id: Option<Uuid>,
    pub event_type: &'a str,
    pub headers: &'a HeaderMap,
    pub payload: &'a str,
}

/// Whether (and how) the delivery was received before.
pub async fn seen<C: ConnectionTrait>(
    db: &C,
    provider: Provider,
    delivery_id: &str,
) -> Result<Seen, DbErr> {
    let row = inbound::Entity::find()
        .filter(inbound::Column::Provider.eq(provider))
        .filter(inbound::Column::DeliveryId.eq(ledger_key(delivery_id).as_ref()))
        .one(db)
        .await?;
    Ok(row.map_or(Seen::New, |r| Seen::of(&r)))
}

/// What the ledger knows of each of these deliveries, by the provider's delivery id (absent:
/// never received).
pub async fn seen_many<C: ConnectionTrait>(
    db: &C,
    provider: Provider,
    delivery_ids: &[&str],
) -> Result<HashMap<String, Seen>, DbErr> {
    let mut found = HashMap::new();
    for chunk in delivery_ids.chunks(500) {
        let by_key: HashMap<Cow<'_, str>, &str> =
            chunk.iter().map(|id| (ledger_key(id), *id)).collect();
        let rows = inbound::Entity::find()
            .filter(inbound::Column::Provider.eq(provider))
            .filter(inbound::Column::DeliveryId.is_in(by_key.keys().map(|k| k.as_ref())))
            .all(db)
            .await?;
        for r in rows {
            if let Some(id) = by_key.get(r.delivery_id.as_str()) {
                found.insert((*id).to_owned(), Seen::of(&r));
            }
        }
    }
    Ok(found)
}

/// The longest delivery id the ledger keeps as it is: the length of its column.
pub const DELIVERY_ID_MAX: usize = 200;

/// A delivery id as the ledger stores and looks it up: the provider's id when it fits
/// [`DELIVERY_ID_MAX`] characters, else `sha256:` and the hex digest of the whole id. Storing
/// and looking up the same value is what makes a repeat of a long id a duplicate rather than a
/// clash on the ledger's unique index. (The whole id stays in the recorded headers or payload.)
pub fn ledger_key(delivery_id: &str) -> Cow<'_, str> {
    if delivery_id.chars().count() <= DELIVERY_ID_MAX {
        return Cow::Borrowed(delivery_id);
    }
    let digest = Sha256::digest(delivery_id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Cow::Owned(format!("sha256:{hex}"))
}

/// Records new deliveries (never received before) with one outcome, in one statement per 500.
pub async fn record_new_many<C: ConnectionTrait>(
    db: &C,
    received: &[Received<'_>],
    status: InboundStatus,
) -> Result<(), DbErr> {
    let now = time::now();
    let rows: Vec<inbound::ActiveModel> = received
        .iter()
        .map(|r| inbound::ActiveModel {
            id: Set(Uuid::now_v7()),
            provider: Set(r.provider),
            delivery_id: Set(ledger_key(r.delivery_id).into_owned()),
            integration_id: Set(r.integration_id),
            workspace_id: Set(r.workspace_id),
            event_type: Set(r.event_type.chars().take(100).collect()),
            headers: Set(recorded_headers(r.provider, r.headers)),
            payload: Set(r.payload.to_owned()),
            status: Set(status),
            error: Set(None),
            received_at: Set(now),
            processed_at: Set(Some(now)),
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(500).collect();
        inbound::Entity::insert_many(chunk).exec(db).await?;
    }
    Ok(())
}

/// Headers worth recording from every provider (lower case).
pub const COMMON_HEADERS: &[&str] = &["content-type", "user-agent"];

/// The headers worth keeping, as a JSON object: only those named by [`COMMON_HEADERS`] and the
/// provider's own list. Anything else (signatures, `Authorization`, `Cookie`, `X-API-Key`, any
/// `*-Token` or `*-Key` a proxy adds) is left out.
pub fn recorded_headers(provider: Provider, headers: &HeaderMap) -> String {
    let allowed = provider.recorded_headers();
    let mut kept = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        if !COMMON_HEADERS.contains(&name) && !allowed.contains(&name) {
            continue;
        }
        if let Ok(text) = value.to_str() {
            kept.insert(name.to_owned(), Value::String(text.to_owned()));
        }
    }
    Value::Object(kept).to_string()
}

/// Records the webhook with its outcome: a new row, or the earlier failed one updated.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    received: &Received<'_>,
    seen: &Seen,
    status: InboundStatus,
    error: Option<&str>,
) -> Result<(), DbErr> {
    let now = time::now();
    let error = error.map(|e| e.chars().take(1000).collect::<String>());
    if let Seen::Failed(id) = seen {
        inbound::ActiveModel {
            id: Set(*id),
            status: Set(status),
            error: Set(error),
            payload: Set(received.payload.to_owned()),
            processed_at: Set(Some(now)),
            ..Default::default()
        }
        .update(db)
        .await?;
        return Ok(());
    }
    inbound::ActiveModel {
        id: Set(Uuid::now_v7()),
        provider: Set(received.provider),
        delivery_id: Set(ledger_key(received.delivery_id).into_owned()),
        integration_id: Set(received.integration_id),
        workspace_id: Set(received.workspace_id),
        event_type: Set(received.event_type.chars().take(100).collect()),
        headers: Set(recorded_headers(received.provider, received.headers)),
        payload: Set(received.payload.to_owned()),
        status: Set(status),
        error: Set(error),
        received_at: Set(now),
        processed_at: Set(Some(now)),
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// Records a webhook whose change failed, in a transaction of its own. A failed delivery is
/// applied when the provider sends it again.
pub async fn record_failure(db: &Db, received: &Received<'_>, error: &str) {
    let _turn = db.write_turn().await;
    let result = async {
        let seen = seen(db.conn(), received.provider, received.delivery_id).await?;
        if matches!(seen, Seen::Done(_)) {
            return Ok(());
        }
        record(
            db.conn(),
            received,
            &seen,
            InboundStatus::Failed,
            Some(error),
        )
        .await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, provider = %received.provider, "could not record a failed webhook");
    }
}

/// Deletes ledger rows received more than `days` ago; returns how many.
pub async fn purge(db: &Db, days: u32) -> Result<u64, DbErr> {
    let cutoff = time::now() - ::time::Duration::days(i64::from(days));
    Ok(inbound::Entity::delete_many()
        .filter(inbound::Column::ReceivedAt.lt(cutoff))
        .exec(db.conn())
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use sea_orm::Iterable;

    use super::*;

    #[test]
    fn ids_that_fit_are_kept_and_long_ones_are_one_digest() {
        assert_eq!(
            ledger_key("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            "72d3162e-cc78-11e3-81ab-4c9367dc0958"
        );
        let fits = "é".repeat(DELIVERY_ID_MAX);
        assert_eq!(
            ledger_key(&fits),
            fits.as_str(),
            "characters, not bytes, as the column counts"
        );
        let long = "x".repeat(DELIVERY_ID_MAX + 1);
        let key = ledger_key(&long);
        assert!(key.starts_with("sha256:") && key.len() == 71, "{key}");
        assert_eq!(key, ledger_key(&long.clone()), "the same id, the same key");
        let other = format!("{}y", "x".repeat(DELIVERY_ID_MAX));
        assert_ne!(ledger_key(&other), key);
    }

    #[test]
    fn only_allowed_headers_are_recorded() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("user-agent", "GitHub-Hookshot/044aadd"),
            ("content-type", "application/json"),
            ("x-github-delivery", "d-1"),
            ("x-slack-retry-num", "1"),
            ("x-hub-signature-256", "sha256=abc"),
            ("authorization", "Bearer secret-1"),
            ("cookie", "session=secret-2"),
            ("x-api-key", "secret-3"),
            ("x-anything-token", "secret-4"),
            ("x-forwarded-for", "10.0.0.1"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        let github: Value =
            serde_json::from_str(&recorded_headers(Provider::Github, &headers)).unwrap();
        assert_eq!(
            github,
            serde_json::json!({
                "user-agent": "GitHub-Hookshot/044aadd",
                "content-type": "application/json",
                "x-github-delivery": "d-1",
            })
        );
        let slack: Value =
            serde_json::from_str(&recorded_headers(Provider::Slack, &headers)).unwrap();
        assert_eq!(slack["x-slack-retry-num"], "1");
        assert!(slack.get("x-github-delivery").is_none());
        for provider in Provider::iter() {
            let kept = recorded_headers(provider, &headers);
            assert!(
                !kept.contains("secret") && !kept.contains("signature"),
                "{provider}: {kept}"
            );
        }
    }

    #[test]
    fn no_provider_records_a_credential_or_signature_header() {
        for provider in Provider::iter() {
            for name in provider.recorded_headers().iter().chain(COMMON_HEADERS) {
                assert_eq!(
                    name.to_lowercase(),
                    *name,
                    "{provider}: header names are lower case"
                );
                for word in [
                    "signature",
                    "authorization",
                    "cookie",
                    "token",
                    "secret",
                    "key",
                ] {
                    assert!(!name.contains(word), "{provider} records {name}");
                }
            }
        }
    }
}
