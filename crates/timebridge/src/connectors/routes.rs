//! `/api/integrations/{provider}/…`: the uniform config / status / test / sync surface
//! (token-authenticated), driven by the [`ConnectorRegistry`], and the receivers the registered
//! connectors declare (signature-verified, no token).

use std::sync::Arc;

use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tracing::Instrument;
use utoipa::{
    ToSchema,
    openapi::{
        Content, HttpMethod, ObjectBuilder, PathItem, PathsBuilder, Required,
        path::OperationBuilder, request_body::RequestBodyBuilder, response::ResponseBuilder,
    },
};
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouter},
    routes,
};

use super::{Connector, ConnectorRegistry, Field, Provider, Receiver, Reply, store};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path},
        time,
    },
};

/// The token-authenticated routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_config, put_config, delete_config))
        .routes(routes!(status))
        .routes(routes!(test))
        .routes(routes!(sync))
        .routes(routes!(connect))
        .routes(routes!(disconnect))
}

/// The connector a path names: 404 for an unknown provider, or one without a connector.
fn connector<'a>(app: &'a AppState, name: &str) -> Result<&'a Arc<dyn Connector>, ApiError> {
    app.connectors
        .find(name)
        .ok_or(ApiError::NotFound("Integration provider"))
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
    /// The connector's settings of the member, kept outside the integration (a login on the
    /// provider, say): at the top level, and taken by a PUT under the same names.
    #[serde(flatten)]
    pub member_settings: std::collections::BTreeMap<String, Value>,
}

async fn config_view(
    app: &AppState,
    caller: &Caller,
    connector: &dyn Connector,
) -> Result<ConfigView, ApiError> {
    let acting = caller.acting();
    let provider = connector.provider();
    let integration = store::find(app, &acting, provider).await?;
    let fields = connector.fields();
    let member_settings = connector.member_settings(app, &acting).await?;
    Ok(ConfigView {
        provider,
        configured: integration.is_some(),
        active: integration.as_ref().is_some_and(|i| i.record.active),
        config: integration.map(|i| i.masked(fields)).unwrap_or_default(),
        fields: fields.to_vec(),
        member_settings: member_settings.into_iter().collect(),
    })
}

/// The caller's config of a connector (secrets truncated).
#[utoipa::path(
    get, path = "/api/integrations/{provider}/config", tag = "integrations",
    params(("provider" = Provider, Path, description = "The connector")),
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
    let connector = connector(&app, &name)?;
    Ok(Json(config_view(&app, &caller, &**connector).await?))
}

/// Saves the caller's config of a connector: the fields sent change (`null` clears one),
/// secrets are stored encrypted; `active` switches it on or off. The connector's member
/// settings (shown beside its fields) are taken too.
#[utoipa::path(
    method(put, patch), path = "/api/integrations/{provider}/config", tag = "integrations",
    params(("provider" = Provider, Path, description = "The connector")),
    request_body(content = Object, description = "A JSON object (anything else is a 400). Its keys: the connector's fields (listed in `fields` of `GET …/config`; any other key is a 400 naming it), its member settings, and `active` (`true` or `false`). A field's value by its `kind`: `text` and `secret` a string of at most 500 characters (trimmed), `bool` `true`/`false`, `uuid` a UUID string, `time` `HH:MM` (24-hour, UTC); `null` clears the field. Every `required` field must be set after the change (empty counts as unset)."),
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
    let connector = connector(&app, &name)?;
    let Value::Object(changes) = body else {
        return Err(ApiError::BadRequest(
            "The body must be a JSON object of fields".into(),
        ));
    };
    let acting = caller.acting();
    let mut draft = store::draft(&app, &acting, &**connector, changes).await?;
    connector
        .check_config(&app, &acting, &draft.config, &mut draft.errors)
        .await?;
    let member_settings = std::mem::take(&mut draft.member_settings);
    store::persist(&app, &acting, connector.provider(), draft).await?;
    if !member_settings.is_empty() {
        connector
            .save_member_settings(&app, &acting, member_settings)
            .await?;
    }
    Ok(Json(config_view(&app, &caller, &**connector).await?))
}

/// Removes the caller's integration and revokes its credentials where the provider allows.
#[utoipa::path(
    delete, path = "/api/integrations/{provider}/config", tag = "integrations",
    params(("provider" = Provider, Path, description = "The connector")),
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
    let connector = connector(&app, &name)?;
    let found = store::find(&app, &caller.acting(), connector.provider()).await?;
    let Some(integration) = found else {
        return Ok(Json(Reply::not_configured().0));
    };
    let reply = traced("revoke", &integration, connector.revoke(&app, &integration)).await;
    Ok(Json(reply.0))
}

/// Whether the caller's integration is configured and active, and how its last calls went.
#[utoipa::path(
    get, path = "/api/integrations/{provider}/status", tag = "integrations",
    params(("provider" = Provider, Path, description = "The connector")),
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
    let connector = connector(&app, &name)?;
    let provider = connector.provider();
    let Some(i) = active(&app, &caller, provider).await? else {
        return Ok(Json(Reply::not_configured().0));
    };
    let rfc = |t: Option<::time::OffsetDateTime>| t.and_then(|t| t.format(&time::Rfc3339).ok());
    let mut fields = json!({
        "provider": provider,
        "active": i.record.active,
        "last_ok_at": rfc(i.record.last_ok_at),
        "last_error": i.record.last_error,
        "last_error_at": rfc(i.record.last_error_at),
        "last_sync_at": rfc(i.record.last_sync_at),
    });
    if let (Value::Object(more), Some(all)) = (
        connector.status_details(&app, &i).await,
        fields.as_object_mut(),
    ) {
        all.extend(more);
    }
    Ok(Json(Reply::ok(fields).0))
}

/// Calls the provider with the caller's credentials, to prove they work.
#[utoipa::path(
    post, path = "/api/integrations/{provider}/test", tag = "integrations",
    params(("provider" = Provider, Path, description = "The connector")),
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
    let connector = connector(&app, &name)?;
    let Some(integration) = active(&app, &caller, connector.provider()).await? else {
        return Ok(Json(Reply::not_configured().0));
    };
    let reply = traced("test", &integration, connector.test(&app, &integration)).await;
    Ok(Json(reply.0))
}

/// Pulls the provider's data in now (admins; what each connector pulls: docs/integrations/).
#[utoipa::path(
    post, path = "/api/integrations/{provider}/sync", tag = "integrations",
    params(("provider" = Provider, Path, description = "The connector")),
    request_body(content = Option<Object>, description = "Provider-specific options; optional (an empty body is none). It must be well-formed JSON; the current connectors take no options and ignore it."),
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, description = "`{ok: true, …}` with what was pulled, or `{ok: false, error}`", body = Object),
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
    let connector = connector(&app, &name)?;
    let acting = caller.acting();
    if connector.sync_needs_admin() && !acting.is_admin {
        return Err(ApiError::Forbidden(
            "Only workspace admins run this sync".into(),
        ));
    }
    let params: Value = crate::platform::extract::optional_json(&body)?;
    let Some(integration) = active(&app, &caller, connector.provider()).await? else {
        return Ok(Json(Reply::not_configured().0));
    };
    let call = connector.sync(&app, &acting, &integration, &params);
    let reply = traced("sync", &integration, call).await;
    Ok(Json(reply.0))
}

/// Starts connecting the caller's account at the provider (connectors on an OAuth connection,
/// such as Google Calendar): answers the URL to send their browser to, after which the provider
/// sends it to the OAuth callback.
#[utoipa::path(
    post, path = "/api/integrations/{provider}/connect", tag = "integrations",
    params(("provider" = Provider, Path, description = "The connector")),
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, description = "`{authorization_url, state, expires_at}`", body = Object),
        (status = 404, description = "Unknown provider, or one with nothing to connect", body = ErrorBody),
        (status = 422, description = "The operator has not set up the provider's OAuth client", body = ErrorBody),
    )
)]
async fn connect(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let connector = connector(&app, &name)?;
    Ok(Json(connector.connect(&app, &caller.acting()).await?))
}

/// Disconnects the caller: revokes the credentials at the provider where it can and removes the
/// integration (the same as `DELETE …/config`).
#[utoipa::path(
    post, path = "/api/integrations/{provider}/disconnect", tag = "integrations",
    params(("provider" = Provider, Path, description = "The connector")),
    security(("api_token" = ["write:integrations"])),
    responses(
        (status = 200, description = "`{ok, …}`; `ok: false` when nothing was configured", body = Object),
        (status = 404, description = "Unknown provider", body = ErrorBody),
    )
)]
async fn disconnect(
    state: State<AppState>,
    caller: Caller,
    name: Path<String>,
) -> Result<Json<Value>, ApiError> {
    delete_config(state, caller, name).await
}

/// Runs a connector call in a span naming the provider, the operation, the workspace and the
/// integration, and logs a failed call in it, so one broken integration can be followed in the
/// JSON logs.
async fn traced(
    operation: &'static str,
    integration: &store::Integration,
    call: impl Future<Output = Reply>,
) -> Reply {
    let record = &integration.record;
    let span = tracing::info_span!(
        "connector",
        provider = %record.provider,
        operation,
        workspace = %record.workspace_id,
        integration = %record.id,
    );
    async {
        let reply = call.await;
        if let Some(error) = reply.0["error"].as_str() {
            tracing::info!(error, "connector call failed");
        }
        reply
    }
    .instrument(span)
    .await
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

/// The receivers every registered connector declares: one unguarded `POST` each, at its
/// concrete path, documented from its [`Receiver`].
pub fn receivers(registry: &ConnectorRegistry) -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::new();
    for connector in registry.iter() {
        for receiver in connector.receivers() {
            router = router.routes(receiver_route(connector.clone(), receiver));
        }
    }
    router
}

fn receiver_route(
    connector: Arc<dyn Connector>,
    receiver: &'static Receiver,
) -> UtoipaMethodRouter<AppState> {
    let provider = connector.provider();
    let item = PathItem::new(HttpMethod::Post, receiver_operation(provider, receiver));
    let paths = PathsBuilder::new()
        .path(receiver.path(provider), item)
        .build();
    let handler = move |State(app): State<AppState>, headers: HeaderMap, body: Bytes| {
        let connector = connector.clone();
        // Debug level: an info span per delivery would cost the hot path (see
        // platform::request_log); every delivery is in the inbound ledger anyway.
        let span = tracing::debug_span!("connector.receive", provider = %provider, receiver = receiver.name);
        async move {
            connector
                .receive(&app, receiver.name, &headers, body)
                .instrument(span)
                .await
        }
    };
    (Vec::new(), paths, post(handler))
}

/// A receiver as the API document describes it: no `security` (its signature is its
/// credential), a JSON object in, JSON objects out.
fn receiver_operation(provider: Provider, receiver: &Receiver) -> utoipa::openapi::path::Operation {
    let object = || Content::new(Some(ObjectBuilder::new().build()));
    let request = RequestBodyBuilder::new()
        .description(Some(receiver.request))
        .content("application/json", object())
        .required(Some(Required::True))
        .build();
    let mut operation = OperationBuilder::new()
        .tag("integrations")
        .summary(Some(receiver.summary))
        .description(Some(receiver.description))
        .operation_id(Some(format!("{provider}_{}", receiver.name)))
        .request_body(Some(request));
    for (status, description) in receiver.responses {
        let response = ResponseBuilder::new()
            .description(*description)
            .content("application/json", object())
            .build();
        operation = operation.response(status.to_string(), response);
    }
    operation.build()
}

/// States in the API document what each registered connector's config takes: one schema per
/// provider (`GithubConfig`, …) built from its [`Field`]s and member settings, for PUT (every
/// required field) and PATCH (only what changes).
pub fn document_configs(doc: &mut utoipa::openapi::OpenApi, registry: &ConnectorRegistry) {
    use utoipa::openapi::{
        Ref,
        schema::{AdditionalProperties, AnyOfBuilder, KnownFormat, SchemaFormat, Type},
    };

    let property = |field: &Field, required: bool| {
        let kind = match field.kind {
            super::FieldKind::Bool => Type::Boolean,
            super::FieldKind::Integer => Type::Integer,
            _ => Type::String,
        };
        let mut schema = ObjectBuilder::new()
            .description(Some(field.description))
            .schema_type(if required {
                utoipa::openapi::schema::SchemaType::new(kind)
            } else {
                // `null` clears the field.
                utoipa::openapi::schema::SchemaType::from_iter([kind, Type::Null])
            });
        schema = match field.kind {
            super::FieldKind::Bool => schema.examples([json!(true)]),
            super::FieldKind::Integer => {
                schema.examples([json!(field.example.parse::<i64>().unwrap_or(1))])
            }
            super::FieldKind::Uuid => schema
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                .examples([json!(field.example)]),
            _ => schema
                .max_length(Some(store::TEXT_MAX))
                .min_length(required.then_some(1))
                .pattern(field.pattern.or(required.then_some(r"\S")))
                .examples([json!(field.example)]),
        };
        schema
    };
    let schemas = doc
        .components
        .get_or_insert_with(utoipa::openapi::Components::new);
    let mut full = AnyOfBuilder::new();
    let mut changes = AnyOfBuilder::new();
    for connector in registry.iter() {
        let provider = connector.provider().as_str();
        let title = format!("{}{}", provider[..1].to_uppercase(), &provider[1..]);
        for (suffix, whole) in [("Config", true), ("ConfigChanges", false)] {
            let mut object = ObjectBuilder::new()
                .description(Some(format!(
                    "The `{provider}` connector's settings{}.",
                    if whole {
                        ""
                    } else {
                        "; only what changes (a required field must have been set once)"
                    }
                )))
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .property(
                    "active",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .description(Some("Whether it acts; default `true`."))
                        .examples([json!(true)]),
                );
            for field in connector.fields() {
                object = object.property(field.name, property(field, field.required));
                if whole && field.required {
                    object = object.required(field.name);
                }
            }
            for field in connector.member_fields() {
                object = object.property(field.name, property(field, false));
            }
            let name = format!("{title}{suffix}");
            schemas.schemas.insert(name.clone(), object.build().into());
            let reference = Ref::from_schema_name(name);
            if whole {
                full = full.item(reference);
            } else {
                changes = changes.item(reference);
            }
        }
    }
    let Some(item) = doc
        .paths
        .paths
        .get_mut("/api/integrations/{provider}/config")
    else {
        return;
    };
    for (op, schema) in [(&mut item.put, full), (&mut item.patch, changes)] {
        if let Some(op) = op {
            op.request_body = Some(
                RequestBodyBuilder::new()
                    .description(Some(
                        "The fields of the connector the path names (one schema per connector), \
                         its member settings, and `active`. `null` clears an optional field.",
                    ))
                    .content(
                        "application/json",
                        Content::new(Some(utoipa::openapi::Schema::AnyOf(schema.build()))),
                    )
                    .required(Some(Required::True))
                    .build()
                    .into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_registered_connectors_receivers_become_documented_routes() {
        let every = crate::app::capabilities().connectors;
        for connector in every.iter() {
            let mut one = ConnectorRegistry::default();
            one.register(connector.clone());
            let (_, doc) = receivers(&one).split_for_parts();
            let provider = connector.provider();
            let declared: Vec<_> = connector
                .receivers()
                .iter()
                .map(|r| r.path(provider))
                .collect();
            let routed: Vec<_> = doc.paths.paths.keys().cloned().collect();
            assert_eq!(routed, declared, "{provider}");
            for path in &routed {
                let operation = doc
                    .paths
                    .get_path_operation(path, HttpMethod::Post)
                    .unwrap_or_else(|| panic!("POST {path} is documented"));
                assert!(operation.security.is_none(), "{path} takes no token");
            }
        }
        let (_, doc) = receivers(&ConnectorRegistry::default()).split_for_parts();
        assert!(doc.paths.paths.is_empty());
    }
}
