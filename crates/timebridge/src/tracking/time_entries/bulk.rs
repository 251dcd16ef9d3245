//! `POST /api/v1/time-entries/bulk`: delete, set billable/paid, add/remove a tag on many
//! entries at once — all or nothing, one event per affected entry. Running timers are left
//! alone; entries billed on an invoice refuse the whole batch when the action would change
//! what was billed.

use std::collections::HashSet;

use axum::extract::State;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{entity as entry, tagging, views};
use crate::{
    app::AppState,
    platform::{
        acting::Acting,
        auth::Caller,
        changes::WorkspaceChange,
        db::Db,
        error::{ApiError, ErrorBody, FieldErrors},
        extract::Json,
        outbox::EventType,
        time,
    },
    tracking::tags::entity::entry_tag,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(bulk_action))
}

/// Most entries one bulk request may name.
pub const MAX_ENTRIES: usize = 1000;

const ACTIONS: &[&str] = &[
    "delete",
    "set_billable",
    "set_paid",
    "add_tag",
    "remove_tag",
];

#[derive(Deserialize, ToSchema)]
pub struct BulkRequest {
    /// Required: ids of the entries, 1 to 1000 (duplicates count once). At least one must be
    /// an entry of this workspace (else 404).
    #[schema(value_type = Vec<Uuid>, min_items = 1, max_items = 1000)]
    pub entry_ids: Option<Vec<Value>>,
    /// Required: `delete`, `set_billable`, `set_paid`, `add_tag` or `remove_tag` (exactly, lower
    /// case).
    #[schema(schema_with = bulk_action_schema, required = true)]
    pub action: Option<String>,
    #[schema(schema_with = bulk_value_schema)]
    pub value: Option<Value>,
}

/// The schema of [`BulkRequest::action`]: one of the action names.
fn bulk_action_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([
            "delete",
            "set_billable",
            "set_paid",
            "add_tag",
            "remove_tag",
        ]))
        .description(Some("What to do with the entries (exactly, lower case)."))
        .examples(["set_billable"])
        .into()
}

/// The schema of [`BulkRequest::value`]: a boolean for the flag actions, a tag name for the
/// tag actions. (`example`, like every field's `#[schema(example)]`, rather than `examples`.)
#[allow(deprecated)]
fn bulk_value_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{Object, ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(Object::with_type(Type::Boolean))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(100))
                .pattern(Some("\\S")),
        )
        .item(Object::with_type(Type::Null))
        .description(Some(
            "`set_billable` / `set_paid`: `true` or `false` (`null` or left out: `true`). \
             `add_tag` / `remove_tag`: required, the tag name (trimmed, not empty, at most \
             100 characters; `add_tag` creates the tag when missing). Ignored by \
             `delete`.",
        ))
        .example(Some(serde_json::json!(true)))
        .into()
}

#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    pub success: bool,
    /// Entries changed (running timers are skipped).
    pub affected: usize,
}

/// One checked bulk action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Delete,
    SetBillable(bool),
    SetPaid(bool),
    AddTag(String),
    RemoveTag(String),
}

fn parse_ids(errors: &mut FieldErrors, ids: Option<Vec<Value>>) -> Vec<Uuid> {
    let ids = ids.unwrap_or_default();
    if ids.is_empty() {
        errors.add("entry_ids", "must be a non-empty list of time entry ids");
    } else if ids.len() > MAX_ENTRIES {
        errors.add(
            "entry_ids",
            format!("must name at most {MAX_ENTRIES} entries"),
        );
    }
    let parsed: Vec<Uuid> = ids
        .iter()
        .filter_map(|v| v.as_str().and_then(|s| Uuid::parse_str(s.trim()).ok()))
        .collect();
    if parsed.len() != ids.len() {
        errors.add("entry_ids", "every id must be a time entry id (a UUID)");
    }
    let mut seen = HashSet::new();
    parsed.into_iter().filter(|id| seen.insert(*id)).collect()
}

fn parse_flag(errors: &mut FieldErrors, value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.add("value", "must be true or false");
            false
        }
    }
}

fn parse_tag(errors: &mut FieldErrors, value: Option<&Value>) -> String {
    let max = crate::tracking::tags::service::NAME_MAX;
    match value.and_then(Value::as_str).map(str::trim) {
        Some(name) if name.chars().count() > max => {
            errors.add("value", format!("a tag name is at most {max} characters"));
            String::new()
        }
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => {
            errors.add("value", "the tag name is required");
            String::new()
        }
    }
}

/// Checks a bulk request: the ids and the action with its value.
pub fn parse(request: BulkRequest) -> Result<(Vec<Uuid>, Action), ApiError> {
    let mut errors = FieldErrors::new();
    let ids = parse_ids(&mut errors, request.entry_ids);
    let value = request.value.as_ref();
    let action = match request.action.as_deref().map(str::trim) {
        Some("delete") => Action::Delete,
        Some("set_billable") => Action::SetBillable(parse_flag(&mut errors, value)),
        Some("set_paid") => Action::SetPaid(parse_flag(&mut errors, value)),
        Some("add_tag") => Action::AddTag(parse_tag(&mut errors, value)),
        Some("remove_tag") => Action::RemoveTag(parse_tag(&mut errors, value)),
        _ => {
            errors.add("action", format!("must be one of: {}", ACTIONS.join(", ")));
            Action::Delete
        }
    };
    errors.into_result()?;
    Ok((ids, action))
}

/// Applies the action to the entries; returns how many changed.
pub async fn apply(
    db: &Db,
    acting: &Acting,
    ids: Vec<Uuid>,
    action: Action,
) -> Result<usize, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let found = entry::Entity::find()
        .filter(entry::Column::WorkspaceId.eq(acting.workspace_id))
        .filter(entry::Column::Id.is_in(ids))
        .all(&*change)
        .await?;
    if found.is_empty() {
        return Err(ApiError::NotFound("Time entries"));
    }
    if found.iter().any(|e| !acting.may_access(e.user_id)) {
        return Err(ApiError::Forbidden(
            "Access denied for one or more entries: they belong to another user".into(),
        ));
    }
    let targets: Vec<entry::Model> = found.into_iter().filter(|e| e.end_time.is_some()).collect();
    if targets.is_empty() {
        return Err(ApiError::BadRequest(
            "No entries were changed: running timers cannot be changed by a bulk action".into(),
        ));
    }
    let touches_billing = matches!(action, Action::Delete | Action::SetBillable(_));
    if touches_billing && let Some(billed) = targets.iter().find(|e| e.invoice_id.is_some()) {
        return Err(ApiError::Conflict(format!(
            "Entry {} is billed on an invoice; nothing was changed",
            billed.id
        )));
    }
    let ids: Vec<Uuid> = targets.iter().map(|e| e.id).collect();
    let affected = ids.len();
    match &action {
        Action::Delete => {
            let before = views(&*change, targets).await?;
            super::restore::keep_deleted(&change, acting.workspace_id, &before).await?;
            entry::Entity::delete_many()
                .filter(entry::Column::Id.is_in(ids))
                .exec(&*change)
                .await?;
            for view in before {
                change.record(EventType::TimeEntryBatchDeleted, view.id, &view)?;
            }
        }
        Action::SetBillable(flag) | Action::SetPaid(flag) => {
            let column = if matches!(action, Action::SetBillable(_)) {
                entry::Column::Billable
            } else {
                entry::Column::Paid
            };
            entry::Entity::update_many()
                .col_expr(column, Expr::value(*flag))
                .col_expr(entry::Column::UpdatedAt, Expr::value(time::now()))
                .filter(entry::Column::Id.is_in(ids.clone()))
                .exec(&*change)
                .await?;
            record_updates(&mut change, ids).await?;
        }
        Action::AddTag(name) | Action::RemoveTag(name) => {
            retag(
                &mut change,
                acting.workspace_id,
                &ids,
                name,
                matches!(action, Action::AddTag(_)),
            )
            .await?;
            record_updates(&mut change, ids).await?;
        }
    }
    change.commit().await?;
    Ok(affected)
}

async fn retag(
    change: &mut WorkspaceChange,
    workspace_id: Uuid,
    ids: &[Uuid],
    name: &str,
    add: bool,
) -> Result<(), ApiError> {
    if add {
        let tag = tagging::find_or_create(change, workspace_id, &[name.to_owned()])
            .await?
            .remove(0);
        // Drop existing links first so the insert never collides.
        entry_tag::Entity::delete_many()
            .filter(entry_tag::Column::TagId.eq(tag.id))
            .filter(entry_tag::Column::TimeEntryId.is_in(ids.iter().copied()))
            .exec(&**change)
            .await?;
        let links = ids.iter().map(|id| entry_tag::ActiveModel {
            time_entry_id: sea_orm::Set(*id),
            tag_id: sea_orm::Set(tag.id),
        });
        entry_tag::Entity::insert_many(links)
            .exec(&**change)
            .await?;
    } else {
        let existing = tagging::find_existing(&**change, workspace_id, name).await?;
        if let Some(tag) = existing {
            entry_tag::Entity::delete_many()
                .filter(entry_tag::Column::TagId.eq(tag.id))
                .filter(entry_tag::Column::TimeEntryId.is_in(ids.iter().copied()))
                .exec(&**change)
                .await?;
        }
    }
    entry::Entity::update_many()
        .col_expr(entry::Column::UpdatedAt, Expr::value(time::now()))
        .filter(entry::Column::Id.is_in(ids.iter().copied()))
        .exec(&**change)
        .await?;
    Ok(())
}

async fn record_updates(change: &mut WorkspaceChange, ids: Vec<Uuid>) -> Result<(), ApiError> {
    let rows = entry::Entity::find()
        .filter(entry::Column::Id.is_in(ids))
        .all(&**change)
        .await?;
    for view in views(&**change, rows).await? {
        change.record(EventType::TimeEntryUpdated, view.id, &view)?;
    }
    Ok(())
}

/// Apply one action to many entries, all or nothing. `entry_ids` naming no entry is 404; an
/// entry of another user (members) is 403; running timers are skipped.
#[utoipa::path(
    post, path = "/api/v1/time-entries/bulk", tag = "time entries",
    request_body = BulkRequest,
    security(("api_token" = ["write:time_entries"])),
    responses(
        (status = 200, body = BulkResult),
        (status = 400, description = "No ids, bad ids, unknown action, bad value, only running timers", body = ErrorBody),
        (status = 403, description = "An entry of another user (members)", body = ErrorBody),
        (status = 404, description = "None of the ids is an entry of this workspace", body = ErrorBody),
        (status = 409, description = "An entry is billed on an invoice", body = ErrorBody),
    )
)]
async fn bulk_action(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<BulkRequest>,
) -> Result<Json<BulkResult>, ApiError> {
    let (ids, action) = parse(body)?;
    let affected = apply(&app.db, &caller.acting(), ids, action).await?;
    Ok(Json(BulkResult {
        success: true,
        affected,
    }))
}
