//! Outbound HTTP client for webhooks (and later connectors), hardened
//! against server-side request forgery (SSRF).
//!
//! Three layers keep user-supplied URLs away from internal services:
//!
//! 1. [`check_url`] validates syntax (scheme, https, host, no credentials)
//!    and refuses literal IP hosts that are [`is_blocked`]. It does no DNS
//!    and is cheap: run it before **every** send, because reqwest never
//!    calls the DNS resolver for literal-IP hosts.
//! 2. [`check_resolved`] additionally resolves the host and refuses it if
//!    any address is blocked. Run it when an endpoint is created.
//! 3. [`client`] installs a resolver that drops blocked addresses at
//!    connect time, so DNS rebinding after creation is refused too. It
//!    also disables redirects and proxies. [`refusal`] recognises the
//!    resulting error for the delivery log.
//!
//! `WEBHOOK_ALLOW_PRIVATE_TARGETS=true` (mapped to
//! [`TargetPolicy::allow_private`]) turns the address checks off, for
//! self-hosted setups that deliver to the local network.

use std::error::Error as StdError;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::{Ipv4Net, Ipv6Net};
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderValue;
use reqwest::redirect;

/// Upper bound on the TCP/TLS connect timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle keep-alive connections kept per host.
const MAX_IDLE_PER_HOST: usize = 64;
/// User agent used when the caller's one is not a valid header value.
const FALLBACK_USER_AGENT: &str = "timebridge";

/// IPv4 ranges that outbound requests must never reach.
const BLOCKED_V4: [Ipv4Net; 14] = [
    v4(0, 0, 0, 0, 8),       // "this network"
    v4(10, 0, 0, 0, 8),      // private
    v4(100, 64, 0, 0, 10),   // carrier-grade NAT
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link-local, incl. 169.254.169.254 metadata
    v4(172, 16, 0, 0, 12),   // private
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments
    v4(192, 0, 2, 0, 24),    // documentation TEST-NET-1
    v4(192, 168, 0, 0, 16),  // private
    v4(198, 18, 0, 0, 15),   // benchmarking
    v4(198, 51, 100, 0, 24), // documentation TEST-NET-2
    v4(203, 0, 113, 0, 24),  // documentation TEST-NET-3
    v4(224, 0, 0, 0, 4),     // multicast
    v4(240, 0, 0, 0, 4),     // reserved, incl. broadcast 255.255.255.255
];

/// IPv6 ranges that outbound requests must never reach.
const BLOCKED_V6: [Ipv6Net; 9] = [
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128),         // unspecified
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128),         // loopback
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),  // local-use NAT64
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),      // discard-only
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),      // unique local
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),     // link-local
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),     // site-local (deprecated)
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),      // multicast
];

/// Builds an IPv4 network at compile time.
const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

/// Builds an IPv6 network at compile time.
const fn v6(s: [u16; 8], prefix: u8) -> Ipv6Net {
    let ip = Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
    Ipv6Net::new_assert(ip, prefix)
}

/// What outbound targets are acceptable.
#[derive(Clone, Copy, Debug)]
pub struct TargetPolicy {
    /// Allow loopback, private and other internal addresses.
    pub allow_private: bool,
    /// Refuse plain `http://` URLs.
    pub require_https: bool,
}

/// Why a target URL was refused; the messages are shown to users.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The text is not a valid absolute URL.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The scheme is neither http nor https.
    #[error("URL scheme must be http or https, not {0}")]
    Scheme(String),
    /// Plain http was used while https is required.
    #[error("URL must use https")]
    HttpsRequired,
    /// The URL has no host.
    #[error("URL must have a host")]
    NoHost,
    /// The URL contains a user name or password.
    #[error("credentials in the URL are not allowed")]
    Credentials,
    /// The target is, or resolves to, an internal address.
    #[error(
        "address {0} is blocked (loopback, private, link-local, metadata or reserved); \
         set WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow private targets"
    )]
    BlockedAddress(IpAddr),
    /// DNS lookup of the host failed.
    #[error("DNS resolution of {host} failed: {source}")]
    Resolve {
        /// The host that was looked up.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// DNS lookup succeeded but returned no address.
    #[error("{0} resolves to no address")]
    NoAddress(String),
}

/// Returns true if `ip` is loopback, private, link-local, metadata or reserved.
pub fn is_blocked(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_blocked_v4(v4),
        IpAddr::V6(v6) => is_blocked_v6(v6),
    }
}

/// IPv4 half of [`is_blocked`].
fn is_blocked_v4(ip: Ipv4Addr) -> bool {
    BLOCKED_V4.iter().any(|net| net.contains(&ip))
}

/// IPv6 half of [`is_blocked`], including IPv4 addresses embedded in IPv6.
fn is_blocked_v6(ip: Ipv6Addr) -> bool {
    BLOCKED_V6.iter().any(|net| net.contains(&ip)) || embedded_v4(ip).is_some_and(is_blocked_v4)
}

/// The IPv4 address carried by a mapped, compatible, NAT64 or 6to4 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let o = ip.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match ip.segments() {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible)
        [0, 0, 0, 0, 0, 0xffff | 0, _, _] => Some(low),
        // 64:ff9b::a.b.c.d (well-known NAT64 prefix)
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        // 2002:aabb:ccdd::/48 (6to4)
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        _ => None,
    }
}

/// Parses `url` and checks it against `policy` without DNS.
pub fn check_url(policy: TargetPolicy, url: &str) -> Result<Url, TargetError> {
    let parsed = Url::parse(url).map_err(|err| TargetError::InvalidUrl(err.to_string()))?;
    check_parsed(policy, &parsed)?;
    Ok(parsed)
}

/// Runs the [`check_url`] checks, then (unless private targets are allowed)
/// resolves the host and refuses it if any address is blocked.
pub async fn check_resolved(policy: TargetPolicy, url: &Url) -> Result<(), TargetError> {
    check_parsed(policy, url)?;
    let host = host_of(url)?;
    if policy.allow_private || literal_ip(host).is_some() {
        return Ok(());
    }
    let port = url.port_or_known_default().unwrap_or(0);
    let addrs = resolve(host, port).await?;
    match addrs.iter().map(SocketAddr::ip).find(|ip| is_blocked(*ip)) {
        Some(ip) => Err(TargetError::BlockedAddress(ip)),
        None => Ok(()),
    }
}

/// Syntax and literal-IP checks shared by [`check_url`] and [`check_resolved`].
fn check_parsed(policy: TargetPolicy, url: &Url) -> Result<(), TargetError> {
    match url.scheme() {
        "https" => {}
        "http" if policy.require_https => return Err(TargetError::HttpsRequired),
        "http" => {}
        other => return Err(TargetError::Scheme(other.to_owned())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    let host = host_of(url)?;
    if let Some(ip) = literal_ip(host)
        && !policy.allow_private
        && is_blocked(ip)
    {
        return Err(TargetError::BlockedAddress(ip));
    }
    Ok(())
}

/// The URL's host, refusing URLs without one.
fn host_of(url: &Url) -> Result<&str, TargetError> {
    match url.host_str() {
        Some(host) if !host.is_empty() => Ok(host),
        _ => Err(TargetError::NoHost),
    }
}

/// The host as an IP address if it is a literal (`1.2.3.4` or `[::1]`).
fn literal_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// Resolves `host` with the system resolver, refusing an empty answer.
async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, TargetError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| TargetError::Resolve {
            host: host.to_owned(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(TargetError::NoAddress(host.to_owned()));
    }
    Ok(addrs)
}

/// Resolver that drops blocked addresses and fails if none remain.
#[derive(Debug)]
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(guarded_lookup(host))
    }
}

/// The lookup behind [`GuardedResolver`].
async fn guarded_lookup(host: String) -> Result<Addrs, Box<dyn StdError + Send + Sync>> {
    // Port 0 is replaced by reqwest with the URL's port.
    let (allowed, blocked): (Vec<SocketAddr>, Vec<SocketAddr>) = resolve(&host, 0)
        .await?
        .into_iter()
        .partition(|addr| !is_blocked(addr.ip()));
    if let (true, Some(first)) = (allowed.is_empty(), blocked.first()) {
        let ip = first.ip();
        tracing::warn!(%host, %ip, "refused outbound connection to blocked address");
        return Err(TargetError::BlockedAddress(ip).into());
    }
    Ok(Box::new(allowed.into_iter()))
}

/// Builds the outbound client: no redirects, no proxy, timeouts, and
/// (unless private targets are allowed) the address-filtering resolver.
///
/// The resolver is not consulted for literal-IP hosts, so callers must run
/// [`check_url`] before each send.
pub fn client(policy: TargetPolicy, timeout: Duration, user_agent: &str) -> reqwest::Client {
    let user_agent = HeaderValue::from_str(user_agent).unwrap_or_else(|_| {
        tracing::warn!(user_agent, "invalid user agent, using the fallback");
        HeaderValue::from_static(FALLBACK_USER_AGENT)
    });
    let mut builder = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .no_proxy()
        .https_only(policy.require_https)
        .timeout(timeout)
        .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
        .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
        .tcp_nodelay(true)
        .user_agent(user_agent);
    if !policy.allow_private {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    // With a pre-validated user agent the only remaining failure is TLS
    // backend initialisation (rustls with the bundled ring provider and
    // webpki roots), which does not depend on input and cannot fail at run
    // time; a client without these guards would be worse than a crash.
    builder
        .build()
        .expect("static reqwest client configuration is valid")
}

/// The blocked-address message if `err` was caused by the guarded resolver.
pub fn refusal(err: &reqwest::Error) -> Option<String> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(blocked @ TargetError::BlockedAddress(_)) = e.downcast_ref::<TargetError>() {
            return Some(blocked.to_string());
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const STRICT: TargetPolicy = TargetPolicy {
        allow_private: false,
        require_https: false,
    };
    const OPEN: TargetPolicy = TargetPolicy {
        allow_private: true,
        require_https: false,
    };
    const HTTPS: TargetPolicy = TargetPolicy {
        allow_private: false,
        require_https: true,
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_internal_addresses() {
        let blocked = [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "100::1",
        ];
        for text in blocked {
            assert!(is_blocked(ip(text)), "{text} should be blocked");
        }
    }

    #[test]
    fn allows_public_addresses() {
        let allowed = [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700::1",
            "2a00:1450:4001::1",
            "::ffff:93.184.216.34",
            "64:ff9b::8.8.8.8",
            "2002:0808:0808::1",
        ];
        for text in allowed {
            assert!(!is_blocked(ip(text)), "{text} should be allowed");
        }
    }

    #[test]
    fn check_url_syntax() {
        assert!(matches!(
            check_url(STRICT, "not a url"),
            Err(TargetError::InvalidUrl(_))
        ));
        assert!(matches!(
            check_url(STRICT, "ftp://example.com/"),
            Err(TargetError::Scheme(s)) if s == "ftp"
        ));
        assert!(matches!(
            check_url(HTTPS, "http://example.com/"),
            Err(TargetError::HttpsRequired)
        ));
        assert!(check_url(HTTPS, "https://example.com/hook").is_ok());
        assert!(check_url(STRICT, "http://example.com/hook").is_ok());
        assert!(matches!(
            check_url(STRICT, "https://user:pw@example.com/"),
            Err(TargetError::Credentials)
        ));
        assert!(matches!(
            check_url(STRICT, "https://user@example.com/"),
            Err(TargetError::Credentials)
        ));
        assert!(matches!(
            check_url(STRICT, "unix:/run/sock"),
            Err(TargetError::Scheme(_))
        ));
    }

    #[test]
    fn check_url_literal_ips() {
        let err = check_url(STRICT, "http://127.0.0.1:8080/").unwrap_err();
        assert!(matches!(err, TargetError::BlockedAddress(a) if a == ip("127.0.0.1")));
        assert!(
            err.to_string()
                .contains("WEBHOOK_ALLOW_PRIVATE_TARGETS=true")
        );
        assert!(check_url(OPEN, "http://127.0.0.1:8080/").is_ok());
        assert!(matches!(
            check_url(STRICT, "http://[::1]/"),
            Err(TargetError::BlockedAddress(_))
        ));
        assert!(matches!(
            check_url(STRICT, "http://[::ffff:7f00:1]/"),
            Err(TargetError::BlockedAddress(_))
        ));
        // The URL parser normalises odd IPv4 spellings before we look.
        assert!(matches!(
            check_url(STRICT, "http://0x7f.1/"),
            Err(TargetError::BlockedAddress(_))
        ));
        assert!(matches!(
            check_url(STRICT, "http://2130706433/"),
            Err(TargetError::BlockedAddress(_))
        ));
        assert!(check_url(STRICT, "https://93.184.216.34/").is_ok());
    }

    #[tokio::test]
    async fn check_resolved_refuses_localhost() {
        let url = check_url(STRICT, "http://localhost:1/").unwrap();
        let err = check_resolved(STRICT, &url).await.unwrap_err();
        assert!(matches!(err, TargetError::BlockedAddress(_)), "{err}");
        assert!(check_resolved(OPEN, &url).await.is_ok());
        assert!(matches!(
            check_resolved(HTTPS, &url).await,
            Err(TargetError::HttpsRequired)
        ));
    }

    /// Serves one minimal HTTP/1.1 response per connection.
    async fn serve() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let response =
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    let _ = stream.write_all(response).await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn client_refuses_private_targets_at_connect_time() {
        let port = serve().await;
        let http = client(STRICT, Duration::from_secs(5), "timebridge-test");
        let err = http
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap_err();
        let message = refusal(&err).expect("refused by the resolver");
        assert!(message.contains("is blocked"), "{message}");
    }

    #[tokio::test]
    async fn client_connects_when_private_allowed() {
        let port = serve().await;
        let http = client(OPEN, Duration::from_secs(5), "timebridge-test");
        let response = http
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        assert_eq!(response.text().await.unwrap(), "ok");
    }

    #[tokio::test]
    async fn literal_ip_skips_resolver_so_check_url_is_required() {
        let port = serve().await;
        let url = format!("http://127.0.0.1:{port}/");
        assert!(check_url(STRICT, &url).is_err());
        let http = client(STRICT, Duration::from_secs(5), "timebridge-test");
        let response = http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
    }

    #[tokio::test]
    async fn unrelated_errors_are_not_refusals() {
        let http = client(OPEN, Duration::from_secs(5), "bad\nagent");
        // Port 1 on loopback is closed: a connect error, not a refusal.
        let err = http.get("http://127.0.0.1:1/").send().await.unwrap_err();
        assert_eq!(refusal(&err), None);
    }
}
