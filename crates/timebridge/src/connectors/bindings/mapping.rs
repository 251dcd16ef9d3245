//! A binding's field mapping: Timebridge field → provider field, optionally through a map of
//! values (`{"name": "name", "status": {"field": "status", "map": {"todo": "to do"}}}`),
//! checked against both sides' fields when a binding is saved, and used both ways by a run.

use serde_json::{Map, Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::{Bindable, Direction, SideField, ValueKind, local};
use crate::platform::error::FieldErrors;

/// One mapped field.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldMap {
    pub local: String,
    pub remote: String,
    /// Timebridge value → provider value.
    pub values: Option<Vec<(String, String)>>,
}

/// A parsed mapping, in the order given.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapping(pub Vec<FieldMap>);

impl Mapping {
    /// Reads a mapping's shape; problems go to `errors` under `mapping` or `mapping.{field}`.
    pub fn parse(value: &Value, errors: &mut FieldErrors) -> Option<Self> {
        let Some(object) = value.as_object() else {
            errors.add(
                "mapping",
                "must be an object of Timebridge field → provider field",
            );
            return None;
        };
        if object.is_empty() {
            errors.add("mapping", "map at least one field");
            return None;
        }
        let mut fields = Vec::new();
        for (local, target) in object {
            let at = format!("mapping.{local}");
            match target {
                Value::String(remote) if !remote.trim().is_empty() => fields.push(FieldMap {
                    local: local.clone(),
                    remote: remote.clone(),
                    values: None,
                }),
                Value::Object(spec) => {
                    let Some(remote) = spec.get("field").and_then(Value::as_str) else {
                        errors.add(at, "needs `field`, the provider's field");
                        continue;
                    };
                    if let Some(extra) = spec.keys().find(|k| *k != "field" && *k != "map") {
                        errors.add(
                            at.clone(),
                            format!("unknown key '{extra}' (known: field, map)"),
                        );
                    }
                    let values = match spec.get("map") {
                        None | Some(Value::Null) => None,
                        Some(Value::Object(map)) if !map.is_empty() => {
                            let mut pairs = Vec::new();
                            for (from, to) in map {
                                match to.as_str() {
                                    Some(to) => pairs.push((from.clone(), to.to_owned())),
                                    None => errors.add(
                                        at.clone(),
                                        format!("map: the value of '{from}' must be a string"),
                                    ),
                                }
                            }
                            Some(pairs)
                        }
                        Some(_) => {
                            errors.add(
                                at.clone(),
                                "map must be a non-empty object of Timebridge value → provider value",
                            );
                            None
                        }
                    };
                    fields.push(FieldMap {
                        local: local.clone(),
                        remote: remote.to_owned(),
                        values,
                    });
                }
                _ => errors.add(
                    at,
                    "must be the provider's field name, or {\"field\": …, \"map\": {…}}",
                ),
            }
        }
        Some(Self(fields))
    }

    /// Checks the mapping against both sides' fields and the direction. `provider` names the
    /// provider in messages (`ClickUp`).
    pub fn check(
        &self,
        provider: &str,
        bindable: &Bindable,
        direction: Direction,
        errors: &mut FieldErrors,
    ) {
        let entity = bindable.entity;
        let locals = local::fields(entity);
        let mut seen_remote: Vec<(&str, &str)> = Vec::new();
        for f in &self.0 {
            let at = format!("mapping.{}", f.local);
            let Some(lf) = locals.iter().find(|l| l.name == f.local) else {
                errors.add(
                    at,
                    format!(
                        "Timebridge {} have no field '{}' (fields: {})",
                        entity.plural(),
                        f.local,
                        names(locals)
                    ),
                );
                continue;
            };
            let Some(rf) = bindable.fields.iter().find(|r| r.name == f.remote) else {
                errors.add(
                    at,
                    format!(
                        "{provider} {} have no field '{}' (fields: {})",
                        entity.plural(),
                        f.remote,
                        names(bindable.fields)
                    ),
                );
                continue;
            };
            if let Some((_, other)) = seen_remote.iter().find(|(r, _)| *r == f.remote) {
                errors.add(
                    at.clone(),
                    format!(
                        "{provider}'s '{}' is mapped from '{other}' already",
                        f.remote
                    ),
                );
            }
            seen_remote.push((rf.name, lf.name));
            if direction.pushes() && !rf.writable {
                errors.add(
                    at.clone(),
                    format!(
                        "{provider}'s '{}' is read-only: a {} binding cannot write it",
                        rf.name,
                        direction.as_str()
                    ),
                );
            }
            check_values(provider, f, lf, rf, direction, &at, errors);
        }
        if direction.pulls() {
            for required in local::required(entity) {
                if !self.0.iter().any(|f| f.local == *required) {
                    errors.add(
                        "mapping",
                        format!(
                            "a {} binding creates Timebridge {}: map their '{required}'",
                            direction.as_str(),
                            entity.plural()
                        ),
                    );
                }
            }
        }
    }

    /// The mapping as stored and shown.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        for f in &self.0 {
            let target = match &f.values {
                None => json!(f.remote),
                Some(values) => {
                    let map: Map<String, Value> =
                        values.iter().map(|(a, b)| (a.clone(), json!(b))).collect();
                    json!({"field": f.remote, "map": map})
                }
            };
            out.insert(f.local.clone(), target);
        }
        Value::Object(out)
    }

    /// Reads a stored mapping (saved after [`check`](Mapping::check)).
    pub fn stored(text: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(text).ok()?;
        let mut errors = FieldErrors::new();
        Self::parse(&value, &mut errors).filter(|_| errors.is_empty())
    }
}

impl FieldMap {
    /// A Timebridge value as the provider's; `None` when the map has no entry for it.
    pub fn forward(&self, value: &Value) -> Option<Value> {
        let Some(values) = &self.values else {
            return Some(value.clone());
        };
        let Some(text) = value.as_str() else {
            return Some(value.clone()); // null stays null
        };
        values
            .iter()
            .find(|(from, _)| from == text)
            .map(|(_, to)| json!(to))
    }

    /// A provider's value as Timebridge's; `None` when the map has no entry for it. Values
    /// are matched without regard to case (ClickUp's status names are not cased reliably).
    pub fn backward(&self, value: &Value) -> Option<Value> {
        let Some(values) = &self.values else {
            return Some(value.clone());
        };
        let Some(text) = value.as_str() else {
            return Some(value.clone());
        };
        values
            .iter()
            .find(|(_, to)| to.eq_ignore_ascii_case(text))
            .map(|(from, _)| json!(from))
    }
}

fn check_values(
    provider: &str,
    f: &FieldMap,
    lf: &SideField,
    rf: &SideField,
    direction: Direction,
    at: &str,
    errors: &mut FieldErrors,
) {
    let Some(values) = &f.values else {
        if !rf.kind.carries_into(lf.kind) {
            errors.add(
                at,
                format!(
                    "{provider}'s '{}' ({}) cannot carry Timebridge's '{}' ({})",
                    rf.name,
                    rf.kind.name(),
                    lf.name,
                    lf.kind.name()
                ),
            );
            return;
        }
        // Choices on both sides without a map: each side's values must be the other's.
        if let (Some(ours), Some(theirs)) = (lf.kind.choices(), rf.kind.choices()) {
            if direction.pushes()
                && let Some(v) = ours.iter().find(|v| !theirs.contains(v))
            {
                errors.add(
                    at,
                    format!(
                        "'{v}' is not one of {provider}'s '{}' values ({}): give a map",
                        rf.name,
                        theirs.join(", ")
                    ),
                );
            }
            if direction.pulls()
                && let Some(v) = theirs.iter().find(|v| !ours.contains(v))
            {
                errors.add(
                    at,
                    format!(
                        "{provider}'s '{v}' is not a Timebridge '{}' ({}): give a map",
                        lf.name,
                        ours.join(", ")
                    ),
                );
            }
        }
        return;
    };
    let choice_like = |k: ValueKind| matches!(k, ValueKind::Choice(_) | ValueKind::Text);
    if !choice_like(lf.kind) || !choice_like(rf.kind) {
        errors.add(at, "a map translates text or choices only");
        return;
    }
    if let Some(ours) = lf.kind.choices() {
        for (from, _) in values {
            if !ours.contains(&from.as_str()) {
                errors.add(
                    at,
                    format!(
                        "map: '{from}' is not a Timebridge '{}' ({})",
                        lf.name,
                        ours.join(", ")
                    ),
                );
            }
        }
    }
    if let Some(theirs) = rf.kind.choices() {
        for (_, to) in values {
            if !theirs.contains(&to.as_str()) {
                errors.add(
                    at,
                    format!(
                        "map: '{to}' is not one of {provider}'s '{}' values ({})",
                        rf.name,
                        theirs.join(", ")
                    ),
                );
            }
        }
    }
    if direction.pulls() {
        for (i, (from, to)) in values.iter().enumerate() {
            if let Some((other, _)) = values[..i].iter().find(|(_, t)| t.eq_ignore_ascii_case(to)) {
                errors.add(
                    at,
                    format!("map: '{to}' is the value of both '{other}' and '{from}': a pull could not tell them apart"),
                );
            }
        }
    }
}

fn names(fields: &[SideField]) -> String {
    fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

/// A value as both sides are compared: blank text is `null`, instants are UTC to the second.
pub fn normalize(kind: ValueKind, value: Option<&Value>) -> Value {
    let value = value.cloned().unwrap_or(Value::Null);
    match (kind, &value) {
        (ValueKind::Text | ValueKind::Choice(_), Value::String(s)) if s.trim().is_empty() => {
            Value::Null
        }
        (ValueKind::DateTime, Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .and_then(|t| {
                t.to_offset(time::UtcOffset::UTC)
                    .replace_nanosecond(0)
                    .ok()?
                    .format(&Rfc3339)
                    .ok()
            })
            .map_or(value, Value::String),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::bindings::{EntityKind, SideField};

    const REMOTE: &[SideField] = &[
        SideField::new("name", ValueKind::Text, "name"),
        SideField::new("status", ValueKind::Choice(None), "status"),
        SideField::new(
            "priority",
            ValueKind::Choice(Some(&["urgent", "high", "normal", "low"])),
            "priority",
        )
        .nullable(),
        SideField::new("date_updated", ValueKind::DateTime, "updated").read_only(),
    ];

    const TASKS: Bindable = Bindable {
        entity: EntityKind::Task,
        collection: "a list",
        directions: &[Direction::Pull, Direction::Push, Direction::Both],
        fields: REMOTE,
        default_mapping: "{}",
    };

    fn problems(mapping: Value, direction: Direction) -> FieldErrors {
        let mut errors = FieldErrors::new();
        if let Some(m) = Mapping::parse(&mapping, &mut errors) {
            m.check("ClickUp", &TASKS, direction, &mut errors);
        }
        errors
    }

    #[test]
    fn a_good_mapping_passes_and_round_trips() {
        let mapping = json!({"name": "name", "status": {"field": "status", "map": {"todo": "to do", "done": "complete"}}});
        assert!(problems(mapping.clone(), Direction::Both).is_empty());
        let mut errors = FieldErrors::new();
        let parsed = Mapping::parse(&mapping, &mut errors).unwrap();
        assert_eq!(parsed.to_json(), mapping);
        let status = &parsed.0[1];
        assert_eq!(status.forward(&json!("done")), Some(json!("complete")));
        assert_eq!(status.backward(&json!("COMPLETE")), Some(json!("done")));
        assert_eq!(status.backward(&json!("blocked")), None);
    }

    #[test]
    fn each_bad_field_is_named() {
        let found = problems(
            json!({"name": "title", "colour": "name", "priority": "priority", "due_date": "date_updated", "status": {"field": "status", "map": {"finished": "complete"}}}),
            Direction::Both,
        );
        let summary = found.summary();
        assert!(found.has("mapping.name"), "{summary}"); // no ClickUp 'title'
        assert!(found.has("mapping.colour"), "{summary}"); // no Timebridge 'colour'
        assert!(found.has("mapping.priority"), "{summary}"); // 'medium' needs a map
        assert!(found.has("mapping.due_date"), "{summary}"); // read-only and a date_time
        assert!(found.has("mapping.status"), "{summary}"); // 'finished' is no status
        let unnamed = problems(json!({"description": "description"}), Direction::Pull);
        assert!(
            unnamed.has("mapping"),
            "a pull makes tasks: it needs their name"
        );
        let pushed = problems(json!({"name": "name"}), Direction::Push);
        assert!(pushed.is_empty(), "a push makes no Timebridge task");
    }

    #[test]
    fn instants_compare_in_utc_to_the_second() {
        assert_eq!(
            normalize(
                ValueKind::DateTime,
                Some(&json!("2026-12-01T10:00:00.250+01:00"))
            ),
            json!("2026-12-01T09:00:00Z")
        );
        assert_eq!(normalize(ValueKind::Text, Some(&json!("  "))), Value::Null);
    }
}
