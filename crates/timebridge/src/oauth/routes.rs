//! `/api/v1/integration/oauth/…`: the OAuth apps, a member's connections, and the callback
//! (as an API call, and as the page a member's browser lands on).

use axum::{
    extract::State,
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    OauthConnectionView,
    entity::connection::{self, Column},
    flow::{self, Callback, Pasted},
    providers::{self, Provider},
    tokens,
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query},
    },
};

/// The token-authenticated routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_apps))
        .routes(routes!(get_app))
        .routes(routes!(list_connections, create_connection))
        .routes(routes!(get_connection, delete_connection))
        .routes(routes!(api_callback))
}

/// The page a member's browser lands on (authenticated by the `state` it carries).
pub fn browser() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(browser_callback))
}

/// One scope an app offers.
#[derive(Serialize, ToSchema)]
pub struct ScopeView {
    #[schema(example = "email")]
    pub scope: &'static str,
    pub description: &'static str,
}

/// An OAuth app: a provider members can connect to.
#[derive(Serialize, ToSchema)]
pub struct OauthAppView {
    /// `github`, `google`, `slack` or `clickup`.
    #[schema(example = "google")]
    pub id: &'static str,
    #[schema(example = "Google")]
    pub name: &'static str,
    pub scopes: Vec<ScopeView>,
    /// Asked for when a connection names none.
    pub default_scopes: Vec<&'static str>,
    /// Whether the operator configured a client (`{ID}_CLIENT_ID` and `{ID}_CLIENT_SECRET`):
    /// only then can a member connect through the provider.
    pub configured: bool,
    /// The callback URL to register with the provider.
    #[schema(example = "https://timebridge.example.com/api/v1/integration/oauth/callback")]
    pub redirect_uri: String,
}

fn app_view(provider: &Provider, redirect_uri: &str) -> OauthAppView {
    OauthAppView {
        id: provider.id,
        name: provider.name,
        scopes: provider
            .scopes
            .iter()
            .map(|(scope, description)| ScopeView { scope, description })
            .collect(),
        default_scopes: provider.default_scopes.to_vec(),
        configured: provider.client.is_some(),
        redirect_uri: redirect_uri.to_owned(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct OauthAppList {
    pub apps: Vec<OauthAppView>,
}

/// Lists the OAuth apps members can connect to, and whether each is set up.
#[utoipa::path(
    get, path = "/api/v1/integration/oauth/apps", tag = "integrations",
    security(("api_token" = ["read:integrations"])),
    responses((status = 200, body = OauthAppList))
)]
async fn list_apps(State(app): State<AppState>, _caller: Caller) -> Json<OauthAppList> {
    let redirect = flow::redirect_uri(&app.config);
    Json(OauthAppList {
        apps: providers::all(&app.config)
            .iter()
            .map(|p| app_view(p, &redirect))
            .collect(),
    })
}

/// One OAuth app.
#[utoipa::path(
    get, path = "/api/v1/integration/oauth/apps/{id}", tag = "integrations",
    params(("id" = String, Path, description = "`github`, `google`, `slack` or `clickup`", example = "google")),
    security(("api_token" = ["read:integrations"])),
    responses(
        (status = 200, body = OauthAppView),
        (status = 404, description = "No such app", body = ErrorBody),
    )
)]
async fn get_app(
    State(app): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<OauthAppView>, ApiError> {
    let provider =
        providers::find(&app.config, id.trim()).ok_or(ApiError::NotFound("OAuth app"))?;
    Ok(Json(app_view(&provider, &flow::redirect_uri(&app.config))))
}

#[derive(Serialize, ToSchema)]
pub struct OauthConnectionList {
    pub connections: Vec<OauthConnectionView>,
}

/// Lists the caller's connections in this workspace.
#[utoipa::path(
    get, path = "/api/v1/integration/oauth/connections", tag = "integrations",
    security(("api_token" = ["read:integrations"])),
    responses((status = 200, body = OauthConnectionList))
)]
async fn list_connections(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<OauthConnectionList>, ApiError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let rows = connection::Entity::find()
        .filter(Column::WorkspaceId.eq(caller.workspace_id))
        .filter(Column::UserId.eq(caller.user_id))
        .order_by_asc(Column::Provider)
        .all(app.db.conn())
        .await?;
    Ok(Json(OauthConnectionList {
        connections: rows.iter().map(OauthConnectionView::from).collect(),
    }))
}

/// Starts a connection (`oauth_app_id` alone, or with `scopes`): answers the URL to send the
/// member's browser to. Or stores a token the member pastes (`access_token`, optionally
/// `refresh_token` and `expires_in`).
#[derive(Deserialize, ToSchema)]
pub struct CreateConnection {
    #[schema(schema_with = app_id_schema)]
    pub oauth_app_id: String,
    /// Scopes to ask for, each one the app offers (default: the app's `default_scopes`).
    #[schema(example = json!(["openid", "email"]))]
    pub scopes: Option<Vec<String>>,
    /// A token the member already has (no flow): stored sealed as the connection.
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = "\\S",
        example = "ya29.a0AfB_example"
    )]
    pub access_token: Option<String>,
    /// With `access_token`: its refresh token (refreshing needs the operator's client).
    #[schema(min_length = 1, max_length = 4096, pattern = "\\S", example = json!(null))]
    pub refresh_token: Option<String>,
    /// With `access_token`: seconds until it expires (default: it does not).
    #[schema(minimum = 1, maximum = 31_536_000, example = json!(null))]
    pub expires_in: Option<i64>,
}

/// The schema of an app id: one of the providers.
fn app_id_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(providers::IDS.iter().copied()))
        .description(Some("The OAuth app (provider) to connect to."))
        .examples(["google"])
        .into()
}

/// A flow started: send the member's browser to `authorization_url`.
#[derive(Serialize, ToSchema)]
pub struct ConnectionStarted {
    #[schema(
        example = "https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=…&state=…&code_challenge=…&code_challenge_method=S256"
    )]
    pub authorization_url: String,
    /// The flow's `state`; the callback must bring it back.
    pub state: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Serialize, ToSchema)]
pub struct OauthConnectionEnvelope {
    pub connection: OauthConnectionView,
}

fn pasted_token(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value.map(|v| v.trim().to_owned()) {
        None => Ok(None),
        Some(v) if v.is_empty() => Err(ApiError::invalid(field, "must not be empty")),
        Some(v) if v.len() > 4096 => {
            Err(ApiError::invalid(field, "must be at most 4096 characters"))
        }
        Some(v) => Ok(Some(v)),
    }
}

/// Connects the caller to an OAuth app.
#[utoipa::path(
    post, path = "/api/v1/integration/oauth/connections", tag = "integrations",
    request_body = CreateConnection,
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, description = "A flow started", body = ConnectionStarted),
        (status = 201, description = "A pasted token stored", body = OauthConnectionEnvelope),
        (status = 400, description = "Unknown app or scope; a bad token", body = ErrorBody),
        (status = 422, description = "The operator has not configured the app", body = ErrorBody),
    )
)]
async fn create_connection(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateConnection>,
) -> Result<Response, ApiError> {
    let provider = flow::provider(&app.config, &body.oauth_app_id)?;
    let access_token = pasted_token("access_token", body.access_token)?;
    let refresh_token = pasted_token("refresh_token", body.refresh_token)?;
    if let Some(seconds) = body.expires_in
        && !(1..=31_536_000).contains(&seconds)
    {
        return Err(ApiError::invalid(
            "expires_in",
            "must be 1 to 31536000 seconds",
        ));
    }
    let Some(access_token) = access_token else {
        if refresh_token.is_some() || body.expires_in.is_some() {
            return Err(ApiError::invalid(
                "access_token",
                "is required with refresh_token or expires_in",
            ));
        }
        let started = flow::start(
            &app,
            caller.workspace_id,
            caller.user_id,
            &provider,
            body.scopes,
        )
        .await?;
        return Ok(Json(ConnectionStarted {
            authorization_url: started.authorization_url,
            state: started.state,
            expires_at: started.expires_at,
        })
        .into_response());
    };
    let pasted = Pasted {
        access_token,
        refresh_token,
        expires_in: body.expires_in,
        scopes: body.scopes,
    };
    let row = flow::paste(&app, caller.workspace_id, caller.user_id, &provider, pasted).await?;
    Ok((
        StatusCode::CREATED,
        Json(OauthConnectionEnvelope {
            connection: OauthConnectionView::from(&row),
        }),
    )
        .into_response())
}

/// The caller's connection `id` in this workspace.
async fn own(app: &AppState, caller: &Caller, id: Uuid) -> Result<connection::Model, ApiError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    connection::Entity::find_by_id(id)
        .filter(Column::WorkspaceId.eq(caller.workspace_id))
        .filter(Column::UserId.eq(caller.user_id))
        .one(app.db.conn())
        .await?
        .ok_or(ApiError::NotFound("Connection"))
}

/// One of the caller's connections: its status, scopes, expiry and account (never a token).
#[utoipa::path(
    get, path = "/api/v1/integration/oauth/connections/{id}", tag = "integrations",
    params(("id" = Uuid, Path, description = "The connection")),
    security(("api_token" = ["read:integrations"])),
    responses(
        (status = 200, body = OauthConnectionEnvelope),
        (status = 404, description = "No such connection of the caller", body = ErrorBody),
    )
)]
async fn get_connection(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<OauthConnectionEnvelope>, ApiError> {
    let row = own(&app, &caller, id).await?;
    Ok(Json(OauthConnectionEnvelope {
        connection: OauthConnectionView::from(&row),
    }))
}

/// What disconnecting did.
#[derive(Serialize, ToSchema)]
pub struct Disconnected {
    #[schema(example = "Connection removed")]
    pub message: String,
    /// Whether the provider took the tokens back (`false`: it offers no revocation, or failed).
    pub revoked: bool,
    /// Why the provider's revocation failed; the tokens were forgotten anyway.
    pub revocation_error: Option<String>,
}

/// Disconnects: revokes the tokens at the provider where it offers that (Google's revoke
/// endpoint, GitHub's grant deletion, Slack's `auth.revoke`), then forgets them even if the
/// provider failed.
#[utoipa::path(
    delete, path = "/api/v1/integration/oauth/connections/{id}", tag = "integrations",
    params(("id" = Uuid, Path, description = "The connection")),
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, body = Disconnected),
        (status = 404, description = "No such connection of the caller", body = ErrorBody),
    )
)]
async fn delete_connection(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Disconnected>, ApiError> {
    let row = own(&app, &caller, id).await?;
    let (revoked, revocation_error) = tokens::disconnect(&app, &row).await?;
    Ok(Json(Disconnected {
        message: "Connection removed".into(),
        revoked,
        revocation_error,
    }))
}

/// What the provider sent back.
#[derive(Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The flow's `state`.
    #[schema(min_length = 1)]
    #[param(min_length = 1)]
    pub state: String,
    /// The authorization code (absent when the member declined).
    pub code: Option<String>,
    /// The provider's error, e.g. `access_denied`.
    pub error: Option<String>,
}

/// Finishes a flow the caller started: exchanges the code (with the flow's PKCE verifier) and
/// stores the connection. A `state` that is unknown, expired, already used or started by
/// another member is refused, and nothing is stored.
#[utoipa::path(
    post, path = "/api/v1/integration/oauth/callback", tag = "integrations",
    request_body = CallbackParams,
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 201, body = OauthConnectionEnvelope),
        (status = 400, description = "Bad, expired or used state; the provider refused the code", body = ErrorBody),
        (status = 403, description = "Another member started this flow", body = ErrorBody),
        (status = 503, description = "The provider could not be reached", body = ErrorBody),
    )
)]
async fn api_callback(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CallbackParams>,
) -> Result<(StatusCode, Json<OauthConnectionEnvelope>), ApiError> {
    let row = flow::finish(
        &app,
        Callback {
            state: &body.state,
            code: body.code.as_deref(),
            error: body.error.as_deref(),
        },
        Some((caller.workspace_id, caller.user_id)),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(OauthConnectionEnvelope {
            connection: OauthConnectionView::from(&row),
        }),
    ))
}

/// Where the provider sends the member's browser: finishes the flow the `state` names (for the
/// member who started it) and shows a page saying how it went. No API token: the single-use
/// `state` is the proof.
#[utoipa::path(
    get, path = "/api/v1/integration/oauth/callback", tag = "integrations",
    params(CallbackParams),
    responses(
        (status = 200, description = "Connected: a page for the member", content_type = "text/html", body = String),
        (status = 400, description = "Bad, expired or used state, or the provider refused: a page saying so", content_type = "text/html", body = String),
    )
)]
async fn browser_callback(
    State(app): State<AppState>,
    Query(params): Query<CallbackParams>,
) -> Response {
    finish_in_browser(&app, params).await
}

/// Finishes the flow a browser brings back and answers the page saying how it went (for the
/// OAuth callback, and a connector's own callback path).
pub async fn finish_in_browser(app: &AppState, params: CallbackParams) -> Response {
    let outcome = flow::finish(
        app,
        Callback {
            state: &params.state,
            code: params.code.as_deref(),
            error: params.error.as_deref(),
        },
        None,
    )
    .await;
    match outcome {
        Ok(row) => {
            let account = row
                .account_name
                .as_deref()
                .map(|a| format!(" as {}", escape(a)))
                .unwrap_or_default();
            page(
                StatusCode::OK,
                &format!(
                    "Connected to {}{account}. You can close this window.",
                    escape(&row.provider)
                ),
            )
        }
        Err(e) => {
            let reason = match &e {
                ApiError::Validation(errors) => errors.summary(),
                other => other.shown(),
            };
            page(e.status(), &format!("Not connected: {}", escape(&reason)))
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, message: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Timebridge</title></head>\
             <body><p>{message}</p></body></html>"
        )),
    )
        .into_response()
}
