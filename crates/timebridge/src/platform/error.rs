//! The one error type of the HTTP API and the JSON body every error answers with.
//!
//! Bodies follow TimeTracker's wire shape so its clients keep working:
//! `{"error": "...", "message": "...", "error_code": "...", ...details}`. A 500 never shows its
//! cause to the client; the cause is logged with the request id instead.

use std::collections::BTreeMap;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::DbErr;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Messages per field of a request that failed validation.
#[derive(Debug, Default, Clone, Serialize, ToSchema)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem with `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    /// Whether the field already has a problem recorded.
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was recorded, else the validation error.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self))
        }
    }

    /// Every field with its messages, on one line.
    pub fn summary(&self) -> String {
        self.0
            .iter()
            .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: named fields are invalid.
    #[error("validation failed")]
    Validation(FieldErrors),
    /// 400: named fields are invalid, with extra top-level details (e.g. the valid values).
    #[error("validation failed")]
    ValidationWith(FieldErrors, Value),
    /// 400: the request as a whole is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no usable credentials; the message says which problem.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the token lacks the scope an endpoint declares.
    #[error("missing scope {required}")]
    MissingScope {
        required: String,
        available: Vec<String>,
    },
    /// 403: authenticated, but this user may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: the named resource does not exist (or is not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 413.
    #[error("request body too large")]
    PayloadTooLarge { limit_bytes: usize },
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed, but cannot be processed.
    #[error("{0}")]
    Unprocessable(String),
    /// 429: over the token's budget.
    #[error("rate limit exceeded")]
    RateLimited {
        limit: u32,
        window_secs: u64,
        retry_after_secs: u64,
    },
    /// Any 4xx with its own `error_code` and extra top-level fields, e.g. 409
    /// `timer_already_running` with the running `timer`.
    #[error("{message}")]
    Coded {
        status: StatusCode,
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    /// 503: a dependency is down.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an infrastructure failure; logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A broken constraint some capability registered answers its 4xx (see
/// [`constraints`](super::constraints)); any other database error is a 500.
impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        super::constraints::api_error(&err).unwrap_or_else(|| Self::Internal(err.into()))
    }
}

impl ApiError {
    /// A 400 for a single invalid field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        Self::Validation(errors)
    }

    /// A 4xx with its own `error_code`.
    pub fn coded(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Coded {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds top-level fields to a [`Coded`](Self::Coded) error's body.
    pub fn with_details(self, extra: Value) -> Self {
        match self {
            Self::Coded {
                status,
                code,
                message,
                ..
            } => Self::Coded {
                status,
                code,
                message,
                details: Some(extra),
            },
            other => other,
        }
    }

    /// The error as someone outside the server may read it (a job's outcome an admin sees):
    /// its message, or, for a failure on our side, a plain sentence, with the cause logged.
    pub fn shown(&self) -> String {
        match self {
            Self::Internal(cause) => {
                tracing::warn!(error = %format!("{cause:#}"), "failed on our side");
                "failed on Timebridge's side; the cause is in the server's logs".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::ValidationWith(..) | Self::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::MissingScope { .. } | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Coded { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> Value {
        match self {
            Self::Validation(errors) => json!({
                "error": "Validation failed",
                "message": format!("Invalid input: {}", errors.summary()),
                "error_code": "validation_error",
                "errors": errors,
            }),
            Self::ValidationWith(errors, extra) => {
                let mut body = Self::Validation(errors.clone()).body();
                if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                    body.extend(extra.clone());
                }
                body
            }
            Self::BadRequest(m) => error("Bad request", m, "bad_request"),
            Self::Unauthorized(m) => error("Unauthorized", m, "unauthorized"),
            Self::MissingScope {
                required,
                available,
            } => json!({
                "error": "Insufficient permissions",
                "message": format!("This endpoint requires the '{required}' scope"),
                "error_code": "forbidden",
                "required_scope": required,
                "available_scopes": available,
            }),
            Self::Forbidden(m) => error("Forbidden", m, "forbidden"),
            Self::NotFound(what) => error("Not found", &format!("{what} not found"), "not_found"),
            Self::MethodNotAllowed => error(
                "Method not allowed",
                "This method is not allowed on this path",
                "method_not_allowed",
            ),
            Self::Conflict(m) => error("Conflict", m, "conflict"),
            Self::PayloadTooLarge { limit_bytes } => json!({
                "error": "Payload too large",
                "message": format!("The request body exceeds the limit of {limit_bytes} bytes"),
                "error_code": "payload_too_large",
                "limit_bytes": limit_bytes,
            }),
            Self::UnsupportedMediaType(m) => {
                error("Unsupported media type", m, "unsupported_media_type")
            }
            Self::Unprocessable(m) => error("Unprocessable", m, "unprocessable"),
            Self::RateLimited {
                limit,
                window_secs,
                retry_after_secs,
            } => json!({
                "error": "Rate limit exceeded",
                "message": format!(
                    "This token may make {limit} requests per {window_secs} seconds; retry in {retry_after_secs} s"
                ),
                "error_code": "rate_limited",
                "retry_after": retry_after_secs,
                "limit": limit,
            }),
            Self::Coded {
                status,
                code,
                message,
                details,
            } => {
                let title = status.canonical_reason().unwrap_or("Error");
                let mut body = error(title, message, code);
                if let (Some(body), Some(Value::Object(extra))) = (body.as_object_mut(), details) {
                    body.extend(extra.clone());
                }
                body
            }
            Self::Unavailable(m) => error("Service unavailable", m, "unavailable"),
            Self::Internal(_) => error(
                "Internal server error",
                "Something went wrong on our side; the request id identifies it in the logs",
                "internal_error",
            ),
        }
    }
}

fn error(title: &str, message: &str, code: &str) -> Value {
    json!({ "error": title, "message": message, "error_code": code })
}

/// The hidden cause of a 500, handed to the request log so it is logged with the request id.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Self::Internal(cause) = &self {
            response
                .extensions_mut()
                .insert(InternalCause(format!("{cause:#}")));
        }
        if let Self::RateLimited {
            retry_after_secs, ..
        } = &self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response
    }
}

/// The body of every error response (the OpenAPI document's view of [`ApiError`]).
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Short title of the error class.
    #[schema(example = "Not found")]
    pub error: String,
    /// What went wrong, for a person.
    #[schema(example = "Project not found")]
    pub message: String,
    /// Machine-readable class: `validation_error`, `not_found`, `forbidden`, `unauthorized`,
    /// `rate_limited`, `conflict`, `payload_too_large`, `bad_request`, `internal_error`.
    #[schema(example = "not_found")]
    pub error_code: String,
    /// For `validation_error`: the messages per invalid field.
    #[schema(value_type = Option<BTreeMap<String, Vec<String>>>)]
    pub errors: Option<FieldErrors>,
}

/// The 403 body when a token lacks an endpoint's scope.
#[derive(Serialize, ToSchema)]
pub struct ScopeErrorBody {
    #[schema(example = "Insufficient permissions")]
    pub error: String,
    #[schema(example = "This endpoint requires the 'write:projects' scope")]
    pub message: String,
    #[schema(example = "forbidden")]
    pub error_code: String,
    #[schema(example = "write:projects")]
    pub required_scope: String,
    #[schema(example = json!(["read:projects", "read:time_entries"]))]
    pub available_scopes: Vec<String>,
}

/// The 429 body.
#[derive(Serialize, ToSchema)]
pub struct RateLimitBody {
    #[schema(example = "Rate limit exceeded")]
    pub error: String,
    pub message: String,
    #[schema(example = "rate_limited")]
    pub error_code: String,
    /// Seconds until the next request is allowed (also in `Retry-After`).
    pub retry_after: u64,
    /// Requests allowed per window.
    pub limit: u32,
}
