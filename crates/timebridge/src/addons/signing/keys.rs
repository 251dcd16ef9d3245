//! The signing keys themselves: `addon_signing_keys`, making a key (the first one, or a
//! rotation's), and which keys are published.
//!
//! Each key has a generation; the highest signs. A key is made as the generation after the
//! newest its maker read, in one transaction that also supersedes the previous key: two makers
//! that read the same newest key race for the same generation, the unique index lets one win,
//! and the other reads the winner's key (or, for a rotation, is told to run again).

use std::sync::atomic::{AtomicU64, Ordering};

use ::time::OffsetDateTime;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::EncodingKey;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    SqliteTransactionMode, TransactionOptions, TransactionTrait, sea_query::Expr,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{PURPOSE, PublicJwk, TOKEN_LIFETIME_SECS};
use crate::platform::{
    constraints::{self, UniqueKey},
    crypto::Keyring,
    db::Db,
    error::ApiError,
    time,
};

const KEY_BITS: usize = 2048;
/// How long a superseded key stays published beyond the lifetime of its last tokens.
const PUBLISHED_MARGIN_SECS: i64 = 60;

/// One key per generation: what decides a race to make one.
const GENERATION_KEY: UniqueKey = UniqueKey::new(
    "ux_addon_signing_keys_generation",
    "addon_signing_keys",
    &["generation"],
);

/// `addon_signing_keys`: one RSA key pair.
pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "addon_signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The key's RFC 7638 thumbprint, the `kid` of the tokens it signs.
        pub kid: String,
        /// 1 for the first key, one more for each rotation; the highest signs.
        pub generation: i64,
        /// The public key as a JWK (JSON).
        pub public_jwk: String,
        /// The private key, PKCS#8 PEM, sealed under [`crate::addons::signing::PURPOSE`].
        pub private_key: String,
        pub created_at: TimeDateTimeWithTimeZone,
        /// When a newer key took over signing.
        pub superseded_at: Option<TimeDateTimeWithTimeZone>,
        /// When it stops being published (and may be deleted).
        pub retired_at: Option<TimeDateTimeWithTimeZone>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{Column, Entity as SigningKey};

/// Keys made by this process: a signer here holding an older key reads the current one again at
/// once rather than after its usual interval.
static MADE: AtomicU64 = AtomicU64::new(0);

/// How many keys this process has made so far.
pub(super) fn made_here() -> u64 {
    MADE.load(Ordering::Acquire)
}

/// The key of the highest generation: the one that signs (making a key supersedes every other).
pub(super) async fn newest(db: &Db) -> Result<Option<entity::Model>, DbErr> {
    SigningKey::find()
        .order_by_desc(Column::Generation)
        .one(db.conn())
        .await
}

/// The generation a key made after `newest` has.
pub(super) fn next_generation(newest: Option<&entity::Model>) -> i64 {
    newest.map_or(1, |k| k.generation + 1)
}

/// The private key of a row, ready to sign with.
pub(super) fn decode_private(
    secret_key: &Keyring,
    row: &entity::Model,
) -> Result<EncodingKey, ApiError> {
    use rsa::{pkcs1::EncodeRsaPrivateKey, pkcs8::DecodePrivateKey};
    let kid = &row.kid;
    let pem = secret_key
        .open(PURPOSE, &row.private_key)
        .map_err(|e| anyhow::anyhow!("cannot open the add-on signing key {kid}: {e}"))?;
    let pem = zeroize::Zeroizing::new(pem);
    let text = std::str::from_utf8(&pem)
        .map_err(|_| anyhow::anyhow!("the add-on signing key {kid} is not PEM text"))?;
    let unreadable = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!("the add-on signing key {kid} cannot be read: {e}")
    };
    let der = rsa::PrivateKey::from_pkcs8_pem(text)
        .map_err(|e| unreadable(&e))?
        .to_pkcs1_der()
        .map_err(|e| unreadable(&e))?;
    Ok(EncodingKey::from_rsa_der(der.as_bytes()))
}

/// A key pair just generated.
struct NewKey {
    jwk: PublicJwk,
    private_pem: zeroize::Zeroizing<String>,
}

/// A new RSA key pair (CPU-bound: run it off the async workers).
fn generate() -> anyhow::Result<NewKey> {
    use rsa::{pkcs8::EncodePrivateKey, traits::PublicKeyParts};
    let private = rsa::PrivateKey::new(&mut getrandom::SysRng, KEY_BITS)?;
    let n = URL_SAFE_NO_PAD.encode(private.n_bytes());
    let e = URL_SAFE_NO_PAD.encode(private.e_bytes());
    let private_pem = private.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)?;
    Ok(NewKey {
        jwk: PublicJwk {
            kty: "RSA".into(),
            kid: thumbprint(&n, &e),
            n,
            e,
            alg: "RS256".into(),
            use_: "sig".into(),
        },
        private_pem,
    })
}

/// The RFC 7638 thumbprint of an RSA public key: base64url SHA-256 of its canonical JWK.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// A key that stopped signing, and until when it stays published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Superseded {
    pub kid: String,
    pub published_until: OffsetDateTime,
}

/// What a rotation did.
#[derive(Clone, Debug)]
pub struct Rotation {
    /// The key that signs from now on.
    pub kid: String,
    /// The key that signed until now (none for the first key).
    pub previous: Option<Superseded>,
    /// Keys past their retirement, deleted.
    pub deleted: Vec<String>,
}

/// Makes a new current key (`timebridge keys rotate`): the previous one is superseded and stays
/// published until the tokens it signed have expired, so add-ons need no reinstall. A conflict
/// when another rotation made the same generation meanwhile.
pub async fn rotate(db: &Db, secret_key: &Keyring) -> Result<Rotation, ApiError> {
    let generation = next_generation(newest(db).await?.as_ref());
    match make(db, secret_key, generation).await? {
        Some((_, rotation)) => Ok(rotation),
        None => Err(ApiError::Conflict(
            "another rotation made a new signing key meanwhile; run it again for one more".into(),
        )),
    }
}

/// Makes a key of `generation` in one transaction: the new key, the previous current key
/// superseded, keys past their retirement deleted. `None` when another instance made that
/// generation first.
pub(super) async fn make(
    db: &Db,
    secret_key: &Keyring,
    generation: i64,
) -> Result<Option<(entity::Model, Rotation)>, ApiError> {
    let new = tokio::task::spawn_blocking(generate)
        .await
        .map_err(|e| anyhow::anyhow!("key generation stopped: {e}"))??;
    let now = time::now();
    let published_until =
        now + ::time::Duration::seconds(TOKEN_LIFETIME_SECS + PUBLISHED_MARGIN_SECS);
    let row = entity::ActiveModel {
        id: Set(Uuid::now_v7()),
        kid: Set(new.jwk.kid.clone()),
        generation: Set(generation),
        public_jwk: Set(serde_json::to_string(&new.jwk).map_err(anyhow::Error::from)?),
        private_key: Set(secret_key.seal(PURPOSE, new.private_pem.as_bytes())),
        created_at: Set(now),
        superseded_at: Set(None),
        retired_at: Set(None),
    };
    let _turn = db.write_turn().await;
    let txn = db
        .conn()
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    let key = match row.insert(&txn).await {
        Ok(key) => key,
        Err(e) if constraints::violated(&e, &GENERATION_KEY) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let previous = SigningKey::find()
        .filter(Column::SupersededAt.is_null())
        .filter(Column::Id.ne(key.id))
        .order_by_desc(Column::Generation)
        .one(&txn)
        .await?;
    SigningKey::update_many()
        .col_expr(Column::SupersededAt, Expr::val(Some(now)))
        .col_expr(Column::RetiredAt, Expr::val(Some(published_until)))
        .filter(Column::SupersededAt.is_null())
        .filter(Column::Id.ne(key.id))
        .exec(&txn)
        .await?;
    let retired = SigningKey::find()
        .filter(Column::RetiredAt.lte(now))
        .all(&txn)
        .await?;
    SigningKey::delete_many()
        .filter(Column::RetiredAt.lte(now))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    MADE.fetch_add(1, Ordering::AcqRel);
    tracing::info!(kid = %key.kid, generation, "made a new add-on signing key");
    let rotation = Rotation {
        kid: key.kid.clone(),
        previous: previous.map(|p| Superseded {
            kid: p.kid,
            published_until,
        }),
        deleted: retired.into_iter().map(|k| k.kid).collect(),
    };
    Ok(Some((key, rotation)))
}

/// Whether a key is still published at `now`.
pub(super) fn published(key: &entity::Model, now: OffsetDateTime) -> bool {
    key.retired_at.is_none_or(|retired| retired > now)
}

/// The public half of a key.
pub(super) fn public_jwk(key: &entity::Model) -> Result<PublicJwk, anyhow::Error> {
    serde_json::from_str(&key.public_jwk)
        .map_err(|e| anyhow::anyhow!("the public key {} is not a JWK: {e}", key.kid))
}

/// Every stored key, the newest first.
pub(super) async fn all(db: &Db) -> Result<Vec<entity::Model>, DbErr> {
    SigningKey::find()
        .order_by_desc(Column::Generation)
        .all(db.conn())
        .await
}

/// The key named `kid`, if stored.
pub(super) async fn by_kid(db: &Db, kid: &str) -> Result<Option<entity::Model>, DbErr> {
    SigningKey::find()
        .filter(Column::Kid.eq(kid))
        .one(db.conn())
        .await
}

/// A key as `timebridge keys list` shows it: never its private half.
#[derive(Clone, Debug)]
pub struct KeySummary {
    pub kid: String,
    pub generation: i64,
    pub created_at: OffsetDateTime,
    pub superseded_at: Option<OffsetDateTime>,
    pub retired_at: Option<OffsetDateTime>,
}

/// Every stored key, the newest first.
pub async fn list(db: &Db) -> Result<Vec<KeySummary>, DbErr> {
    Ok(all(db)
        .await?
        .into_iter()
        .map(|k| KeySummary {
            kid: k.kid,
            generation: k.generation,
            created_at: k.created_at,
            superseded_at: k.superseded_at,
            retired_at: k.retired_at,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};

    use super::*;
    use crate::addons::signing::{AddonClaims, claims};

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 7638, section 3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn a_generated_key_signs_what_its_public_jwk_verifies() {
        let new = generate().expect("a key");
        assert!(new.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(new.jwk.kid, thumbprint(&new.jwk.n, &new.jwk.e));
        let keys = Keyring::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let row = entity::Model {
            id: Uuid::now_v7(),
            kid: new.jwk.kid.clone(),
            generation: 1,
            public_jwk: serde_json::to_string(&new.jwk).unwrap(),
            private_key: keys.seal(PURPOSE, new.private_pem.as_bytes()),
            created_at: time::now(),
            superseded_at: None,
            retired_at: None,
        };
        assert_eq!(public_jwk(&row).unwrap(), new.jwk);
        let signing = decode_private(&keys, &row).expect("the sealed key opens");
        let c = claims(
            "https://tb.example.com",
            "acme",
            Uuid::now_v7(),
            Uuid::now_v7(),
            b"",
        );
        let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &c, &signing).unwrap();
        let verifying = DecodingKey::from_rsa_components(&new.jwk.n, &new.jwk.e).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["acme"]);
        let decoded = jsonwebtoken::decode::<AddonClaims>(&token, &verifying, &validation);
        assert_eq!(decoded.expect("verifies").claims, c);
    }

    #[tokio::test]
    async fn the_generation_key_is_in_the_migrated_schema() {
        let absent = constraints::absent_from_schema(&[], &[GENERATION_KEY]).await;
        assert!(absent.is_empty(), "{absent:?}");
    }
}
