//! Every setting Timebridge reads, its environment variable, its default, and its validation.
//!
//! [`SETTINGS`] is the single table of variables: the README's configuration table is checked
//! against it by a test, and [`Config::from_env`] reads exactly these names. Invalid values fail
//! start-up with a message that names the variable.

use std::{
    collections::HashMap, fmt::Display, net::SocketAddr, path::Path, str::FromStr, time::Duration,
};

use crate::{directory::Plan, platform::crypto::Keyring};

/// One documented environment variable.
pub struct Setting {
    pub name: &'static str,
    pub default: &'static str,
    pub description: &'static str,
}

const fn s(name: &'static str, default: &'static str, description: &'static str) -> Setting {
    Setting {
        name,
        default,
        description,
    }
}

/// Every environment variable Timebridge reads, with its default ("" = unset).
pub const SETTINGS: &[Setting] = &[
    s(
        "DATABASE_URL",
        "sqlite://timebridge.db",
        "SQLite file (`sqlite://path/to/file.db`, created on first start in a directory that must exist) or `postgres://user@host/db`.",
    ),
    s(
        "REDIS_URL",
        "",
        "When set (`redis://127.0.0.1:6379`), rate limits are one budget shared by every instance.",
    ),
    s(
        "TIMEBRIDGE_SECRET_KEY",
        "",
        "32 random bytes, base64 (`openssl rand -base64 32`): the key that encrypts stored secrets. During a key rotation, the new key followed by the previous ones, comma-separated (`NEW,OLD`): the first seals, each opens what it sealed. Unset with SQLite: a key file `<database>.key` is generated beside the database. Required with PostgreSQL.",
    ),
    s(
        "TIMEBRIDGE_ADDR",
        "127.0.0.1:8080",
        "Address `timebridge serve` listens on (`--addr` overrides).",
    ),
    s(
        "TIMEBRIDGE_PUBLIC_URL",
        "",
        "Public base URL of this instance (`https://timebridge.example.com`): the issuer (`iss`) of the tokens Timebridge signs its calls to add-ons with, whose keys add-ons fetch from `{url}/.well-known/jwks.json`; empty: the value of OAUTH_REDIRECT_URI_BASE.",
    ),
    s(
        "TIMEBRIDGE_TOKEN_CACHE_SECONDS",
        "10",
        "How long a verified API token is cached in memory. Revocation is immediate on the instance that revokes; other instances notice within this time. 0 disables the cache.",
    ),
    s(
        "TIMEBRIDGE_READ_CACHE_MB",
        "64",
        "Memory for serialized list and detail responses, each valid while its workspace's data is unchanged (every write advances a per-workspace version). 0 disables the cache.",
    ),
    s(
        "TIMEBRIDGE_TRUST_FORWARDED_FOR",
        "false",
        "Take the client address (for token IP allow-lists and usage logs) from the last `X-Forwarded-For` entry. Enable only behind a reverse proxy that sets it.",
    ),
    s(
        "MAX_REQUEST_BODY_KB",
        "1024",
        "Largest accepted request body; larger bodies get 413.",
    ),
    s(
        "IMPORT_MAX_BODY_MB",
        "64",
        "Largest CSV file one import takes (`POST /api/v1/time-entries/import-csv`, read as it arrives); larger files get 413.",
    ),
    s(
        "DELETED_RETENTION_DAYS",
        "30",
        "Days a deleted time entry or expense can be restored; then it is purged.",
    ),
    s("DATABASE_MAX_CONNECTIONS", "16", "Connection pool size."),
    s(
        "RUST_LOG",
        "info",
        "Log filter (`tracing` env-filter syntax).",
    ),
    s(
        "LOG_FORMAT",
        "json",
        "`json` (one JSON object per line) or `pretty`.",
    ),
    s(
        "API_TOKEN_EXPIRY_DAYS",
        "365",
        "Lifetime of a new API token when the request names no `expires_at`; 0 = no expiry.",
    ),
    s(
        "API_TOKEN_HASH_ALGORITHM",
        "sha256",
        "How API tokens are hashed at rest. Only `sha256` is supported.",
    ),
    s(
        "API_USAGE_LOG_RETENTION_DAYS",
        "30",
        "Days API usage logs are kept.",
    ),
    s(
        "API_USAGE_LOG_FLUSH_MS",
        "1000",
        "How often the batched usage-log writer flushes to the database.",
    ),
    s(
        "RATE_LIMIT_TIER_FREE_REQ_PER_MIN",
        "60",
        "Requests per window for a token of a `free` workspace.",
    ),
    s(
        "RATE_LIMIT_TIER_PRO_REQ_PER_MIN",
        "1000",
        "Requests per window for a token of a `pro` workspace.",
    ),
    s(
        "RATE_LIMIT_TIER_ENTERPRISE_REQ_PER_MIN",
        "5000",
        "Requests per window for a token of an `enterprise` workspace.",
    ),
    s(
        "RATE_LIMIT_WINDOW_SECONDS",
        "60",
        "The rate-limit window the tier budgets apply to.",
    ),
    s(
        "RATE_LIMIT_AUTH_FAILURES",
        "30",
        "Failed authentications (a token presented and refused) one client address may make per window; beyond them the address gets 429 until the window allows another. 0 = no limit.",
    ),
    s(
        "WEBHOOK_MAX_RETRIES",
        "5",
        "Delivery attempts after the first before a webhook delivery fails.",
    ),
    s(
        "WEBHOOK_RETRY_BACKOFF_SECONDS",
        "60",
        "Base of the webhook retry backoff.",
    ),
    s(
        "WEBHOOK_TIMEOUT_SECONDS",
        "30",
        "Timeout of one webhook delivery attempt.",
    ),
    s(
        "WEBHOOK_MAX_PAYLOAD_SIZE_KB",
        "1024",
        "Largest webhook payload.",
    ),
    s(
        "WEBHOOK_DELIVERY_TTL_HOURS",
        "24",
        "A webhook delivery is abandoned after this long.",
    ),
    s(
        "WEBHOOK_ALLOW_PRIVATE_TARGETS",
        "false",
        "Allow webhook URLs that resolve to loopback, private, link-local or metadata addresses (local development and tests). Checked at creation and again at every delivery.",
    ),
    s(
        "WEBHOOK_DISABLE_AFTER_FAILING_DAYS",
        "5",
        "An endpoint whose deliveries have only failed for this many days is disabled (any success resets the clock).",
    ),
    s(
        "WEBHOOK_LOG_RETENTION_DAYS",
        "90",
        "Days finished deliveries, their payloads and their attempt logs are kept.",
    ),
    s(
        "WEBHOOK_WORKERS",
        "32",
        "Endpoints this instance delivers to at once (each endpoint receives its events one at a time, in order). 0 = this instance delivers nothing.",
    ),
    s(
        "WEBHOOK_LEASE_SECONDS",
        "60",
        "How long an instance holds an endpoint's queue without renewing it; a crashed instance's endpoints are taken over after this.",
    ),
    s(
        "TIMEBRIDGE_JOBS",
        "true",
        "Whether this instance runs background jobs (the job queue: Slack daily summary, GitHub sync, retention, …). Each job runs once across the instances that do.",
    ),
    s(
        "TIMEBRIDGE_JOB_WORKERS",
        "4",
        "Jobs this instance runs at once.",
    ),
    s(
        "TIMEBRIDGE_JOB_QUEUES",
        "",
        "Comma-separated job queues this instance runs (empty: all of them).",
    ),
    s(
        "TIMEBRIDGE_ENV",
        "production",
        "`production` (webhook URLs must be https) or `development` (http allowed).",
    ),
    s(
        "GITHUB_API_URL",
        "https://api.github.com",
        "Base URL of the GitHub REST API the GitHub connector calls (GitHub Enterprise: `https://host/api/v3`).",
    ),
    s(
        "SLACK_API_URL",
        "https://slack.com/api",
        "Base URL of the Slack Web API the Slack connector calls.",
    ),
    s(
        "GOOGLE_CALENDAR_API_URL",
        "https://www.googleapis.com/calendar/v3",
        "Base URL of the Google Calendar API the Google Calendar connector calls.",
    ),
    s(
        "GOOGLE_CALENDAR_BACKOFF_MS",
        "1000",
        "First wait before retrying a Google Calendar call refused for quota (403 rateLimitExceeded, 429); doubled on each retry, 5 tries in all.",
    ),
    s(
        "CLICKUP_REDIRECT_URI",
        "",
        "Where ClickUp sends the admin's browser after consent (register it with the ClickUp app); empty: `{OAUTH_REDIRECT_URI_BASE}/api/v1/clickup/oauth/callback`.",
    ),
    s(
        "CLICKUP_RATE_LIMIT",
        "100",
        "ClickUp API requests per minute per workspace (shared through Redis when REDIS_URL is set); a call over it is refused with its retry_after instead of being sent.",
    ),
    s(
        "CLICKUP_RATE_LIMIT_THRESHOLD",
        "90",
        "Requests in a minute after which a warning is logged.",
    ),
    s(
        "INBOUND_WEBHOOK_RETENTION_DAYS",
        "90",
        "Days received connector webhooks (the de-duplication ledger) are kept.",
    ),
    s(
        "OAUTH_TOKEN_EXPIRY_MINUTES",
        "60",
        "Lifetime assumed for an OAuth access token that states none.",
    ),
    s(
        "OAUTH_REFRESH_TOKEN_EXPIRY_DAYS",
        "30",
        "Lifetime of an OAuth refresh token.",
    ),
    s(
        "OAUTH_AUTHORIZATION_CODE_EXPIRY_MINUTES",
        "10",
        "How long an OAuth `state` stays valid.",
    ),
    s(
        "OAUTH_REDIRECT_URI_BASE",
        "http://localhost:3000",
        "Public base URL OAuth callbacks are built from: the provider sends the browser back to `{base}/api/v1/integration/oauth/callback`.",
    ),
    s(
        "GOOGLE_CLIENT_ID",
        "",
        "Client id of the operator's Google OAuth client (with GOOGLE_CLIENT_SECRET: Google connections can be made).",
    ),
    s(
        "GOOGLE_CLIENT_SECRET",
        "",
        "Client secret of the Google OAuth client.",
    ),
    s(
        "GITHUB_CLIENT_ID",
        "",
        "Client id of the operator's GitHub OAuth app (with GITHUB_CLIENT_SECRET).",
    ),
    s(
        "GITHUB_CLIENT_SECRET",
        "",
        "Client secret of the GitHub OAuth app.",
    ),
    s(
        "SLACK_CLIENT_ID",
        "",
        "Client id of the operator's Slack app (with SLACK_CLIENT_SECRET).",
    ),
    s("SLACK_CLIENT_SECRET", "", "Client secret of the Slack app."),
    s(
        "CLICKUP_CLIENT_ID",
        "",
        "Client id of the operator's ClickUp OAuth app (with CLICKUP_CLIENT_SECRET).",
    ),
    s(
        "CLICKUP_CLIENT_SECRET",
        "",
        "Client secret of the ClickUp OAuth app.",
    ),
    s(
        "GOOGLE_OAUTH_URL",
        "https://oauth2.googleapis.com",
        "Base URL of Google's OAuth token (`/token`) and revocation (`/revoke`) endpoints.",
    ),
    s(
        "GITHUB_OAUTH_URL",
        "https://github.com/login/oauth",
        "Base URL of GitHub's OAuth endpoints (`/authorize`, `/access_token`).",
    ),
    s(
        "CLICKUP_API_URL",
        "https://api.clickup.com/api/v2",
        "Base URL of the ClickUp API (its OAuth token endpoint is `/oauth/token`).",
    ),
    s(
        "PLUGIN_MAX_SIZE_MB",
        "50",
        "Largest add-on manifest taken (registered from a file, a URL or the API).",
    ),
    s(
        "PLUGIN_MAX_INSTALLABLE_PER_WORKSPACE",
        "100",
        "Add-ons one workspace may install.",
    ),
    s(
        "PLUGIN_EXECUTION_TIMEOUT_SECONDS",
        "30",
        "Timeout of a call to an add-on.",
    ),
    s(
        "TIMEBRIDGE_OPERATORS",
        "",
        "Emails (comma-separated) of the users who may register add-ons through the API (`POST /api/v1/integration/plugins`, with `admin:all`); empty: only `timebridge addon register` does.",
    ),
    s(
        "CONSENT_POLICY_VERSION",
        "1",
        "Policy version recorded with each consent grant.",
    ),
    s(
        "CONSENT_AUDIT_LOG_RETENTION_DAYS",
        "2555",
        "Days the consent audit log is kept (7 years).",
    ),
];

/// A configuration value that could not be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {name} {problem} (got {value:?})")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub problem: String,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            _ => Err("must be `json` or `pretty`".into()),
        }
    }
}

/// Requests per window for each plan.
#[derive(Clone, Debug)]
pub struct RateLimitConfig {
    pub free: u32,
    pub pro: u32,
    pub enterprise: u32,
    pub window: Duration,
    /// Refused tokens per client address per window (0: unlimited).
    pub auth_failures: u32,
}

impl RateLimitConfig {
    /// The budget of a token whose workspace is on `plan`.
    pub fn limit_for(&self, plan: Plan) -> u32 {
        match plan {
            Plan::Free => self.free,
            Plan::Pro => self.pro,
            Plan::Enterprise => self.enterprise,
        }
    }
}

/// Outbound webhook settings (used by the delivery worker).
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub timeout: Duration,
    pub max_payload_bytes: usize,
    pub delivery_ttl: Duration,
    /// Private and loopback targets are allowed (development, tests).
    pub allow_private_targets: bool,
    /// Target URLs must be https (production).
    pub require_https: bool,
    /// An endpoint failing for this long is disabled.
    pub disable_after_failing: Duration,
    /// Days finished deliveries and attempt logs are kept.
    pub log_retention_days: u32,
    /// Endpoints delivered to at once by this instance; 0 = none.
    pub workers: u32,
    /// How long a claimed endpoint stays this instance's without renewal.
    pub lease: Duration,
}

/// Connector settings.
#[derive(Clone, Debug)]
pub struct ConnectorConfig {
    pub github_api_url: String,
    pub slack_api_url: String,
    pub google_calendar_api_url: String,
    pub google_calendar_backoff: Duration,
    /// Empty: the default callback under `OAUTH_REDIRECT_URI_BASE`.
    pub clickup_redirect_uri: Option<String>,
    pub clickup_rate_limit: u32,
    pub clickup_rate_limit_threshold: u32,
    pub inbound_retention_days: u32,
}

/// OAuth connection settings.
#[derive(Clone, Debug)]
pub struct OAuthConfig {
    pub token_expiry: Duration,
    pub refresh_token_expiry: Duration,
    pub authorization_code_expiry: Duration,
    pub redirect_uri_base: String,
    pub google_oauth_url: String,
    pub github_oauth_url: String,
    pub clickup_api_url: String,
    /// Client credentials by provider (`google`, `github`, `slack`, `clickup`), for those the
    /// operator configured with both an id and a secret.
    pub clients: std::collections::BTreeMap<&'static str, OAuthClient>,
}

/// An OAuth client's credentials. The secret never appears in `Debug` output.
#[derive(Clone)]
pub struct OAuthClient {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("id", &self.id)
            .field("secret", &"…")
            .finish()
    }
}

/// Add-on settings.
#[derive(Clone, Debug)]
pub struct PluginConfig {
    pub max_size_mb: u32,
    pub max_installable_per_workspace: u32,
    pub execution_timeout: Duration,
    /// Lower-case emails of the users who may register add-ons through the API.
    pub operators: Vec<String>,
}

/// Consent and governance settings.
#[derive(Clone, Debug)]
pub struct ConsentConfig {
    pub policy_version: String,
    pub audit_log_retention_days: u32,
}

/// The whole, validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub database_max_connections: u32,
    pub redis_url: Option<String>,
    /// The keys in `TIMEBRIDGE_SECRET_KEY` (the current one first), when set; see
    /// `platform::crypto` for their use.
    pub secret_key: Option<Keyring>,
    pub addr: SocketAddr,
    /// Public base URL of this instance, without a trailing slash (`TIMEBRIDGE_PUBLIC_URL`,
    /// else `OAUTH_REDIRECT_URI_BASE`).
    pub public_url: String,
    pub token_cache_ttl: Duration,
    /// Bytes of serialized responses the read cache may hold; 0 disables it.
    pub read_cache_bytes: u64,
    /// This instance runs background jobs.
    pub jobs_enabled: bool,
    /// Jobs run at once by this instance.
    pub job_workers: u32,
    /// The job queues this instance serves (`None`: all).
    pub job_queues: Option<Vec<String>>,
    pub trust_forwarded_for: bool,
    pub max_body_bytes: usize,
    /// Largest CSV an import takes (it has its own limit: a year of entries is tens of MB).
    pub import_max_body_bytes: usize,
    /// Days a deleted time entry or expense stays restorable.
    pub deleted_retention_days: u32,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub token_expiry_days: u32,
    pub usage_log_retention_days: u32,
    pub usage_log_flush: Duration,
    pub rate_limits: RateLimitConfig,
    pub webhooks: WebhookConfig,
    pub connectors: ConnectorConfig,
    pub oauth: OAuthConfig,
    pub plugins: PluginConfig,
    pub consent: ConsentConfig,
}

/// Reads variables from a source (the process environment, or a map in tests).
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Reader<'_> {
    fn raw(&self, name: &'static str) -> String {
        (self.lookup)(name)
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| default_of(name).to_owned())
    }

    fn optional(&self, name: &'static str) -> Option<String> {
        Some(self.raw(name)).filter(|v| !v.is_empty())
    }

    fn parse<T: FromStr>(&self, name: &'static str, problem: &str) -> Result<T, ConfigError>
    where
        T::Err: Display,
    {
        let value = self.raw(name);
        value.trim().parse().map_err(|_| ConfigError {
            name,
            value: value.clone(),
            problem: problem.to_owned(),
        })
    }

    fn positive(&self, name: &'static str) -> Result<u32, ConfigError> {
        let n: u32 = self.parse(name, "must be a positive integer")?;
        if n == 0 {
            return Err(ConfigError {
                name,
                value: n.to_string(),
                problem: "must be a positive integer".into(),
            });
        }
        Ok(n)
    }

    fn count(&self, name: &'static str) -> Result<u32, ConfigError> {
        self.parse(name, "must be a non-negative integer")
    }

    fn seconds(&self, name: &'static str) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(u64::from(self.positive(name)?)))
    }

    fn boolean(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.raw(name).trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            other => Err(ConfigError {
                name,
                value: other.to_owned(),
                problem: "must be true or false".into(),
            }),
        }
    }

    fn with<T>(
        &self,
        name: &'static str,
        check: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let value = self.raw(name);
        check(&value).map_err(|problem| ConfigError {
            name,
            value,
            problem,
        })
    }
}

/// The OAuth clients the operator configured: a provider counts when both its id and secret
/// are set; one without the other is a mistake worth refusing at start-up.
fn oauth_clients(
    r: &Reader<'_>,
) -> Result<std::collections::BTreeMap<&'static str, OAuthClient>, ConfigError> {
    let mut clients = std::collections::BTreeMap::new();
    for (provider, id_name, secret_name) in [
        ("google", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"),
        ("github", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"),
        ("slack", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"),
        ("clickup", "CLICKUP_CLIENT_ID", "CLICKUP_CLIENT_SECRET"),
    ] {
        match (r.optional(id_name), r.optional(secret_name)) {
            (Some(id), Some(secret)) => {
                clients.insert(
                    provider,
                    OAuthClient {
                        id: id.trim().to_owned(),
                        secret: secret.trim().to_owned(),
                    },
                );
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err(ConfigError {
                    name: secret_name,
                    value: String::new(),
                    problem: format!("must be set when {id_name} is"),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError {
                    name: id_name,
                    value: String::new(),
                    problem: format!("must be set when {secret_name} is"),
                });
            }
        }
    }
    Ok(clients)
}

/// A database URL: PostgreSQL as given; SQLite opened read-write and created when missing
/// (`mode=rwc` unless the URL names a mode), in a directory that must exist.
fn database_url(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.starts_with("postgres://") || v.starts_with("postgresql://") {
        return Ok(v.to_owned());
    }
    if !v.starts_with("sqlite:") {
        return Err("must start with sqlite: or postgres://".into());
    }
    let Some(path) = sqlite_path(v) else {
        return Ok(v.to_owned());
    };
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(format!(
            "names the SQLite file {path}, but its directory {} does not exist: create it, or \
             choose another path",
            dir.display()
        ));
    }
    let query = v.split_once('?').map_or("", |(_, q)| q);
    if query.split('&').any(|pair| pair.starts_with("mode=")) {
        return Ok(v.to_owned());
    }
    let separator = if v.contains('?') { "&" } else { "?" };
    Ok(format!("{v}{separator}mode=rwc"))
}

/// The file an SQLite database URL names (`None` for PostgreSQL and in-memory databases).
pub fn sqlite_path(database_url: &str) -> Option<&str> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let path = rest.trim_start_matches("//").split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(path)
}

/// An http(s) base URL, without its trailing slash.
fn base_url(v: &str) -> Result<String, String> {
    if v.starts_with("http://") || v.starts_with("https://") {
        Ok(v.trim().trim_end_matches('/').to_owned())
    } else {
        Err("must be an http(s) URL".into())
    }
}

fn default_of(name: &str) -> &'static str {
    SETTINGS
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.default)
        .unwrap_or("")
}

impl Config {
    /// Reads and validates the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads and validates the configuration from a map (tests).
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| vars.get(name).cloned())
    }

    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let r = Reader { lookup };
        let database_url = r.with("DATABASE_URL", database_url)?;
        let redis_url = r.optional("REDIS_URL");
        if let Some(url) = &redis_url {
            r.with("REDIS_URL", |_| {
                if url.starts_with("redis://") || url.starts_with("rediss://") {
                    Ok(())
                } else {
                    Err("must start with redis://".into())
                }
            })?;
        }
        let secret_key = r
            .optional("TIMEBRIDGE_SECRET_KEY")
            .map(|keys| {
                Keyring::parse(&keys).map_err(|e| ConfigError {
                    name: "TIMEBRIDGE_SECRET_KEY",
                    // Key material is never repeated, not even a wrong key.
                    value: "(not shown)".into(),
                    problem: e.to_string(),
                })
            })
            .transpose()?;
        r.with("API_TOKEN_HASH_ALGORITHM", |v| match v {
            "sha256" => Ok(()),
            _ => Err("must be sha256 (the only supported algorithm)".into()),
        })?;
        let max_body_kb = r.positive("MAX_REQUEST_BODY_KB")?;
        let redirect_uri_base = r.with("OAUTH_REDIRECT_URI_BASE", |v| {
            if v.starts_with("http://") || v.starts_with("https://") {
                Ok(v.trim_end_matches('/').to_owned())
            } else {
                Err("must be an http(s) URL".into())
            }
        })?;
        let public_url = match r.optional("TIMEBRIDGE_PUBLIC_URL") {
            Some(_) => r.with("TIMEBRIDGE_PUBLIC_URL", base_url)?,
            None => redirect_uri_base.clone(),
        };
        Ok(Self {
            database_url,
            database_max_connections: r.positive("DATABASE_MAX_CONNECTIONS")?,
            redis_url,
            secret_key,
            addr: r.parse("TIMEBRIDGE_ADDR", "must be an address like 127.0.0.1:8080")?,
            public_url,
            token_cache_ttl: Duration::from_secs(u64::from(
                r.count("TIMEBRIDGE_TOKEN_CACHE_SECONDS")?,
            )),
            read_cache_bytes: u64::from(r.count("TIMEBRIDGE_READ_CACHE_MB")?) * 1024 * 1024,
            jobs_enabled: r.boolean("TIMEBRIDGE_JOBS")?,
            job_workers: r.positive("TIMEBRIDGE_JOB_WORKERS")?,
            job_queues: {
                let queues: Vec<String> = r
                    .raw("TIMEBRIDGE_JOB_QUEUES")
                    .split(',')
                    .map(|q| q.trim().to_owned())
                    .filter(|q| !q.is_empty())
                    .collect();
                (!queues.is_empty()).then_some(queues)
            },
            trust_forwarded_for: r.boolean("TIMEBRIDGE_TRUST_FORWARDED_FOR")?,
            max_body_bytes: max_body_kb as usize * 1024,
            import_max_body_bytes: r.positive("IMPORT_MAX_BODY_MB")? as usize * 1024 * 1024,
            deleted_retention_days: r.positive("DELETED_RETENTION_DAYS")?,
            log_filter: r.raw("RUST_LOG"),
            log_format: r.parse("LOG_FORMAT", "must be `json` or `pretty`")?,
            token_expiry_days: r.count("API_TOKEN_EXPIRY_DAYS")?,
            usage_log_retention_days: r.positive("API_USAGE_LOG_RETENTION_DAYS")?,
            usage_log_flush: Duration::from_millis(u64::from(
                r.positive("API_USAGE_LOG_FLUSH_MS")?,
            )),
            rate_limits: RateLimitConfig {
                free: r.positive("RATE_LIMIT_TIER_FREE_REQ_PER_MIN")?,
                pro: r.positive("RATE_LIMIT_TIER_PRO_REQ_PER_MIN")?,
                enterprise: r.positive("RATE_LIMIT_TIER_ENTERPRISE_REQ_PER_MIN")?,
                window: r.seconds("RATE_LIMIT_WINDOW_SECONDS")?,
                auth_failures: r.count("RATE_LIMIT_AUTH_FAILURES")?,
            },
            webhooks: WebhookConfig {
                max_retries: r.count("WEBHOOK_MAX_RETRIES")?,
                retry_backoff: r.seconds("WEBHOOK_RETRY_BACKOFF_SECONDS")?,
                timeout: r.seconds("WEBHOOK_TIMEOUT_SECONDS")?,
                max_payload_bytes: r.positive("WEBHOOK_MAX_PAYLOAD_SIZE_KB")? as usize * 1024,
                delivery_ttl: Duration::from_secs(
                    3600 * u64::from(r.positive("WEBHOOK_DELIVERY_TTL_HOURS")?),
                ),
                allow_private_targets: r.boolean("WEBHOOK_ALLOW_PRIVATE_TARGETS")?,
                require_https: r.with("TIMEBRIDGE_ENV", |v| match v.trim() {
                    "production" => Ok(true),
                    "development" => Ok(false),
                    _ => Err("must be `production` or `development`".into()),
                })?,
                disable_after_failing: Duration::from_secs(
                    86_400 * u64::from(r.positive("WEBHOOK_DISABLE_AFTER_FAILING_DAYS")?),
                ),
                log_retention_days: r.positive("WEBHOOK_LOG_RETENTION_DAYS")?,
                workers: r.count("WEBHOOK_WORKERS")?,
                lease: r.seconds("WEBHOOK_LEASE_SECONDS")?,
            },
            connectors: ConnectorConfig {
                github_api_url: r.with("GITHUB_API_URL", base_url)?,
                slack_api_url: r.with("SLACK_API_URL", base_url)?,
                google_calendar_api_url: r.with("GOOGLE_CALENDAR_API_URL", base_url)?,
                google_calendar_backoff: Duration::from_millis(u64::from(
                    r.positive("GOOGLE_CALENDAR_BACKOFF_MS")?,
                )),
                clickup_redirect_uri: match r.optional("CLICKUP_REDIRECT_URI") {
                    Some(_) => Some(r.with("CLICKUP_REDIRECT_URI", base_url)?),
                    None => None,
                },
                clickup_rate_limit: r.positive("CLICKUP_RATE_LIMIT")?,
                clickup_rate_limit_threshold: r.positive("CLICKUP_RATE_LIMIT_THRESHOLD")?,
                inbound_retention_days: r.positive("INBOUND_WEBHOOK_RETENTION_DAYS")?,
            },
            oauth: OAuthConfig {
                token_expiry: Duration::from_secs(
                    60 * u64::from(r.positive("OAUTH_TOKEN_EXPIRY_MINUTES")?),
                ),
                refresh_token_expiry: Duration::from_secs(
                    86_400 * u64::from(r.positive("OAUTH_REFRESH_TOKEN_EXPIRY_DAYS")?),
                ),
                authorization_code_expiry: Duration::from_secs(
                    60 * u64::from(r.positive("OAUTH_AUTHORIZATION_CODE_EXPIRY_MINUTES")?),
                ),
                redirect_uri_base,
                google_oauth_url: r.with("GOOGLE_OAUTH_URL", base_url)?,
                github_oauth_url: r.with("GITHUB_OAUTH_URL", base_url)?,
                clickup_api_url: r.with("CLICKUP_API_URL", base_url)?,
                clients: oauth_clients(&r)?,
            },
            plugins: PluginConfig {
                max_size_mb: r.positive("PLUGIN_MAX_SIZE_MB")?,
                max_installable_per_workspace: r
                    .positive("PLUGIN_MAX_INSTALLABLE_PER_WORKSPACE")?,
                execution_timeout: r.seconds("PLUGIN_EXECUTION_TIMEOUT_SECONDS")?,
                operators: r.with("TIMEBRIDGE_OPERATORS", |v| {
                    let emails: Vec<String> = v
                        .split(',')
                        .map(|e| e.trim().to_lowercase())
                        .filter(|e| !e.is_empty())
                        .collect();
                    match emails.iter().find(|e| !e.contains('@')) {
                        Some(bad) => Err(format!("'{bad}' is not an email address")),
                        None => Ok(emails),
                    }
                })?,
            },
            consent: ConsentConfig {
                policy_version: r.with("CONSENT_POLICY_VERSION", |v| {
                    if v.len() <= 32 {
                        Ok(v.to_owned())
                    } else {
                        Err("must be at most 32 characters".into())
                    }
                })?,
                audit_log_retention_days: r.positive("CONSENT_AUDIT_LOG_RETENTION_DAYS")?,
            },
        })
    }

    /// Whether the database is SQLite (the zero-config default).
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_map(&vars)
    }

    #[test]
    fn defaults_are_the_seed_defaults() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.database_url, "sqlite://timebridge.db?mode=rwc");
        assert_eq!(c.rate_limits.free, 60);
        assert_eq!(c.rate_limits.pro, 1000);
        assert_eq!(c.rate_limits.enterprise, 5000);
        assert_eq!(c.rate_limits.window, Duration::from_secs(60));
        assert_eq!(c.webhooks.max_retries, 5);
        assert_eq!(c.webhooks.max_payload_bytes, 1024 * 1024);
        assert_eq!(c.token_expiry_days, 365);
        assert_eq!(c.consent.audit_log_retention_days, 2555);
        assert_eq!(c.oauth.redirect_uri_base, "http://localhost:3000");
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn the_public_url_defaults_to_the_oauth_base_and_loses_its_trailing_slash() {
        let c = config(&[("OAUTH_REDIRECT_URI_BASE", "https://tb.example.com/")]).unwrap();
        assert_eq!(c.public_url, "https://tb.example.com");
        let c = config(&[
            ("OAUTH_REDIRECT_URI_BASE", "https://tb.example.com"),
            ("TIMEBRIDGE_PUBLIC_URL", "https://api.tb.example.com/"),
        ])
        .unwrap();
        assert_eq!(c.public_url, "https://api.tb.example.com");
        let err = config(&[("TIMEBRIDGE_PUBLIC_URL", "tb.example.com")]).unwrap_err();
        assert_eq!(err.name, "TIMEBRIDGE_PUBLIC_URL");
    }

    #[test]
    fn an_invalid_value_names_its_variable() {
        let err = config(&[("RATE_LIMIT_TIER_FREE_REQ_PER_MIN", "lots")]).unwrap_err();
        assert_eq!(err.name, "RATE_LIMIT_TIER_FREE_REQ_PER_MIN");
        assert!(err.to_string().contains("RATE_LIMIT_TIER_FREE_REQ_PER_MIN"));

        let err = config(&[("LOG_FORMAT", "xml")]).unwrap_err();
        assert_eq!(err.name, "LOG_FORMAT");
        let err = config(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(err.name, "DATABASE_URL");
        let err = config(&[("TIMEBRIDGE_SECRET_KEY", "c2hvcnQ=")]).unwrap_err();
        assert_eq!(err.name, "TIMEBRIDGE_SECRET_KEY");
        assert!(!err.to_string().contains("c2hvcnQ="), "{err}");
        let err = config(&[("API_TOKEN_HASH_ALGORITHM", "md5")]).unwrap_err();
        assert_eq!(err.name, "API_TOKEN_HASH_ALGORITHM");
        let err = config(&[("TIMEBRIDGE_ENV", "staging")]).unwrap_err();
        assert_eq!(err.name, "TIMEBRIDGE_ENV");
        let err = config(&[("RATE_LIMIT_WINDOW_SECONDS", "0")]).unwrap_err();
        assert_eq!(err.name, "RATE_LIMIT_WINDOW_SECONDS");
    }

    #[test]
    fn the_secret_key_setting_lists_the_current_key_then_previous_ones() {
        let new = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        let old = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
        let c = config(&[("TIMEBRIDGE_SECRET_KEY", &format!("{new} , {old}"))]).unwrap();
        let keys = c.secret_key.as_ref().expect("keys configured");
        assert_eq!(keys.ids().count(), 2);
        assert!(!format!("{c:?}").contains(new), "Debug shows no key");

        let err = config(&[("TIMEBRIDGE_SECRET_KEY", &format!("{new},{new}"))]).unwrap_err();
        assert_eq!(err.name, "TIMEBRIDGE_SECRET_KEY");
        assert!(err.to_string().contains("entry 2"), "{err}");
        let err = config(&[("TIMEBRIDGE_SECRET_KEY", &format!("{new},short"))]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("TIMEBRIDGE_SECRET_KEY") && text.contains("entry 2"),
            "{text}"
        );
        assert!(!text.contains(new) && !text.contains("short"), "{text}");
    }

    #[test]
    fn an_sqlite_file_is_created_when_missing_in_a_directory_that_exists() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tb.db");
        let url = format!("sqlite://{}", file.display());
        let c = config(&[("DATABASE_URL", &url)]).expect("a file in an existing directory");
        assert_eq!(c.database_url, format!("{url}?mode=rwc"));
        let c = config(&[("DATABASE_URL", "sqlite://tb.db?mode=ro")]).unwrap();
        assert_eq!(
            c.database_url, "sqlite://tb.db?mode=ro",
            "a mode given is kept"
        );
        let c = config(&[("DATABASE_URL", "sqlite::memory:")]).unwrap();
        assert_eq!(c.database_url, "sqlite::memory:");

        let missing = dir.path().join("no/such/dir/tb.db");
        let err =
            config(&[("DATABASE_URL", &format!("sqlite://{}", missing.display()))]).unwrap_err();
        assert_eq!(err.name, "DATABASE_URL");
        let text = err.to_string();
        assert!(
            text.contains(&missing.parent().unwrap().display().to_string()),
            "{text}"
        );
    }

    #[test]
    fn every_setting_is_in_the_readme() {
        let readme = include_str!("../../../README.md");
        for setting in SETTINGS {
            assert!(
                readme.contains(&format!("`{}`", setting.name)),
                "README.md does not document {}",
                setting.name
            );
        }
    }
}
