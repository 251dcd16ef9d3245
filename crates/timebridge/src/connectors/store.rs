//! Integration records: load, save (validating the provider's fields and sealing its
//! secrets), record the outcome of calls, and the in-memory list of active integrations the
//! webhook receivers verify signatures against.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, Set, sea_query::Expr,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Connector, Field, FieldKind, Provider, entity::integration, truncate_secret};
use crate::{
    app::AppState,
    platform::{
        acting::Acting,
        crypto::Keyring,
        db::Db,
        error::{ApiError, FieldErrors},
        sealed::SealedColumn,
        time,
    },
};

/// Purpose string integration secrets are sealed under.
pub const SECRETS_PURPOSE: &str = "integration.secrets";
/// The column sealed with the server's keys (for `timebridge secrets rotate`).
pub const SEALED: &[SealedColumn] = &[SealedColumn::new(
    "integrations",
    "secrets",
    SECRETS_PURPOSE,
)];
/// How long the list of active integrations is trusted before it is read again (other
/// instances' config changes show within this time; this instance's at once).
const ACTIVE_TTL: Duration = Duration::from_secs(2);
/// The longest text field.
pub const TEXT_MAX: usize = 500;

/// An integration with its config and opened secrets.
#[derive(Clone, Debug)]
pub struct Integration {
    pub record: integration::Model,
    pub config: Map<String, Value>,
    pub secrets: Map<String, Value>,
}

impl Integration {
    /// A text field of the config (or of the secrets), if set.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.config
            .get(name)
            .or_else(|| self.secrets.get(name))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn flag(&self, name: &str) -> Option<bool> {
        self.config.get(name).and_then(Value::as_bool)
    }

    pub fn uuid(&self, name: &str) -> Option<Uuid> {
        self.text(name).and_then(|s| Uuid::parse_str(s).ok())
    }

    /// The member it acts for.
    pub fn acting(&self, provider: Provider, is_admin: bool) -> Acting {
        Acting {
            workspace_id: self.record.workspace_id,
            user_id: self.record.user_id,
            is_admin,
            actor: crate::platform::outbox::Actor::integration(
                provider.actor_name(),
                Some(self.record.user_id),
            ),
        }
    }

    /// The config as answers show it: secrets truncated.
    pub fn masked(&self, fields: &[Field]) -> Map<String, Value> {
        let mut shown = self.config.clone();
        for field in fields.iter().filter(|f| f.kind == FieldKind::Secret) {
            if let Some(secret) = self.secrets.get(field.name).and_then(Value::as_str) {
                shown.insert(field.name.into(), Value::String(truncate_secret(secret)));
            }
        }
        shown
    }
}

/// Opens a record: parses its config and unseals its secrets.
pub fn open_record(key: &Keyring, record: integration::Model) -> Integration {
    let config = serde_json::from_str(&record.config).unwrap_or_default();
    let secrets = record
        .secrets
        .as_deref()
        .and_then(|sealed| key.open(SECRETS_PURPOSE, sealed).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    Integration {
        record,
        config,
        secrets,
    }
}

/// The member's integration with a provider, if configured.
pub async fn find(
    app: &AppState,
    acting: &Acting,
    provider: Provider,
) -> Result<Option<Integration>, DbErr> {
    let record = integration::Entity::find()
        .filter(integration::Column::WorkspaceId.eq(acting.workspace_id))
        .filter(integration::Column::UserId.eq(acting.user_id))
        .filter(integration::Column::Provider.eq(provider))
        .one(app.db.conn())
        .await?;
    Ok(record.map(|r| open_record(&app.secret_key, r)))
}

/// When a provider's list was read, and the list.
type Loaded = HashMap<Provider, (Instant, Arc<Vec<Integration>>)>;

/// Active integrations of a provider across workspaces, for the webhook receivers.
#[derive(Default)]
pub struct ActiveIntegrations(Mutex<Loaded>);

impl ActiveIntegrations {
    /// The active integrations of `provider`, read at most [`ACTIVE_TTL`] ago.
    pub async fn get(
        &self,
        db: &Db,
        key: &Keyring,
        provider: Provider,
    ) -> Result<Arc<Vec<Integration>>, DbErr> {
        if let Some((at, list)) = self.lock().get(&provider)
            && at.elapsed() < ACTIVE_TTL
        {
            return Ok(list.clone());
        }
        let records = integration::Entity::find()
            .filter(integration::Column::Provider.eq(provider))
            .filter(integration::Column::Active.eq(true))
            .all(db.conn())
            .await?;
        let list = Arc::new(
            records
                .into_iter()
                .map(|r| open_record(key, r))
                .collect::<Vec<_>>(),
        );
        self.lock().insert(provider, (Instant::now(), list.clone()));
        Ok(list)
    }

    /// Forgets the list after a config change in this process.
    pub fn invalidate(&self, provider: Provider) {
        self.lock().remove(&provider);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Validates one field's value; returns it normalised.
fn check_field(errors: &mut FieldErrors, field: &Field, value: &Value) -> Option<Value> {
    let text = |errors: &mut FieldErrors| match value.as_str().map(str::trim) {
        Some(s) if s.chars().count() <= TEXT_MAX => Some(s.to_owned()),
        Some(_) => {
            errors.add(field.name, format!("must be at most {TEXT_MAX} characters"));
            None
        }
        None => {
            errors.add(field.name, "must be a string");
            None
        }
    };
    match field.kind {
        FieldKind::Text | FieldKind::Secret => text(errors).map(Value::String),
        FieldKind::Bool => match value {
            Value::Bool(_) => Some(value.clone()),
            _ => {
                errors.add(field.name, "must be true or false");
                None
            }
        },
        FieldKind::Uuid => {
            let s = text(errors)?;
            match Uuid::parse_str(&s) {
                Ok(id) => Some(Value::String(id.to_string())),
                Err(_) => {
                    errors.add(field.name, "must be a UUID");
                    None
                }
            }
        }
        FieldKind::Integer => match value.as_i64() {
            Some(n) => Some(Value::from(n)),
            None => {
                errors.add(field.name, "must be a whole number");
                None
            }
        },
        FieldKind::Time => {
            let s = text(errors)?;
            if parse_hhmm(&s).is_some() {
                Some(Value::String(s))
            } else {
                errors.add(field.name, "must be a time of day as HH:MM (24-hour, UTC)");
                None
            }
        }
    }
}

/// `HH:MM` as minutes after midnight.
pub fn parse_hhmm(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// A config about to be saved: merged, field-checked, not yet written.
pub struct Draft {
    existing: Option<Integration>,
    pub config: Map<String, Value>,
    secrets: Map<String, Value>,
    active: bool,
    /// The connector's member settings, taken out of the changes and checked: the caller
    /// saves them once the draft is written.
    pub member_settings: Map<String, Value>,
    /// Problems found so far; the connector adds its own before [`persist`].
    pub errors: FieldErrors,
}

/// Merges `changes` into the member's config of the connector (a `null` clears a field, an
/// omitted one is kept) and checks each field. `active` defaults to true.
pub async fn draft(
    app: &AppState,
    acting: &Acting,
    connector: &dyn Connector,
    mut changes: Map<String, Value>,
) -> Result<Draft, ApiError> {
    let fields = connector.fields();
    let existing = find(app, acting, connector.provider()).await?;
    let mut errors = FieldErrors::new();
    let member_settings = connector.take_member_settings(&mut changes, &mut errors);
    let active = match changes.remove("active") {
        None => existing.as_ref().is_none_or(|i| i.record.active),
        Some(Value::Bool(b)) => b,
        Some(_) => {
            errors.add("active", "must be true or false");
            true
        }
    };
    let (mut config, mut secrets) = existing
        .as_ref()
        .map(|i| (i.config.clone(), i.secrets.clone()))
        .unwrap_or_default();
    for (name, value) in changes {
        let Some(field) = fields.iter().find(|f| f.name == name) else {
            let known: Vec<_> = fields.iter().map(|f| f.name).collect();
            errors.add(
                name,
                format!(
                    "is not a field of this connector (fields: {})",
                    known.join(", ")
                ),
            );
            continue;
        };
        let target = if field.kind == FieldKind::Secret {
            &mut secrets
        } else {
            &mut config
        };
        if value.is_null() {
            target.remove(field.name);
        } else if let Some(v) = check_field(&mut errors, field, &value) {
            target.insert(field.name.into(), v);
        }
    }
    for field in fields.iter().filter(|f| f.required) {
        let present = config.get(field.name).or_else(|| secrets.get(field.name));
        if present.is_none_or(|v| v.as_str() == Some("")) && !errors.has(field.name) {
            errors.add(field.name, "is required");
        }
    }
    Ok(Draft {
        existing,
        config,
        secrets,
        active,
        member_settings,
        errors,
    })
}

/// Writes a checked draft, sealing its secrets.
pub async fn persist(
    app: &AppState,
    acting: &Acting,
    provider: Provider,
    draft: Draft,
) -> Result<Integration, ApiError> {
    let Draft {
        existing,
        config,
        secrets,
        active,
        errors,
        ..
    } = draft;
    errors.into_result()?;
    let now = time::now();
    let sealed = (!secrets.is_empty()).then(|| {
        let json = Value::Object(secrets.clone()).to_string();
        app.secret_key.seal(SECRETS_PURPOSE, json.as_bytes())
    });
    let config_text = Value::Object(config.clone()).to_string();
    let turn = app.db.write_turn().await;
    let record = match existing {
        Some(existing) => {
            let mut row: integration::ActiveModel = existing.record.into();
            row.config = Set(config_text);
            row.secrets = Set(sealed);
            row.active = Set(active);
            row.updated_at = Set(now);
            row.update(app.db.conn()).await?
        }
        None => {
            integration::ActiveModel {
                id: Set(Uuid::now_v7()),
                workspace_id: Set(acting.workspace_id),
                user_id: Set(acting.user_id),
                provider: Set(provider),
                active: Set(active),
                config: Set(config_text),
                secrets: Set(sealed),
                last_ok_at: Set(None),
                last_error: Set(None),
                last_error_at: Set(None),
                last_sync_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(app.db.conn())
            .await?
        }
    };
    drop(turn);
    app.integrations.invalidate(provider);
    Ok(Integration {
        record,
        config,
        secrets,
    })
}

/// Deletes the member's integration (after the connector's revoke).
pub async fn delete(app: &AppState, id: Uuid, provider: Provider) -> Result<(), DbErr> {
    let _turn = app.db.write_turn().await;
    integration::Entity::delete_by_id(id)
        .exec(app.db.conn())
        .await?;
    app.integrations.invalidate(provider);
    Ok(())
}

/// Records how a call to the provider went (for `status`).
/// Records a sync's outcome on its integration and answers it as the sync route does:
/// `{ok: true, …fields}` or `{ok: false, error}`.
pub async fn record_sync(db: &Db, id: Uuid, outcome: Result<Value, String>) -> super::Reply {
    match outcome {
        Ok(fields) => {
            record_outcome(db, id, None, true).await;
            super::Reply::ok(fields)
        }
        Err(error) => {
            record_outcome(db, id, Some(&error), false).await;
            super::Reply::error(error)
        }
    }
}

pub async fn record_outcome(db: &Db, id: Uuid, error: Option<&str>, synced: bool) {
    let now = time::now();
    let mut update = integration::Entity::update_many().filter(integration::Column::Id.eq(id));
    update = match error {
        None => update
            .col_expr(integration::Column::LastOkAt, Expr::val(Some(now)))
            .col_expr(integration::Column::LastError, Expr::val(None::<String>)),
        Some(e) => update
            .col_expr(
                integration::Column::LastError,
                Expr::val(Some(e.chars().take(1000).collect::<String>())),
            )
            .col_expr(integration::Column::LastErrorAt, Expr::val(Some(now))),
    };
    if synced && error.is_none() {
        update = update.col_expr(integration::Column::LastSyncAt, Expr::val(Some(now)));
    }
    let _turn = db.write_turn().await;
    if let Err(e) = update.exec(db.conn()).await {
        tracing::warn!(error = %e, integration = %id, "could not record an integration's outcome");
    }
}
