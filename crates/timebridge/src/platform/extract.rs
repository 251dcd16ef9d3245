//! Request extractors whose rejections are [`ApiError`]s, so malformed input always gets the
//! API's JSON error body (naming the bad field where there is one) rather than axum's text.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldErrors};

/// The largest body the server accepts, put in request extensions by the app so that the 413
/// body can say what the limit is.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// Middleware: a 413 that one of axum's own extractors answered in plain text (a raw body
/// read as `Bytes`, a form, multipart) becomes the API's JSON 413, so every oversized request
/// gets the same answer whichever extractor refused it.
pub async fn json_payload_too_large(req: Request, next: Next) -> Response {
    let limit = req.extensions().get::<BodyLimit>().map_or(0, |l| l.0);
    let response = next.run(req).await;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !json {
        return ApiError::PayloadTooLarge { limit_bytes: limit }.into_response();
    }
    response
}

/// A JSON request body. Syntax errors are 400 `bad_request`; a body of the wrong shape is a
/// 400 `validation_error` naming the field; an oversized body is 413.
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
            let is_json = content_type
                .to_str()
                .map(|v| {
                    let essence = v.split(';').next().unwrap_or("").trim();
                    essence == "application/json" || essence.ends_with("+json")
                })
                .unwrap_or(false);
            if !is_json {
                return Err(ApiError::UnsupportedMediaType(
                    "Send the body as JSON with Content-Type: application/json".into(),
                ));
            }
        }
        let limit = req.extensions().get::<BodyLimit>().map_or(0, |l| l.0);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit_bytes: limit }
            } else {
                ApiError::BadRequest(rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses a JSON body, naming the offending field on a shape error.
/// A JSON body that may be left out: an empty body is `T::default()`, anything else must
/// parse (with [`parse_json`]'s errors).
pub fn optional_json<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(bytes)
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "The request body must be a JSON object".into(),
        ));
    }
    refuse_nul(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest(format!("Malformed JSON: {inner}"));
        }
        shape_error(&path, &inner.to_string())
    })?;
    de.end()
        .map_err(|e| ApiError::BadRequest(format!("Malformed JSON: {e}")))?;
    Ok(value)
}

/// What a field holding the NUL character is told.
const NUL_MESSAGE: &str = "must not contain the NUL character (\\u0000)";

/// Refuses a JSON body with a NUL character in a string, naming the field: PostgreSQL cannot
/// store one in text, and SQLite answers the same, so every database behaves alike. Only a
/// body that spells `\u0000` is parsed twice.
fn refuse_nul(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        // Malformed: the parse that follows says how.
        return Ok(());
    };
    match nul_path(&value, String::new()) {
        Some(path) => Err(ApiError::invalid(
            if path.is_empty() { "body" } else { &path },
            NUL_MESSAGE,
        )),
        None => Ok(()),
    }
}

/// The path (`notes`, `entries[2].notes`) of the first string or key holding a NUL.
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0').then_some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                return Some(here);
            }
            nul_path(v, here)
        }),
        _ => None,
    }
}

/// Refuses a query string with a NUL character (`%00`) in a parameter, naming it: a middleware
/// in front of every route, since lists read their filters with several extractors.
pub async fn refuse_nul_in_query(
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(query) = req.uri().query()
        && query.contains("%00")
        && let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        let name = name.replace('\0', "");
        return ApiError::invalid(if name.is_empty() { "query" } else { &name }, NUL_MESSAGE)
            .into_response();
    }
    next.run(req).await
}

/// Reads a typed value out of an already parsed JSON body, naming the offending field on a
/// shape error (for handlers that also need the body as a whole, e.g. to hash it).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value)
        .map_err(|err| shape_error(&err.path().to_string(), &err.inner().to_string()))
}

/// Turns a serde "data" error at `path` into a validation error for that field.
fn shape_error(path: &str, message: &str) -> ApiError {
    // serde reports a missing field at the parent's path: move it to the field itself.
    let message = message.split(" at line ").next().unwrap_or(message);
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        let field = if path == "." {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        };
        return ApiError::invalid(&field, "is required");
    }
    let field = if path == "." { "body" } else { path };
    // uuid's own words ("UUID parsing failed: invalid character: expected an optional prefix
    // of `urn:uuid:` …") say nothing a client can act on.
    let message = if message.starts_with("UUID parsing failed") || message.contains("invalid UUID")
    {
        "must be a UUID such as 0192f5e4-8d3a-7b1c-9e2f-1a2b3c4d5e6f"
    } else {
        message
    };
    let mut errors = FieldErrors::new();
    errors.add(field, message);
    ApiError::Validation(errors)
}

/// A JSON body that may be left out (`POST …/approve` with no body): an absent or empty body
/// is `T::default()`; anything else is read as [`Json`].
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers();
        let empty = match headers.get(header::CONTENT_LENGTH) {
            Some(length) => length.as_bytes() == b"0",
            None => !headers.contains_key(header::TRANSFER_ENCODING),
        };
        if empty {
            return Ok(Self(T::default()));
        }
        Json::from_request(req, state).await.map(|Json(v)| Self(v))
    }
}

/// A query string. A value of the wrong type is a 400 naming the parameter.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|err| shape_error(&err.path().to_string(), &err.inner().to_string()))
    }
}

/// Path parameters. An id that cannot exist (not a UUID) is a 404, like an unknown one.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|_| ApiError::NotFound("Resource"))
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// For PATCH bodies: tells "absent" (`None`) from "null" (`Some(None)`).
/// Use with `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(de).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        rate: Option<u32>,
    }

    fn code_and_errors(err: ApiError) -> (u16, String) {
        let status = err.status().as_u16();
        (status, format!("{err:?}"))
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let err = parse_json::<Body>(b"{\"name\": ").unwrap_err();
        assert!(matches!(err, ApiError::BadRequest(ref m) if m.starts_with("Malformed JSON")));
    }

    #[test]
    fn a_missing_field_is_named() {
        let (status, text) = code_and_errors(parse_json::<Body>(b"{}").unwrap_err());
        assert_eq!(status, 400);
        assert!(text.contains("\"name\""), "{text}");
        assert!(text.contains("is required"), "{text}");
    }

    #[test]
    fn a_nul_character_is_refused_naming_its_field() {
        let (status, text) =
            code_and_errors(parse_json::<Body>(br#"{"name": "a\u0000b", "rate": 1}"#).unwrap_err());
        assert_eq!(status, 400);
        assert!(text.contains("\"name\"") && text.contains("NUL"), "{text}");
        // An escaped backslash before u0000 is not a NUL.
        assert!(parse_json::<Body>(br#"{"name": "a\\u0000b"}"#).is_ok());
    }

    #[test]
    fn a_bad_uuid_says_what_a_uuid_looks_like() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Ref {
            project_id: uuid::Uuid,
        }
        let (status, text) =
            code_and_errors(parse_json::<Ref>(br#"{"project_id": "nope"}"#).unwrap_err());
        assert_eq!(status, 400);
        assert!(
            text.contains("project_id") && text.contains("must be a UUID such as"),
            "{text}"
        );
    }

    #[test]
    fn a_wrongly_typed_field_is_named() {
        let (status, text) =
            code_and_errors(parse_json::<Body>(br#"{"name": "x", "rate": "fast"}"#).unwrap_err());
        assert_eq!(status, 400);
        assert!(text.contains("\"rate\""), "{text}");
    }
}
