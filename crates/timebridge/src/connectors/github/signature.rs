//! GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`,
//! keyed with the webhook's secret.

/// Whether `header` is the signature of `body` under `secret`.
pub fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    header
        .trim()
        .strip_prefix("sha256=")
        .is_some_and(|hex| crate::connectors::hmac_sha256_verifies(secret.as_bytes(), body, hex))
}

/// The header value for `body` (for tests and tools that send webhooks).
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        crate::connectors::hmac_sha256_hex(secret, &[body])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's documented example ("Validating webhook deliveries").
    #[test]
    fn githubs_documented_example_verifies() {
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify(
            "It's a Secret to Everybody",
            b"Hello, World!",
            header
        ));
        assert_eq!(sign("It's a Secret to Everybody", b"Hello, World!"), header);
        assert!(!verify(
            "It's a Secret to Everybody",
            b"Hello, World?",
            header
        ));
        assert!(!verify("another secret", b"Hello, World!", header));
        assert!(!verify(
            "It's a Secret to Everybody",
            b"Hello, World!",
            "sha1=757107"
        ));
        assert!(!verify(
            "It's a Secret to Everybody",
            b"Hello, World!",
            "sha256=zz"
        ));
    }
}
