//! The API token secret: `tb_pat_` + 30 random base62 characters + a 6-character base62 CRC32
//! checksum. The fixed prefix and checksum let secret scanners find leaked tokens with no false
//! positives, and let the server reject a mistyped token without a database lookup.
//! Only the SHA-256 of a secret is stored; it is shown afterwards by its first characters.

use rand::Rng;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "tb_pat_";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
/// Length of a whole secret.
pub const SECRET_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;
/// How much of a secret is kept in clear to recognise it (`tb_pat_ab12`).
const DISPLAY_LEN: usize = PREFIX.len() + 4;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A newly generated secret. Shown once, then only its hash is kept.
pub struct NewSecret {
    pub secret: String,
    pub hash: TokenHash,
    pub display_prefix: String,
}

/// SHA-256 of a secret, the lookup key of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// Lower-case hex, as stored.
    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Generates a fresh secret.
pub fn generate() -> NewSecret {
    let mut rng = rand::rng();
    let mut secret = String::with_capacity(SECRET_LEN);
    secret.push_str(PREFIX);
    for _ in 0..RANDOM_LEN {
        secret.push(BASE62[rng.random_range(0..BASE62.len())] as char);
    }
    let checksum = checksum(&secret);
    secret.push_str(&checksum);
    NewSecret {
        hash: TokenHash::of(&secret),
        display_prefix: display_prefix(&secret),
        secret,
    }
}

/// The recognisable start of a secret, for lists and logs (`tb_pat_ab12`).
pub fn display_prefix(secret: &str) -> String {
    secret.chars().take(DISPLAY_LEN).collect()
}

fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    // 62^6 > 2^32, so the whole CRC fits and `n` is now zero.
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `candidate` has the shape and checksum of a Timebridge token.
pub fn is_well_formed(candidate: &str) -> bool {
    if candidate.len() != SECRET_LEN || !candidate.starts_with(PREFIX) {
        return false;
    }
    let (body, sum) = candidate.split_at(SECRET_LEN - CHECKSUM_LEN);
    body[PREFIX.len()..]
        .bytes()
        .all(|b| b.is_ascii_alphanumeric())
        && checksum(body) == sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_well_formed_and_unique() {
        let a = generate();
        let b = generate();
        assert!(a.secret.starts_with("tb_pat_"));
        assert_eq!(a.secret.len(), SECRET_LEN);
        assert!(is_well_formed(&a.secret));
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, TokenHash::of(&a.secret));
        assert_eq!(a.display_prefix.len(), 11);
        assert!(a.secret.starts_with(&a.display_prefix));
    }

    #[test]
    fn a_mistyped_secret_fails_the_checksum() {
        let secret = generate().secret;
        let mut chars: Vec<char> = secret.chars().collect();
        chars[10] = if chars[10] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        assert!(!is_well_formed(&typo));
        assert!(!is_well_formed("tb_pat_short"));
        assert!(!is_well_formed(&secret.replace("tb_pat_", "gh_pat_")));
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            TokenHash::of("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
