//! Talking to a provider's OAuth endpoints with the `oauth2` crate, over the connectors'
//! outbound client (no redirects followed, 10-second timeout): exchanging a code (with its
//! PKCE verifier) or a refresh token, learning the account's name, and revoking.

use ::time::{Duration, OffsetDateTime};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
    basic::{
        BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
        BasicTokenIntrospectionResponse, BasicTokenType,
    },
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::providers::{Account, Provider, Revocation, TokenStyle};
use crate::{config::OAuthClient, connectors::outbound, platform::time};

/// Fields of a token response beyond RFC 6749's that we read.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Extra {
    /// OpenID Connect: the signed-in identity (Google).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Slack: the workspace the app was installed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Value>,
}

impl ExtraTokenFields for Extra {}

type Response = StandardTokenResponse<Extra, BasicTokenType>;

type Client = oauth2::Client<
    BasicErrorResponse,
    Response,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Tokens a provider issued.
#[derive(Clone, Debug)]
pub struct Issued {
    pub access_token: String,
    /// `None` when the provider sent none (then a refresh keeps the old one).
    pub refresh_token: Option<String>,
    /// `None` when the provider said nothing about expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Space-separated, when the provider said which it granted.
    pub scopes: Option<String>,
    /// The account's name where the response carries it.
    pub account_name: Option<String>,
}

/// Why a token request failed.
#[derive(Debug)]
pub enum Failure {
    /// The provider refused the grant (`invalid_grant`): a code already used or expired, a
    /// refresh token revoked or expired. Retrying cannot help.
    Refused(String),
    /// Anything else: the provider unreachable or answering nonsense, a client misconfigured.
    /// Worth trying again later.
    Failed(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Self::Refused(m) | Self::Failed(m) => m,
        }
    }
}

/// The `oauth2` client of `provider` with the operator's credentials.
pub fn build(provider: &Provider, credentials: &OAuthClient, redirect_uri: &str) -> Client {
    let client = oauth2::Client::new(ClientId::new(credentials.id.clone()))
        .set_client_secret(ClientSecret::new(credentials.secret.clone()))
        .set_auth_uri(AuthUrl::new(provider.authorize_url.clone()).expect("a valid URL"))
        .set_token_uri(TokenUrl::new(provider.token_url.clone()).expect("a valid URL"));
    let client = match RedirectUrl::new(redirect_uri.to_owned()) {
        Ok(url) => client.set_redirect_uri(url),
        Err(_) => client,
    };
    // Every provider here accepts the client's credentials in the form body; ClickUp accepts
    // nothing else.
    client.set_auth_type(AuthType::RequestBody)
}

/// Exchanges an authorization code, proving the flow with its PKCE verifier.
pub async fn exchange_code(
    provider: &Provider,
    credentials: &OAuthClient,
    redirect_uri: &str,
    code: &str,
    verifier: String,
) -> Result<Issued, Failure> {
    if provider.token_style == TokenStyle::QueryParameters {
        return exchange_in_query(provider, credentials, code).await;
    }
    let client = build(provider, credentials, redirect_uri);
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(outbound::client())
        .await
        .map_err(|e| failure(provider, e))?;
    Ok(issued(provider, &response).await)
}

/// Exchanges a refresh token for new tokens.
pub async fn refresh(
    provider: &Provider,
    credentials: &OAuthClient,
    refresh_token: &str,
) -> Result<Issued, Failure> {
    let client = build(provider, credentials, "");
    let token = RefreshToken::new(refresh_token.to_owned());
    let response = client
        .exchange_refresh_token(&token)
        .request_async(outbound::client())
        .await
        .map_err(|e| failure(provider, e))?;
    Ok(issued(provider, &response).await)
}

/// ClickUp's exchange: the client and the code in the query string, `{"access_token": …}` back
/// (or `{"err": …, "ECODE": …}`).
async fn exchange_in_query(
    provider: &Provider,
    credentials: &OAuthClient,
    code: &str,
) -> Result<Issued, Failure> {
    let response = outbound::client()
        .post(&provider.token_url)
        .query(&[
            ("client_id", credentials.id.as_str()),
            ("client_secret", credentials.secret.as_str()),
            ("code", code),
        ])
        .send()
        .await
        .map_err(|e| Failure::Failed(format!("{}: {}", provider.name, outbound::describe(&e))))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if let Some(token) = body.get("access_token").and_then(Value::as_str)
        && status.is_success()
    {
        return Ok(Issued {
            access_token: token.to_owned(),
            refresh_token: None,
            expires_at: None,
            scopes: None,
            account_name: None,
        });
    }
    let reason = body
        .get("err")
        .and_then(Value::as_str)
        .unwrap_or("no token in the answer");
    let message = format!(
        "{} refused the request: {reason} ({})",
        provider.name,
        status.as_u16()
    );
    Err(if status.is_client_error() {
        Failure::Refused(message)
    } else {
        Failure::Failed(message)
    })
}

fn failure(
    provider: &Provider,
    error: RequestTokenError<oauth2::HttpClientError<reqwest::Error>, BasicErrorResponse>,
) -> Failure {
    match error {
        RequestTokenError::ServerResponse(e) => {
            let detail = e
                .error_description()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            let message = format!(
                "{} refused the request: {}{detail}",
                provider.name,
                e.error()
            );
            match e.error() {
                BasicErrorResponseType::InvalidGrant => Failure::Refused(message),
                _ => Failure::Failed(message),
            }
        }
        RequestTokenError::Request(oauth2::HttpClientError::Reqwest(e)) => {
            Failure::Failed(format!("{}: {}", provider.name, outbound::describe(&e)))
        }
        RequestTokenError::Request(_) => {
            Failure::Failed(format!("{}: the request failed", provider.name))
        }
        RequestTokenError::Parse(_, _) => Failure::Failed(format!(
            "{}'s token endpoint answered something that is not a token",
            provider.name
        )),
        RequestTokenError::Other(message) => {
            Failure::Failed(format!("{}: {message}", provider.name))
        }
    }
}

async fn issued(provider: &Provider, response: &Response) -> Issued {
    let access_token = response.access_token().secret().clone();
    let account_name = match &provider.account {
        Account::IdTokenEmail => response
            .extra_fields()
            .id_token
            .as_deref()
            .and_then(id_token_email),
        Account::SlackTeam => response
            .extra_fields()
            .team
            .as_ref()
            .and_then(|t| t.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        Account::GithubUser(url) => github_login(url, &access_token).await,
        Account::Unknown => None,
    };
    Issued {
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        expires_at: response
            .expires_in()
            .and_then(|d| Duration::try_from(d).ok().map(|d| time::now() + d)),
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        access_token,
        account_name,
    }
}

/// The `email` claim of an ID token's payload.
fn id_token_email(id_token: &str) -> Option<String> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let payload = id_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

pub async fn github_login(url: &str, token: &str) -> Option<String> {
    let response = outbound::client()
        .get(url)
        .bearer_auth(token)
        .header("Accept", "application/vnd.github+json")
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let user: Value = response.json().await.ok()?;
    user.get("login").and_then(Value::as_str).map(str::to_owned)
}

/// Takes a token back at the provider. `Ok(false)` when the provider offers no revocation.
pub async fn revoke(
    provider: &Provider,
    credentials: Option<&OAuthClient>,
    access_token: &str,
    refresh_token: Option<&str>,
) -> Result<bool, String> {
    let name = provider.name;
    let sent = match &provider.revocation {
        Revocation::None => return Ok(false),
        // Revoking the refresh token revokes the whole grant at Google.
        Revocation::Rfc7009(url) => {
            outbound::client()
                .post(url)
                .form(&[("token", refresh_token.unwrap_or(access_token))])
                .send()
                .await
        }
        Revocation::GithubGrant(api) => {
            let Some(credentials) = credentials else {
                return Err(format!("{name}: no client is configured to revoke with"));
            };
            outbound::client()
                .delete(format!("{api}/applications/{}/grant", credentials.id))
                .basic_auth(&credentials.id, Some(&credentials.secret))
                .header("Accept", "application/vnd.github+json")
                .json(&serde_json::json!({"access_token": access_token}))
                .send()
                .await
        }
        Revocation::SlackAuthRevoke(url) => {
            outbound::client()
                .post(url)
                .bearer_auth(access_token)
                .send()
                .await
        }
    };
    let response = sent.map_err(|e| format!("{name}: {}", outbound::describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "{name} answered {} to the revocation",
            status.as_u16()
        ));
    }
    if matches!(provider.revocation, Revocation::SlackAuthRevoke(_)) {
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if body.get("ok") != Some(&Value::Bool(true)) {
            let error = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            return Err(format!("{name} refused the revocation: {error}"));
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_is_the_id_tokens_email() {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let claims = URL_SAFE_NO_PAD
            .encode(br#"{"iss":"https://accounts.google.com","email":"ada@example.com"}"#);
        let token = format!("eyJhbGciOiJSUzI1NiJ9.{claims}.c2lnbmF0dXJl");
        assert_eq!(id_token_email(&token).as_deref(), Some("ada@example.com"));
        assert_eq!(id_token_email("not-a-jwt"), None);
    }
}
