//! Signing calls to add-ons: a token signed by the server verifies with the key published at
//! `/.well-known/jwks.json` (as an add-on verifies it), carries the hash of the body it came
//! with, and keeps verifying across a key rotation until it expires.

use std::process::{Command, Output, Stdio};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::Value;
use sha2::{Digest, Sha256};
use timebridge::addons::signing::{self, AddonClaims, keys::entity};
use uuid::Uuid;

use crate::{both, support::*};

const ISSUER: &str = "https://timebridge.example.com";
const ADDON: &str = "com.example.invoicer";
const BODY: &[u8] = br#"{"event":"TIME_ENTRY_CREATED","id":"0193a0c2"}"#;

/// A server of its own (the signing keys are the instance's, not a workspace's).
async fn server(backend: Backend) -> TestApp {
    TestApp::private(
        backend,
        &[("TIMEBRIDGE_PUBLIC_URL", "https://timebridge.example.com/")],
    )
    .await
}

/// Signs a call sending `body` to a new installation.
async fn signed(app: &TestApp, body: &[u8]) -> (AddonClaims, String) {
    let issuer = signing::issuer(&app.state);
    let claims = signing::claims(&issuer, ADDON, Uuid::now_v7(), Uuid::now_v7(), body);
    let token = signing::sign(&app.state, &claims).await.expect("signed");
    (claims, token)
}

/// The published key set, checking how it is served.
async fn published(app: &TestApp) -> Vec<Value> {
    let response = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let body: Value = response.json().await.unwrap();
    body["keys"].as_array().expect("a key set").clone()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .unwrap()
        .kid
        .expect("a kid")
}

/// What an add-on does: finds the token's key in the published set by its kid and verifies the
/// signature, the issuer, its own key as the audience and the expiry.
fn verify_as_addon(keys: &[Value], token: &str) -> Result<AddonClaims, String> {
    let kid = kid_of(token);
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or(format!("no key {kid}"))?;
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[ADDON]);
    jsonwebtoken::decode::<AddonClaims>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

fn hex_sha256(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn kids(keys: &[Value]) -> Vec<String> {
    keys.iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs `timebridge <args>` on the server's database.
fn timebridge(url: &str, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_timebridge"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("TIMEBRIDGE_SECRET_KEY", TEST_KEY)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

both! {
    async fn a_signed_call_verifies_with_the_published_key_and_names_its_body(backend) {
        let app = server(backend).await;
        assert!(published(&app).await.is_empty(), "no key before the first call is signed");
        assert_eq!(signing::issuer(&app.state), ISSUER);

        let (claims, token) = signed(&app, BODY).await;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!((header.alg, header.typ.as_deref()), (Algorithm::RS256, Some("JWT")));
        let keys = published(&app).await;
        assert_eq!(keys.len(), 1, "{keys:?}");
        let jwk = &keys[0];
        for (field, value) in [("kty", "RSA"), ("alg", "RS256"), ("use", "sig"), ("e", "AQAB")] {
            assert_eq!(jwk[field], value, "{jwk}");
        }
        assert_eq!(jwk["kid"], kid_of(&token).as_str());

        let verified = verify_as_addon(&keys, &token).expect("the add-on verifies the token");
        assert_eq!(verified, claims);
        assert_eq!(verified.iss, ISSUER);
        assert_eq!(verified.aud, ADDON);
        assert_eq!(verified.sub, claims.sub);
        assert_eq!(verified.workspace_id, claims.workspace_id);
        assert_eq!(verified.exp - verified.iat, 300);
        assert!(verified.jti.parse::<Uuid>().is_ok(), "{}", verified.jti);
        assert_eq!(verified.body_sha256, hex_sha256(BODY), "the hash of the exact bytes sent");

        // A body altered on the way no longer matches the hash its token signed.
        let altered = br#"{"event":"TIME_ENTRY_CREATED","id":"0193a0c3"}"#;
        assert_ne!(hex_sha256(altered), verified.body_sha256);

        // The server's own check: its key, its issuer, the audience named, the signature.
        assert_eq!(signing::verify(&app.state, &token, ADDON).await, Ok(claims.clone()));
        assert!(signing::verify(&app.state, &token, "com.example.other").await.is_err());
        let (payload_end, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{payload_end}.{}", "A".repeat(342));
        assert!(signing::verify(&app.state, &forged, ADDON).await.is_err());
        assert!(verify_as_addon(&keys, &forged).is_err());

        // Another call: the same key, a fresh jti.
        let (second, again) = signed(&app, b"").await;
        assert_eq!(kid_of(&again), kid_of(&token));
        assert_ne!(second.jti, claims.jti);

        // The private key is stored sealed, never as PEM.
        let stored = entity::Entity::find().all(app.db.conn()).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert!(!stored[0].private_key.contains("PRIVATE KEY"), "sealed");
        assert!(stored[0].private_key.starts_with("tb1:"), "sealed with the server's key");
    }

    async fn a_rotated_key_stays_published_until_its_tokens_expire(backend) {
        let app = server(backend).await;
        let (before_claims, before) = signed(&app, BODY).await;
        let old_kid = kid_of(&before);

        let rotation = signing::rotate(&app.db, &app.state.secret_key).await.expect("rotated");
        assert_ne!(rotation.kid, old_kid);
        let previous = rotation.previous.clone().expect("the first key is superseded");
        assert_eq!(previous.kid, old_kid);
        let in_six_minutes = time::OffsetDateTime::now_utc() + time::Duration::seconds(360);
        let off = (previous.published_until - in_six_minutes).abs();
        assert!(off < time::Duration::seconds(5), "{previous:?}");

        let (after_claims, after) = signed(&app, BODY).await;
        assert_eq!(kid_of(&after), rotation.kid, "new tokens carry the new key's kid");
        let keys = published(&app).await;
        assert_eq!(kids(&keys), vec![rotation.kid.clone(), old_kid.clone()], "current first");
        assert_eq!(verify_as_addon(&keys, &before), Ok(before_claims.clone()), "no reinstall");
        assert_eq!(verify_as_addon(&keys, &after), Ok(after_claims.clone()));
        assert_eq!(signing::verify(&app.state, &before, ADDON).await, Ok(before_claims));

        // Past its retirement, the old key is no longer published and its tokens are refused.
        let a_second_ago = timebridge::platform::time::now() - time::Duration::seconds(1);
        entity::Entity::update_many()
            .col_expr(entity::Column::RetiredAt, Expr::val(Some(a_second_ago)))
            .filter(entity::Column::Kid.eq(old_kid.as_str()))
            .exec(app.db.conn())
            .await
            .unwrap();
        let keys = published(&app).await;
        assert_eq!(kids(&keys), vec![rotation.kid.clone()]);
        assert!(verify_as_addon(&keys, &before).is_err());
        assert!(signing::verify(&app.state, &before, ADDON).await.is_err());
        assert_eq!(signing::verify(&app.state, &after, ADDON).await, Ok(after_claims));

        // The next rotation deletes it.
        let next = signing::rotate(&app.db, &app.state.secret_key).await.expect("rotated");
        assert_eq!(next.deleted, vec![old_kid]);
        let listed = signing::list(&app.db).await.unwrap();
        let listed: Vec<&str> = listed.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(listed, vec![next.kid.as_str(), rotation.kid.as_str()]);
        assert_eq!(kids(&published(&app).await), vec![next.kid, rotation.kid]);
    }

    async fn instances_signing_first_at_once_make_one_key(backend) {
        let (url, _dir) = private_database(backend).await;
        let a = TestApp::on_database(&url, &[]).await;
        let b = TestApp::on_database(&url, &[]).await;
        let (mut signers, mut kids_seen) = (Vec::new(), Vec::new());
        for app in [&a, &b, &a, &b] {
            signers.push(signed(app, BODY));
        }
        for (_, token) in futures_util::future::join_all(signers).await {
            kids_seen.push(kid_of(&token));
        }
        kids_seen.dedup();
        assert_eq!(kids_seen.len(), 1, "{kids_seen:?}");
        let stored = signing::list(&a.db).await.unwrap();
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert_eq!((stored[0].generation, stored[0].superseded_at), (1, None));
    }

    async fn the_operator_rotates_and_lists_keys_and_secrets_status_counts_them(backend) {
        let (url, _dir) = private_database(backend).await;
        let app = TestApp::on_database(&url, &[]).await;
        let (_, token) = signed(&app, BODY).await;
        let first = kid_of(&token);

        let status = json_lines(&timebridge(&url, &["secrets", "status"]));
        let row = status.iter().find(|r| r["column"] == "addon_signing_keys.private_key")
            .unwrap_or_else(|| panic!("the column is counted: {status:?}"));
        assert_eq!((row["key"].as_str(), row["values"].as_u64()), (Some("current"), Some(1)));

        let rotated = timebridge(&url, &["keys", "rotate"]);
        let kid = String::from_utf8_lossy(&rotated.stdout).trim().to_owned();
        let told = String::from_utf8_lossy(&rotated.stderr);
        assert!(told.contains(&first) && told.contains("published until"), "{told}");

        let listed = timebridge(&url, &["keys", "list"]);
        let text = String::from_utf8_lossy(&listed.stdout);
        assert!(!text.contains("PRIVATE") && !text.contains("tb1:"), "no private material: {text}");
        let rows = json_lines(&listed);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0]["kid"], kid.as_str());
        assert!(rows[0]["superseded_at"].is_null(), "{rows:?}");
        assert_eq!(rows[1]["kid"], first.as_str());
        assert!(rows[1]["superseded_at"].is_string(), "{rows:?}");
        assert!(rows[1]["retired_at"].is_string(), "{rows:?}");
    }
}
