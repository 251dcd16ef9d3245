//! The OAuth apps Timebridge can connect members to: where each provider authorizes, issues
//! and revokes tokens, the scopes it offers, and whether the operator configured a client for
//! it. Endpoints that tests replace with stand-ins come from the configuration
//! (`GOOGLE_OAUTH_URL`, `GITHUB_OAUTH_URL`, `SLACK_API_URL`, `CLICKUP_API_URL`).

use crate::config::{Config, OAuthClient};

/// How a provider takes a token back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// RFC 7009: `POST url` with `token=…` (Google).
    Rfc7009(String),
    /// GitHub: `DELETE {api}/applications/{client_id}/grant` with the client's basic auth and
    /// `{"access_token": …}`, which removes the whole grant.
    GithubGrant(String),
    /// Slack: `POST {api}/auth.revoke` with the token as bearer.
    SlackAuthRevoke(String),
    /// The provider offers no revocation; disconnecting only forgets the tokens.
    None,
}

/// How the connected account's name is learned after a token is issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Account {
    /// The `email` claim of the OpenID Connect `id_token` in the token response (it comes
    /// straight from the token endpoint over TLS, so its signature need not be checked).
    IdTokenEmail,
    /// `GET url` with the token; the `login` field.
    GithubUser(String),
    /// The token response's `team.name`.
    SlackTeam,
    Unknown,
}

/// How a provider takes the authorization code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenStyle {
    /// RFC 6749: a form body (`grant_type=authorization_code`, …), JSON answer.
    Standard,
    /// ClickUp: `POST {token_url}?client_id=…&client_secret=…&code=…`, answering
    /// `{"access_token": …}` (tokens that never expire, no refresh token).
    QueryParameters,
}

/// One provider, as the API lists it and as the flows use it.
#[derive(Clone, Debug)]
pub struct Provider {
    pub id: &'static str,
    pub name: &'static str,
    /// Scopes a member may ask for, with what each allows.
    pub scopes: &'static [(&'static str, &'static str)],
    /// Asked for when the member names none.
    pub default_scopes: &'static [&'static str],
    /// How the authorization URL joins scopes (Slack wants commas).
    pub scope_separator: &'static str,
    /// Further parameters of the authorization URL (Google's offline access).
    pub authorize_params: &'static [(&'static str, &'static str)],
    pub authorize_url: String,
    pub token_url: String,
    pub revocation: Revocation,
    pub account: Account,
    pub token_style: TokenStyle,
    /// The operator's client, when configured.
    pub client: Option<OAuthClient>,
}

/// Every provider's id, in the order the API lists them.
pub const IDS: &[&str] = &["github", "google", "slack", "clickup"];

/// The provider `id`, with the configured endpoints and client; `None` for an unknown id.
pub fn find(config: &Config, id: &str) -> Option<Provider> {
    let oauth = &config.oauth;
    let client = oauth.clients.get(id).cloned();
    let provider = match id {
        "github" => Provider {
            id: "github",
            name: "GitHub",
            scopes: &[
                ("read:user", "Read the member's profile (their login)."),
                (
                    "repo",
                    "Read and write the member's repositories and issues.",
                ),
            ],
            default_scopes: &["read:user"],
            scope_separator: " ",
            authorize_params: &[],
            authorize_url: format!("{}/authorize", oauth.github_oauth_url),
            token_url: format!("{}/access_token", oauth.github_oauth_url),
            revocation: Revocation::GithubGrant(config.connectors.github_api_url.clone()),
            account: Account::GithubUser(format!("{}/user", config.connectors.github_api_url)),
            token_style: TokenStyle::Standard,
            client,
        },
        "google" => Provider {
            id: "google",
            name: "Google",
            scopes: &[
                ("openid", "Sign the member in (OpenID Connect)."),
                ("email", "The member's email address, shown as the account."),
                (
                    "https://www.googleapis.com/auth/calendar.events",
                    "Read and write events on the member's calendars.",
                ),
                (
                    "https://www.googleapis.com/auth/calendar.readonly",
                    "Read the member's calendars.",
                ),
            ],
            default_scopes: &[
                "openid",
                "email",
                "https://www.googleapis.com/auth/calendar.events",
            ],
            scope_separator: " ",
            // A refresh token is issued only for offline access, and again on every consent.
            authorize_params: &[
                ("access_type", "offline"),
                ("prompt", "consent"),
                ("include_granted_scopes", "true"),
            ],
            authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: format!("{}/token", oauth.google_oauth_url),
            revocation: Revocation::Rfc7009(format!("{}/revoke", oauth.google_oauth_url)),
            account: Account::IdTokenEmail,
            token_style: TokenStyle::Standard,
            client,
        },
        "slack" => Provider {
            id: "slack",
            name: "Slack",
            scopes: &[
                ("commands", "Receive the `/tt` slash command."),
                ("chat:write", "Post timer notices and daily summaries."),
            ],
            default_scopes: &["commands", "chat:write"],
            scope_separator: ",",
            authorize_params: &[],
            authorize_url: "https://slack.com/oauth/v2/authorize".into(),
            token_url: format!("{}/oauth.v2.access", config.connectors.slack_api_url),
            revocation: Revocation::SlackAuthRevoke(format!(
                "{}/auth.revoke",
                config.connectors.slack_api_url
            )),
            account: Account::SlackTeam,
            token_style: TokenStyle::Standard,
            client,
        },
        "clickup" => Provider {
            id: "clickup",
            name: "ClickUp",
            scopes: &[],
            default_scopes: &[],
            scope_separator: " ",
            authorize_params: &[],
            authorize_url: "https://app.clickup.com/api".into(),
            token_url: format!("{}/oauth/token", oauth.clickup_api_url),
            revocation: Revocation::None,
            account: Account::Unknown,
            token_style: TokenStyle::QueryParameters,
            client,
        },
        _ => return None,
    };
    Some(provider)
}

/// Every provider, configured or not.
pub fn all(config: &Config) -> Vec<Provider> {
    IDS.iter().filter_map(|id| find(config, id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        let map = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_map(&map).expect("a valid configuration")
    }

    #[test]
    fn endpoints_follow_the_configured_base_urls_and_clients_need_both_halves() {
        let c = config(&[
            ("GOOGLE_OAUTH_URL", "http://127.0.0.1:9/google/"),
            ("GOOGLE_CLIENT_ID", "id-1"),
            ("GOOGLE_CLIENT_SECRET", "secret-1"),
        ]);
        let google = find(&c, "google").expect("google is a provider");
        assert_eq!(google.token_url, "http://127.0.0.1:9/google/token");
        assert_eq!(
            google.revocation,
            Revocation::Rfc7009("http://127.0.0.1:9/google/revoke".into())
        );
        assert_eq!(google.client.as_ref().map(|c| c.id.as_str()), Some("id-1"));
        assert!(!format!("{:?}", google.client).contains("secret-1"));
        assert!(find(&c, "github").is_some_and(|g| g.client.is_none()));
        assert!(find(&c, "gitlab").is_none());
        assert_eq!(all(&c).len(), IDS.len());

        let mut map = std::collections::HashMap::new();
        map.insert("SLACK_CLIENT_ID".to_owned(), "only-the-id".to_owned());
        let err = Config::from_map(&map).unwrap_err();
        assert_eq!(err.name, "SLACK_CLIENT_SECRET");
    }
}
