//! An add-on's manifest, in Clockify's schema-1.3 shape: who the add-on is, where it lives
//! (`baseUrl`), the scopes it asks for, the lifecycle calls and webhooks it wants, and the
//! settings a workspace configures. [`parse`] checks the whole manifest and answers with every
//! problem at once, each named by where it sits (`lifecycle[1].type`), so an author fixes them
//! in one pass. Every URL the server will call is `baseUrl` plus a path that must stay under it.
//!
//! One file on purpose (over the usual size): the rules read top to bottom as one document,
//! with the tests that pin each of them below.

use std::collections::HashSet;
use std::str::FromStr;

use reqwest::Url;
use serde_json::{Map, Value, json};

use crate::access::scopes::{Resource, Scope};
use crate::platform::http_client::{TargetPolicy, check_url};
use crate::platform::outbox::EventType;

/// The manifest schema versions this server reads.
const SCHEMA_VERSIONS: [&str; 1] = ["1.3"];
/// Most settings one add-on may declare, across all tabs.
const MAX_SETTINGS: usize = 50;
/// Longest text default or configured value of a `TXT` setting.
const MAX_TEXT_VALUE: usize = 2000;
/// Longest name (of the add-on, a tab or a setting), after trimming.
const MAX_NAME: usize = 100;
/// Longest description (of the add-on or a setting).
const MAX_DESCRIPTION: usize = 1000;
/// Longest placeholder of a setting.
const MAX_PLACEHOLDER: usize = 200;

/// A checked manifest; build one with [`parse`].
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub schema_version: String,
    /// Unique in the catalog: lowercase letters, digits and inner hyphens.
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    /// Where the add-on lives, without a trailing slash (a bare host keeps its `/`).
    pub base_url: Url,
    pub icon_path: Option<String>,
    /// Where the add-on publishes its own public keys (a JWK Set), for the assertions it signs
    /// to get a token without first being called (not in Clockify's schema).
    pub jwks_path: Option<String>,
    /// Named scopes only: never `admin:all` or a wildcard.
    pub scopes: Vec<Scope>,
    pub lifecycle: Vec<Lifecycle>,
    pub webhooks: Vec<WebhookSubscription>,
    /// The settings tabs, in order; their settings are in [`Manifest::settings`].
    pub tabs: Vec<SettingsTab>,
    /// Every setting of every tab, in tab order.
    pub settings: Vec<Setting>,
}

/// A lifecycle call the add-on wants: which moment, and where under `baseUrl`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    pub kind: LifecycleKind,
    pub path: String,
}

/// The moments of an installation an add-on can be told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LifecycleKind {
    Installed,
    Deleted,
    SettingsUpdated,
    StatusChanged,
}

impl LifecycleKind {
    pub const ALL: [LifecycleKind; 4] = [
        Self::Installed,
        Self::Deleted,
        Self::SettingsUpdated,
        Self::StatusChanged,
    ];

    /// The manifest's name, e.g. `INSTALLED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Installed => "INSTALLED",
            Self::Deleted => "DELETED",
            Self::SettingsUpdated => "SETTINGS_UPDATED",
            Self::StatusChanged => "STATUS_CHANGED",
        }
    }
}

impl FromStr for LifecycleKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        one_of(&Self::ALL, Self::as_str, s)
    }
}

/// One event the add-on receives, and where under `baseUrl`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSubscription {
    pub event: EventType,
    pub path: String,
}

/// A tab of the settings screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsTab {
    pub id: String,
    pub name: String,
}

/// One setting a workspace configures for the add-on.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// Unique across all tabs; the key of the setting in a configuration.
    pub id: String,
    /// The id of the tab it is shown on.
    pub tab: String,
    pub name: String,
    pub kind: SettingKind,
    /// Whether a configuration must end up with a value (given or the default).
    pub required: bool,
    /// The manifest's `value`: used when a configuration gives none.
    pub default: Option<Value>,
    pub access_level: AccessLevel,
    /// The choices of a dropdown; empty for the other kinds.
    pub allowed_values: Vec<String>,
    pub description: Option<String>,
    pub placeholder: Option<String>,
}

/// What a setting holds, by Clockify's type names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingKind {
    /// `TXT`
    Text,
    Number,
    Checkbox,
    DropdownSingle,
    DropdownMultiple,
    /// An http(s) URL.
    Link,
}

impl SettingKind {
    pub const ALL: [SettingKind; 6] = [
        Self::Text,
        Self::Number,
        Self::Checkbox,
        Self::DropdownSingle,
        Self::DropdownMultiple,
        Self::Link,
    ];

    /// The manifest's name, e.g. `TXT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "TXT",
            Self::Number => "NUMBER",
            Self::Checkbox => "CHECKBOX",
            Self::DropdownSingle => "DROPDOWN_SINGLE",
            Self::DropdownMultiple => "DROPDOWN_MULTIPLE",
            Self::Link => "LINK",
        }
    }

    /// Whether the setting picks from `allowedValues`.
    pub fn is_dropdown(self) -> bool {
        matches!(self, Self::DropdownSingle | Self::DropdownMultiple)
    }

    /// Whether `value` fits this kind; the error is worded for the user.
    fn check(self, allowed: &[String], value: &Value) -> Result<(), String> {
        let fits = match self {
            Self::Text => value
                .as_str()
                .is_some_and(|s| s.chars().count() <= MAX_TEXT_VALUE),
            Self::Number => value.as_f64().is_some_and(f64::is_finite),
            Self::Checkbox => value.is_boolean(),
            Self::DropdownSingle => value
                .as_str()
                .is_some_and(|s| allowed.iter().any(|a| a == s)),
            Self::DropdownMultiple => value.as_array().is_some_and(|items| {
                let mut seen = HashSet::new();
                items.iter().all(|item| {
                    item.as_str()
                        .is_some_and(|s| allowed.iter().any(|a| a == s) && seen.insert(s))
                })
            }),
            Self::Link => value.as_str().is_some_and(is_web_link),
        };
        if fits {
            return Ok(());
        }
        Err(match self {
            Self::Text => format!("must be text of at most {MAX_TEXT_VALUE} characters"),
            Self::Number => "must be a number".into(),
            Self::Checkbox => "must be true or false".into(),
            Self::DropdownSingle => format!("must be one of: {}", allowed.join(", ")),
            Self::DropdownMultiple => {
                format!(
                    "must be a list of distinct values from: {}",
                    allowed.join(", ")
                )
            }
            Self::Link => "must be an http or https URL".into(),
        })
    }
}

impl FromStr for SettingKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        one_of(&Self::ALL, Self::as_str, s)
    }
}

/// Who may change a setting of an installation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AccessLevel {
    #[default]
    Admins,
    Everyone,
}

impl AccessLevel {
    pub const ALL: [AccessLevel; 2] = [Self::Admins, Self::Everyone];

    /// The manifest's name, e.g. `ADMINS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admins => "ADMINS",
            Self::Everyone => "EVERYONE",
        }
    }
}

impl FromStr for AccessLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        one_of(&Self::ALL, Self::as_str, s)
    }
}

/// One thing wrong with a manifest or a configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Where, as the author reads it (`webhooks[0].path`, or a setting id in a configuration);
    /// empty for the document as a whole.
    pub path: String,
    pub message: String,
}

/// Reads a manifest and checks all of it: `Err` lists every problem found, never just the first.
/// `policy` is the one outbound webhooks use: `baseUrl` may be private (and plain http) only
/// when it allows private targets.
pub fn parse(
    bytes: &[u8],
    policy: TargetPolicy,
    max_bytes: usize,
) -> Result<Manifest, Vec<Problem>> {
    let whole = |message: String| {
        vec![Problem {
            path: String::new(),
            message,
        }]
    };
    if bytes.len() > max_bytes {
        return Err(whole(format!(
            "the manifest is {} bytes; at most {max_bytes} are accepted",
            bytes.len()
        )));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|err| whole(format!("the manifest is not valid JSON: {err}")))?;
    let Value::Object(map) = &value else {
        return Err(whole("the manifest must be a JSON object".into()));
    };
    let doc = Object {
        map,
        at: String::new(),
    };
    let mut problems = Problems::default();
    let p = &mut problems;

    let schema_version = schema_version(&doc, p);
    let key = doc.string("key", true, p).filter(|key| {
        is_key(key)
            || p.add(
                "key",
                "must be 2 to 64 lowercase letters, digits and inner hyphens, e.g. invoice-sync",
            )
    });
    let name = doc.name("name", p);
    let description = doc.text("description", MAX_DESCRIPTION, p);
    let base_url = base_url(&doc, policy, p);
    let icon_path = doc
        .string("iconPath", false, p)
        .and_then(|path| checked_path(p, "iconPath".into(), path, base_url.as_ref()));
    let jwks_path = doc
        .string("jwksPath", false, p)
        .and_then(|path| checked_path(p, "jwksPath".into(), path, base_url.as_ref()));
    let scopes = scopes(&doc, p);
    let lifecycle = lifecycle(&doc, base_url.as_ref(), p);
    let webhooks = webhooks(&doc, base_url.as_ref(), p);
    let (tabs, settings) = settings(&doc, p);
    // Clockify's `minimalSubscriptionPlan` means nothing here and is ignored like any unknown
    // key; UI components would silently not appear, so they are refused.
    if doc
        .get("components")
        .is_some_and(|c| c.as_array().is_none_or(|a| !a.is_empty()))
    {
        p.add("components", "UI components are not supported; remove them");
    }

    // A required field is `None` only after a problem was recorded, so `Err` is never empty.
    if let (true, Some(schema_version), Some(key), Some(name), Some(base_url)) =
        (problems.0.is_empty(), schema_version, key, name, base_url)
    {
        return Ok(Manifest {
            schema_version,
            key: key.to_owned(),
            name,
            description,
            base_url,
            icon_path,
            jwks_path,
            scopes,
            lifecycle,
            webhooks,
            tabs,
            settings,
        });
    }
    Err(problems.0)
}

impl Manifest {
    /// Where to call the add-on at this moment, if it asked to be told.
    pub fn lifecycle_url(&self, kind: LifecycleKind) -> Option<Url> {
        let call = self.lifecycle.iter().find(|l| l.kind == kind)?;
        under_base(&self.base_url, &call.path)
    }

    /// Where the add-on publishes its public keys, if it signs assertions.
    pub fn jwks_url(&self) -> Option<Url> {
        under_base(&self.base_url, self.jwks_path.as_deref()?)
    }

    /// Where to deliver this event, if the add-on subscribed to it.
    pub fn webhook_url(&self, event: EventType) -> Option<Url> {
        let hook = self.webhooks.iter().find(|w| w.event == event)?;
        under_base(&self.base_url, &hook.path)
    }

    /// The setting with this id.
    pub fn setting(&self, id: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.id == id)
    }

    /// The normalised manifest in the shape it was written in; [`parse`] reads it back as is.
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("schemaVersion".into(), json!(self.schema_version));
        doc.insert("key".into(), json!(self.key));
        doc.insert("name".into(), json!(self.name));
        insert_some(&mut doc, "description", &self.description);
        doc.insert(
            "baseUrl".into(),
            json!(self.base_url.as_str().trim_end_matches('/')),
        );
        insert_some(&mut doc, "iconPath", &self.icon_path);
        insert_some(&mut doc, "jwksPath", &self.jwks_path);
        let scopes: Vec<String> = self.scopes.iter().map(ToString::to_string).collect();
        doc.insert("scopes".into(), json!(scopes));
        let lifecycle: Vec<Value> = self
            .lifecycle
            .iter()
            .map(|l| json!({"type": l.kind.as_str(), "path": l.path}))
            .collect();
        doc.insert("lifecycle".into(), json!(lifecycle));
        let webhooks: Vec<Value> = self
            .webhooks
            .iter()
            .map(|w| json!({"event": w.event.as_str(), "path": w.path}))
            .collect();
        doc.insert("webhooks".into(), json!(webhooks));
        let tabs: Vec<Value> = self
            .tabs
            .iter()
            .map(|tab| {
                let settings: Vec<Value> = self
                    .settings
                    .iter()
                    .filter(|s| s.tab == tab.id)
                    .map(Setting::to_json)
                    .collect();
                json!({"id": tab.id, "name": tab.name, "settings": settings})
            })
            .collect();
        doc.insert("settings".into(), json!({ "tabs": tabs }));
        Value::Object(doc)
    }

    /// Checks an installation's configuration (setting id → value; `null` means the default)
    /// and returns the whole of it: defaults filled in, optional settings without a value left
    /// out. A non-admin may not give an `ADMINS` setting a value other than its default.
    pub fn check_configuration(
        &self,
        given: &Map<String, Value>,
        is_admin: bool,
    ) -> Result<Map<String, Value>, Vec<Problem>> {
        let mut problems = Problems::default();
        for id in given.keys().filter(|id| self.setting(id).is_none()) {
            problems.add(id.as_str(), "is not a setting of this add-on");
        }
        let mut configuration = Map::new();
        for setting in &self.settings {
            let value = given.get(&setting.id).filter(|v| !v.is_null());
            if let Some(value) = value {
                if let Err(message) = setting.kind.check(&setting.allowed_values, value) {
                    problems.add(setting.id.as_str(), message);
                    continue;
                }
                let admins_only = setting.access_level == AccessLevel::Admins;
                if admins_only && !is_admin && Some(value) != setting.default.as_ref() {
                    problems.add(setting.id.as_str(), "only admins change it");
                    continue;
                }
            }
            let effective = value
                .or(setting.default.as_ref())
                .filter(|v| !(setting.required && is_blank(v)));
            match effective {
                Some(v) => {
                    configuration.insert(setting.id.clone(), v.clone());
                }
                None if setting.required => {
                    problems.add(setting.id.as_str(), "is required");
                }
                None => {}
            }
        }
        if problems.0.is_empty() {
            Ok(configuration)
        } else {
            Err(problems.0)
        }
    }
}

impl Setting {
    /// The setting in the manifest's shape.
    fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("id".into(), json!(self.id));
        obj.insert("name".into(), json!(self.name));
        obj.insert("type".into(), json!(self.kind.as_str()));
        obj.insert("required".into(), json!(self.required));
        obj.insert("accessLevel".into(), json!(self.access_level.as_str()));
        if self.kind.is_dropdown() {
            obj.insert("allowedValues".into(), json!(self.allowed_values));
        }
        insert_some(&mut obj, "value", &self.default);
        insert_some(&mut obj, "description", &self.description);
        insert_some(&mut obj, "placeholder", &self.placeholder);
        Value::Object(obj)
    }
}

/// The problems found so far.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    /// Records a problem; answers `false` so a failed check can end a `filter`.
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) -> bool {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
        false
    }
}

/// A JSON object of the manifest and where it sits, for reading fields with their paths.
struct Object<'a> {
    map: &'a Map<String, Value>,
    at: String,
}

impl<'a> Object<'a> {
    /// `value` as an object at `at`, or a problem.
    fn of(value: &'a Value, at: String, p: &mut Problems) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self { map, at }),
            _ => {
                p.add(at, "must be an object");
                None
            }
        }
    }

    /// Where `key` of this object sits.
    fn path(&self, key: &str) -> String {
        if self.at.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.at)
        }
    }

    /// A field's value; `null` counts as absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A string field.
    fn string(&self, key: &str, required: bool, p: &mut Problems) -> Option<&'a str> {
        match self.get(key) {
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                p.add(self.path(key), "must be a string");
                None
            }
            None => {
                if required {
                    p.add(self.path(key), "is required");
                }
                None
            }
        }
    }

    /// A required display name: trimmed, 1 to [`MAX_NAME`] characters.
    fn name(&self, key: &str, p: &mut Problems) -> Option<String> {
        let name = self.string(key, true, p)?.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            p.add(
                self.path(key),
                format!("must be 1 to {MAX_NAME} characters"),
            );
            return None;
        }
        Some(name.to_owned())
    }

    /// An optional text: trimmed, empty is absent, at most `max` characters.
    fn text(&self, key: &str, max: usize, p: &mut Problems) -> Option<String> {
        let text = self.string(key, false, p)?.trim();
        if text.chars().count() > max {
            p.add(self.path(key), format!("must be at most {max} characters"));
        }
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// A list field.
    fn array(&self, key: &str, required: bool, p: &mut Problems) -> Option<&'a [Value]> {
        match self.get(key) {
            Some(Value::Array(items)) => Some(items),
            Some(_) => {
                p.add(self.path(key), "must be a list");
                None
            }
            None => {
                if required {
                    p.add(self.path(key), "is required (it may be an empty list)");
                }
                None
            }
        }
    }

    /// A boolean field, `false` when absent.
    fn flag(&self, key: &str, p: &mut Problems) -> bool {
        match self.get(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                p.add(self.path(key), "must be true or false");
                false
            }
        }
    }
}

/// `schemaVersion`, which must be one this server reads.
fn schema_version(doc: &Object, p: &mut Problems) -> Option<String> {
    let understood = SCHEMA_VERSIONS.join(", ");
    let message = match doc.get("schemaVersion") {
        Some(Value::String(v)) if SCHEMA_VERSIONS.contains(&v.as_str()) => return Some(v.clone()),
        None => format!("is required; this server reads schema {understood}"),
        Some(v) => format!("schema {v} is not understood; this server reads schema {understood}"),
    };
    p.add("schemaVersion", message);
    None
}

/// `baseUrl`: an absolute http(s) URL without credentials, query or fragment, allowed by the
/// outbound policy, and https unless private targets are allowed.
fn base_url(doc: &Object, policy: TargetPolicy, p: &mut Problems) -> Option<Url> {
    let text = doc.string("baseUrl", true, p)?;
    // The https rule is checked after the address, so a loopback URL is refused for what it is.
    let any_scheme = TargetPolicy {
        require_https: false,
        ..policy
    };
    let mut url = match check_url(any_scheme, text) {
        Ok(url) => url,
        Err(err) => {
            p.add("baseUrl", err.to_string());
            return None;
        }
    };
    let https_required = policy.require_https || !policy.allow_private;
    let problem = if url.scheme() == "http" && https_required {
        Some("must use https")
    } else if url.query().is_some() {
        Some("must not have a query (?…)")
    } else if url.fragment().is_some() {
        Some("must not have a fragment (#…)")
    } else {
        None
    };
    if let Some(message) = problem {
        p.add("baseUrl", message);
        return None;
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Some(url)
}

/// `scopes`: named catalog scopes, each once.
fn scopes(doc: &Object, p: &mut Problems) -> Vec<Scope> {
    let mut scopes = Vec::new();
    for (i, item) in doc
        .array("scopes", true, p)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let at = format!("scopes[{i}]");
        let Some(text) = item.as_str() else {
            p.add(at, "must be a scope name, e.g. read:time_entries");
            continue;
        };
        let message = match Scope::from_str(text) {
            Err(err) => format!("{err} (see GET /api/v1/integration/tokens/scopes)"),
            Ok(scope) if scope.is_admin_only() => {
                format!("'{scope}' is for workspace admins; an add-on gets named scopes only")
            }
            // Tokens and add-ons are managed with these: an add-on never mints a credential
            // or installs another add-on.
            Ok(
                scope @ (Scope::Write(Resource::Integrations) | Scope::Write(Resource::Plugins)),
            ) => {
                format!("'{scope}' manages tokens and add-ons; an add-on may not hold it")
            }
            Ok(scope) if scopes.contains(&scope) => format!("'{scope}' is listed twice"),
            Ok(scope) => {
                scopes.push(scope);
                continue;
            }
        };
        p.add(at, message);
    }
    scopes
}

/// `lifecycle`: one path per moment.
fn lifecycle(doc: &Object, base: Option<&Url>, p: &mut Problems) -> Vec<Lifecycle> {
    let (mut calls, mut seen) = (Vec::new(), HashSet::new());
    for (i, item) in doc
        .array("lifecycle", false, p)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let Some(obj) = Object::of(item, format!("lifecycle[{i}]"), p) else {
            continue;
        };
        let kind = obj
            .string("type", true, p)
            .and_then(|text| match text.parse() {
                Ok(kind) if !seen.insert(kind) => {
                    p.add(obj.path("type"), format!("{text} is declared twice"));
                    None
                }
                Ok(kind) => Some(kind),
                Err(message) => {
                    p.add(obj.path("type"), message);
                    None
                }
            });
        let path = obj
            .string("path", true, p)
            .and_then(|path| checked_path(p, obj.path("path"), path, base));
        if let (Some(kind), Some(path)) = (kind, path) {
            calls.push(Lifecycle { kind, path });
        }
    }
    calls
}

/// `webhooks`: one path per event.
fn webhooks(doc: &Object, base: Option<&Url>, p: &mut Problems) -> Vec<WebhookSubscription> {
    let (mut hooks, mut seen) = (Vec::new(), HashSet::new());
    for (i, item) in doc
        .array("webhooks", false, p)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let Some(obj) = Object::of(item, format!("webhooks[{i}]"), p) else {
            continue;
        };
        let event = obj
            .string("event", true, p)
            .and_then(|text| match text.parse() {
                Ok(event) if !seen.insert(event) => {
                    p.add(obj.path("event"), format!("{text} is subscribed twice"));
                    None
                }
                Ok(event) => Some(event),
                Err(_) => {
                    p.add(
                        obj.path("event"),
                        format!(
                            "unknown event '{text}': name one event such as time_entry.created or \
                             project.updated (every event: GET /api/v1/integration/webhooks/events)"
                        ),
                    );
                    None
                }
            });
        let path = obj
            .string("path", true, p)
            .and_then(|path| checked_path(p, obj.path("path"), path, base));
        if let (Some(event), Some(path)) = (event, path) {
            hooks.push(WebhookSubscription { event, path });
        }
    }
    hooks
}

/// `settings`: Clockify's `{"tabs": [{"id", "name", "settings": [...]}]}`, flattened.
fn settings(doc: &Object, p: &mut Problems) -> (Vec<SettingsTab>, Vec<Setting>) {
    let (mut tabs, mut settings) = (Vec::new(), Vec::new());
    let Some(value) = doc.get("settings") else {
        return (tabs, settings);
    };
    let Value::Object(map) = value else {
        p.add("settings", r#"must be an object: {"tabs": [...]}"#);
        return (tabs, settings);
    };
    let obj = Object {
        map,
        at: "settings".into(),
    };
    let (mut tab_ids, mut setting_ids) = (HashSet::new(), HashSet::new());
    let mut declared = 0;
    for (t, item) in obj
        .array("tabs", true, p)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let Some(tab) = Object::of(item, format!("settings.tabs[{t}]"), p) else {
            continue;
        };
        let id = tab.string("id", true, p).filter(|id| {
            if !is_setting_id(id) {
                p.add(tab.path("id"), ID_RULE);
                return false;
            }
            tab_ids.insert(*id) || p.add(tab.path("id"), format!("tab '{id}' is declared twice"))
        });
        let name = tab.name("name", p);
        let items = tab.array("settings", false, p).unwrap_or_default();
        declared += items.len();
        for (s, item) in items.iter().enumerate() {
            let at = format!("{}[{s}]", tab.path("settings"));
            let raw_id = item.get("id").and_then(Value::as_str);
            let unique = raw_id.is_none_or(|raw| setting_ids.insert(raw));
            if let Some(raw) = raw_id.filter(|_| !unique) {
                p.add(
                    format!("{at}.id"),
                    format!("setting '{raw}' is declared twice"),
                );
            }
            let setting = setting(item, at, id.unwrap_or_default(), p);
            settings.extend(setting.filter(|_| unique));
        }
        if let (Some(id), Some(name)) = (id, name) {
            tabs.push(SettingsTab {
                id: id.to_owned(),
                name,
            });
        }
    }
    if declared > MAX_SETTINGS {
        p.add(
            "settings",
            format!("at most {MAX_SETTINGS} settings; this manifest declares {declared}"),
        );
    }
    (tabs, settings)
}

/// The rule for tab and setting ids.
const ID_RULE: &str = "must be 1 to 64 letters, digits, '_', '.' or '-'";

/// One setting of a tab; `None` when a problem was recorded for its id, name or type.
fn setting(item: &Value, at: String, tab: &str, p: &mut Problems) -> Option<Setting> {
    let obj = Object::of(item, at, p)?;
    let id = obj
        .string("id", true, p)
        .filter(|id| is_setting_id(id) || p.add(obj.path("id"), ID_RULE));
    let name = obj.name("name", p);
    let kind = obj.string("type", true, p).and_then(|text| {
        text.parse::<SettingKind>()
            .map_err(|message| p.add(obj.path("type"), message))
            .ok()
    });
    let required = obj.flag("required", p);
    let access_level = obj.string("accessLevel", false, p).and_then(|text| {
        text.parse::<AccessLevel>()
            .map_err(|message| p.add(obj.path("accessLevel"), message))
            .ok()
    });
    let allowed_values = kind.and_then(|kind| allowed_values(&obj, kind, p));
    let default = obj.get("value").cloned();
    if let (Some(kind), Some(allowed), Some(value)) = (kind, &allowed_values, &default)
        && let Err(message) = kind.check(allowed, value)
    {
        p.add(obj.path("value"), message);
    }
    let description = obj.text("description", MAX_DESCRIPTION, p);
    let placeholder = obj.text("placeholder", MAX_PLACEHOLDER, p);
    Some(Setting {
        id: id?.to_owned(),
        tab: tab.to_owned(),
        name: name?,
        kind: kind?,
        required,
        default,
        access_level: access_level.unwrap_or_default(),
        allowed_values: allowed_values.unwrap_or_default(),
        description,
        placeholder,
    })
}

/// A setting's `allowedValues`: distinct strings, required for dropdowns and refused for the
/// other kinds; `None` after a problem.
fn allowed_values(obj: &Object, kind: SettingKind, p: &mut Problems) -> Option<Vec<String>> {
    let at = obj.path("allowedValues");
    let Some(value) = obj.get("allowedValues") else {
        if kind.is_dropdown() {
            p.add(at, "a dropdown needs a non-empty list of allowedValues");
            return None;
        }
        return Some(Vec::new());
    };
    if !kind.is_dropdown() {
        p.add(
            at,
            format!("only dropdowns have allowedValues, not {}", kind.as_str()),
        );
        return None;
    }
    let distinct = "must be a list of distinct strings";
    let Some(items) = value.as_array() else {
        p.add(at, distinct);
        return None;
    };
    let mut values: Vec<String> = Vec::new();
    for item in items {
        match item.as_str() {
            Some(s) if !values.iter().any(|v| v == s) => values.push(s.to_owned()),
            _ => {
                p.add(at, distinct);
                return None;
            }
        }
    }
    if values.is_empty() {
        p.add(at, "a dropdown needs a non-empty list of allowedValues");
        return None;
    }
    Some(values)
}

/// `path` if it is a plain path that stays under `baseUrl` (when that is known).
fn checked_path(p: &mut Problems, at: String, path: &str, base: Option<&Url>) -> Option<String> {
    let inside = is_plain_path(path) && base.is_none_or(|base| under_base(base, path).is_some());
    if !inside {
        p.add(
            at,
            format!(
                "'{path}' is outside baseUrl: give a path that starts with / and has no '..', \
                 '//', '\\', '?', '#', scheme or whitespace"
            ),
        );
        return None;
    }
    Some(path.to_owned())
}

/// Starts with `/` (so no scheme); no `..` segment, `//`, `\`, `?`, `#`, whitespace or control.
fn is_plain_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.contains("//")
        && !path.split('/').any(|segment| segment == "..")
        && !path
            .chars()
            .any(|c| matches!(c, '\\' | '?' | '#') || c.is_whitespace() || c.is_control())
}

/// `baseUrl` plus `path`, if the result is on the same origin and under the base's path.
/// The URL parser resolves encoded dot segments (`/%2e%2e/`), which this catches too.
fn under_base(base: &Url, path: &str) -> Option<Url> {
    let url = Url::parse(&format!("{}{path}", base.as_str().trim_end_matches('/'))).ok()?;
    let prefix = format!("{}/", base.path().trim_end_matches('/'));
    let inside = url.origin() == base.origin()
        && url.path().starts_with(&prefix)
        && url.query().is_none()
        && url.fragment().is_none();
    inside.then_some(url)
}

/// 2–64 lowercase letters, digits and hyphens, starting and ending with a letter or digit.
fn is_key(key: &str) -> bool {
    let inner = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (2..=64).contains(&key.len())
        && key.chars().all(|c| inner(c) || c == '-')
        && key.starts_with(inner)
        && key.ends_with(inner)
}

/// 1–64 ASCII letters, digits, `_`, `.` or `-`.
fn is_setting_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// An absolute http(s) URL with a host.
fn is_web_link(text: &str) -> bool {
    Url::parse(text)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
}

/// An empty string or list: no value for a required setting.
fn is_blank(value: &Value) -> bool {
    match value {
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// The variant of `all` whose name is `text`; the error lists the names.
fn one_of<T: Copy>(all: &[T], name: fn(T) -> &'static str, text: &str) -> Result<T, String> {
    all.iter()
        .copied()
        .find(|v| name(*v) == text)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
            format!("must be one of {}, not '{text}'", names.join(", "))
        })
}

/// Inserts `value` under `key` when there is one.
fn insert_some<T: serde::Serialize>(obj: &mut Map<String, Value>, key: &str, value: &Option<T>) {
    if let Some(value) = value {
        obj.insert(key.into(), json!(value));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const STRICT: TargetPolicy = TargetPolicy {
        allow_private: false,
        require_https: false,
    };
    const OPEN: TargetPolicy = TargetPolicy {
        allow_private: true,
        require_https: false,
    };
    const MAX: usize = 64 * 1024;

    /// The example of the brief: every field, every setting type.
    fn example() -> Value {
        json!({
          "schemaVersion": "1.3",
          "key": "invoice-sync",
          "name": "Invoice Sync",
          "description": "Sends approved time to your accounting system.",
          "baseUrl": "https://addon.example.com/tb/",
          "iconPath": "/icon.png",
          "minimalSubscriptionPlan": "PRO",
          "scopes": ["read:time_entries", "read:projects", "write:tags"],
          "lifecycle": [
            {"type": "INSTALLED", "path": "/lifecycle/installed"},
            {"type": "DELETED", "path": "/lifecycle/deleted"},
            {"type": "SETTINGS_UPDATED", "path": "/lifecycle/settings"},
            {"type": "STATUS_CHANGED", "path": "/lifecycle/status"}
          ],
          "webhooks": [{"event": "time_entry.created", "path": "/webhooks/time-entry"}],
          "settings": {"tabs": [{"id": "general", "name": "General", "settings": [
            {"id": "api_url", "name": "Accounting URL", "type": "LINK", "required": true, "accessLevel": "ADMINS"},
            {"id": "rounding", "name": "Round to minutes", "type": "NUMBER", "value": 15},
            {"id": "billable_only", "name": "Billable only", "type": "CHECKBOX", "value": true, "accessLevel": "EVERYONE"},
            {"id": "mode", "name": "Mode", "type": "DROPDOWN_SINGLE", "allowedValues": ["daily", "weekly"], "value": "daily", "accessLevel": "EVERYONE"},
            {"id": "tags", "name": "Tags", "type": "DROPDOWN_MULTIPLE", "allowedValues": ["a", "b"], "value": ["a"], "accessLevel": "EVERYONE"},
            {"id": "note", "name": "Note", "type": "TXT", "description": "Shown on exports", "placeholder": "…", "accessLevel": "EVERYONE"}
          ]}]}
        })
    }

    fn parse_value(value: &Value, policy: TargetPolicy) -> Result<Manifest, Vec<Problem>> {
        parse(value.to_string().as_bytes(), policy, MAX)
    }

    fn paths(problems: &[Problem]) -> BTreeSet<&str> {
        problems.iter().map(|p| p.path.as_str()).collect()
    }

    /// The example with `edit` applied.
    fn example_with(edit: impl FnOnce(&mut Map<String, Value>)) -> Value {
        let mut value = example();
        edit(value.as_object_mut().expect("an object"));
        value
    }

    #[test]
    fn the_example_parses_and_round_trips_through_to_json() {
        let manifest = parse_value(&example(), STRICT).expect("the example is valid");
        assert_eq!(manifest.key, "invoice-sync");
        assert_eq!(manifest.base_url.as_str(), "https://addon.example.com/tb");
        assert_eq!(manifest.scopes.len(), 3);
        assert_eq!(manifest.settings.len(), 6);
        let rounding = manifest.setting("rounding").expect("declared");
        assert_eq!(rounding.access_level, AccessLevel::Admins);
        assert_eq!(rounding.tab, "general");
        assert_eq!(
            manifest
                .lifecycle_url(LifecycleKind::Installed)
                .map(String::from),
            Some("https://addon.example.com/tb/lifecycle/installed".into())
        );
        assert_eq!(
            manifest
                .webhook_url(EventType::TimeEntryCreated)
                .map(String::from),
            Some("https://addon.example.com/tb/webhooks/time-entry".into())
        );
        assert_eq!(manifest.webhook_url(EventType::TaskCreated), None);

        let json = manifest.to_json();
        assert_eq!(json["baseUrl"], "https://addon.example.com/tb");
        assert_eq!(
            json["settings"]["tabs"][0]["settings"][1]["accessLevel"],
            "ADMINS"
        );
        assert_eq!(json.get("minimalSubscriptionPlan"), None);
        assert_eq!(parse_value(&json, STRICT), Ok(manifest));
    }

    #[test]
    fn a_faulty_manifest_reports_every_problem_at_once() {
        let faulty = json!({
          "schemaVersion": "1.2",
          "key": "Invoice_Sync",
          "baseUrl": "https://addon.example.com/tb",
          "scopes": ["read:time_entries", "read:nothing", "admin:all", "read:time_entries"],
          "lifecycle": [
            {"type": "INSTALLED", "path": "/installed"},
            {"type": "INSTALLED", "path": "/again"},
            {"type": "DELETED", "path": "/../x"},
            {"type": "STATUS_CHANGED", "path": "//evil.com/x"}
          ],
          "webhooks": [
            {"event": "time_entry.exploded", "path": "/hook"},
            {"event": "task.created", "path": "/%2e%2e/x"}
          ],
          "components": [{"type": "sidebar", "path": "/ui"}],
          "settings": {"tabs": [{"id": "main", "name": "Main", "settings": [
            {"id": "mode", "name": "Mode", "type": "DROPDOWN_SINGLE"},
            {"id": "rounding", "name": "Rounding", "type": "NUMBER", "value": "15"},
            {"id": "mode", "name": "Mode again", "type": "TXT"}
          ]}]}
        });
        let problems = parse_value(&faulty, STRICT).unwrap_err();
        assert_eq!(
            paths(&problems),
            BTreeSet::from([
                "schemaVersion",
                "key",
                "name",
                "scopes[1]",
                "scopes[2]",
                "scopes[3]",
                "lifecycle[1].type",
                "lifecycle[2].path",
                "lifecycle[3].path",
                "webhooks[0].event",
                "webhooks[1].path",
                "components",
                "settings.tabs[0].settings[0].allowedValues",
                "settings.tabs[0].settings[1].value",
                "settings.tabs[0].settings[2].id",
            ]),
            "{problems:#?}"
        );
        assert_eq!(problems.len(), 15, "one problem per fault: {problems:#?}");
        let message = |path: &str| &problems.iter().find(|p| p.path == path).unwrap().message;
        assert!(message("schemaVersion").contains("1.3"));
        assert!(message("scopes[1]").contains("read:nothing"));
        assert!(message("scopes[2]").contains("named scopes only"));
        assert!(message("lifecycle[2].path").contains("outside baseUrl"));
        assert!(message("webhooks[0].event").contains("/api/v1/integration/webhooks/events"));
        assert!(message("components").contains("not supported"));
    }

    #[test]
    fn an_add_on_may_not_hold_what_mints_tokens_or_installs_add_ons() {
        let grabby = example_with(|m| {
            m.insert(
                "scopes".into(),
                json!(["read:integrations", "write:integrations", "write:plugins"]),
            );
        });
        let problems = parse_value(&grabby, STRICT).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["scopes[1]", "scopes[2]"], "{problems:#?}");
    }

    #[test]
    fn a_loopback_base_url_is_refused_unless_private_targets_are_allowed() {
        let loopback = example_with(|m| {
            m.insert("baseUrl".into(), json!("http://127.0.0.1:9000"));
        });
        let problems = parse_value(&loopback, STRICT).unwrap_err();
        assert_eq!(paths(&problems), BTreeSet::from(["baseUrl"]));
        assert!(problems[0].message.contains("is blocked"), "{problems:?}");

        let manifest = parse_value(&loopback, OPEN).expect("private targets allowed");
        assert_eq!(
            manifest
                .lifecycle_url(LifecycleKind::Deleted)
                .map(String::from),
            Some("http://127.0.0.1:9000/lifecycle/deleted".into())
        );
    }

    #[test]
    fn base_url_must_be_https_without_credentials_query_or_fragment() {
        for bad in [
            "http://addon.example.com",
            "https://user:pw@addon.example.com",
            "https://addon.example.com/tb?x=1",
            "https://addon.example.com/tb#top",
            "ftp://addon.example.com",
            "/tb",
        ] {
            let manifest = example_with(|m| {
                m.insert("baseUrl".into(), json!(bad));
            });
            let problems = parse_value(&manifest, STRICT).unwrap_err();
            assert_eq!(paths(&problems), BTreeSet::from(["baseUrl"]), "{bad}");
        }
    }

    #[test]
    fn every_path_must_stay_under_base_url() {
        for bad in [
            "/../x",
            "/tb/../../x",
            "//evil.com/x",
            "/%2e%2e/x",
            "/%2E%2E/%2e%2e/x",
            "x",
            "https://evil.com/x",
            "/a?b=1",
            "/a#b",
            "/a\\..\\b",
            "/a b",
            "",
        ] {
            let manifest = example_with(|m| {
                m.insert("iconPath".into(), json!(bad));
            });
            let problems = parse_value(&manifest, STRICT).unwrap_err();
            assert_eq!(paths(&problems), BTreeSet::from(["iconPath"]), "{bad:?}");
            assert!(problems[0].message.contains("outside baseUrl"));
        }
        let fine = example_with(|m| {
            m.insert("iconPath".into(), json!("/a/./b..c/icon.png"));
        });
        assert!(parse_value(&fine, STRICT).is_ok());
    }

    #[test]
    fn too_large_or_not_an_object_is_one_problem() {
        let bytes = example().to_string();
        let problems = parse(bytes.as_bytes(), STRICT, bytes.len() - 1).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("at most"));
        assert!(parse(bytes.as_bytes(), STRICT, bytes.len()).is_ok());

        for bad in ["{not json", "[1, 2]", "\"manifest\""] {
            let problems = parse(bad.as_bytes(), STRICT, MAX).unwrap_err();
            assert_eq!(paths(&problems), BTreeSet::from([""]), "{bad}");
        }
    }

    #[test]
    fn a_minimal_manifest_needs_only_the_required_fields() {
        let minimal = json!({
            "schemaVersion": "1.3",
            "key": "ab",
            "name": " Minimal ",
            "baseUrl": "https://addon.example.com/",
            "scopes": [],
            "components": [],
        });
        let manifest = parse_value(&minimal, STRICT).expect("valid");
        assert_eq!(manifest.name, "Minimal");
        assert_eq!(manifest.to_json()["baseUrl"], "https://addon.example.com");
        assert!(manifest.lifecycle.is_empty() && manifest.settings.is_empty());
        assert_eq!(parse_value(&manifest.to_json(), STRICT), Ok(manifest));

        let problems = parse_value(&json!({}), STRICT).unwrap_err();
        assert_eq!(
            paths(&problems),
            BTreeSet::from(["schemaVersion", "key", "name", "baseUrl", "scopes"])
        );
    }

    #[test]
    fn keys_are_lowercase_words_joined_by_inner_hyphens() {
        for good in ["ab", "invoice-sync", "a1-b2--c3", "x9"] {
            assert!(is_key(good), "{good}");
        }
        let too_long = "a".repeat(65);
        for bad in ["a", "-ab", "ab-", "Ab", "a_b", "a b", too_long.as_str()] {
            assert!(!is_key(bad), "{bad}");
        }
    }

    #[test]
    fn settings_are_limited_to_fifty_and_tabs_are_unique() {
        let many: Vec<Value> = (0..51)
            .map(|i| json!({"id": format!("s{i}"), "name": "S", "type": "TXT"}))
            .collect();
        let manifest = example_with(|m| {
            m.insert(
                "settings".into(),
                json!({"tabs": [
                    {"id": "a", "name": "A", "settings": many},
                    {"id": "a", "name": "Again"}
                ]}),
            );
        });
        let problems = parse_value(&manifest, STRICT).unwrap_err();
        assert_eq!(
            paths(&problems),
            BTreeSet::from(["settings", "settings.tabs[1].id"])
        );
    }

    #[test]
    fn only_dropdowns_have_allowed_values_and_defaults_fit_their_type() {
        let manifest = example_with(|m| {
            m.insert(
                "settings".into(),
                json!({"tabs": [{"id": "t", "name": "T", "settings": [
                    {"id": "a", "name": "A", "type": "TXT", "allowedValues": ["x"]},
                    {"id": "b", "name": "B", "type": "DROPDOWN_MULTIPLE", "allowedValues": ["x", "x"]},
                    {"id": "c", "name": "C", "type": "DROPDOWN_SINGLE", "allowedValues": ["x"], "value": "y"},
                    {"id": "d", "name": "D", "type": "CHECKBOX", "value": "true"},
                    {"id": "e", "name": "E", "type": "LINK", "value": "javascript:alert(1)"},
                    {"id": "f", "name": "F", "type": "TXT", "value": "x".repeat(2001)},
                    {"id": "g", "name": "G", "type": "COLOR"},
                    {"id": "h i", "name": "", "type": "TXT", "accessLevel": "OWNERS"}
                ]}]}),
            );
        });
        let problems = parse_value(&manifest, STRICT).unwrap_err();
        let at = |rest: &str| format!("settings.tabs[0].settings[{rest}");
        let expected: BTreeSet<String> = [
            "0].allowedValues",
            "1].allowedValues",
            "2].value",
            "3].value",
            "4].value",
            "5].value",
            "6].type",
            "7].id",
            "7].name",
            "7].accessLevel",
        ]
        .into_iter()
        .map(at)
        .collect();
        let found: BTreeSet<String> = problems.iter().map(|p| p.path.clone()).collect();
        assert_eq!(found, expected, "{problems:#?}");
    }

    fn configuration(value: Value) -> Map<String, Value> {
        value.as_object().expect("an object").clone()
    }

    fn installed() -> Manifest {
        parse_value(&example(), STRICT).expect("the example is valid")
    }

    #[test]
    fn configuration_fills_defaults_and_leaves_out_unset_optional_settings() {
        let given = configuration(json!({"api_url": "https://books.example.com", "mode": null}));
        let full = installed().check_configuration(&given, true).unwrap();
        assert_eq!(
            Value::Object(full),
            json!({
                "api_url": "https://books.example.com",
                "rounding": 15,
                "billable_only": true,
                "mode": "daily",
                "tags": ["a"]
            })
        );
    }

    #[test]
    fn configuration_refuses_values_of_the_wrong_type_per_setting() {
        let given = configuration(json!({
            "api_url": "not a url",
            "rounding": "15",
            "billable_only": 1,
            "mode": "monthly",
            "tags": ["a", "c"],
            "note": 3
        }));
        let problems = installed().check_configuration(&given, true).unwrap_err();
        assert_eq!(
            paths(&problems),
            BTreeSet::from([
                "api_url",
                "rounding",
                "billable_only",
                "mode",
                "tags",
                "note"
            ])
        );
    }

    #[test]
    fn configuration_refuses_unknown_ids_and_requires_required_settings() {
        let given = configuration(json!({"colour": "red", "api_url": null}));
        let problems = installed().check_configuration(&given, true).unwrap_err();
        assert_eq!(paths(&problems), BTreeSet::from(["colour", "api_url"]));
        let required = problems.iter().find(|p| p.path == "api_url").unwrap();
        assert_eq!(required.message, "is required");

        let blank = configuration(json!({"api_url": ""}));
        assert!(installed().check_configuration(&blank, true).is_err());
    }

    #[test]
    fn a_non_admin_may_change_everyone_settings_but_not_admin_ones() {
        let manifest = installed();
        let mine = configuration(json!({
            "api_url": "https://books.example.com",
            "billable_only": false,
            "rounding": 15
        }));
        let problems = manifest.check_configuration(&mine, false).unwrap_err();
        assert_eq!(
            problems,
            vec![Problem {
                path: "api_url".into(),
                message: "only admins change it".into()
            }]
        );
        let changed_rounding =
            configuration(json!({"api_url": "https://books.example.com", "rounding": 30}));
        let problems = manifest
            .check_configuration(&changed_rounding, false)
            .unwrap_err();
        assert_eq!(paths(&problems), BTreeSet::from(["api_url", "rounding"]));
        assert!(manifest.check_configuration(&mine, true).is_ok());
    }
}
