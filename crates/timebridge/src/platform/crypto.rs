//! The server's secret keys: where they come from, how they are checked, and the sealing of
//! stored secrets with them.
//!
//! `TIMEBRIDGE_SECRET_KEY` holds the current key followed by previous ones, comma-separated,
//! each 32 random bytes in base64 (`NEW,OLD`). Values are sealed under the current key and
//! open under whichever listed key sealed them, so a key is rotated without downtime: add the
//! new key first, re-seal what the old one sealed (`timebridge secrets rotate`), drop the old
//! key. With SQLite and no key configured, a key file is generated beside the database on
//! first start (mode 0600) and reused after; PostgreSQL deployments run several instances,
//! which must share the keys, so they must set them.

use std::path::{Path, PathBuf};

use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;

use crate::config::Config;

/// Length of a secret key in bytes.
pub const KEY_LEN: usize = 32;

/// The server's keys: the current one, which seals, then the previous ones, which only open.
/// Key bytes never appear in `Debug` output or logs; only their public key ids do.
#[derive(Clone)]
pub struct Keyring {
    /// Never empty; the first is the current key.
    keys: Vec<Key>,
}

/// The name callers used before the keyring held several keys (the same type).
pub type SecretKey = Keyring;

#[derive(Clone)]
struct Key {
    id: String,
    bytes: [u8; KEY_LEN],
}

impl Key {
    fn new(bytes: [u8; KEY_LEN]) -> Self {
        Self {
            id: key_id(&bytes),
            bytes,
        }
    }

    fn cipher(&self) -> chacha20poly1305::XChaCha20Poly1305 {
        use chacha20poly1305::KeyInit;
        chacha20poly1305::XChaCha20Poly1305::new((&self.bytes).into())
    }
}

/// A short, public fingerprint of a key, stored with each sealed value so that the key that
/// opens it is found, and a value sealed under a key no longer configured is reported as such
/// rather than as corrupt.
fn key_id(bytes: &[u8; KEY_LEN]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.ids().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// Parses `TIMEBRIDGE_SECRET_KEY`: base64 keys, current first, comma-separated.
    pub fn parse(text: &str) -> Result<Self, KeyringError> {
        let mut keys: Vec<Key> = Vec::new();
        for (index, entry) in text.split(',').enumerate() {
            let position = index + 1;
            let entry = entry.trim();
            if entry.is_empty() {
                return Err(KeyringError::EmptyEntry { position });
            }
            let bytes = STANDARD
                .decode(entry)
                .map_err(|_| KeyringError::NotBase64 { position })?;
            let bytes: [u8; KEY_LEN] = bytes
                .try_into()
                .map_err(|_| KeyringError::WrongLength { position })?;
            let key = Key::new(bytes);
            if let Some(first) = keys.iter().position(|k| k.id == key.id) {
                // The same key twice, or (one chance in four billion) two keys with one id,
                // which could not tell their values apart.
                return Err(KeyringError::Duplicate {
                    position,
                    first: first + 1,
                });
            }
            keys.push(key);
        }
        Ok(Self { keys })
    }

    fn current(&self) -> &Key {
        // `parse` and `random` never build an empty keyring.
        &self.keys[0]
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current().id
    }

    /// Every configured key id, the current one first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    /// Encrypts a secret for storage under the current key: XChaCha20-Poly1305 with a random
    /// nonce, authenticated together with `purpose` (e.g. `webhook_endpoint.secret`), so a
    /// sealed value copied into another column does not open. Text form:
    /// `tb1:<key id>:<base64 nonce ‖ ciphertext>`.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> String {
        use chacha20poly1305::{
            XNonce,
            aead::{Aead, Payload},
        };
        let key = self.current();
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: purpose.as_bytes(),
        };
        // Encryption into a Vec only fails on inputs over 256 GiB.
        let sealed = key
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 encrypts any realistic input");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("tb1:{}:{}", key.id, STANDARD.encode(bytes))
    }

    /// Decrypts a value made by [`seal`](Self::seal) for the same `purpose`, under whichever
    /// configured key sealed it.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>, OpenError> {
        use chacha20poly1305::{
            XNonce,
            aead::{Aead, Payload},
        };
        let (key_id, body) = split_sealed(sealed).ok_or(OpenError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or(OpenError::OtherKey)?;
        let bytes = STANDARD.decode(body).map_err(|_| OpenError::Malformed)?;
        if bytes.len() < 24 {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let payload = Payload {
            msg: ciphertext,
            aad: purpose.as_bytes(),
        };
        key.cipher()
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| OpenError::Tampered)
    }

    /// Whether a sealed value should be sealed again: it was not sealed under the current key
    /// (or cannot be read at all).
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        sealed_key_id(sealed) != Some(self.current_id())
    }

    /// The value sealed again under the current key, or `None` when it already is.
    pub fn reseal(&self, purpose: &str, sealed: &str) -> Result<Option<String>, OpenError> {
        if !self.needs_reseal(sealed) {
            return Ok(None);
        }
        let plaintext = self.open(purpose, sealed)?;
        Ok(Some(self.seal(purpose, &plaintext)))
    }

    /// A keyring of one new random key.
    fn random() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Self {
            keys: vec![Key::new(bytes)],
        }
    }
}

/// The key id and the body of a sealed value, if it has the sealed form.
fn split_sealed(sealed: &str) -> Option<(&str, &str)> {
    let mut parts = sealed.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("tb1"), Some(key_id), Some(body)) => Some((key_id, body)),
        _ => None,
    }
}

/// The id of the key a value was sealed under (public), if it has the sealed form.
pub fn sealed_key_id(sealed: &str) -> Option<&str> {
    split_sealed(sealed).map(|(key_id, _)| key_id)
}

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the value was sealed under a key that is not in TIMEBRIDGE_SECRET_KEY")]
    OtherKey,
    #[error("the sealed value was altered or belongs to another field")]
    Tampered,
}

/// What is wrong with a configured key list; entries are named by position (1 = the current
/// key), never by their text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyringError {
    #[error("entry {position} is empty (keys are comma-separated, the current one first)")]
    EmptyEntry { position: usize },
    #[error("entry {position} must be base64 (generate one with `openssl rand -base64 32`)")]
    NotBase64 { position: usize },
    #[error(
        "entry {position} must decode to exactly 32 bytes (generate one with `openssl rand -base64 32`)"
    )]
    WrongLength { position: usize },
    #[error("entry {position} is the same key as entry {first}")]
    Duplicate { position: usize, first: usize },
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

/// The configured keys, or with SQLite the key file beside the database (read, or created
/// with one new key).
pub fn load_secret_key(config: &Config) -> anyhow::Result<Keyring> {
    if let Some(keys) = &config.secret_key {
        return Ok(keys.clone());
    }
    if !config.is_sqlite() {
        anyhow::bail!(
            "TIMEBRIDGE_SECRET_KEY must be set when DATABASE_URL is PostgreSQL \
             (every instance needs the same key; generate one with `openssl rand -base64 32`)"
        );
    }
    let Some(path) = key_file_for(&config.database_url) else {
        tracing::warn!("in-memory database: using a throw-away secret key");
        return Ok(Keyring::random());
    };
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        return Keyring::parse(text.trim())
            .map_err(|e| anyhow::anyhow!("key file {}: {e}", path.display()));
    }
    let keys = Keyring::random();
    write_private(&path, &STANDARD.encode(keys.current().bytes))?;
    tracing::info!(path = %path.display(), key_id = keys.current_id(), "generated a new secret key file");
    Ok(keys)
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

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; KEY_LEN])
    }

    fn keyring(bytes: &[u8]) -> Keyring {
        let text: Vec<String> = bytes.iter().map(|b| key(*b)).collect();
        Keyring::parse(&text.join(",")).expect("valid keys")
    }

    #[test]
    fn each_key_must_be_32_bytes_of_base64_and_errors_name_its_position() {
        assert_eq!(
            Keyring::parse("not base64!").unwrap_err(),
            KeyringError::NotBase64 { position: 1 }
        );
        let short = STANDARD.encode([1u8; 16]);
        assert_eq!(
            Keyring::parse(&format!("{},{short}", key(7))).unwrap_err(),
            KeyringError::WrongLength { position: 2 }
        );
        assert_eq!(
            Keyring::parse(&format!("{},,{}", key(7), key(8))).unwrap_err(),
            KeyringError::EmptyEntry { position: 2 }
        );
        assert_eq!(
            Keyring::parse(&format!("{}, {}, {}", key(7), key(8), key(7))).unwrap_err(),
            KeyringError::Duplicate {
                position: 3,
                first: 1
            }
        );
        let text = KeyringError::WrongLength { position: 2 }.to_string();
        assert!(text.contains("entry 2"), "{text}");
    }

    #[test]
    fn entries_are_trimmed_and_the_first_is_current() {
        let keys = Keyring::parse(&format!(" {} ,\n{} ", key(7), key(8))).expect("valid keys");
        let ids: Vec<&str> = keys.ids().collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(keys.current_id(), ids[0]);
        assert_eq!(keyring(&[7]).current_id(), ids[0]);
        assert_eq!(keyring(&[8]).current_id(), ids[1]);
    }

    #[test]
    fn key_bytes_never_show_in_debug_output() {
        let keys = keyring(&[7, 8]);
        let shown = format!("{keys:?}");
        assert!(
            !shown.contains(&key(7)) && !shown.contains(&key(8)),
            "{shown}"
        );
        assert!(!shown.contains("7, 7"), "{shown}");
        assert!(shown.contains(keys.current_id()), "{shown}");
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_purpose() {
        let key = keyring(&[7]);
        let other = keyring(&[8]);
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
    fn a_new_key_seals_and_every_listed_key_opens() {
        let old = keyring(&[7]);
        let older = keyring(&[9]);
        let rotated = keyring(&[8, 7, 9]);
        let under_old = old.seal("p", b"old secret");
        let under_older = older.seal("p", b"older secret");
        let under_new = rotated.seal("p", b"new secret");
        assert_eq!(sealed_key_id(&under_new), Some(rotated.current_id()));
        assert_eq!(
            rotated.open("p", &under_old).as_deref(),
            Ok(&b"old secret"[..])
        );
        assert_eq!(
            rotated.open("p", &under_older).as_deref(),
            Ok(&b"older secret"[..])
        );
        assert_eq!(
            rotated.open("p", &under_new).as_deref(),
            Ok(&b"new secret"[..])
        );
        assert_eq!(old.open("p", &under_new), Err(OpenError::OtherKey));
        assert_eq!(
            keyring(&[8]).open("p", &under_old),
            Err(OpenError::OtherKey)
        );
    }

    #[test]
    fn resealing_moves_a_value_to_the_current_key_and_leaves_current_ones_alone() {
        let old = keyring(&[7]);
        let rotated = keyring(&[8, 7]);
        let under_old = old.seal("p", b"secret");
        assert!(rotated.needs_reseal(&under_old));
        assert!(rotated.needs_reseal("garbage"));
        let resealed = rotated
            .reseal("p", &under_old)
            .expect("opens")
            .expect("moved");
        assert!(!rotated.needs_reseal(&resealed));
        assert_eq!(
            keyring(&[8]).open("p", &resealed).as_deref(),
            Ok(&b"secret"[..])
        );
        assert_eq!(rotated.reseal("p", &resealed), Ok(None));
        assert_eq!(
            rotated.reseal("p", &keyring(&[5]).seal("p", b"x")),
            Err(OpenError::OtherKey)
        );
        assert_eq!(
            rotated.reseal("other", &under_old),
            Err(OpenError::Tampered)
        );
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
