//! The Timebridge side of a binding: each entity kind's fields, and reading and writing them
//! through the kind's own service (its checks, events and rules apply as for any change).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Map, Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use uuid::Uuid;

use super::{
    EntityKind, SideField, ValueKind, entity::binding, entity::link, fields_of, instant_value,
};
use crate::{
    app::AppState,
    directory::{self, entity::user},
    platform::{acting::Acting, changes::WorkspaceChange, error::ApiError},
    tracking::{
        clients::{entity as client, service as clients},
        projects::{entity as project, service as projects},
        tasks::{entity as task, service as tasks},
        time_entries::{entity as entry, service as entries},
    },
};

const TASK_STATUSES: &[&str] = &["todo", "in_progress", "review", "done", "cancelled"];
const TASK_PRIORITIES: &[&str] = &["low", "medium", "high", "urgent"];

const TASK: &[SideField] = &[
    SideField::new("name", ValueKind::Text, "The task's name."),
    SideField::new("description", ValueKind::Text, "Its description.").nullable(),
    SideField::new(
        "status",
        ValueKind::Choice(Some(TASK_STATUSES)),
        "Where it stands.",
    ),
    SideField::new(
        "priority",
        ValueKind::Choice(Some(TASK_PRIORITIES)),
        "How urgent it is.",
    ),
    SideField::new("due_date", ValueKind::Date, "When it is due.").nullable(),
];

const PROJECT: &[SideField] = &[
    SideField::new("name", ValueKind::Text, "The project's name."),
    SideField::new("description", ValueKind::Text, "Its description.").nullable(),
    SideField::new("billable", ValueKind::Bool, "Whether its time is billable."),
];

const CLIENT: &[SideField] = &[
    SideField::new("name", ValueKind::Text, "The client's name."),
    SideField::new("email", ValueKind::Text, "Its email address.").nullable(),
    SideField::new("contact_person", ValueKind::Text, "Whom to talk to.").nullable(),
    SideField::new("phone", ValueKind::Text, "Its phone number.").nullable(),
    SideField::new("address", ValueKind::Text, "Its postal address.").nullable(),
];

const TIME_ENTRY: &[SideField] = &[
    SideField::new("notes", ValueKind::Text, "What the time was spent on.").nullable(),
    SideField::new("start_time", ValueKind::DateTime, "When it started."),
    SideField::new("end_time", ValueKind::DateTime, "When it ended."),
    SideField::new("billable", ValueKind::Bool, "Whether it is billable."),
];

/// The fields of an entity kind.
pub fn fields(entity: EntityKind) -> &'static [SideField] {
    match entity {
        EntityKind::Task => TASK,
        EntityKind::Project => PROJECT,
        EntityKind::Client => CLIENT,
        EntityKind::TimeEntry => TIME_ENTRY,
    }
}

/// The fields a pulled entity cannot be created without.
pub fn required(entity: EntityKind) -> &'static [&'static str] {
    match entity {
        EntityKind::TimeEntry => &["start_time", "end_time"],
        _ => &["name"],
    }
}

/// An entity as a binding sees it.
#[derive(Clone, Debug)]
pub struct LocalItem {
    pub id: Uuid,
    pub fields: Map<String, Value>,
    pub updated_at: OffsetDateTime,
}

fn of_task(t: task::Model) -> LocalItem {
    LocalItem {
        id: t.id,
        fields: fields_of(json!({
            "name": t.name,
            "description": t.description,
            "status": t.status,
            "priority": t.priority,
            "due_date": t.due_date.map(|d| d.to_string()),
        })),
        updated_at: t.updated_at,
    }
}

/// The entity, if it is still there.
pub async fn get(
    app: &AppState,
    workspace_id: Uuid,
    entity: EntityKind,
    id: Uuid,
) -> Result<Option<LocalItem>, ApiError> {
    let db = app.db.conn();
    Ok(match entity {
        EntityKind::Task => task::Entity::find_by_id(id)
            .filter(task::Column::WorkspaceId.eq(workspace_id))
            .one(db)
            .await?
            .map(of_task),
        EntityKind::Project => project::Entity::find_by_id(id)
            .filter(project::Column::WorkspaceId.eq(workspace_id))
            .one(db)
            .await?
            .map(|p| LocalItem {
                id: p.id,
                fields: fields_of(json!({
                    "name": p.name, "description": p.description, "billable": p.billable,
                })),
                updated_at: p.updated_at,
            }),
        EntityKind::Client => client::Entity::find_by_id(id)
            .filter(client::Column::WorkspaceId.eq(workspace_id))
            .one(db)
            .await?
            .map(|c| LocalItem {
                id: c.id,
                fields: fields_of(json!({
                    "name": c.name, "email": c.email, "contact_person": c.contact_person,
                    "phone": c.phone, "address": c.address,
                })),
                updated_at: c.updated_at,
            }),
        EntityKind::TimeEntry => entry::Entity::find_by_id(id)
            .filter(entry::Column::WorkspaceId.eq(workspace_id))
            .one(db)
            .await?
            .map(|e| LocalItem {
                id: e.id,
                fields: fields_of(json!({
                    "notes": e.notes,
                    "start_time": instant_value(e.start_time),
                    "end_time": e.end_time.map_or(Value::Null, instant_value),
                    "billable": e.billable,
                })),
                updated_at: e.updated_at,
            }),
    })
}

/// The entities a pushing binding sends to the provider: the tasks of its project. (No
/// provider pushes other kinds; a binding that would is refused when saved.)
pub async fn in_scope(
    app: &AppState,
    binding: &binding::Model,
) -> Result<Vec<LocalItem>, ApiError> {
    let (EntityKind::Task, Some(project_id)) = (binding.entity, binding.project_id) else {
        return Ok(Vec::new());
    };
    let rows = task::Entity::find()
        .filter(task::Column::WorkspaceId.eq(binding.workspace_id))
        .filter(task::Column::ProjectId.eq(project_id))
        .order_by_asc(task::Column::CreatedAt)
        .all(app.db.conn())
        .await?;
    Ok(rows.into_iter().map(of_task).collect())
}

fn text(fields: &Map<String, Value>, name: &str) -> Option<String> {
    fields.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// `Some(None)` to clear, `Some(Some(..))` to set, `None` when the field is not given.
fn clearable(fields: &Map<String, Value>, name: &str) -> Option<Option<String>> {
    fields.get(name).map(|v| v.as_str().map(str::to_owned))
}

fn parsed<T: serde::de::DeserializeOwned>(
    fields: &Map<String, Value>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    fields
        .get(name)
        .map(|v| serde_json::from_value(v.clone()))
        .transpose()
        .map_err(|_| ApiError::invalid(name, format!("'{}' is not a value it takes", fields[name])))
}

/// What a pulled time entry belongs to: whose time (the provider user's email) and which task.
pub struct Owner<'a> {
    pub email: Option<&'a str>,
    pub task_id: Option<Uuid>,
}

/// Creates the entity a provider's item is pulled into, and its link (in the same transaction
/// where the kind's service allows, else right after: a task carries the connector's
/// `external_ref`, which finds it again should the link be lost).
pub async fn create(
    app: &AppState,
    acting: &Acting,
    binding: &binding::Model,
    fields: &Map<String, Value>,
    owner: Owner<'_>,
    external_ref: Option<String>,
    link: link::ActiveModel,
) -> Result<Uuid, ApiError> {
    let db = &app.db;
    let id = match binding.entity {
        EntityKind::Task => {
            let Some(project_id) = binding.project_id else {
                return Err(ApiError::invalid(
                    "project_id",
                    "the binding has no project to pull tasks into",
                ));
            };
            tasks::create(
                db,
                acting,
                tasks::NewTask {
                    project_id: Some(project_id),
                    name: text(fields, "name"),
                    description: text(fields, "description"),
                    status: parsed(fields, "status")?,
                    priority: parsed(fields, "priority")?,
                    due_date: text(fields, "due_date"),
                    external_ref,
                    ..Default::default()
                },
            )
            .await?
            .id
        }
        EntityKind::Project => {
            projects::create(
                db,
                acting,
                projects::NewProject {
                    name: text(fields, "name").unwrap_or_default(),
                    description: text(fields, "description"),
                    billable: fields.get("billable").and_then(Value::as_bool),
                    ..Default::default()
                },
            )
            .await?
            .id
        }
        EntityKind::Client => {
            clients::create(
                db,
                acting,
                clients::NewClient {
                    name: text(fields, "name").unwrap_or_default(),
                    email: text(fields, "email"),
                    contact_person: text(fields, "contact_person"),
                    phone: text(fields, "phone"),
                    address: text(fields, "address"),
                    default_hourly_rate: None,
                },
            )
            .await?
            .id
        }
        EntityKind::TimeEntry => {
            return create_entry(app, acting, binding, fields, owner, link).await;
        }
    };
    let mut link = link;
    link.local_id = sea_orm::ActiveValue::Set(id);
    let _turn = app.db.write_turn().await;
    link::Entity::insert(link)
        .exec_without_returning(app.db.conn())
        .await?;
    Ok(id)
}

/// A pulled time entry: the member with the provider user's email, on the task its item
/// belongs to; inserted with its link in one transaction.
async fn create_entry(
    app: &AppState,
    acting: &Acting,
    binding: &binding::Model,
    fields: &Map<String, Value>,
    owner: Owner<'_>,
    mut link: link::ActiveModel,
) -> Result<Uuid, ApiError> {
    let email = owner.email.unwrap_or_default();
    let found = directory::service::active_member_by(
        app.db.conn(),
        binding.workspace_id,
        user::Column::Email,
        email,
    )
    .await?;
    let Some(user_id) = found else {
        return Err(ApiError::invalid(
            "user",
            format!("no active member of this workspace has the email '{email}'"),
        ));
    };
    let task_id = owner
        .task_id
        .ok_or_else(|| ApiError::invalid("task", "its task is not linked"))?;
    let task = task::Entity::find_by_id(task_id)
        .one(app.db.conn())
        .await?
        .ok_or(ApiError::NotFound("Task"))?;
    let instant = |name: &str| {
        text(fields, name)
            .and_then(|t| OffsetDateTime::parse(&t, &Rfc3339).ok())
            .ok_or_else(|| ApiError::invalid(name, "is required, as an RFC 3339 instant"))
    };
    let (start, end) = (instant("start_time")?, instant("end_time")?);
    if end <= start {
        return Err(ApiError::invalid("end_time", "must be after start_time"));
    }
    let mut change =
        WorkspaceChange::begin(&app.db, binding.workspace_id, acting.actor.clone()).await?;
    let view = entries::insert(
        &mut change,
        entries::CheckedEntry {
            workspace_id: binding.workspace_id,
            user_id,
            project_id: Some(task.project_id),
            task_id: Some(task_id),
            start,
            end,
            notes: text(fields, "notes"),
            tags: Vec::new(),
            billable: fields
                .get("billable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            paid: false,
        },
        &binding.provider,
    )
    .await?;
    link.local_id = sea_orm::ActiveValue::Set(view.id);
    link::Entity::insert(link)
        .exec_without_returning(&*change)
        .await?;
    change.commit().await?;
    Ok(view.id)
}

/// Writes pulled values to an entity.
pub async fn update(
    app: &AppState,
    acting: &Acting,
    entity: EntityKind,
    id: Uuid,
    fields: &Map<String, Value>,
) -> Result<(), ApiError> {
    let db = &app.db;
    match entity {
        EntityKind::Task => {
            tasks::update(
                db,
                acting,
                id,
                tasks::TaskChanges {
                    name: text(fields, "name"),
                    description: clearable(fields, "description"),
                    status: parsed(fields, "status")?,
                    priority: parsed(fields, "priority")?,
                    due_date: clearable(fields, "due_date"),
                    ..Default::default()
                },
            )
            .await?;
        }
        EntityKind::Project => {
            projects::update(
                db,
                acting,
                id,
                projects::ProjectChanges {
                    name: text(fields, "name"),
                    description: clearable(fields, "description"),
                    billable: fields.get("billable").and_then(Value::as_bool),
                    ..Default::default()
                },
            )
            .await?;
        }
        EntityKind::Client => {
            clients::update(
                db,
                acting,
                id,
                clients::ClientChanges {
                    name: text(fields, "name"),
                    email: clearable(fields, "email"),
                    contact_person: clearable(fields, "contact_person"),
                    phone: clearable(fields, "phone"),
                    address: clearable(fields, "address"),
                    ..Default::default()
                },
            )
            .await?;
        }
        EntityKind::TimeEntry => {
            entries::update(
                db,
                acting,
                id,
                entries::EntryChanges {
                    start_time: text(fields, "start_time"),
                    end_time: text(fields, "end_time"),
                    notes: clearable(fields, "notes"),
                    billable: fields.get("billable").and_then(Value::as_bool),
                    ..Default::default()
                },
            )
            .await?;
        }
    }
    Ok(())
}
