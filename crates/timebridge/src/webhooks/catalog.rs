//! The event catalog endpoints subscribe to, each with an example of the payload it delivers.
//! The examples are derived from the OpenAPI schemas of the resources the events carry, so they
//! cannot drift from what the API returns.

use std::sync::OnceLock;

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::platform::outbox::EventType;

/// One event type of the catalog.
#[derive(Clone, Serialize, ToSchema)]
pub struct CatalogEntry {
    /// The dotted name, e.g. `time_entry.created`.
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// The kind of resource in `data`.
    pub resource: &'static str,
    pub description: &'static str,
    /// A payload as it is delivered (the request body).
    #[schema(value_type = Object)]
    pub example: Value,
}

const EXAMPLE_ID: &str = "0193f2c4-a1b2-7c3d-9e8f-00112233aabb";
const EXAMPLE_TIME: &str = "2026-11-23T09:00:00Z";

/// The whole catalog, built once.
pub fn entries() -> &'static [CatalogEntry] {
    static CATALOG: OnceLock<Vec<CatalogEntry>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let (_, doc) = crate::app::api_routes().split_for_parts();
        let doc = serde_json::to_value(&doc).unwrap_or(Value::Null);
        let schemas = &doc["components"]["schemas"];
        EventType::ALL
            .iter()
            .map(|t| CatalogEntry {
                event_type: t.as_str(),
                resource: t.resource(),
                description: t.description(),
                example: payload(*t, event_data_example(*t, schemas)),
            })
            .collect()
    })
}

fn payload(t: EventType, data: Value) -> Value {
    json!({
        "id": EXAMPLE_ID,
        "type": t.as_str(),
        "sequence": 42,
        "workspace_id": EXAMPLE_ID,
        "occurred_at": EXAMPLE_TIME,
        "actor": {"kind": "user", "user_id": EXAMPLE_ID, "token_id": EXAMPLE_ID},
        "resource": {"type": t.resource(), "id": EXAMPLE_ID},
        "data": data,
    })
}

/// The example `data` of an event: its resource, or, for the events whose data is not the
/// resource itself, their own schema.
fn event_data_example(t: EventType, schemas: &Value) -> Value {
    let own_schema = match t {
        EventType::TimeEntrySplit => Some("TimeEntrySplit"),
        _ => None,
    };
    match own_schema.and_then(|name| schemas.get(name)) {
        Some(schema) => example(schema, schemas, 0),
        None => data_example(t.resource(), schemas),
    }
}

fn data_example(resource: &str, schemas: &Value) -> Value {
    let endpoint =
        json!({"id": EXAMPLE_ID, "name": "Slack bridge", "url": "https://example.com/hooks"});
    match resource {
        "webhook_endpoint" => {
            return json!({"endpoint": endpoint, "reason": "the receiver answered 410 Gone"});
        }
        "webhook_delivery" => {
            return json!({"endpoint": endpoint, "delivery": {
                "id": EXAMPLE_ID, "message_id": "msg_0193f2c4a1b27c3d9e8f00112233aabb",
                "event_id": EXAMPLE_ID, "event_type": "time_entry.created", "status": "pending",
                "attempts": 4, "last_status_code": 503, "last_error": "the receiver answered 503",
                "next_attempt_at": EXAMPLE_TIME}});
        }
        _ => {}
    }
    let name: String = resource
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<String>()
        + "View";
    match schemas.get(&name) {
        Some(schema) => example(schema, schemas, 0),
        None => json!({"id": EXAMPLE_ID}),
    }
}

/// An example value for a JSON schema, as the API document's examples are built.
fn example(schema: &Value, schemas: &Value, depth: usize) -> Value {
    crate::platform::openapi::examples::build(schema, schemas, depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_an_example_carrying_its_resource() {
        let entries = entries();
        assert_eq!(entries.len(), EventType::ALL.len());
        let created = entries
            .iter()
            .find(|e| e.event_type == "time_entry.created")
            .expect("time_entry.created is in the catalog");
        assert_eq!(created.example["type"], "time_entry.created");
        assert!(
            created.example["data"]["start_time"].is_string(),
            "{}",
            created.example
        );
        let failing = entries
            .iter()
            .find(|e| e.event_type == "webhook.delivery_failing")
            .expect("operational events are in the catalog");
        assert_eq!(failing.example["data"]["delivery"]["attempts"], 4);
        let split = entries
            .iter()
            .find(|e| e.event_type == "time_entry.split")
            .expect("time_entry.split is in the catalog");
        assert!(
            split.example["data"]["time_entries"][0]["start_time"].is_string(),
            "{}",
            split.example
        );
    }
}
