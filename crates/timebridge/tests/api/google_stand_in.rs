//! A stand-in for Google's OAuth 2.0 endpoints on 127.0.0.1, speaking their protocol as Google
//! documents it (https://developers.google.com/identity/protocols/oauth2/web-server):
//!
//! - `POST /token` (form-encoded): `grant_type=authorization_code` with `code`,
//!   `redirect_uri`, `client_id`, `client_secret` and the PKCE `code_verifier`, checked against
//!   the S256 `code_challenge` the code was granted for; `grant_type=refresh_token`. Answers
//!   `{access_token, expires_in, refresh_token?, scope, token_type: "Bearer", id_token?}`, or
//!   `400 {"error": "invalid_grant", "error_description": …}` / `401 invalid_client`.
//! - `POST /revoke` (form `token=…`): `200 {}`, or `400 {"error": "invalid_token"}`.
//!
//! Refresh tokens can rotate (each refresh answers a new one and kills the old), be revoked,
//! and the token endpoint can be slowed down, to test concurrent refreshes.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Form, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

pub const CLIENT_ID: &str = "1234567890-stand-in.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-stand-in-secret";

#[derive(Default)]
struct Inner {
    /// code → (PKCE challenge, redirect URI, scopes) it was granted for.
    codes: HashMap<String, (String, String, String)>,
    /// Live refresh tokens.
    refresh_tokens: HashSet<String>,
    rotate: bool,
    delay: Duration,
    revoke_fails: bool,
    issued: u64,
    requests: Vec<HashMap<String, String>>,
    revoked: Vec<String>,
}

pub struct GoogleOAuth {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    _stop: oneshot::Sender<()>,
}

impl GoogleOAuth {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let router = Router::new()
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            base: format!("http://{addr}"),
            inner,
            _stop: tx,
        }
    }

    /// The settings that point a server at this stand-in with its client.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GOOGLE_OAUTH_URL", self.base.clone()),
            ("GOOGLE_CLIENT_ID", CLIENT_ID.to_owned()),
            ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ]
    }

    /// What Google's consent screen does: grants `code` for the authorization URL's PKCE
    /// challenge, redirect URI and scopes.
    pub fn consent(&self, authorization_url: &str, code: &str) {
        let url = reqwest::Url::parse(authorization_url).expect("an authorization URL");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(
            q.get("code_challenge_method").map(String::as_str),
            Some("S256")
        );
        self.inner.lock().unwrap().codes.insert(
            code.to_owned(),
            (
                q["code_challenge"].clone(),
                q["redirect_uri"].clone(),
                q.get("scope").cloned().unwrap_or_default(),
            ),
        );
    }

    /// A live refresh token, as if issued earlier.
    pub fn add_refresh_token(&self, token: &str) {
        self.inner
            .lock()
            .unwrap()
            .refresh_tokens
            .insert(token.to_owned());
    }

    /// Refreshes answer a new refresh token and kill the one used.
    pub fn rotate_refresh_tokens(&self) {
        self.inner.lock().unwrap().rotate = true;
    }

    /// The member revoked access in their Google account.
    pub fn revoke_all(&self) {
        self.inner.lock().unwrap().refresh_tokens.clear();
    }

    pub fn slow_down(&self, delay: Duration) {
        self.inner.lock().unwrap().delay = delay;
    }

    pub fn fail_revocations(&self) {
        self.inner.lock().unwrap().revoke_fails = true;
    }

    /// Every token request's form, in order.
    pub fn token_requests(&self) -> Vec<HashMap<String, String>> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn refreshes(&self) -> usize {
        self.token_requests()
            .iter()
            .filter(|r| r.get("grant_type").map(String::as_str) == Some("refresh_token"))
            .count()
    }

    /// Tokens revoked through `/revoke`.
    pub fn revoked(&self) -> Vec<String> {
        self.inner.lock().unwrap().revoked.clone()
    }
}

fn error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// An unsigned-looking but well-formed ID token carrying the account's email.
fn id_token(email: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"stand-in","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(
        json!({"iss": "https://accounts.google.com", "aud": CLIENT_ID, "sub": "110169484474386276334", "email": email, "email_verified": true})
            .to_string(),
    );
    format!("{header}.{claims}.c2lnbmF0dXJl")
}

async fn token(
    State(inner): State<Arc<Mutex<Inner>>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let delay = {
        let mut state = inner.lock().unwrap();
        state.requests.push(form.clone());
        state.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    let mut state = inner.lock().unwrap();
    state.issued += 1;
    let n = state.issued;
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some((challenge, redirect, scope)) = state.codes.remove(&code) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Malformed auth code.",
                );
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid code verifier.",
                );
            }
            if form.get("redirect_uri") != Some(&redirect) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri_mismatch",
                    "Bad Request",
                );
            }
            let refresh = format!("1//0refresh-{n}");
            state.refresh_tokens.insert(refresh.clone());
            axum::Json(json!({
                "access_token": format!("ya29.access-{n}"),
                "expires_in": 3599,
                "refresh_token": refresh,
                "scope": scope,
                "token_type": "Bearer",
                "id_token": id_token("ada@example.com"),
            }))
            .into_response()
        }
        Some("refresh_token") => {
            let refresh = form.get("refresh_token").cloned().unwrap_or_default();
            if !state.refresh_tokens.contains(&refresh) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                );
            }
            let mut body = json!({
                "access_token": format!("ya29.access-{n}"),
                "expires_in": 3599,
                "scope": "openid https://www.googleapis.com/auth/calendar.events email",
                "token_type": "Bearer",
            });
            if state.rotate {
                state.refresh_tokens.remove(&refresh);
                let next = format!("1//0refresh-{n}");
                state.refresh_tokens.insert(next.clone());
                body["refresh_token"] = Value::String(next);
            }
            axum::Json(body).into_response()
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type.",
        ),
    }
}

async fn revoke(
    State(inner): State<Arc<Mutex<Inner>>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = inner.lock().unwrap();
    if state.revoke_fails {
        return (StatusCode::SERVICE_UNAVAILABLE, "backend error").into_response();
    }
    let token = form.get("token").cloned().unwrap_or_default();
    if !state.refresh_tokens.remove(&token) && !token.starts_with("ya29.") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        );
    }
    state.revoked.push(token);
    axum::Json(json!({})).into_response()
}
