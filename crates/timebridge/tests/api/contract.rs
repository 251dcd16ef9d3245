//! The OpenAPI document as a contract: a client generated from it must never send a request the
//! server refuses for a reason the document did not state, and every answer must match the
//! schema the document declares for it.
//!
//! The test reads the served document, builds fixtures from the document's own request
//! examples, then for every operation with a JSON body sends the example and its boundary
//! variants (only the required fields; every nullable field `null`; text at the shortest and
//! longest length the schema allows, or empty and very long where it states no bound; numbers
//! at the stated minimum, or negative where none is stated; empty arrays where no minimum is
//! stated). Each must be accepted. Every 2xx body it receives, and every GET it can reach, is
//! then checked against its declared schema, and every example against its schema, with
//! Python's `jsonschema` (JSON Schema 2020-12, the dialect of OpenAPI 3.1).

use std::collections::{BTreeMap, HashMap};

use reqwest::Method;
use serde_json::{Map, Value, json};
use time::{Date, Duration, OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{both, receiver::Receiver, support::*, webhooks::WEBHOOK_ENV};

/// Operations whose body is not ours to shape: providers sign these payloads, and their own
/// tests send real provider payloads; the add-on token exchange takes a JWT only a real
/// installation holds (`tests/api/addons.rs`).
const PROVIDER_PAYLOADS: &[&str] = &[
    "/api/integrations/github/webhook",
    "/api/integrations/slack/events",
    "/api/integrations/clickup/webhook",
    "/api/v1/integration/plugins/token",
];

/// Operations that finish a round trip through a provider (a `state` and `code` only a real
/// authorization gives); `tests/api/oauth.rs` covers them against a stand-in.
const PROVIDER_ROUND_TRIPS: &[&str] = &[
    "/api/v1/integration/oauth/callback",
    "/api/v1/clickup/oauth/callback",
];

/// Bodies that name something only a provider's sync makes (a ClickUp space); their own tests
/// cover them. Their GETs are still checked.
const NEEDS_PROVIDER_STATE: &[&str] = &["/api/v1/clients/{id}/clickup-space"];

/// Operations only the instance's operators (`TIMEBRIDGE_OPERATORS`) may call; their own tests
/// (`tests/api/addons.rs`) cover them. Their GETs are still checked.
const OPERATORS_ONLY: &[&str] = &["/api/v1/integration/plugins"];

/// Collections whose first member the other operations refer to, in the order they can be
/// created, with the body field that refers to them.
const FIXTURES: &[(&str, &str)] = &[
    ("/api/v1/clients", "client_id"),
    ("/api/v1/projects", "project_id"),
    ("/api/v1/tasks", "task_id"),
    ("/api/v1/tags", "tag_id"),
    ("/api/v1/time-entries", "time_entry_id"),
    ("/api/v1/expenses", "expense_id"),
    ("/api/v1/quotes", "quote_id"),
    ("/api/v1/invoices", "invoice_id"),
    ("/api/v1/time-off/leave-types", "leave_type_id"),
    ("/api/v1/time-off/holidays", "holiday_id"),
    ("/api/v1/time-off/requests", "time_off_request_id"),
    ("/api/v1/timesheet-periods", "timesheet_period_id"),
    ("/api/v1/integration/webhooks", "webhook_id"),
    ("/api/v1/integration/tokens", "token_id"),
    ("/api/v1/users", "member_id"),
    (
        "/api/v1/integration/oauth/connections",
        "oauth_connection_id",
    ),
    // After GitHub is configured (see the test): bindings go through an integration.
    ("/api/v1/integration/bindings", "binding_id"),
];

struct Contract<'a> {
    app: &'a TestApp,
    token: String,
    doc: Value,
    /// Body field or fixture name → id.
    ids: HashMap<String, String>,
    receiver_url: String,
    /// A user of another workspace, for adding to this one.
    newcomer_email: String,
    /// How many fixtures were made so far (each made one shifts its dates back a week more,
    /// so fresh periods and requests never overlap the earlier ones).
    made: i64,
    /// (label, schema, instance) to check against the document.
    checks: Vec<(String, Value, Value)>,
    /// Requests the server refused although the document allowed them.
    refused: Vec<String>,
}

impl<'a> Contract<'a> {
    fn schemas(&self) -> &Value {
        &self.doc["components"]["schemas"]
    }

    /// The schema with `$ref`s followed and a nullable `oneOf` reduced to its non-null branch.
    fn resolve(&self, schema: &Value) -> Value {
        let mut schema = schema.clone();
        for _ in 0..8 {
            if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
                let name = reference.rsplit('/').next().unwrap_or_default();
                schema = self.schemas()[name].clone();
                continue;
            }
            if let Some(branches) = schema.get("oneOf").and_then(Value::as_array)
                && let Some(branch) = branches
                    .iter()
                    .find(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                && branches.len() <= 2
            {
                schema = branch.clone();
                continue;
            }
            break;
        }
        schema
    }

    fn operation(&self, method: &str, path: &str) -> &Value {
        &self.doc["paths"][path][method]
    }

    fn request_example(&self, method: &str, path: &str) -> Option<Value> {
        self.operation(method, path)
            .pointer("/requestBody/content/application~1json/example")
            .cloned()
    }

    /// Replaces every reference to another record with a fixture's id, the webhook URL with the
    /// local receiver, and dates with dates `weeks` weeks earlier.
    fn fill(&self, value: &mut Value, weeks: i64) {
        match value {
            Value::Object(fields) => {
                for (key, field) in fields.iter_mut() {
                    if let Some(id) = self.id_for(key) {
                        match field {
                            Value::String(_) => *field = Value::String(id),
                            Value::Array(items) if !items.is_empty() => {
                                *field = json!([id]);
                            }
                            _ => {}
                        }
                        continue;
                    }
                    if key == "url" && field.is_string() {
                        *field = Value::String(self.receiver_url.clone());
                        continue;
                    }
                    self.fill(field, weeks);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.fill(i, weeks)),
            Value::String(text) => {
                if let Some(shifted) = shift(text, weeks) {
                    *text = shifted;
                }
            }
            _ => {}
        }
    }

    fn id_for(&self, key: &str) -> Option<String> {
        let fixture = match key {
            "assignee_id" | "user_id" => "user_id",
            "entry_ids" | "time_entry_ids" => "time_entry_id",
            "tag_ids" => "tag_id",
            other => other,
        };
        self.ids.get(fixture).cloned()
    }

    /// A concrete path: `{id}` is the fixture of the collection the path names.
    fn concrete(&self, template: &str) -> Option<String> {
        let mut path = template.to_owned();
        if path.contains("{provider}") {
            path = path.replace("{provider}", "github");
        }
        if path.contains("{client_id}") {
            path = path.replace("{client_id}", self.ids.get("client_id")?);
        }
        if path.contains("{name}") {
            path = path.replace("{name}", self.ids.get("job_name")?);
        }
        if let Some((collection, _)) = template.split_once("/{id}") {
            let fixture = FIXTURES
                .iter()
                .find(|(c, _)| *c == collection)
                .map(|(_, f)| *f)
                .or(match collection {
                    "/api/v1/integration/jobs/runs" => Some("job_run_id"),
                    "/api/v1/integration/webhooks/deliveries" => Some("delivery_id"),
                    "/api/v1/integration/oauth/apps" => Some("oauth_app"),
                    "/api/v1/integration/plugins" => Some("plugin_id"),
                    _ => None,
                })?;
            path = path.replace("{id}", self.ids.get(fixture)?);
        }
        Some(path)
    }

    async fn send(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let method_ = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = self
            .app
            .client
            .request(method_, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        send(request).await
    }

    /// Adding a member needs a user the server has: the newcomer's email stands in.
    fn introduce(&self, template: &str, body: &mut Value) {
        if template.starts_with("/api/v1/users")
            && let Some(email) = body.get_mut("email")
        {
            *email = Value::String(self.newcomer_email.clone());
        }
    }

    /// Sends a request and records its answer for the schema check.
    async fn call(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let (status, answer) = self.send(method, path, body).await;
        let declared = self
            .operation(method, template)
            .pointer(&format!(
                "/responses/{status}/content/application~1json/schema"
            ))
            .cloned();
        if (200..300).contains(&status) {
            match declared {
                Some(schema) => self.checks.push((
                    format!("answer {status} to {} {path}", method.to_uppercase()),
                    schema,
                    answer.clone(),
                )),
                None if answer.is_null() => {}
                None => self.refused.push(format!(
                    "{} {path} answered {status} with a body the document does not declare",
                    method.to_uppercase()
                )),
            }
        }
        (status, answer)
    }

    /// Creates a member of a collection from its own example; returns its id, or records why
    /// it could not.
    async fn make(&mut self, collection: &str) -> Option<String> {
        let Some(mut body) = self.request_example("post", collection) else {
            self.refused
                .push(format!("POST {collection} has no request example"));
            return None;
        };
        self.made += 1;
        self.fill(&mut body, self.made);
        self.introduce(collection, &mut body);
        let (status, answer) = self.call("post", collection, collection, Some(&body)).await;
        let id = find_id(&answer).filter(|_| (200..300).contains(&status));
        if id.is_none() {
            self.refused.push(format!(
                "POST {collection} (its own example, to make a fixture) {}\n    → {status} {answer}",
                brief(&body)
            ));
        }
        id
    }

    /// A path to run a state-changing action on: a fresh record each time, in the state the
    /// action needs.
    async fn fresh_target(&mut self, method: &str, template: &str) -> Option<String> {
        let (collection, action) = template.split_once("/{id}/")?;
        if method != "post" || !FIXTURES.iter().any(|(c, _)| *c == collection) {
            return None;
        }
        let id = self.make(collection).await?;
        if collection == "/api/v1/timesheet-periods" && matches!(action, "approve" | "reject") {
            let path = format!("{collection}/{id}/submit");
            let (status, answer) = self.send("post", &path, None).await;
            if status != 200 {
                self.refused
                    .push(format!("POST {path} → {status} {answer}"));
            }
        }
        Some(format!("{collection}/{id}/{action}"))
    }

    /// Sends one variant; a refusal is recorded.
    async fn attempt(&mut self, method: &str, template: &str, what: &str, body: &Value) {
        let mut body = body.clone();
        self.introduce(template, &mut body);
        let path = match self.fresh_target(method, template).await {
            Some(path) => {
                // The fresh record's dates moved back; the action's move with them.
                self.fill(&mut body, self.made);
                path
            }
            None => {
                let Some(path) = self.concrete(template) else {
                    self.refused.push(format!(
                        "{method} {template}: its fixture could not be made"
                    ));
                    return;
                };
                path
            }
        };
        match template {
            "/api/v1/timer/stop" => {
                self.send("post", "/api/v1/timer/stop", Some(&json!({})))
                    .await;
                let start = self.request_example("post", "/api/v1/timer/start");
                let mut start = start.expect("timer start example");
                self.fill(&mut start, 0);
                let (status, answer) = self.send("post", "/api/v1/timer/start", Some(&start)).await;
                if status != 201 {
                    self.refused.push(format!(
                        "POST /api/v1/timer/start {start} → {status} {answer}"
                    ));
                }
            }
            "/api/v1/timer/start" => {
                self.send("post", "/api/v1/timer/stop", Some(&json!({})))
                    .await;
            }
            _ => {}
        }
        let (status, answer) = self.call(method, template, &path, Some(&body)).await;
        if !(200..300).contains(&status) && status != 409 {
            self.refused.push(format!(
                "{} {template} ({what}) {}\n    → {status} {}",
                method.to_uppercase(),
                brief(&body),
                brief(&answer)
            ));
        }
    }

    /// The example and its boundary variants for one operation.
    async fn exercise(&mut self, method: &str, template: &str) {
        let op = self.operation(method, template).clone();
        if let Some(csv) = op
            .pointer("/requestBody/content/text~1csv/example")
            .and_then(Value::as_str)
        {
            let path = self.concrete(template).expect("a CSV upload path");
            let (status, answer) = send(
                self.app
                    .client
                    .post(self.app.url(&path))
                    .bearer_auth(&self.token)
                    .header("content-type", "text/csv")
                    .body(csv.to_owned()),
            )
            .await;
            if (200..300).contains(&status) {
                let schema = op
                    .pointer(&format!(
                        "/responses/{status}/content/application~1json/schema"
                    ))
                    .cloned()
                    .unwrap_or(Value::Null);
                self.checks.push((
                    format!("answer {status} to the CSV example"),
                    schema,
                    answer,
                ));
            } else {
                self.refused.push(format!(
                    "POST {template} (its CSV example) → {status} {answer}"
                ));
            }
        }
        let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") else {
            return;
        };
        let Some(mut example) = self.request_example(method, template) else {
            self.refused.push(format!(
                "{} {template} has no request example",
                method.to_uppercase()
            ));
            return;
        };
        self.checks.push((
            format!("request example of {} {template}", method.to_uppercase()),
            schema.clone(),
            example.clone(),
        ));
        self.fill(&mut example, 0);
        self.attempt(method, template, "its example", &example)
            .await;

        let schema = self.resolve(schema);
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        let properties: BTreeMap<String, Value> = properties
            .iter()
            .map(|(k, v)| (k.clone(), self.resolve(v)))
            .collect();
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(base) = example.as_object().cloned() else {
            return;
        };

        let minimal: Map<String, Value> = base
            .iter()
            .filter(|(k, _)| required.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if minimal.len() < base.len() {
            self.attempt(
                method,
                template,
                "only the required fields",
                &Value::Object(minimal),
            )
            .await;
        }

        let original = self.operation(method, template).clone();
        let raw_properties = original
            .pointer("/requestBody/content/application~1json/schema")
            .map(|s| self.resolve(s))
            .and_then(|s| s.get("properties").cloned())
            .unwrap_or_default();
        let mut nulls = base.clone();
        for (name, raw) in raw_properties.as_object().into_iter().flatten() {
            if allows_null(raw) {
                nulls.insert(name.clone(), Value::Null);
            }
        }
        if nulls != base {
            self.attempt(
                method,
                template,
                "every nullable field null",
                &Value::Object(nulls),
            )
            .await;
        }

        for (name, property) in &properties {
            if self.id_for(name).is_some() || name == "url" {
                continue;
            }
            for (what, value) in boundaries(name, property) {
                let mut body = base.clone();
                body.insert(name.clone(), value);
                self.attempt(method, template, &what, &Value::Object(body))
                    .await;
            }
        }
    }
}

/// A body for a message: long texts shortened to their length.
fn brief(value: &Value) -> Value {
    match value {
        Value::String(text) if text.chars().count() > 60 => {
            Value::String(format!("<{} characters>", text.chars().count()))
        }
        Value::Array(items) => Value::Array(items.iter().map(brief).collect()),
        Value::Object(fields) => {
            Value::Object(fields.iter().map(|(k, v)| (k.clone(), brief(v))).collect())
        }
        other => other.clone(),
    }
}

impl Contract<'_> {
    /// Each query parameter of a GET alone, at the values its schema allows: every enum value,
    /// both booleans, the bounds of numbers, its example, and empty and long free text.
    async fn query_variants(&mut self, template: &str) {
        let Some(path) = self.concrete(template) else {
            return;
        };
        let parameters = self.operation("get", template)["parameters"].clone();
        for parameter in parameters.as_array().into_iter().flatten() {
            if parameter["in"] != "query" {
                continue;
            }
            let name = parameter["name"].as_str().unwrap_or_default().to_owned();
            let schema = self.resolve(&parameter["schema"]);
            let mut values: Vec<String> = Vec::new();
            let text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let Some(example) = parameter.get("example").or_else(|| schema.get("example")) {
                values.push(text(example));
            }
            if let Some(options) = schema.get("enum").and_then(Value::as_array) {
                values.extend(options.iter().map(text));
            }
            match (
                schema["type"].as_str().unwrap_or_default(),
                schema["format"].as_str(),
            ) {
                ("boolean", _) => values.extend(["true".into(), "false".into()]),
                ("integer" | "number", _) => {
                    for bound in ["minimum", "maximum"] {
                        if let Some(b) = schema.get(bound) {
                            values.push(text(b));
                        }
                    }
                    if schema.get("maximum").is_none() {
                        values.push("1000000".into());
                    }
                }
                ("string", Some("uuid")) => values.push(
                    self.id_for(&name)
                        .unwrap_or_else(|| "01938f2a-7c4e-7d10-9a3b-5c6d7e8f9a0b".into()),
                ),
                ("string", Some("date")) => values.push("2026-11-30".into()),
                ("string", Some("date-time")) => values.push("2026-11-30T09:00:00Z".into()),
                ("string", None)
                    if schema.get("enum").is_none() && schema.get("pattern").is_none() =>
                {
                    values.extend([String::new(), "x".repeat(2000)]);
                }
                _ => {}
            }
            for value in values {
                let (status, answer) = send(
                    self.app
                        .client
                        .get(self.app.url(&path))
                        .query(&[(&name, &value)])
                        .bearer_auth(&self.token),
                )
                .await;
                if !(200..300).contains(&status) {
                    self.refused.push(format!(
                        "GET {template}?{name}={}\n    → {status} {}",
                        brief(&Value::String(value)),
                        brief(&answer)
                    ));
                }
            }
        }
    }
}

/// Whether a raw (unresolved) property schema admits `null`.
fn allows_null(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
        Some(Value::String(t)) => t == "null",
        _ => schema
            .get("oneOf")
            .and_then(Value::as_array)
            .is_some_and(|b| b.iter().any(|b| b.get("type") == Some(&json!("null")))),
    }
}

/// Values at the edges of what a property's schema allows.
fn boundaries(name: &str, schema: &Value) -> Vec<(String, Value)> {
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(t)) => t.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    let constrained = schema.get("enum").is_some() || schema.get("format").is_some();
    // Text whose pattern is more than "has a non-space character" cannot be made up here; its
    // example covers it.
    let free_text = match schema.get("pattern").and_then(Value::as_str) {
        None => Some(false),
        Some(r"\S") => Some(true),
        Some(_) => None,
    };
    if types.contains(&"string")
        && !constrained
        && let Some(needs_letter) = free_text
    {
        let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
        let max = schema.get("maxLength").and_then(Value::as_u64);
        let shortest = usize::try_from(min).unwrap();
        out.push(if needs_letter {
            (
                format!("{name} at its minimum length"),
                json!("x".repeat(shortest.max(1))),
            )
        } else if shortest == 0 {
            (format!("{name} empty"), json!(""))
        } else {
            (
                format!("{name} {shortest} spaces"),
                json!(" ".repeat(shortest)),
            )
        });
        out.push(match max {
            Some(n) => (
                format!("{name} at its maximum length"),
                json!("x".repeat(usize::try_from(n).unwrap())),
            ),
            None => (
                format!("{name} 20,000 characters"),
                json!("x".repeat(20_000)),
            ),
        });
    }
    let numeric = types.contains(&"integer") || types.contains(&"number");
    if numeric && schema.get("enum").is_none() {
        let at = |key: &str| schema.get(key).and_then(Value::as_f64);
        let low = at("minimum").or(at("exclusiveMinimum").map(|m| m + 1.0));
        let high = at("maximum").or(at("exclusiveMaximum").map(|m| m - 1.0));
        out.push(match low {
            Some(low) => (format!("{name} at its minimum"), number(low, &types)),
            None => (format!("{name} negative"), number(-1.0, &types)),
        });
        out.push(match high {
            Some(high) => (format!("{name} at its maximum"), number(high, &types)),
            None => (format!("{name} a million"), number(1_000_000.0, &types)),
        });
    }
    if types.contains(&"array") && schema.get("minItems").is_none() {
        out.push((format!("{name} empty"), json!([])));
    }
    out
}

fn number(value: f64, types: &[&str]) -> Value {
    if types.contains(&"integer") {
        #[allow(clippy::cast_possible_truncation)]
        let whole = value as i64;
        json!(whole)
    } else {
        json!(value)
    }
}

/// A date or timestamp moved `weeks` weeks back; `None` for any other text.
fn shift(text: &str, weeks: i64) -> Option<String> {
    if weeks == 0 {
        return None;
    }
    let by = Duration::weeks(weeks);
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return (at - by).format(&Rfc3339).ok();
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format)
        .ok()
        .and_then(|d| (d - by).format(&format).ok())
}

/// The id of the record an answer describes: `id` at the top or one level down.
fn find_id(answer: &Value) -> Option<String> {
    if let Some(id) = answer.get("id").and_then(Value::as_str) {
        return Some(id.to_owned());
    }
    answer
        .as_object()?
        .values()
        .find_map(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
}

/// Checks every (label, schema, instance) with Python's `jsonschema`; returns the failures.
fn validate(components: &Value, checks: &[(String, Value, Value)]) -> Vec<String> {
    use std::io::Write;
    let python = python_with("jsonschema", "jsonschema");
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
data = json.load(sys.stdin)
bad = []
for label, schema, instance in data["checks"]:
    schema = dict(schema)
    schema["components"] = data["components"]
    for error in list(Draft202012Validator(schema).iter_errors(instance))[:3]:
        where = "/".join(map(str, error.absolute_path))
        bad.append(f"{label}: at '{where}': {error.message[:300]}")
print(json.dumps(bad))
"#;
    let input = json!({"components": components, "checks": checks});
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON list")
}

both! {
    async fn every_request_the_document_allows_is_accepted_and_every_answer_matches_it(backend) {
        // Google connections can be started (nothing here completes one: no provider answers).
        let mut env = WEBHOOK_ENV.to_vec();
        env.extend([
            ("GOOGLE_CLIENT_ID", "contract-client"),
            ("GOOGLE_CLIENT_SECRET", "contract-secret"),
            ("GOOGLE_OAUTH_URL", "http://127.0.0.1:9"),
            ("CLICKUP_CLIENT_ID", "contract-client"),
            ("CLICKUP_CLIENT_SECRET", "contract-secret"),
            ("CLICKUP_API_URL", "http://127.0.0.1:9"),
            ("GITHUB_API_URL", "http://127.0.0.1:9"),
        ]);
        let app = TestApp::with_env(backend, &env).await;
        let receiver = Receiver::start().await;
        let admin = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = app.token(&admin, &["admin:all"]).await;
        let (status, doc) = send(app.client.get(app.url("/openapi.json"))).await;
        assert_eq!(status, 200);
        let mut contract = Contract {
            app: &app,
            token,
            doc,
            ids: HashMap::from([
                ("user_id".to_owned(), admin.user.id.to_string()),
                ("oauth_app".to_owned(), "google".to_owned()),
            ]),
            receiver_url: format!("http://{}/hook", receiver.addr),
            newcomer_email: app.member(false, timebridge::directory::Plan::Free).await.user.email,
            made: 0,
            checks: Vec::new(),
            refused: Vec::new(),
        };

        // Every operation declares an example for each JSON body it takes or gives.
        let mut missing = Vec::new();
        for (path, item) in contract.doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let bodies = op
                    .pointer("/requestBody/content")
                    .into_iter()
                    .chain(op["responses"].as_object().into_iter().flat_map(|r| {
                        r.values().filter_map(|r| r.get("content"))
                    }));
                for content in bodies {
                    if let Some(json) = content.get("application/json")
                        && json.get("schema").is_some()
                    {
                        match json.get("example") {
                            Some(example) => contract.checks.push((
                                format!("an example of {} {path}", method.to_uppercase()),
                                json["schema"].clone(),
                                example.clone(),
                            )),
                            None => missing.push(format!("{} {path}", method.to_uppercase())),
                        }
                    }
                }
            }
        }
        // Uploads of other types (CSV) carry one too.
        for (path, item) in contract.doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (media, content) in op
                    .pointer("/requestBody/content")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    if content.get("example").is_none() {
                        missing.push(format!("{} {path} ({media})", method.to_uppercase()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "operations without an example: {missing:#?}");

        for (collection, field) in FIXTURES {
            if *collection == "/api/v1/integration/bindings" {
                // The examples bind the repository of the workspace's GitHub integration.
                let project_id = contract.ids["project_id"].clone();
                let (status, config) = contract
                    .send(
                        "put",
                        "/api/integrations/github/config",
                        Some(&json!({
                            "repo": "octo-org/website", "webhook_secret": "contract-secret",
                            "project_id": project_id,
                        })),
                    )
                    .await;
                assert_eq!(status, 200, "{config}");
            }
            if let Some(id) = contract.make(collection).await {
                contract.ids.insert((*field).to_owned(), id);
            }
        }
        // An add-on in the catalog (the operator registers them), calling the receiver.
        let manifest = json!({
            "schemaVersion": "1.3", "key": "contract-addon", "name": "Contract add-on",
            "baseUrl": format!("http://{}", receiver.addr), "scopes": ["read:projects"],
            "lifecycle": [{"type": "INSTALLED", "path": "/installed"}],
        });
        let (addon, _) = timebridge::addons::catalog::register(&app.db, &app.state.config, manifest.to_string().as_bytes(), "contract")
            .await
            .expect("the contract's add-on registers");
        contract.ids.insert("plugin_id".into(), addon.id.to_string());
        // A job run and a webhook delivery to look at.
        let (status, jobs) = contract.send("get", "/api/v1/integration/jobs", None).await;
        assert_eq!(status, 200, "{jobs}");
        let job = jobs["jobs"][0]["name"].as_str().expect("a job kind").to_owned();
        contract.ids.insert("job_name".into(), job.clone());
        let (status, run) = contract
            .send("post", &format!("/api/v1/integration/jobs/{job}/run"), None)
            .await;
        assert!((200..300).contains(&status), "{run}");
        contract.ids.insert("job_run_id".into(), find_id(&run).expect("a run id"));

        let mut operations: Vec<(String, String)> = Vec::new();
        for (path, item) in contract.doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                operations.push((method.clone(), path.clone()));
            }
        }
        // Create before replacing, replace before patching, look last.
        let rank = |m: &str| ["post", "put", "patch", "get"].iter().position(|x| *x == m);
        operations.sort_by_key(|(method, path)| (rank(method), path.clone()));
        for (method, path) in &operations {
            if method == "delete"
                || PROVIDER_PAYLOADS.contains(&path.as_str())
                || PROVIDER_ROUND_TRIPS.contains(&path.as_str())
                || NEEDS_PROVIDER_STATE.contains(&path.as_str())
                || (method == "post" && OPERATORS_ONLY.contains(&path.as_str()))
            {
                continue;
            }
            contract.exercise(method, path).await;
        }
        for (method, template) in &operations {
            if method != "get" || PROVIDER_ROUND_TRIPS.contains(&template.as_str()) {
                continue;
            }
            let Some(path) = contract.concrete(template) else {
                contract.refused.push(format!("GET {template}: no fixture to fill it"));
                continue;
            };
            let (status, answer) = contract.call("get", template, &path, None).await;
            if !(200..300).contains(&status) {
                contract.refused.push(format!("GET {path} → {status} {answer}"));
            }
        }

        for (method, template) in &operations {
            if method == "get" && !PROVIDER_ROUND_TRIPS.contains(&template.as_str()) {
                contract.query_variants(template).await;
            }
        }

        let refused = std::mem::take(&mut contract.refused);
        let mismatches = validate(&contract.doc["components"], &contract.checks);
        assert!(
            refused.is_empty() && mismatches.is_empty(),
            "refused although the document allows it:\n{}\n\nnot as the document says:\n{}",
            refused.join("\n"),
            mismatches.join("\n")
        );
        drop(receiver);
    }
}
