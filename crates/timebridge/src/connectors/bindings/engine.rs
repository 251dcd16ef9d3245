//! One run of a binding.
//!
//! Every item of the provider's collection is paired with its Timebridge entity: by the
//! binding's links, else by what the connector already pairs ([`BindingSource::known_local`]).
//! An unpaired item is created on the other side when the direction allows; a pushing binding
//! then creates the provider's items for its entities that have none. For a pair, each mapped
//! field is compared with the values both sides had at the last run (kept on the link):
//!
//! - in step (equal through the map): nothing to do;
//! - only one side changed: it flows to the other when the direction allows (a one-way
//!   binding's target always follows its source);
//! - both changed (or a two-way pair has no last run to compare with): a **conflict**,
//!   recorded with both values and settled by the binding's rule.
//!
//! The run records its outcome (created, updated, skipped, conflicts, errors) on the binding.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    BindingSource, ConflictRule, Context, Direction, EntityKind, RemoteItem,
    entity::{binding, link, run},
    local::{self, LocalItem, Owner},
    mapping::{FieldMap, Mapping, normalize},
};
use crate::{
    app::AppState,
    connectors::{Provider, store},
    platform::{acting::Acting, error::ApiError, outbox::Actor, time as clock},
};

/// Conflicts and errors a run keeps at most (the counts stay exact).
const KEPT: usize = 200;
/// Runs kept per binding.
const RUNS_KEPT: usize = 50;

/// What started a run.
#[derive(Clone, Copy, Debug)]
pub enum Trigger {
    Manual,
    Schedule,
    Webhook,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Schedule => "schedule",
            Self::Webhook => "webhook",
        }
    }
}

/// A run's tally.
#[derive(Default)]
pub struct Outcome {
    pub created: i32,
    pub updated: i32,
    pub skipped: i32,
    /// The provider's items the run saw.
    pub seen: usize,
    pub conflicts: Vec<Value>,
    pub errors: Vec<Value>,
    /// Why the run could not run at all.
    pub failure: Option<String>,
}

impl Outcome {
    fn error(&mut self, local: Option<Uuid>, remote: Option<&str>, message: impl Into<String>) {
        if self.errors.len() < KEPT {
            self.errors.push(json!({
                "local_id": local,
                "remote_id": remote,
                "message": message.into(),
            }));
        }
    }

    fn failed(message: impl Into<String>) -> Self {
        Self {
            failure: Some(message.into()),
            ..Self::default()
        }
    }
}

/// Runs a binding now and records the run.
pub async fn run(
    app: &AppState,
    binding: &binding::Model,
    trigger: Trigger,
) -> Result<run::Model, ApiError> {
    Ok(run_counting(app, binding, trigger).await?.0)
}

/// Applies one of the provider's items (a webhook's) through a binding and records the run.
pub async fn apply_item(
    app: &AppState,
    binding: &binding::Model,
    item: RemoteItem,
) -> Result<run::Model, ApiError> {
    let started = clock::now();
    let outcome = match Prepared::load(app, binding).await? {
        Ok(prepared) => {
            let mut outcome = Outcome {
                seen: 1,
                ..Outcome::default()
            };
            let links = prepared.links().await?;
            prepared.pair(&item, &links, &mut outcome).await?;
            outcome
        }
        Err(failure) => Outcome::failed(failure),
    };
    record(app, binding, Trigger::Webhook, started, outcome).await
}

/// Runs the workspace's active bindings with `auto_sync`, one after the other; one binding's
/// failure stops none of the others.
pub async fn run_workspace(app: &AppState, workspace_id: Uuid) -> Result<Value, ApiError> {
    let bindings = binding::Entity::find()
        .filter(binding::Column::WorkspaceId.eq(workspace_id))
        .filter(binding::Column::Active.eq(true))
        .filter(binding::Column::AutoSync.eq(true))
        .order_by_asc(binding::Column::CreatedAt)
        .all(app.db.conn())
        .await?;
    let mut runs = Vec::new();
    for b in &bindings {
        let done = run(app, b, Trigger::Schedule).await?;
        runs.push(json!({"binding_id": b.id, "status": done.status}));
    }
    Ok(json!({"bindings": runs}))
}

/// A binding ready to run: its provider's side, its integration and its mapping.
struct Prepared<'a> {
    app: &'a AppState,
    binding: &'a binding::Model,
    source: std::sync::Arc<dyn crate::connectors::Connector>,
    integration: store::Integration,
    mapping: Mapping,
    acting: Acting,
}

type Links = HashMap<String, link::Model>;
/// Both sides' values at a pair's last run (Timebridge's, the provider's).
type Last = (Map<String, Value>, Map<String, Value>);

impl<'a> Prepared<'a> {
    async fn load(
        app: &'a AppState,
        binding: &'a binding::Model,
    ) -> Result<Result<Self, String>, ApiError> {
        let Ok(provider) = binding.provider.parse::<Provider>() else {
            return Ok(Err(format!("unknown provider '{}'", binding.provider)));
        };
        let Some(connector) = app.connectors.get(provider).cloned() else {
            return Ok(Err(format!("{provider} is not offered by this server")));
        };
        if connector.bindings().is_none() {
            return Ok(Err(format!("{provider} offers no bindings")));
        }
        let record =
            crate::connectors::entity::integration::Entity::find_by_id(binding.integration_id)
                .one(app.db.conn())
                .await?;
        let Some(record) = record.filter(|r| r.active) else {
            return Ok(Err(format!(
                "the {provider} integration this binding goes through is inactive"
            )));
        };
        let Some(mapping) = Mapping::stored(&binding.mapping) else {
            return Ok(Err("the stored mapping cannot be read".into()));
        };
        let acting = Acting::system(
            binding.workspace_id,
            Actor::integration(provider.actor_name(), Some(record.user_id)),
        );
        Ok(Ok(Self {
            app,
            binding,
            source: connector,
            integration: store::open_record(&app.secret_key, record),
            mapping,
            acting,
        }))
    }

    fn source(&self) -> &dyn BindingSource {
        self.source.bindings().expect("checked on load")
    }

    fn cx(&self) -> Context<'_> {
        Context {
            app: self.app,
            binding: self.binding,
            integration: &self.integration,
        }
    }

    fn remote_field(&self, name: &str) -> Option<&super::SideField> {
        self.source()
            .bindable(self.binding.entity)?
            .fields
            .iter()
            .find(|f| f.name == name)
    }

    fn local_field(&self, name: &str) -> Option<&super::SideField> {
        local::fields(self.binding.entity)
            .iter()
            .find(|f| f.name == name)
    }

    async fn links(&self) -> Result<Links, ApiError> {
        Ok(link::Entity::find()
            .filter(link::Column::BindingId.eq(self.binding.id))
            .all(self.app.db.conn())
            .await?
            .into_iter()
            .map(|l| (l.remote_id.clone(), l))
            .collect())
    }

    async fn run_all(&self) -> Result<Outcome, ApiError> {
        let cx = self.cx();
        let items = match self.source().list(&cx).await {
            Ok(items) => items,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let mut outcome = Outcome {
            seen: items.len(),
            ..Outcome::default()
        };
        let mut links = self.links().await?;
        for item in &items {
            if let Some(made) = self.pair(item, &links, &mut outcome).await? {
                links.insert(made.remote_id.clone(), made);
            }
        }
        if self.binding.direction.pushes() {
            self.push_new(&items, &links, &mut outcome).await?;
        }
        Ok(outcome)
    }

    /// Brings one provider item and its entity in step; answers a link it made.
    async fn pair(
        &self,
        item: &RemoteItem,
        links: &Links,
        outcome: &mut Outcome,
    ) -> Result<Option<link::Model>, ApiError> {
        let cx = self.cx();
        let entity = self.binding.entity;
        let linked = links.get(&item.id);
        let local_id = match linked {
            Some(l) => Some(l.local_id),
            None => self.source().known_local(&cx, entity, &item.id).await,
        };
        let Some(local_id) = local_id else {
            return self.pull_new(item, outcome).await;
        };
        let Some(current) =
            local::get(self.app, self.binding.workspace_id, entity, local_id).await?
        else {
            // Deleted in Timebridge: forget the pair; a pull makes it again next run.
            if let Some(l) = linked {
                link::Entity::delete_by_id(l.id)
                    .exec(self.app.db.conn())
                    .await?;
            }
            outcome.skipped += 1;
            return Ok(None);
        };
        let last = linked.map(|l| {
            (
                serde_json::from_str::<Map<String, Value>>(&l.local_values).unwrap_or_default(),
                serde_json::from_str::<Map<String, Value>>(&l.remote_values).unwrap_or_default(),
            )
        });
        self.reconcile(&current, item, last.as_ref(), linked, outcome)
            .await
    }

    /// A provider item no entity pairs with: pulled into a new entity when the direction
    /// allows.
    async fn pull_new(
        &self,
        item: &RemoteItem,
        outcome: &mut Outcome,
    ) -> Result<Option<link::Model>, ApiError> {
        if !self.binding.direction.pulls() {
            outcome.skipped += 1;
            return Ok(None);
        }
        let mut fields = Map::new();
        for f in &self.mapping.0 {
            let Some(value) = self.pulled(f, item, outcome, None) else {
                continue;
            };
            fields.insert(f.local.clone(), value);
        }
        // Time is imported onto a task Timebridge pairs with the provider's; time on any other
        // task (or none) is not ours to import.
        let parent = if self.binding.entity == EntityKind::TimeEntry {
            let found = match &item.parent {
                Some(parent) => self.linked_task(parent).await?,
                None => None,
            };
            if found.is_none() {
                outcome.skipped += 1;
                return Ok(None);
            }
            found
        } else {
            None
        };
        let now = clock::now();
        let row = link::Model {
            id: Uuid::now_v7(),
            binding_id: self.binding.id,
            local_id: Uuid::nil(),
            remote_id: item.id.clone(),
            local_values: Value::Object(self.local_snapshot(&fields)).to_string(),
            remote_values: Value::Object(self.remote_snapshot(&item.fields)).to_string(),
            synced_at: now,
        };
        let made = local::create(
            self.app,
            &self.acting,
            self.binding,
            &fields,
            Owner {
                email: item.owner_email.as_deref(),
                task_id: parent,
            },
            self.source().external_ref(self.binding.entity, &item.id),
            row.clone().into(),
        )
        .await;
        match made {
            Ok(local_id) => {
                outcome.created += 1;
                Ok(Some(link::Model { local_id, ..row }))
            }
            Err(e) => {
                outcome.error(None, Some(&item.id), e.shown());
                Ok(None)
            }
        }
    }

    /// The Timebridge task a provider task is paired with, by any binding of the workspace
    /// on the same provider or by the connector.
    async fn linked_task(&self, remote_task: &str) -> Result<Option<Uuid>, ApiError> {
        let task_bindings: Vec<Uuid> = binding::Entity::find()
            .select_only()
            .column(binding::Column::Id)
            .filter(binding::Column::WorkspaceId.eq(self.binding.workspace_id))
            .filter(binding::Column::Provider.eq(self.binding.provider.as_str()))
            .filter(binding::Column::Entity.eq(EntityKind::Task))
            .into_tuple()
            .all(self.app.db.conn())
            .await?;
        let found = link::Entity::find()
            .filter(link::Column::BindingId.is_in(task_bindings))
            .filter(link::Column::RemoteId.eq(remote_task))
            .one(self.app.db.conn())
            .await?;
        if let Some(found) = found {
            return Ok(Some(found.local_id));
        }
        Ok(self
            .source()
            .known_local(&self.cx(), EntityKind::Task, remote_task)
            .await)
    }

    /// The provider's value of a mapped field as Timebridge's, or `None` when it cannot be
    /// carried (no map entry: an error naming it; an empty value for a field that needs one).
    fn pulled(
        &self,
        f: &FieldMap,
        item: &RemoteItem,
        outcome: &mut Outcome,
        local_id: Option<Uuid>,
    ) -> Option<Value> {
        let rf = self.remote_field(&f.remote)?;
        let lf = self.local_field(&f.local)?;
        let value = normalize(rf.kind, item.fields.get(&f.remote));
        let Some(ours) = f.backward(&value) else {
            outcome.error(
                local_id,
                Some(&item.id),
                format!(
                    "{}: the provider's '{}' has no Timebridge value in the mapping; left as it was",
                    f.local,
                    value.as_str().unwrap_or_default()
                ),
            );
            return None;
        };
        (!ours.is_null() || lf.nullable).then_some(ours)
    }

    fn pushed(
        &self,
        f: &FieldMap,
        current: &LocalItem,
        outcome: &mut Outcome,
        remote_id: Option<&str>,
    ) -> Option<Value> {
        let rf = self.remote_field(&f.remote)?;
        let lf = self.local_field(&f.local)?;
        if !rf.writable {
            return None;
        }
        let value = normalize(lf.kind, current.fields.get(&f.local));
        let Some(theirs) = f.forward(&value) else {
            outcome.error(
                Some(current.id),
                remote_id,
                format!(
                    "{}: Timebridge's '{}' has no provider value in the mapping; left as it was",
                    f.local,
                    value.as_str().unwrap_or_default()
                ),
            );
            return None;
        };
        (!theirs.is_null() || rf.nullable).then_some(theirs)
    }

    fn local_snapshot(&self, fields: &Map<String, Value>) -> Map<String, Value> {
        self.mapping
            .0
            .iter()
            .filter_map(|f| {
                let lf = self.local_field(&f.local)?;
                Some((f.local.clone(), normalize(lf.kind, fields.get(&f.local))))
            })
            .collect()
    }

    fn remote_snapshot(&self, fields: &Map<String, Value>) -> Map<String, Value> {
        self.mapping
            .0
            .iter()
            .filter_map(|f| {
                let rf = self.remote_field(&f.remote)?;
                Some((f.remote.clone(), normalize(rf.kind, fields.get(&f.remote))))
            })
            .collect()
    }

    /// Brings a pair in step, field by field; saves the pair's values.
    async fn reconcile(
        &self,
        current: &LocalItem,
        item: &RemoteItem,
        last: Option<&Last>,
        linked: Option<&link::Model>,
        outcome: &mut Outcome,
    ) -> Result<Option<link::Model>, ApiError> {
        let direction = self.binding.direction;
        let (mut to_local, mut to_remote) = (Map::new(), Map::new());
        for f in &self.mapping.0 {
            let (Some(lf), Some(rf)) = (self.local_field(&f.local), self.remote_field(&f.remote))
            else {
                continue;
            };
            let ours = normalize(lf.kind, current.fields.get(&f.local));
            let theirs = normalize(rf.kind, item.fields.get(&f.remote));
            let in_step = match f.forward(&ours) {
                Some(as_theirs) => as_theirs == theirs || f.backward(&theirs) == Some(ours.clone()),
                None => f.backward(&theirs).is_none_or(|as_ours| as_ours == ours),
            };
            if in_step {
                continue;
            }
            let ours_changed = last.is_none_or(|(l, _)| l.get(&f.local) != Some(&ours));
            let theirs_changed = last.is_none_or(|(_, r)| r.get(&f.remote) != Some(&theirs));
            let conflict = match direction {
                Direction::Both => last.is_none() || (ours_changed && theirs_changed),
                _ => last.is_some() && ours_changed && theirs_changed,
            };
            let provider_side = if conflict {
                let provider_wins = match self.binding.conflict_rule {
                    ConflictRule::TimebridgeWins => false,
                    ConflictRule::ProviderWins => true,
                    ConflictRule::NewestWins => {
                        item.updated_at.is_none_or(|at| at >= current.updated_at)
                    }
                };
                if outcome.conflicts.len() < KEPT {
                    outcome.conflicts.push(json!({
                        "local_id": current.id,
                        "remote_id": item.id,
                        "field": f.local,
                        "provider_field": f.remote,
                        "timebridge_value": ours,
                        "provider_value": theirs,
                        "resolution": if provider_wins { "provider" } else { "timebridge" },
                    }));
                }
                provider_wins
            } else {
                match direction {
                    Direction::Pull => true,
                    Direction::Push => false,
                    Direction::Both => theirs_changed,
                }
            };
            if provider_side && direction.pulls() {
                if let Some(v) = self.pulled(f, item, outcome, Some(current.id)) {
                    to_local.insert(f.local.clone(), v);
                }
            } else if !provider_side
                && direction.pushes()
                && let Some(v) = self.pushed(f, current, outcome, Some(&item.id))
            {
                to_remote.insert(f.remote.clone(), v);
            }
        }
        let mut local_now = current.fields.clone();
        let mut remote_now = item.fields.clone();
        let entity = self.binding.entity;
        if !to_local.is_empty() {
            if let Err(e) =
                local::update(self.app, &self.acting, entity, current.id, &to_local).await
            {
                outcome.error(Some(current.id), Some(&item.id), e.shown());
                return Ok(None);
            }
            local_now.extend(to_local.clone());
        }
        if !to_remote.is_empty() {
            match self
                .source()
                .update(&self.cx(), &item.id, to_remote.clone())
                .await
            {
                Ok(updated) => remote_now = updated.fields,
                Err(e) => {
                    outcome.error(Some(current.id), Some(&item.id), e);
                    return Ok(None);
                }
            }
        }
        if to_local.is_empty() && to_remote.is_empty() {
            outcome.skipped += 1;
        } else {
            outcome.updated += 1;
        }
        self.save_pair(current.id, &item.id, &local_now, &remote_now, linked)
            .await
            .map(Some)
    }

    async fn save_pair(
        &self,
        local_id: Uuid,
        remote_id: &str,
        local_now: &Map<String, Value>,
        remote_now: &Map<String, Value>,
        linked: Option<&link::Model>,
    ) -> Result<link::Model, ApiError> {
        let local_values = Value::Object(self.local_snapshot(local_now)).to_string();
        let remote_values = Value::Object(self.remote_snapshot(remote_now)).to_string();
        let now = clock::now();
        let _turn = self.app.db.write_turn().await;
        let saved = match linked {
            Some(l) => {
                let mut active: link::ActiveModel = l.clone().into();
                active.local_values = Set(local_values);
                active.remote_values = Set(remote_values);
                active.synced_at = Set(now);
                active.update(self.app.db.conn()).await?
            }
            None => {
                link::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    binding_id: Set(self.binding.id),
                    local_id: Set(local_id),
                    remote_id: Set(remote_id.to_owned()),
                    local_values: Set(local_values),
                    remote_values: Set(remote_values),
                    synced_at: Set(now),
                }
                .insert(self.app.db.conn())
                .await?
            }
        };
        Ok(saved)
    }

    /// A pushing binding's entities that no provider item pairs with: made at the provider
    /// (or paired with the item the connector already made for them).
    async fn push_new(
        &self,
        items: &[RemoteItem],
        links: &Links,
        outcome: &mut Outcome,
    ) -> Result<(), ApiError> {
        let paired: std::collections::HashSet<Uuid> = links.values().map(|l| l.local_id).collect();
        let cx = self.cx();
        for current in local::in_scope(self.app, self.binding).await? {
            if paired.contains(&current.id) {
                continue;
            }
            if let Some(known) = self
                .source()
                .known_remote(&cx, self.binding.entity, current.id)
                .await
            {
                match items.iter().find(|i| i.id == known) {
                    Some(item) => {
                        self.reconcile(&current, item, None, None, outcome).await?;
                    }
                    None => outcome.skipped += 1, // made elsewhere, outside this collection
                }
                continue;
            }
            let mut fields = Map::new();
            for f in &self.mapping.0 {
                if let Some(v) = self.pushed(f, &current, outcome, None) {
                    fields.insert(f.remote.clone(), v);
                }
            }
            match self.source().create(&cx, fields).await {
                Ok(made) => {
                    self.save_pair(current.id, &made.id, &current.fields, &made.fields, None)
                        .await?;
                    outcome.created += 1;
                }
                Err(e) => outcome.error(Some(current.id), None, e),
            }
        }
        Ok(())
    }
}

/// Records a run, stamps the binding, keeps the last [`RUNS_KEPT`] runs.
async fn record(
    app: &AppState,
    binding: &binding::Model,
    trigger: Trigger,
    started: OffsetDateTime,
    mut outcome: Outcome,
) -> Result<run::Model, ApiError> {
    let status = if let Some(failure) = outcome.failure.take() {
        outcome.error(None, None, failure);
        "failed"
    } else if outcome.errors.is_empty() {
        "ok"
    } else {
        "partial"
    };
    let now = clock::now();
    let _turn = app.db.write_turn().await;
    let row = run::ActiveModel {
        id: Set(Uuid::now_v7()),
        binding_id: Set(binding.id),
        workspace_id: Set(binding.workspace_id),
        trigger: Set(trigger.as_str().to_owned()),
        status: Set(status.to_owned()),
        created: Set(outcome.created),
        updated: Set(outcome.updated),
        skipped: Set(outcome.skipped),
        conflicts: Set(Value::Array(outcome.conflicts).to_string()),
        errors: Set(Value::Array(outcome.errors).to_string()),
        started_at: Set(started),
        finished_at: Set(now),
    }
    .insert(app.db.conn())
    .await?;
    binding::Entity::update_many()
        .col_expr(
            binding::Column::LastSyncedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(binding::Column::Id.eq(binding.id))
        .exec(app.db.conn())
        .await?;
    let older: Vec<Uuid> = run::Entity::find()
        .select_only()
        .column(run::Column::Id)
        .filter(run::Column::BindingId.eq(binding.id))
        .order_by_desc(run::Column::StartedAt)
        .order_by_desc(run::Column::Id)
        .into_tuple()
        .all(app.db.conn())
        .await?
        .into_iter()
        .skip(RUNS_KEPT)
        .collect();
    if !older.is_empty() {
        run::Entity::delete_many()
            .filter(run::Column::Id.is_in(older))
            .exec(app.db.conn())
            .await?;
    }
    Ok(row)
}

/// [`run`], also answering how many of the provider's items the run saw (GitHub's sync
/// answers it).
pub async fn run_counting(
    app: &AppState,
    binding: &binding::Model,
    trigger: Trigger,
) -> Result<(run::Model, usize), ApiError> {
    let started = clock::now();
    let outcome = match Prepared::load(app, binding).await? {
        Ok(prepared) => prepared.run_all().await?,
        Err(failure) => Outcome::failed(failure),
    };
    let seen = outcome.seen;
    Ok((record(app, binding, trigger, started, outcome).await?, seen))
}
