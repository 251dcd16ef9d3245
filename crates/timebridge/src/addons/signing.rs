//! Signing Timebridge's calls to add-ons, and publishing the keys that verify them.
//!
//! Every call to an add-on carries an RS256 JWT ([`AddonClaims`]) that names the installation,
//! the workspace and the SHA-256 of the exact body sent, and expires after five minutes. The
//! add-on verifies it with the public keys published at `/.well-known/jwks.json`, found by the
//! token's `kid`.
//!
//! The keys ([`keys`]) live in `addon_signing_keys`: the public half as a JWK, the private half
//! as PKCS#8 PEM sealed with the server's keys (registered, so `timebridge secrets rotate`
//! re-seals it). The first [`sign`] on a fresh database makes the first key; `timebridge keys
//! rotate` ([`rotate`]) makes the next one, and the previous key stays published for the
//! lifetime of the tokens it signed plus a minute, so rotation needs no reinstall. A key past its
//! retirement is left out of the JWKS at once and deleted by the next rotation.

pub mod keys;

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use ::time::OffsetDateTime;
use axum::{
    Json,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub use keys::{KeySummary, Rotation, Superseded, list, rotate};

use crate::{
    app::{AppState, Capabilities},
    platform::{error::ApiError, sealed::SealedColumn},
};

/// The purpose the private keys are sealed under.
pub const PURPOSE: &str = "addon_signing_key.private_key";

/// The sealed column, for `timebridge secrets rotate`.
pub const SEALED: &[SealedColumn] = &[SealedColumn::new(
    "addon_signing_keys",
    "private_key",
    PURPOSE,
)];

/// How long a signed token is valid.
pub const TOKEN_LIFETIME_SECS: i64 = 300;
/// Clock skew [`verify`] forgives on `exp` and `iat`.
const VERIFY_LEEWAY_SECS: u64 = 30;
/// How long this process signs with the key it read before reading the current one again. A key
/// another instance superseded is used here at most this long, so its last tokens have expired
/// (with the leeway) before it leaves the JWKS: 20 + 300 + 30 ≤ 360 s.
const CURRENT_KEY_RECHECK: Duration = Duration::from_secs(20);

/// Registers the sealed private keys.
pub fn register(c: &mut Capabilities) {
    c.sealed(SEALED);
}

/// What a token Timebridge sends an add-on asserts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddonClaims {
    /// This instance ([`issuer`]).
    pub iss: String,
    /// The add-on's key.
    pub aud: String,
    /// The installation the call is for.
    pub sub: String,
    pub workspace_id: Uuid,
    pub iat: i64,
    pub exp: i64,
    /// Unique per token (UUID v7), for add-ons that refuse replays.
    pub jti: String,
    /// Lowercase hex SHA-256 of the exact body sent ([`body_sha256`]).
    pub body_sha256: String,
}

/// Lowercase hex SHA-256 of `body`: what the `body_sha256` claim of the call sending it holds.
pub fn body_sha256(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The claims of a call sending `body` to an installation, valid from now for
/// [`TOKEN_LIFETIME_SECS`].
pub fn claims(
    issuer: &str,
    addon_key: &str,
    installation_id: Uuid,
    workspace_id: Uuid,
    body: &[u8],
) -> AddonClaims {
    let iat = OffsetDateTime::now_utc().unix_timestamp();
    AddonClaims {
        iss: issuer.to_owned(),
        aud: addon_key.to_owned(),
        sub: installation_id.to_string(),
        workspace_id,
        iat,
        exp: iat + TOKEN_LIFETIME_SECS,
        jti: Uuid::now_v7().to_string(),
        body_sha256: body_sha256(body),
    }
}

/// This instance as the issuer of its tokens: `TIMEBRIDGE_PUBLIC_URL` (else
/// `OAUTH_REDIRECT_URI_BASE`), without a trailing slash.
pub fn issuer(app: &AppState) -> String {
    app.config.public_url.clone()
}

/// A public key as published (RFC 7517).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublicJwk {
    #[schema(example = "RSA")]
    pub kty: String,
    /// The modulus, base64url.
    #[schema(example = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aP")]
    pub n: String,
    /// The public exponent, base64url.
    #[schema(example = "AQAB")]
    pub e: String,
    /// The `kid` of the tokens this key signs (its RFC 7638 thumbprint).
    #[schema(example = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")]
    pub kid: String,
    #[schema(example = "RS256")]
    pub alg: String,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    pub use_: String,
}

/// The published keys: the current one and superseded ones whose tokens may still be valid.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct JwkSet {
    pub keys: Vec<PublicJwk>,
}

/// The current signing key, decoded, as this process last read it.
#[derive(Default)]
pub struct SigningKeys {
    current: Mutex<Option<Arc<CurrentKey>>>,
    /// One re-read (or first key) at a time in this process.
    refresh: tokio::sync::Mutex<()>,
}

struct CurrentKey {
    kid: String,
    key: EncodingKey,
    read_at: Instant,
    /// [`keys::made_here`] when it was read.
    made_here: u64,
}

impl SigningKeys {
    /// The current key, unless it is time to read it again.
    fn fresh(&self) -> Option<Arc<CurrentKey>> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .filter(|k| {
                k.read_at.elapsed() < CURRENT_KEY_RECHECK && k.made_here == keys::made_here()
            })
            .cloned()
    }

    /// The key decoded for `kid`, if it is the one held.
    fn decoded(&self, kid: &str) -> Option<EncodingKey> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .filter(|k| k.kid == kid)
            .map(|k| k.key.clone())
    }

    fn hold(&self, key: Arc<CurrentKey>) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(key);
    }
}

/// Signs `claims` with the current key (RS256, `kid` in the header); on a fresh database, makes
/// the first key.
pub async fn sign(app: &AppState, claims: &AddonClaims) -> Result<String, ApiError> {
    let key = current_key(app).await?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.key)
        .map_err(|e| anyhow::anyhow!("cannot sign an add-on token: {e}").into())
}

async fn current_key(app: &AppState) -> Result<Arc<CurrentKey>, ApiError> {
    let cache = &app.addon_keys;
    if let Some(key) = cache.fresh() {
        return Ok(key);
    }
    let _refresh = cache.refresh.lock().await;
    if let Some(key) = cache.fresh() {
        return Ok(key);
    }
    let made_here = keys::made_here();
    let row = match keys::newest(&app.db).await? {
        Some(row) if row.superseded_at.is_none() => row,
        newest => first_key(app, keys::next_generation(newest.as_ref())).await?,
    };
    let key = match cache.decoded(&row.kid) {
        Some(key) => key,
        None => keys::decode_private(&app.secret_key, &row)?,
    };
    let key = Arc::new(CurrentKey {
        kid: row.kid,
        key,
        read_at: Instant::now(),
        made_here,
    });
    cache.hold(key.clone());
    Ok(key)
}

/// Makes the first key (of `generation`), or reads the one another instance made meanwhile.
async fn first_key(app: &AppState, generation: i64) -> Result<keys::entity::Model, ApiError> {
    if let Some((made, _)) = keys::make(&app.db, &app.secret_key, generation).await? {
        return Ok(made);
    }
    keys::newest(&app.db)
        .await?
        .filter(|k| k.superseded_at.is_none())
        .ok_or_else(|| {
            anyhow::anyhow!("another instance made a signing key, but none is current").into()
        })
}

/// Every key not yet retired, the current one first. Empty until the first call is signed.
pub async fn jwks(app: &AppState) -> Result<JwkSet, ApiError> {
    let now = OffsetDateTime::now_utc();
    let published = keys::all(&app.db)
        .await?
        .iter()
        .filter(|k| keys::published(k, now))
        .map(keys::public_jwk)
        .collect::<Result<_, _>>()?;
    Ok(JwkSet { keys: published })
}

/// The claims of a token this instance signed for `audience`, checked against a published key
/// (by its `kid`), this instance as issuer, the audience, and its expiry (30 s of leeway).
pub async fn verify(app: &AppState, token: &str, audience: &str) -> Result<AddonClaims, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
    if header.alg != Algorithm::RS256 {
        return Err(format!(
            "the token is signed with {:?}, not RS256",
            header.alg
        ));
    }
    let kid = header.kid.ok_or("the token names no key (kid)")?;
    let row = keys::by_kid(&app.db, &kid)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot read the add-on signing keys");
            "the signing keys cannot be read now".to_owned()
        })?
        .filter(|k| keys::published(k, OffsetDateTime::now_utc()))
        .ok_or_else(|| format!("no published key has the kid {kid}"))?;
    let jwk = keys::public_jwk(&row).map_err(|e| e.to_string())?;
    let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = VERIFY_LEEWAY_SECS;
    validation.set_issuer(&[issuer(app)]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<AddonClaims>(token, &key, &validation)
        .map_err(|e| format!("invalid token: {e}"))?
        .claims;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    if claims.iat > now + VERIFY_LEEWAY_SECS as i64 {
        return Err("the token is issued in the future".into());
    }
    Ok(claims)
}

/// `/.well-known/jwks.json`: unguarded, for add-ons.
pub fn well_known() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_jwks))
}

/// The public keys add-ons verify Timebridge's calls with (a JSON Web Key Set): the key that
/// signs now and superseded keys whose tokens may still be valid. A token whose `kid` is not
/// in a cached copy means the set changed: fetch it again.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "system",
    responses((
        status = 200, body = JwkSet,
        headers(("Cache-Control" = String, description = "`public, max-age=300`"))
    ))
)]
async fn get_jwks(State(app): State<AppState>) -> Result<Response, ApiError> {
    let set = jwks(&app).await?;
    Ok(([(header::CACHE_CONTROL, "public, max-age=300")], Json(set)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_hash_is_lowercase_hex_sha256_of_the_exact_bytes() {
        assert_eq!(
            body_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            body_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(body_sha256(b"{\"a\":1}"), body_sha256(b"{\"a\": 1}"));
    }

    #[test]
    fn claims_are_valid_from_now_for_five_minutes_with_a_fresh_jti() {
        let (installation, workspace) = (Uuid::now_v7(), Uuid::now_v7());
        let before = OffsetDateTime::now_utc().unix_timestamp();
        let c = claims(
            "https://tb.example.com",
            "acme",
            installation,
            workspace,
            b"{}",
        );
        let after = OffsetDateTime::now_utc().unix_timestamp();
        assert!((before..=after).contains(&c.iat), "{c:?}");
        assert_eq!(c.exp - c.iat, 300);
        assert_eq!(
            (c.iss.as_str(), c.aud.as_str()),
            ("https://tb.example.com", "acme")
        );
        assert_eq!(c.sub, installation.to_string());
        assert_eq!(c.workspace_id, workspace);
        assert_eq!(c.body_sha256, body_sha256(b"{}"));
        let jti: Uuid = c.jti.parse().expect("a UUID");
        assert_eq!(jti.get_version_num(), 7);
        let again = claims(
            "https://tb.example.com",
            "acme",
            installation,
            workspace,
            b"{}",
        );
        assert_ne!(again.jti, c.jti);
    }
}
