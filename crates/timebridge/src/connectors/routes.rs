//! `/api/integrations/{provider}/…`: the uniform config / status / test / sync surface
//! (token-authenticated), and the providers' webhook receivers (signature-verified, no token).

use axum::{body::Bytes, extract::State, http::HeaderMap, response::Response};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Connector, Field, Provider, Reply, store};
use crate::{
    app::AppState,
    directory::entity::user,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path},
        time,
    },
    with_connector,
};

/// The token-authenticated routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_config, put_config, delete_config))
        .routes(routes!(status))
        .routes(routes!(test))
        .routes(routes!(sync))
}

/// The receivers: providers call them, authenticated by their signatures.
pub fn receivers() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(github_webhook))
        .routes(routes!(slack_events))
}

fn provider(text: &str) -> Result<Provider, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound("Integration provider"))
}

/// A connector's config as its owner sees it.
#[derive(Serialize, ToSchema)]
pub struct ConfigView {
    pub provider: Provider,
    /// Whether the member has configured it.
    pub configured: bool,
    pub active: bool,
    /// The saved fields; secrets truncated (`ghp_…`).
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// Every field the connector takes.
    pub fields: Vec<Field>,
    /// GitHub only: the member's GitHub login (the join key for assigned issues).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_username: Option<String>,
}

async fn config_view(
    app: &AppState,
    caller: &Caller,
    provider: Provider,
) -> Result<ConfigView, ApiError> {
    let integration = store::find(app, &caller.acting(), provider).await?;
    let fields = with_connector!(provider, c => c.fields());
    let github_username = match provider {
        Provider::Github => user::Entity::find_by_id(caller.user_id)
            .one(app.db.conn())
            .await?
            .and_then(|u| u.github_username),
        Provider::Slack => None,
    };
    Ok(ConfigView {
        provider,
        configured: integration.is_some(),
        active: integration.as_ref().is_some_and(|i| i.record.active),
        config: integration.map(|i| i.masked(fields)).unwrap_or_default(),
        fields: fields.to_vec(),
        github_username,
    })
}

/// The caller's config of a connector (secrets truncated).
#[utoipa::path(
    get, path = "/api/integrations/{provider}/config", tag = "integrations",
    params(("provider" = String, Path, description = "`github` or `slack`")),
    security(("api_token" = ["read:integrations"])),
    responses(
        (status = 200, body = ConfigView),
        (status = 404, description = "Unknown provider", body = ErrorBody),
    )
)]
async fn get_config(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<ConfigView>, ApiError> {
    let provider = provider(&name)?;
    Ok(Json(config_view(&app, &caller, provider).await?))
}

/// Saves the caller's config of a connector: the fields sent change (`null` clears one),
/// secrets are stored encrypted; `active` switches it on or off. GitHub also takes
/// `github_username`, the caller's GitHub login.
#[utoipa::path(
    method(put, patch), path = "/api/integrations/{provider}/config", tag = "integrations",
    params(("provider" = String, Path, description = "`github` or `slack`")),
    request_body(content = Object, description = "Field values, and `active`"),
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, body = ConfigView),
        (status = 400, description = "Unknown or invalid fields; missing required ones", body = ErrorBody),
        (status = 404, description = "Unknown provider", body = ErrorBody),
    )
)]
async fn put_config(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<ConfigView>, ApiError> {
    let provider = provider(&name)?;
    let Value::Object(mut changes) = body else {
        return Err(ApiError::BadRequest(
            "The body must be a JSON object of fields".into(),
        ));
    };
    let acting = caller.acting();
    let login = match provider {
        Provider::Github => changes.remove("github_username"),
        Provider::Slack => None,
    };
    let fields = with_connector!(provider, c => c.fields());
    let mut draft = store::draft(&app, &acting, provider, fields, changes).await?;
    let login = check_login(&mut draft.errors, login);
    with_connector!(provider, c => c.check_config(&app, &acting, &draft.config, &mut draft.errors).await)?;
    store::persist(&app, &acting, provider, draft).await?;
    if let Some(login) = login {
        user::ActiveModel {
            id: Set(caller.user_id),
            github_username: Set(login),
            updated_at: Set(time::now()),
            ..Default::default()
        }
        .update(app.db.conn())
        .await?;
    }
    Ok(Json(config_view(&app, &caller, provider).await?))
}

/// A GitHub login: 1–39 letters, digits or single hyphens; `null` clears it.
fn check_login(
    errors: &mut crate::platform::error::FieldErrors,
    login: Option<Value>,
) -> Option<Option<String>> {
    match login? {
        Value::Null => Some(None),
        Value::String(s) => {
            let s = s.trim().to_owned();
            let valid = !s.is_empty()
                && s.len() <= 39
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if valid {
                Some(Some(s))
            } else {
                errors.add("github_username", "must be a GitHub login");
                None
            }
        }
        _ => {
            errors.add("github_username", "must be a string");
            None
        }
    }
}

/// Removes the caller's integration and revokes its credentials where the provider allows.
#[utoipa::path(
    delete, path = "/api/integrations/{provider}/config", tag = "integrations",
    params(("provider" = String, Path, description = "`github` or `slack`")),
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, description = "`{ok, …}`; `ok: false` when nothing was configured", body = Object),
        (status = 404, description = "Unknown provider", body = ErrorBody),
    )
)]
async fn delete_config(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let provider = provider(&name)?;
    let Some(integration) = store::find(&app, &caller.acting(), provider).await? else {
        return Ok(Json(Reply::not_configured().0));
    };
    let reply = with_connector!(provider, c => c.revoke(&app, &integration).await);
    Ok(Json(reply.0))
}

/// Whether the caller's integration is configured and active, and how its last calls went.
#[utoipa::path(
    get, path = "/api/integrations/{provider}/status", tag = "integrations",
    params(("provider" = String, Path, description = "`github` or `slack`")),
    security(("api_token" = ["read:integrations"])),
    responses(
        (status = 200, description = "`{ok: true, active, last_ok_at, last_error, last_sync_at}`, or `{ok: false, error: \"Integration not configured\"}`", body = Object),
        (status = 404, description = "Unknown provider", body = ErrorBody),
    )
)]
async fn status(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let provider = provider(&name)?;
    let Some(i) = active(&app, &caller, provider).await? else {
        return Ok(Json(Reply::not_configured().0));
    };
    let rfc = |t: Option<::time::OffsetDateTime>| t.and_then(|t| t.format(&time::Rfc3339).ok());
    Ok(Json(
        Reply::ok(json!({
            "provider": provider,
            "active": i.record.active,
            "last_ok_at": rfc(i.record.last_ok_at),
            "last_error": i.record.last_error,
            "last_error_at": rfc(i.record.last_error_at),
            "last_sync_at": rfc(i.record.last_sync_at),
        }))
        .0,
    ))
}

/// Calls the provider with the caller's credentials, to prove they work.
#[utoipa::path(
    post, path = "/api/integrations/{provider}/test", tag = "integrations",
    params(("provider" = String, Path, description = "`github` or `slack`")),
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, description = "`{ok: true, …}` or `{ok: false, error}`", body = Object),
        (status = 404, description = "Unknown provider", body = ErrorBody),
    )
)]
async fn test(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let provider = provider(&name)?;
    let Some(integration) = active(&app, &caller, provider).await? else {
        return Ok(Json(Reply::not_configured().0));
    };
    Ok(Json(
        with_connector!(provider, c => c.test(&app, &integration).await).0,
    ))
}

/// Pulls the provider's data in now (admins; GitHub: the repository's open issues).
#[utoipa::path(
    post, path = "/api/integrations/{provider}/sync", tag = "integrations",
    params(("provider" = String, Path, description = "`github`")),
    request_body(content = Option<Object>, description = "Provider-specific options"),
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, description = "`{ok: true, issues, created, updated, unchanged}` or `{ok: false, error}`", body = Object),
        (status = 403, description = "Not a workspace admin", body = ErrorBody),
        (status = 404, description = "Unknown provider", body = ErrorBody),
    )
)]
async fn sync(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let provider = provider(&name)?;
    let acting = caller.acting();
    if !acting.is_admin {
        return Err(ApiError::Forbidden(
            "Only workspace admins run a sync".into(),
        ));
    }
    let params: Value = crate::platform::extract::optional_json(&body)?;
    let Some(integration) = active(&app, &caller, provider).await? else {
        return Ok(Json(Reply::not_configured().0));
    };
    Ok(Json(
        with_connector!(provider, c => c.sync(&app, &acting, &integration, &params).await).0,
    ))
}

async fn active(
    app: &AppState,
    caller: &Caller,
    provider: Provider,
) -> Result<Option<store::Integration>, ApiError> {
    Ok(store::find(app, &caller.acting(), provider)
        .await?
        .filter(|i| i.record.active))
}

/// GitHub's webhook: `X-Hub-Signature-256` is checked before the payload is read; each
/// `X-GitHub-Delivery` is applied once.
#[utoipa::path(
    post, path = "/api/integrations/github/webhook", tag = "integrations",
    request_body(content = Object, description = "A GitHub webhook payload"),
    responses(
        (status = 200, description = "`{ok: true, …}`; `duplicate: true` for a delivery already applied; `ignored: true` for events not handled", body = Object),
        (status = 400, description = "Malformed payload or missing headers", body = Object),
        (status = 401, description = "Missing or invalid signature", body = Object),
    )
)]
async fn github_webhook(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    super::github::GithubConnector
        .handle_webhook(&app, &headers, body)
        .await
}

/// Slack's events and slash commands: `X-Slack-Signature` (v0) is checked, and requests older
/// than five minutes are refused.
#[utoipa::path(
    post, path = "/api/integrations/slack/events", tag = "integrations",
    request_body(content = Object, description = "A Slack Events API payload (JSON) or a slash command (form)"),
    responses(
        (status = 200, description = "The `url_verification` challenge, or an ephemeral reply", body = Object),
        (status = 400, description = "Malformed request", body = Object),
        (status = 401, description = "Missing, invalid or stale signature", body = Object),
    )
)]
async fn slack_events(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    super::slack::SlackConnector
        .handle_webhook(&app, &headers, body)
        .await
}
