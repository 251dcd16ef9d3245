//! The server's secret key: where it comes from and how it is checked.
//!
//! `TIMEBRIDGE_SECRET_KEY` holds 32 random bytes in base64. With SQLite and no key configured,
//! a key file is generated beside the database on first start (mode 0600) and reused after;
//! PostgreSQL deployments run several instances, which must share one key, so they must set it.

use std::path::{Path, PathBuf};

use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;

use crate::config::Config;

/// Length of the secret key in bytes.
pub const KEY_LEN: usize = 32;

/// The key that encrypts stored secrets. Its bytes never appear in `Debug` output or logs.
#[derive(Clone)]
pub struct SecretKey([u8; KEY_LEN]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// The raw key bytes, for the cipher.
    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A short, public fingerprint of the key, stored with each sealed value so that a value
    /// sealed under another key is reported as such rather than as corrupt.
    fn key_id(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.0);
        digest[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Encrypts a secret for storage: XChaCha20-Poly1305 with a random nonce, authenticated
    /// together with `purpose` (e.g. `webhook_endpoint.secret`), so a sealed value copied into
    /// another column does not open. Text form: `tb1:<key id>:<base64 nonce ‖ ciphertext>`.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> String {
        use chacha20poly1305::{
            XChaCha20Poly1305, XNonce,
            aead::{Aead, KeyInit, Payload},
        };
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: purpose.as_bytes(),
        };
        // Encryption into a Vec only fails on inputs over 256 GiB.
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 encrypts any realistic input");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("tb1:{}:{}", self.key_id(), STANDARD.encode(bytes))
    }

    /// Decrypts a value made by [`seal`](Self::seal) for the same `purpose`.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>, OpenError> {
        use chacha20poly1305::{
            XChaCha20Poly1305, XNonce,
            aead::{Aead, KeyInit, Payload},
        };
        let mut parts = sealed.splitn(3, ':');
        let (Some("tb1"), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(OpenError::Malformed);
        };
        if key_id != self.key_id() {
            return Err(OpenError::OtherKey);
        }
        let bytes = STANDARD.decode(body).map_err(|_| OpenError::Malformed)?;
        if bytes.len() < 24 {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let payload = Payload {
            msg: ciphertext,
            aad: purpose.as_bytes(),
        };
        cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| OpenError::Tampered)
    }
}

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the value was sealed under another TIMEBRIDGE_SECRET_KEY")]
    OtherKey,
    #[error("the sealed value was altered or belongs to another field")]
    Tampered,
}

/// Decodes a base64 key, insisting on exactly 32 bytes.
pub fn decode_key(text: &str) -> Result<SecretKey, String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| "must be base64 (generate one with `openssl rand -base64 32`)".to_owned())?;
    let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| {
        format!("must decode to exactly {KEY_LEN} bytes (`openssl rand -base64 32`)")
    })?;
    Ok(SecretKey(key))
}

/// Where a generated key lives for an SQLite database URL, if the database is a file.
fn key_file_for(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let path = rest.trim_start_matches("//").split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(Path::new(path).with_extension("key"))
}

/// Loads the configured key, or with SQLite reads or creates the key file beside the database.
pub fn load_secret_key(config: &Config) -> anyhow::Result<SecretKey> {
    if let Some(text) = &config.secret_key {
        return decode_key(text).map_err(|e| anyhow::anyhow!("TIMEBRIDGE_SECRET_KEY {e}"));
    }
    if !config.is_sqlite() {
        anyhow::bail!(
            "TIMEBRIDGE_SECRET_KEY must be set when DATABASE_URL is PostgreSQL \
             (every instance needs the same key; generate one with `openssl rand -base64 32`)"
        );
    }
    let Some(path) = key_file_for(&config.database_url) else {
        tracing::warn!("in-memory database: using a throw-away secret key");
        return Ok(random_key());
    };
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        return decode_key(&text).map_err(|e| anyhow::anyhow!("key file {}: {e}", path.display()));
    }
    let key = random_key();
    write_private(&path, &STANDARD.encode(key.0))?;
    tracing::info!(path = %path.display(), "generated a new secret key file");
    Ok(key)
}

fn random_key() -> SecretKey {
    let mut bytes = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut bytes);
    SecretKey(bytes)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_must_be_32_bytes_of_base64() {
        assert!(decode_key("not base64!").is_err());
        assert!(decode_key(&STANDARD.encode([1u8; 16])).is_err());
        let key = decode_key(&STANDARD.encode([7u8; 32])).expect("valid key");
        assert_eq!(key.bytes(), &[7u8; 32]);
        assert_eq!(format!("{key:?}"), "SecretKey(…)");
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_purpose() {
        let key = decode_key(&STANDARD.encode([7u8; 32])).expect("valid key");
        let other = decode_key(&STANDARD.encode([8u8; 32])).expect("valid key");
        let sealed = key.seal("webhook_endpoint.secret", b"whsec_abc");
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(sealed, key.seal("webhook_endpoint.secret", b"whsec_abc"));
        assert_eq!(
            key.open("webhook_endpoint.secret", &sealed).as_deref(),
            Ok(&b"whsec_abc"[..])
        );
        assert_eq!(
            key.open("connector.secret", &sealed),
            Err(OpenError::Tampered)
        );
        assert_eq!(
            other.open("webhook_endpoint.secret", &sealed),
            Err(OpenError::OtherKey)
        );
        assert_eq!(key.open("x", "garbage"), Err(OpenError::Malformed));
    }

    #[test]
    fn the_key_file_sits_beside_the_sqlite_database() {
        assert_eq!(
            key_file_for("sqlite://data/timebridge.db?mode=rwc"),
            Some(PathBuf::from("data/timebridge.key"))
        );
        assert_eq!(key_file_for("sqlite::memory:"), None);
        assert_eq!(key_file_for("postgres://x/y"), None);
    }
}
