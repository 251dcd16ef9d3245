//! `Idempotency-Key` on `POST /time-entries`: the first request with a key creates the entry
//! and remembers its answer, in the same transaction; a retry with the same key and the same
//! body gets that answer again and creates nothing; the same key with a different body is 422.
//! Keys belong to the token that sent them and are forgotten after 24 hours.

use ::time::{Duration, OffsetDateTime};
use axum::http::HeaderMap;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    entity::prelude::*,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::platform::{constraints::UniqueKey, error::ApiError, time};

/// How long a key is remembered.
pub const KEY_LIFETIME: Duration = Duration::hours(24);
/// Longest accepted key.
pub const MAX_KEY: usize = 128;
/// One remembered answer per token and key: a concurrent retry finds the key taken.
pub const TOKEN_KEY: UniqueKey = UniqueKey::new(
    "ux_idempotency_keys_token_key",
    "idempotency_keys",
    &["token_id", "key"],
);

/// The `idempotency_keys` table.
pub mod stored {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub token_id: Uuid,
        pub key: String,
        pub request_hash: String,
        pub status_code: i32,
        pub response_body: String,
        pub created_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A key presented with a request, and the fingerprint of that request's body.
#[derive(Clone, Debug)]
pub struct Presented {
    pub token_id: Uuid,
    pub key: String,
    pub request_hash: String,
}

/// An earlier answer to replay.
pub struct Replay {
    pub status: u16,
    pub body: String,
}

/// The `Idempotency-Key` header, when sent: printable, at most 128 characters.
pub fn key_from(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("Idempotency-Key must be printable text".into()))?
        .trim();
    if key.is_empty() {
        return Ok(None);
    }
    if key.chars().count() > MAX_KEY {
        return Err(ApiError::BadRequest(format!(
            "Idempotency-Key must be at most {MAX_KEY} characters"
        )));
    }
    Ok(Some(key.to_owned()))
}

/// The fingerprint of a JSON body: SHA-256 of its canonical form (object keys sorted,
/// insignificant whitespace gone), so a re-encoded retry still matches.
pub fn fingerprint(body: &Value) -> String {
    let canonical = serde_json::to_vec(body).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The answer remembered for this key, if it is still fresh. A fresh key with another body
/// is 422.
pub async fn lookup<C: ConnectionTrait>(
    db: &C,
    presented: &Presented,
) -> Result<Option<Replay>, ApiError> {
    let found = stored::Entity::find()
        .filter(stored::Column::TokenId.eq(presented.token_id))
        .filter(stored::Column::Key.eq(&presented.key))
        .one(db)
        .await?;
    let Some(found) = found else { return Ok(None) };
    if found.created_at < time::now() - KEY_LIFETIME {
        stored::Entity::delete_by_id(found.id).exec(db).await?;
        return Ok(None);
    }
    if found.request_hash != presented.request_hash {
        return Err(ApiError::Unprocessable(
            "This Idempotency-Key was already used with a different request body".into(),
        ));
    }
    Ok(Some(Replay {
        status: u16::try_from(found.status_code).unwrap_or(201),
        body: found.response_body,
    }))
}

/// Remembers the answer to a keyed request, inside the transaction that made it.
pub async fn remember<C: ConnectionTrait>(
    db: &C,
    presented: &Presented,
    status: u16,
    body: &str,
) -> Result<(), sea_orm::DbErr> {
    stored::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_id: Set(presented.token_id),
        key: Set(presented.key.clone()),
        request_hash: Set(presented.request_hash.clone()),
        status_code: Set(i32::from(status)),
        response_body: Set(body.to_owned()),
        created_at: Set(time::now()),
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// Forgets keys older than their lifetime (housekeeping).
pub async fn purge<C: ConnectionTrait>(db: &C, now: OffsetDateTime) -> Result<u64, sea_orm::DbErr> {
    let result = stored::Entity::delete_many()
        .filter(stored::Column::CreatedAt.lt(now - KEY_LIFETIME))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
