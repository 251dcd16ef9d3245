//! Standard Webhooks signing (<https://www.standardwebhooks.com/>).
//!
//! Every outbound webhook carries three headers: [`WEBHOOK_ID`],
//! [`WEBHOOK_TIMESTAMP`] (Unix seconds) and [`WEBHOOK_SIGNATURE`]. The
//! signature is `v1,` followed by the base64 of
//! `HMAC-SHA256(key, "{id}.{timestamp}.{body}")`, where the key is the
//! base64-decoded part of a `whsec_…` secret. During secret rotation the
//! header carries several space-separated signatures, one per secret.
//!
//! Checking that the timestamp is recent (replay protection) is the
//! receiver's job and is not done by [`verify`].

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

/// Header carrying the unique message id (stable across retries).
pub const WEBHOOK_ID: &str = "webhook-id";
/// Header carrying the send time in Unix seconds.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying one or more space-separated `v1,<base64>` signatures.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Prefix of the textual form of a secret.
const PREFIX: &str = "whsec_";
/// Version tag of the HMAC-SHA256 signature scheme.
const V1: &str = "v1,";
/// Key length of newly generated secrets (the same as Svix).
const GENERATED_LEN: usize = 24;
/// Shortest accepted key.
const MIN_LEN: usize = 24;
/// Longest accepted key.
const MAX_LEN: usize = 64;

/// Standard base64 alphabet that accepts input with or without padding.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

type HmacSha256 = Hmac<Sha256>;

/// Why a `whsec_…` text was rejected; messages read as a field error on `secret`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The text does not start with `whsec_`.
    #[error("must start with whsec_")]
    MissingPrefix,
    /// The part after the prefix is not standard base64.
    #[error("must be whsec_ followed by base64")]
    NotBase64,
    /// The decoded key is too short or too long.
    #[error("must decode to 24 to 64 bytes")]
    BadLength,
}

/// An HMAC key for signing webhooks; `Debug` never shows the bytes.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl WebhookSecret {
    /// Creates a secret from 24 cryptographically random bytes.
    pub fn generate() -> Self {
        let mut key = vec![0u8; GENERATED_LEN];
        rand::rng().fill_bytes(&mut key);
        Self { key }
    }

    /// Parses `whsec_` followed by the base64 of a 24 to 64 byte key.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = LENIENT
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if !(MIN_LEN..=MAX_LEN).contains(&key.len()) {
            return Err(SecretError::BadLength);
        }
        Ok(Self { key })
    }

    /// Returns the `whsec_…` text; only for showing once and sealing at rest.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// Computes the raw HMAC-SHA256 tag of `{id}.{timestamp}.{body}`.
    fn tag(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length (long keys are hashed, short ones
        // padded), so `new_from_slice` cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// Signs one message, returning `v1,<base64>`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret.tag(msg_id, timestamp, body);
    format!("{V1}{}", STANDARD.encode(tag))
}

/// Builds the signature header value: one space-separated signature per secret.
pub fn signature_header(
    secrets: &[&WebhookSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Returns true if any `v1,` signature in `header` matches (constant-time).
pub fn verify(
    secret: &WebhookSecret,
    header: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> bool {
    let expected = secret.tag(msg_id, timestamp, body);
    let mut matched = Choice::from(0);
    for candidate in header.split_ascii_whitespace() {
        let Some(encoded) = candidate.strip_prefix(V1) else {
            continue;
        };
        let Ok(tag) = LENIENT.decode(encoded) else {
            continue;
        };
        // Slices of different lengths compare unequal.
        matched |= expected.as_slice().ct_eq(&tag);
    }
    matched.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const SPEC_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const SPEC_TS: i64 = 1_649_367_553;
    const SPEC_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SPEC_SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn spec_secret() -> WebhookSecret {
        WebhookSecret::parse(SPEC_SECRET).unwrap()
    }

    #[test]
    fn matches_spec_vector() {
        let secret = spec_secret();
        assert_eq!(sign(&secret, SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIG);
        assert!(verify(&secret, SPEC_SIG, SPEC_ID, SPEC_TS, SPEC_BODY));
    }

    #[test]
    fn parse_rejects_bad_secrets() {
        assert_eq!(
            WebhookSecret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap_err(),
            SecretError::MissingPrefix
        );
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!").unwrap_err(),
            SecretError::NotBase64
        );
        // URL-safe alphabet is not standard base64.
        assert_eq!(
            WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV-b5sSYspob7oD").unwrap_err(),
            SecretError::NotBase64
        );
        let short = format!("whsec_{}", STANDARD.encode([7u8; 23]));
        assert_eq!(
            WebhookSecret::parse(&short).unwrap_err(),
            SecretError::BadLength
        );
        let long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        assert_eq!(
            WebhookSecret::parse(&long).unwrap_err(),
            SecretError::BadLength
        );
        assert_eq!(
            WebhookSecret::parse("whsec_").unwrap_err(),
            SecretError::BadLength
        );
    }

    #[test]
    fn parse_error_messages_are_user_facing() {
        assert!(
            SecretError::MissingPrefix
                .to_string()
                .contains("must start with whsec_")
        );
        assert!(
            SecretError::NotBase64
                .to_string()
                .contains("must be whsec_ followed by base64")
        );
        assert!(
            SecretError::BadLength
                .to_string()
                .contains("must decode to 24 to 64 bytes")
        );
    }

    #[test]
    fn parse_accepts_padding_or_not() {
        // 25 bytes encode with one `=` of padding.
        let padded = format!("whsec_{}", STANDARD.encode([9u8; 25]));
        assert!(padded.ends_with('='));
        let unpadded = padded.trim_end_matches('=');
        let a = WebhookSecret::parse(&padded).unwrap();
        let b = WebhookSecret::parse(unpadded).unwrap();
        assert_eq!(a.key, b.key);
        assert_eq!(b.expose(), padded);
        assert!(WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode([1u8; 64]))).is_ok());
    }

    #[test]
    fn generate_expose_parse_round_trip() {
        let secret = WebhookSecret::generate();
        assert_eq!(secret.key.len(), 24);
        let text = secret.expose();
        assert!(text.starts_with("whsec_"));
        let again = WebhookSecret::parse(&text).unwrap();
        assert_eq!(again.key, secret.key);
        assert_ne!(WebhookSecret::generate().key, secret.key);
    }

    #[test]
    fn rotation_header_verifies_with_either_secret() {
        let new = WebhookSecret::generate();
        let old = spec_secret();
        let header = signature_header(&[&new, &old], SPEC_ID, SPEC_TS, SPEC_BODY);
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1], SPEC_SIG);
        assert!(verify(&new, &header, SPEC_ID, SPEC_TS, SPEC_BODY));
        assert!(verify(&old, &header, SPEC_ID, SPEC_TS, SPEC_BODY));
        let other = WebhookSecret::generate();
        assert!(!verify(&other, &header, SPEC_ID, SPEC_TS, SPEC_BODY));
    }

    #[test]
    fn tampering_fails_verification() {
        let secret = spec_secret();
        let tampered = br#"{"email":"evil@example.com","username":"test_user"}"#;
        assert!(!verify(&secret, SPEC_SIG, SPEC_ID, SPEC_TS, tampered));
        assert!(!verify(&secret, SPEC_SIG, SPEC_ID, SPEC_TS + 1, SPEC_BODY));
        assert!(!verify(&secret, SPEC_SIG, "msg_other", SPEC_TS, SPEC_BODY));
        let wrong_version = SPEC_SIG.replacen("v1,", "v2,", 1);
        assert!(!verify(
            &secret,
            &wrong_version,
            SPEC_ID,
            SPEC_TS,
            SPEC_BODY
        ));
        assert!(!verify(&secret, "", SPEC_ID, SPEC_TS, SPEC_BODY));
        assert!(!verify(&secret, "v1,", SPEC_ID, SPEC_TS, SPEC_BODY));
        assert!(!verify(&secret, "v1,!!!", SPEC_ID, SPEC_TS, SPEC_BODY));
    }

    #[test]
    fn debug_hides_key_bytes() {
        let secret = spec_secret();
        let shown = format!("{secret:?}");
        assert_eq!(shown, "WebhookSecret(…)");
        assert!(!shown.contains("C2FV"));
    }
}
