//! Which events an endpoint receives: a list of event names (`task.created`), resource
//! wildcards (`task.*`) and `*`. Accepted as seed 001's map (`{"task.created": true}`; `false`
//! entries are ignored) or as a list; stored and shown as a sorted list.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::platform::outbox::EventType;

/// A validated, sorted, de-duplicated set of subscriptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscriptions(Vec<String>);

impl Subscriptions {
    /// Reads the `events` field of a request; the error says what is wrong.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let names: Vec<&str> = match value {
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().ok_or("must be a list of event names"))
                .collect::<Result<_, _>>()?,
            Value::Object(map) => {
                let mut on = Vec::new();
                for (name, flag) in map {
                    match flag {
                        Value::Bool(true) => on.push(name.as_str()),
                        Value::Bool(false) => {}
                        _ => return Err(format!("'{name}' must map to true or false")),
                    }
                }
                on
            }
            _ => return Err("must be a list of event names or a map of name to true".into()),
        };
        let mut set = BTreeSet::new();
        for name in names {
            let name = name.trim();
            if !is_known(name) {
                return Err(format!(
                    "unknown event '{name}' (see GET /api/v1/integration/webhooks/events; \
                     `resource.*` and `*` are accepted)"
                ));
            }
            set.insert(name.to_owned());
        }
        if set.is_empty() {
            return Err("must subscribe to at least one event".into());
        }
        Ok(Self(set.into_iter().collect()))
    }

    /// Reads the stored JSON list (already validated when it was written).
    pub fn from_stored(text: &str) -> Self {
        Self(serde_json::from_str(text).unwrap_or_default())
    }

    /// The JSON list to store.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// Whether an event of this type goes to the endpoint.
    pub fn matches(&self, event_type: &str) -> bool {
        self.0.iter().any(|s| pattern_matches(s, event_type))
    }
}

fn pattern_matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix(".*") {
        _ if pattern == "*" => true,
        Some(prefix) => event_type
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.')),
        None => pattern == event_type,
    }
}

fn is_known(name: &str) -> bool {
    EventType::ALL
        .iter()
        .any(|t| pattern_matches(name, t.as_str()))
        && (name == "*" || name.ends_with(".*") || name.parse::<EventType>().is_ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_seed_map_and_a_list_mean_the_same() {
        let map = Subscriptions::parse(
            &json!({"task.created": true, "task.updated": true, "tag.created": false}),
        )
        .unwrap();
        let list =
            Subscriptions::parse(&json!(["task.updated", "task.created", "task.created"])).unwrap();
        assert_eq!(map, list);
        assert_eq!(map.names(), ["task.created", "task.updated"]);
    }

    #[test]
    fn wildcards_match_by_resource() {
        let subs = Subscriptions::parse(&json!(["task.*", "timer.started"])).unwrap();
        assert!(subs.matches("task.completed"));
        assert!(subs.matches("timer.started"));
        assert!(!subs.matches("timer.stopped"));
        assert!(!subs.matches("tag.created"));
        assert!(
            Subscriptions::parse(&json!(["*"]))
                .unwrap()
                .matches("webhook.delivery_failing")
        );
    }

    #[test]
    fn unknown_and_empty_subscriptions_are_refused() {
        assert!(
            Subscriptions::parse(&json!(["task.exploded"]))
                .unwrap_err()
                .contains("task.exploded")
        );
        assert!(Subscriptions::parse(&json!(["nothing.*"])).is_err());
        assert!(Subscriptions::parse(&json!([])).is_err());
        assert!(Subscriptions::parse(&json!({"task.created": "yes"})).is_err());
        assert!(Subscriptions::parse(&json!("task.created")).is_err());
    }
}
