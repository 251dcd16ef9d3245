//! `/api/v1/integration/plugins…`: the catalog and the workspace's installations.

use axum::{extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    catalog,
    entity::{
        addon,
        installation::{self, InstallationStatus},
    },
    installations,
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plugins, register_plugin))
        .routes(routes!(installed_plugins))
        .routes(routes!(get_plugin))
        .routes(routes!(install_plugin))
        .routes(routes!(configure_plugin))
        .routes(routes!(uninstall_plugin))
}

/// An add-on of the catalog: what it asks for, before anyone installs it.
#[derive(Serialize, ToSchema)]
pub struct PluginView {
    pub id: Uuid,
    #[schema(example = "invoice-sync")]
    pub key: String,
    #[schema(example = "Invoice Sync")]
    pub name: String,
    pub description: Option<String>,
    #[schema(example = "https://addon.example.com/tb")]
    pub base_url: String,
    /// The scopes its tokens get (and only these).
    #[schema(example = json!(["read:time_entries", "read:projects"]))]
    pub scopes: Vec<String>,
    /// The events it receives.
    #[schema(example = json!(["time_entry.created"]))]
    pub events: Vec<String>,
    /// The manifest as registered (normalised).
    #[schema(value_type = Object)]
    pub manifest: Value,
    /// This workspace's installation, if any.
    pub installation: Option<InstallationView>,
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// An add-on installed in the workspace.
#[derive(Serialize, ToSchema)]
pub struct InstallationView {
    pub id: Uuid,
    pub plugin_id: Uuid,
    #[schema(example = "invoice-sync")]
    pub plugin_key: String,
    pub status: InstallationStatus,
    pub enabled: bool,
    /// Its settings, defaults filled in.
    #[schema(value_type = Object)]
    pub configuration: Value,
    /// Why the last call to the add-on failed (`null` when it answered).
    pub error: Option<String>,
    pub installed_by: Uuid,
    #[serde(with = "time::serde::rfc3339::option")]
    pub acknowledged_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub installed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

fn installation_view(i: installation::Model, a: &addon::Model) -> InstallationView {
    InstallationView {
        id: i.id,
        plugin_id: a.id,
        plugin_key: a.key.clone(),
        status: i.status,
        enabled: i.enabled,
        configuration: serde_json::from_str(&i.settings).unwrap_or_else(|_| json!({})),
        error: i.error,
        installed_by: i.installed_by,
        acknowledged_at: i.acknowledged_at,
        installed_at: i.created_at,
        updated_at: i.updated_at,
    }
}

fn plugin_view(
    a: addon::Model,
    installation: Option<installation::Model>,
) -> Result<PluginView, ApiError> {
    let manifest = catalog::manifest_of(&a)?;
    let installation = installation.map(|i| installation_view(i, &a));
    Ok(PluginView {
        id: a.id,
        key: a.key,
        name: a.name,
        description: manifest.description.clone(),
        base_url: manifest.base_url.to_string(),
        scopes: manifest.scopes.iter().map(ToString::to_string).collect(),
        events: manifest
            .webhooks
            .iter()
            .map(|w| w.event.as_str().to_owned())
            .collect(),
        manifest: manifest.to_json(),
        installation,
        registered_at: a.created_at,
        updated_at: a.updated_at,
    })
}

#[derive(Serialize, ToSchema)]
pub struct PluginList {
    pub plugins: Vec<PluginView>,
}

#[derive(Serialize, ToSchema)]
pub struct InstalledList {
    pub installations: Vec<InstallationView>,
}

/// The catalog: every registered add-on with the scopes and events it asks for, and whether
/// this workspace installed it.
#[utoipa::path(
    get, path = "/api/v1/integration/plugins", tag = "plugins",
    security(("api_token" = ["read:plugins"])),
    responses((status = 200, body = PluginList))
)]
async fn list_plugins(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<PluginList>, ApiError> {
    let installed = installations::list(&app, caller.workspace_id).await?;
    let mut plugins = Vec::new();
    for a in catalog::list(&app.db).await? {
        let mine = installed
            .iter()
            .find(|(i, _)| i.addon_id == a.id)
            .map(|(i, _)| i.clone());
        plugins.push(plugin_view(a, mine)?);
    }
    Ok(Json(PluginList { plugins }))
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterPlugin {
    /// The manifest itself…
    #[schema(value_type = Option<Object>)]
    pub manifest: Option<Value>,
    /// …or where to fetch it (the outbound rules of webhooks apply).
    #[schema(example = "https://addon.example.com/tb/manifest.json")]
    pub manifest_url: Option<String>,
}

/// Register an add-on in the catalog, or a new version of one (the instance's operators:
/// users named in `TIMEBRIDGE_OPERATORS`; `timebridge addon register` does the same). The
/// manifest is checked whole: a 400 lists every problem, each under its place in it.
#[utoipa::path(
    post, path = "/api/v1/integration/plugins", tag = "plugins",
    request_body = RegisterPlugin,
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 201, description = "A new add-on", body = PluginView),
        (status = 200, description = "A new version of a registered add-on", body = PluginView),
        (status = 400, description = "Every problem of the manifest", body = ErrorBody),
        (status = 403, description = "Not one of the instance's operators", body = ErrorBody),
    )
)]
async fn register_plugin(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<RegisterPlugin>,
) -> Result<(StatusCode, Json<PluginView>), ApiError> {
    let member = crate::directory::service::member(&app.db, caller.workspace_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("User"))?;
    if !app
        .config
        .plugins
        .operators
        .contains(&member.user.email.to_lowercase())
    {
        return Err(ApiError::Forbidden(
            "Only the instance's operators (TIMEBRIDGE_OPERATORS) register add-ons; or run \
             `timebridge addon register`"
                .into(),
        ));
    }
    let (bytes, source) = match (body.manifest, body.manifest_url) {
        (Some(manifest), None) => (manifest.to_string().into_bytes(), "api".to_owned()),
        (None, Some(url)) => (catalog::fetch(&app.config, &url).await?, url),
        _ => {
            return Err(ApiError::invalid(
                "manifest",
                "give the manifest or its manifest_url (one of them)",
            ));
        }
    };
    let (row, created) = catalog::register(&app.db, &app.config, &bytes, &source).await?;
    let mine = installations::live(app.db.conn(), caller.workspace_id, row.id).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(plugin_view(row, mine)?)))
}

/// The workspace's installed add-ons.
#[utoipa::path(
    get, path = "/api/v1/integration/plugins/installed", tag = "plugins",
    security(("api_token" = ["read:plugins"])),
    responses((status = 200, body = InstalledList))
)]
async fn installed_plugins(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<InstalledList>, ApiError> {
    let installations = installations::list(&app, caller.workspace_id)
        .await?
        .into_iter()
        .map(|(i, a)| installation_view(i, &a))
        .collect();
    Ok(Json(InstalledList { installations }))
}

/// One add-on of the catalog, by id or key.
#[utoipa::path(
    get, path = "/api/v1/integration/plugins/{id}", tag = "plugins",
    params(("id" = String, Path, description = "The add-on's id or key")),
    security(("api_token" = ["read:plugins"])),
    responses(
        (status = 200, body = PluginView),
        (status = 404, description = "No such add-on", body = ErrorBody),
    )
)]
async fn get_plugin(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PluginView>, ApiError> {
    let a = catalog::find(&app.db, &id).await?;
    let mine = installations::live(app.db.conn(), caller.workspace_id, a.id).await?;
    Ok(Json(plugin_view(a, mine)?))
}

#[derive(Deserialize, ToSchema)]
pub struct InstallPlugin {
    /// Values of the add-on's settings, by setting id; checked against the manifest (400 per
    /// setting); defaults fill in the rest.
    #[schema(value_type = Option<Object>)]
    pub configuration: Option<Map<String, Value>>,
}

/// Install an add-on in the workspace (admins). The installation is `pending` until the
/// add-on acknowledges its signed `INSTALLED` call (made in the background, retried).
#[utoipa::path(
    post, path = "/api/v1/integration/plugins/{id}/install", tag = "plugins",
    params(("id" = String, Path, description = "The add-on's id or key")),
    request_body = InstallPlugin,
    security(("api_token" = ["write:plugins"])),
    responses(
        (status = 202, description = "Installed, pending its acknowledgement", body = InstallationView),
        (status = 400, description = "A setting's value is wrong, each named", body = ErrorBody),
        (status = 403, description = "Not a workspace admin", body = ErrorBody),
        (status = 404, description = "No such add-on", body = ErrorBody),
        (status = 409, description = "Installed already, or the workspace has PLUGIN_MAX_INSTALLABLE_PER_WORKSPACE add-ons", body = ErrorBody),
    )
)]
async fn install_plugin(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<InstallPlugin>,
) -> Result<(StatusCode, Json<InstallationView>), ApiError> {
    let (a, i) = installations::install(&app, &caller.acting(), &id, body.configuration).await?;
    Ok((StatusCode::ACCEPTED, Json(installation_view(i, &a))))
}

#[derive(Deserialize, ToSchema)]
pub struct ConfigurePlugin {
    /// Settings to change (merged onto the current ones, then checked whole).
    #[schema(value_type = Option<Object>)]
    pub configuration: Option<Map<String, Value>>,
    /// Switch the add-on on or off (it is told with `STATUS_CHANGED`).
    pub enabled: Option<bool>,
}

/// Change an installed add-on's settings or switch it on or off (admins); the add-on is told
/// (`SETTINGS_UPDATED`, `STATUS_CHANGED`).
#[utoipa::path(
    patch, path = "/api/v1/integration/plugins/{id}/config", tag = "plugins",
    params(("id" = String, Path, description = "The add-on's id or key")),
    request_body = ConfigurePlugin,
    security(("api_token" = ["write:plugins"])),
    responses(
        (status = 200, body = InstallationView),
        (status = 400, description = "A setting's value is wrong, each named", body = ErrorBody),
        (status = 403, description = "Not a workspace admin", body = ErrorBody),
        (status = 404, description = "No such add-on, or not installed here", body = ErrorBody),
    )
)]
async fn configure_plugin(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<ConfigurePlugin>,
) -> Result<Json<InstallationView>, ApiError> {
    let (a, i) = installations::configure(
        &app,
        &caller.acting(),
        &id,
        body.configuration,
        body.enabled,
    )
    .await?;
    Ok(Json(installation_view(i, &a)))
}

/// Uninstall an add-on (admins): its credentials are revoked at once, the add-on is told
/// (`DELETED`), and the installation is purged after 90 days.
#[utoipa::path(
    delete, path = "/api/v1/integration/plugins/{id}/uninstall", tag = "plugins",
    params(("id" = String, Path, description = "The add-on's id or key")),
    security(("api_token" = ["write:plugins"])),
    responses(
        (status = 200, body = InstallationView),
        (status = 403, description = "Not a workspace admin", body = ErrorBody),
        (status = 404, description = "No such add-on, or not installed here", body = ErrorBody),
    )
)]
async fn uninstall_plugin(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InstallationView>, ApiError> {
    let (a, i) = installations::uninstall(&app, &caller.acting(), &id).await?;
    Ok(Json(installation_view(i, &a)))
}
