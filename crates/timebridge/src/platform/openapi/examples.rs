//! An example request and response for every operation, built from the schemas: a field's own
//! `example` wherever it declares one, otherwise a value its type, format, enum and bounds allow.
//! Operations that declare their own example keep it.

use serde_json::{Map, Value, json};
use utoipa::openapi::{OpenApi as Document, RefOr, content::Content};

/// How deep an example follows nested schemas before it stops (recursive schemas).
const MAX_DEPTH: usize = 12;

/// Adds a JSON `example` to every request body and response content that has a schema and none.
pub fn add(doc: &mut Document) {
    let schemas = doc
        .components
        .as_ref()
        .and_then(|c| serde_json::to_value(&c.schemas).ok())
        .unwrap_or_else(|| json!({}));
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
            if let Some(RefOr::T(body)) = &mut op.request_body {
                for (media_type, content) in &mut body.content {
                    add_to_content(media_type, content, &schemas);
                }
            }
            for response in op.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    for (media_type, content) in &mut response.content {
                        add_to_content(media_type, content, &schemas);
                    }
                }
            }
        }
    }
}

fn add_to_content(media_type: &str, content: &mut RefOr<Content>, schemas: &Value) {
    let RefOr::T(content) = content else {
        return;
    };
    if content.example.is_some() || !content.examples.is_empty() || !media_type.contains("json") {
        return;
    }
    let Some(schema) = content
        .schema
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
    else {
        return;
    };
    content.example = Some(build(&schema, schemas, 0));
}

/// A value `schema` accepts.
pub fn build(schema: &Value, schemas: &Value, depth: usize) -> Value {
    let Some(obj) = schema.as_object() else {
        return Value::Null;
    };
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(example) = obj.get("example") {
        return example.clone();
    }
    if let Some(first) = obj
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return schemas
            .get(name)
            .map_or(Value::Null, |target| build(target, schemas, depth + 1));
    }
    if let Some(value) = obj.get("const") {
        return value.clone();
    }
    if let Some(value) = obj.get("default").filter(|v| !v.is_null()) {
        return value.clone();
    }
    if let Some(first) = obj
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|values| values.iter().find(|v| !v.is_null()))
    {
        return first.clone();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = obj.get(key).and_then(Value::as_array) {
            let chosen = branches
                .iter()
                .find(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                .or_else(|| branches.first());
            return chosen.map_or(Value::Null, |b| build(b, schemas, depth + 1));
        }
    }
    if let Some(parts) = obj.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in parts {
            match build(part, schemas, depth + 1) {
                Value::Object(fields) => merged.extend(fields),
                other if parts.len() == 1 => return other,
                _ => {}
            }
        }
        return Value::Object(merged);
    }
    match primary_type(obj).as_deref() {
        Some("object") => object(obj, schemas, depth),
        Some("array") => {
            let item = obj
                .get("items")
                .map_or(Value::Null, |items| build(items, schemas, depth + 1));
            let count = obj
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            Value::Array(vec![item; usize::try_from(count).unwrap_or(1)])
        }
        Some("string") => string(obj),
        Some("integer") => integer(obj),
        Some("number") => number(obj),
        Some("boolean") => Value::Bool(true),
        Some("null") => Value::Null,
        // No type: a free-form value.
        _ if obj.contains_key("properties") => object(obj, schemas, depth),
        _ => json!({}),
    }
}

/// The schema's type, preferring anything over `null` in a list of types.
fn primary_type(obj: &Map<String, Value>) -> Option<String> {
    match obj.get("type")? {
        Value::String(t) => Some(t.clone()),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .or(Some("null"))
            .map(str::to_owned),
        _ => None,
    }
}

fn object(obj: &Map<String, Value>, schemas: &Value, depth: usize) -> Value {
    let mut out = Map::new();
    if let Some(properties) = obj.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            out.insert(name.clone(), build(property, schemas, depth + 1));
        }
    }
    Value::Object(out)
}

fn string(obj: &Map<String, Value>) -> Value {
    let by_format = match obj.get("format").and_then(Value::as_str) {
        Some("uuid") => Some("01938f2a-7c4e-7d10-9a3b-5c6d7e8f9a0b"),
        Some("date-time") => Some("2026-11-30T09:00:00Z"),
        Some("date") => Some("2026-11-30"),
        Some("time") => Some("09:00:00"),
        Some("email") => Some("ada@example.com"),
        Some("uri" | "url") => Some("https://example.com/"),
        Some("ipv4") => Some("203.0.113.7"),
        Some("ipv6") => Some("2001:db8::7"),
        _ => None,
    };
    if let Some(value) = by_format {
        return Value::String(value.to_owned());
    }
    let min = obj.get("minLength").and_then(Value::as_u64).unwrap_or(0);
    let max = obj.get("maxLength").and_then(Value::as_u64);
    let mut text = String::from("string");
    while (text.len() as u64) < min {
        text.push('x');
    }
    if let Some(max) = max {
        text.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    }
    Value::String(text)
}

fn integer(obj: &Map<String, Value>) -> Value {
    let low = obj
        .get("minimum")
        .and_then(Value::as_i64)
        .or_else(|| {
            obj.get("exclusiveMinimum")
                .and_then(Value::as_i64)
                .map(|m| m + 1)
        })
        .unwrap_or(1)
        .max(1);
    let high = obj.get("maximum").and_then(Value::as_i64).or_else(|| {
        obj.get("exclusiveMaximum")
            .and_then(Value::as_i64)
            .map(|m| m - 1)
    });
    json!(high.map_or(low, |h| low.min(h)))
}

fn number(obj: &Map<String, Value>) -> Value {
    let low = obj
        .get("minimum")
        .and_then(Value::as_f64)
        .or_else(|| {
            obj.get("exclusiveMinimum")
                .and_then(Value::as_f64)
                .map(|m| m + 1.0)
        })
        .unwrap_or(1.5)
        .max(1.5);
    let high = obj.get("maximum").and_then(Value::as_f64);
    json!(high.map_or(low, |h| low.min(h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_example_wins_and_the_rest_follow_type_format_and_bounds() {
        let schemas = json!({
            "Status": {"type": "string", "enum": ["active", "archived"]},
            "Project": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "example": "Website relaunch"},
                    "code": {"type": "string", "minLength": 8, "maxLength": 10},
                    "client_id": {"type": ["string", "null"], "format": "uuid"},
                    "status": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Status"}]},
                    "rate": {"type": "integer", "minimum": 5, "maximum": 3},
                    "tags": {"type": "array", "items": {"type": "string", "format": "date"}}
                }
            }
        });
        let example = build(
            &json!({"$ref": "#/components/schemas/Project"}),
            &schemas,
            0,
        );
        assert_eq!(
            example,
            json!({
                "name": "Website relaunch",
                "code": "stringxx",
                "client_id": "01938f2a-7c4e-7d10-9a3b-5c6d7e8f9a0b",
                "status": "active",
                "rate": 3,
                "tags": ["2026-11-30"]
            })
        );
    }
}
