//! Slack's request signature: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">`
//! keyed with the app's signing secret, and `X-Slack-Request-Timestamp` no more than five
//! minutes from now (replays are refused).

use subtle::ConstantTimeEq;

/// How far a request's timestamp may be from now.
pub const MAX_AGE_SECONDS: i64 = 300;

/// The `v0=` signature of a request.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let hex =
        crate::connectors::hmac_sha256_hex(secret, &[b"v0:", timestamp.as_bytes(), b":", body]);
    format!("v0={hex}")
}

/// Whether `header` signs `body` at `timestamp` under `secret` (the age is checked apart).
pub fn verify(secret: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let expected = sign(secret, timestamp, body);
    expected.as_bytes().ct_eq(header.trim().as_bytes()).into()
}

/// Whether a request timestamp is within [`MAX_AGE_SECONDS`] of `now` (Unix seconds).
pub fn fresh(timestamp: &str, now: i64) -> bool {
    timestamp
        .trim()
        .parse::<i64>()
        .is_ok_and(|t| (now - t).abs() <= MAX_AGE_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's documented example ("Verifying requests from Slack").
    #[test]
    fn slacks_documented_example_verifies() {
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let header = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert!(verify(secret, "1531420618", body.as_bytes(), header));
        assert!(!verify(secret, "1531420619", body.as_bytes(), header));
        assert!(!verify("another", "1531420618", body.as_bytes(), header));
        assert!(fresh("1531420618", 1531420618 + 299));
        assert!(!fresh("1531420618", 1531420618 + 301));
        assert!(!fresh("yesterday", 0));
    }
}
