//! Calls to providers' APIs: one client with a 10-second timeout, no redirects followed, and
//! errors turned into short messages that never carry a token.

use std::{sync::OnceLock, time::Duration};

/// Every outbound call gives up after this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The shared client. Provider base URLs come from the server's configuration, not from
/// members, so private addresses are allowed (a stand-in on 127.0.0.1 in tests).
pub fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        crate::platform::http_client::client(
            crate::platform::http_client::TargetPolicy {
                allow_private: true,
                require_https: false,
            },
            TIMEOUT,
            concat!("Timebridge/", env!("CARGO_PKG_VERSION")),
        )
    })
}

/// A failed call, described without its URL (which may carry a token).
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the provider did not answer within 10 seconds".into()
    } else if e.is_connect() {
        "could not connect to the provider".into()
    } else if e.is_decode() {
        "the provider's answer could not be read".into()
    } else {
        "the request to the provider failed".into()
    }
}
