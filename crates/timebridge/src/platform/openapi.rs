//! The OpenAPI 3.1 document, and the access table the request guard reads from it.
//!
//! Each handler declares its scope once, in its `#[utoipa::path]` attribute:
//! `security(("api_token" = ["read:projects"]))`. [`finalize`] reads those declarations to add
//! the shared error responses and the `X-API-Key` alternative to every operation, and
//! [`AccessTable::from_openapi`] reads the very same declarations to build the guard's
//! route → scope map, so the document and the enforcement cannot disagree.

use std::{collections::HashMap, sync::Arc};

use axum::http::Method;
use serde_json::Value;
use utoipa::{
    OpenApi,
    openapi::{
        Components, OpenApi as Document, RefOr,
        path::Operation,
        response::ResponseBuilder,
        security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        },
    },
};

use super::error::{ErrorBody, RateLimitBody, ScopeErrorBody};

pub mod examples;

/// Name of the bearer-token security scheme used in `#[utoipa::path(security(...))]`.
pub const TOKEN_SCHEME: &str = "api_token";
const API_KEY_SCHEME: &str = "api_key";

/// The document's fixed parts; capabilities add their paths through their routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Timebridge API",
        description = "Self-hosted time tracking with an integration ecosystem. \
            Authenticate with a personal API token (`tb_pat_…`) as `Authorization: Bearer <token>`, \
            `Authorization: Token <token>` or `X-API-Key: <token>`. Each operation names the scope it \
            requires; `write:R` implies `read:R`. Every authenticated response carries \
            `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`. \
            Every schema states the rules the server enforces (required fields, lengths, \
            patterns, ranges); rules between fields (an end after its start) are in the field \
            descriptions. No text may contain a NUL character (U+0000). A refused request \
            answers 400 with `errors` naming each bad field.",
        license(name = "AGPL-3.0-or-later")
    ),
    components(schemas(ErrorBody, ScopeErrorBody, RateLimitBody)),
    tags(
        (name = "clients", description = "Clients"),
        (name = "projects", description = "Projects"),
        (name = "tasks", description = "Tasks of projects"),
        (name = "tags", description = "Tags of time entries"),
        (name = "time entries", description = "Time entries, bulk actions and CSV import"),
        (name = "timer", description = "The running timer"),
        (name = "expenses", description = "Expenses"),
        (name = "quotes", description = "Quotes"),
        (name = "invoices", description = "Invoices, also from unbilled time"),
        (name = "reports", description = "Reports"),
        (name = "time off", description = "Leave types, holidays and time-off requests"),
        (name = "timesheets", description = "Timesheet periods and their approval"),
        (name = "events", description = "The event feed: every change, in commit order"),
        (name = "users", description = "Users of the workspace"),
        (name = "tokens", description = "Personal API tokens, scopes and usage logs"),
        (name = "system", description = "Health and documentation"),
    )
)]
pub struct ApiDoc;

/// What a route requires of its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// A valid token; with `Some`, one that grants this scope.
    Token(Option<Arc<str>>),
}

/// Route template → method → the access it declares.
#[derive(Debug, Default)]
pub struct AccessTable(HashMap<String, Vec<(Method, Access)>>);

fn operations(doc: &Document) -> Vec<(Method, String, &Operation)> {
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::PUT, &item.put),
            (Method::PATCH, &item.patch),
            (Method::DELETE, &item.delete),
            (Method::HEAD, &item.head),
            (Method::OPTIONS, &item.options),
        ];
        for (method, op) in ops {
            if let Some(op) = op {
                out.push((method, path.clone(), op));
            }
        }
    }
    out
}

/// The scopes listed for the bearer scheme in an operation's `security`, if it declares one.
fn declared_scopes(op: &Operation) -> Option<Vec<String>> {
    let requirements = op.security.as_ref()?;
    requirements.iter().find_map(|req| {
        let value = serde_json::to_value(req).ok()?;
        let scopes = value.get(TOKEN_SCHEME)?.as_array()?;
        Some(
            scopes
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        )
    })
}

impl AccessTable {
    /// Reads every operation's declared scope.
    ///
    /// # Panics
    /// When an operation names a scope `known` refuses, or more than one scope: a
    /// programming error that the test suite catches on start-up of the test server.
    pub fn from_openapi(doc: &Document, known: impl Fn(&str) -> bool) -> Self {
        let mut table: HashMap<String, Vec<(Method, Access)>> = HashMap::new();
        for (method, path, op) in operations(doc) {
            let Some(scopes) = declared_scopes(op) else {
                continue;
            };
            assert!(
                scopes.len() <= 1,
                "{method} {path} declares more than one scope"
            );
            let scope = scopes.first().map(|s| {
                assert!(known(s), "{method} {path} declares unknown scope {s}");
                Arc::<str>::from(s.as_str())
            });
            table
                .entry(path)
                .or_default()
                .push((method, Access::Token(scope)));
        }
        Self(table)
    }

    /// The access a matched route requires; `None` when it declares none.
    pub fn get(&self, method: &Method, path: &str) -> Option<&Access> {
        self.0
            .get(path)?
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, access)| access)
    }

    /// Number of operations in the table.
    pub fn len(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Adds the security schemes, the `X-API-Key` alternative, the shared error responses and a
/// "Requires scope" note to every secured operation.
pub fn finalize(mut doc: Document) -> Document {
    let components = doc.components.get_or_insert_with(Components::new);
    components.add_security_scheme(
        TOKEN_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("tb_pat_…")
                .description(Some(
                    "A personal API token. `Authorization: Token <token>` works too.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        API_KEY_SCHEME,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "The same personal API token, in a header of its own.",
        ))),
    );
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            secure_operation(op);
            describe_responses(op);
        }
        // One handler serving PUT and PATCH carries one operationId; code generators need one
        // per operation.
        if let (Some(put), Some(patch)) = (&item.put, &mut item.patch)
            && put.operation_id.is_some()
            && put.operation_id == patch.operation_id
        {
            patch.operation_id = patch.operation_id.take().map(|id| format!("{id}_patch"));
        }
    }
    examples::add(&mut doc);
    doc
}

/// OpenAPI requires a description on every response: a response declared with a body only
/// gets the status's reason phrase (`OK`, `Created`).
fn describe_responses(op: &mut Operation) {
    for (code, response) in op.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if response.description.trim().is_empty() {
            let reason = code
                .parse::<u16>()
                .ok()
                .and_then(|c| axum::http::StatusCode::from_u16(c).ok())
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Response");
            response.description = reason.to_owned();
        }
    }
}

fn secure_operation(op: &mut Operation) {
    let Some(scopes) = declared_scopes(op) else {
        return;
    };
    op.security = Some(vec![
        SecurityRequirement::new(TOKEN_SCHEME, scopes.clone()),
        SecurityRequirement::new(API_KEY_SCHEME, scopes.clone()),
    ]);
    let note = match scopes.first() {
        Some(scope) => format!("Requires scope `{scope}`."),
        None => "Requires a valid API token (no particular scope).".to_owned(),
    };
    op.description = Some(match op.description.take() {
        Some(d) if !d.is_empty() => format!("{d}\n\n{note}"),
        _ => note,
    });
    let extensions = op.extensions.get_or_insert_with(Default::default);
    extensions.insert(
        "x-required-scope".to_owned(),
        scopes
            .first()
            .map_or(Value::Null, |s| Value::String(s.clone())),
    );
    let responses = &mut op.responses.responses;
    let mut add = |code: &str, description: &str, schema: &str| {
        responses.entry(code.to_owned()).or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        utoipa::openapi::content::ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name(schema)))
                            .build(),
                    )
                    .build(),
            )
        });
    };
    add(
        "401",
        "Missing, unknown, expired, revoked or inactive token",
        "ErrorBody",
    );
    if !scopes.is_empty() {
        add(
            "403",
            "The token lacks the required scope",
            "ScopeErrorBody",
        );
    }
    add(
        "429",
        "Rate limit exceeded (see `Retry-After`)",
        "RateLimitBody",
    );
}
