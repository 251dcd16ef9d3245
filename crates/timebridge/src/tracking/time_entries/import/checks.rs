//! Checking rows against the workspace: whose each entry is, its project and task, its times,
//! flags, notes and tags. Every distinct email, project and task is looked up once per import.

use std::collections::{HashMap, hash_map::Entry};

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use super::rows::{RawRow, RowError, parse_flag};
use crate::{
    directory::entity::{membership, user},
    platform::{
        acting::Acting,
        error::{ApiError, FieldErrors},
    },
    tracking::{
        projects,
        time_entries::{service, tagging},
    },
};

/// A row that passed every check, with what it still needs created.
pub struct ReadyRow {
    pub user_id: Uuid,
    pub project: ProjectRef,
    pub task: Option<TaskRef>,
    pub row: RawRow,
    pub billable: Option<bool>,
}

#[derive(Clone)]
pub enum ProjectRef {
    None,
    Existing(projects::entity::Model),
    /// To create, by name (with its client, by name).
    New {
        name: String,
        client: Option<String>,
    },
}

#[derive(Clone)]
pub enum TaskRef {
    Existing(Uuid),
    New(String),
}

/// What one import needs to know about the workspace, looked up once per distinct value.
#[derive(Default)]
pub struct Lookups {
    projects_by_name: HashMap<String, Option<projects::entity::Model>>,
    projects_by_id: HashMap<Uuid, Option<projects::entity::Model>>,
    members_by_email: HashMap<String, Option<Uuid>>,
    /// Whether a task id is a task of a project.
    task_of_project: HashMap<(Uuid, Uuid), bool>,
}

/// Checks every row; answers the rows ready to import and the problems of the others. A
/// database failure fails the import.
pub async fn check_rows<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    rows: Vec<Result<RawRow, RowError>>,
) -> Result<(Vec<ReadyRow>, Vec<RowError>), ApiError> {
    let mut lookups = Lookups::default();
    let mut ready = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for row in rows {
        let checked = match row {
            Ok(row) => check_row(db, acting, &mut lookups, row).await?,
            Err(e) => Err(e),
        };
        match checked {
            Ok(r) => ready.push(r),
            Err(e) => errors.push(e),
        }
    }
    Ok((ready, errors))
}

async fn find_project_by_name<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    name: &str,
) -> Result<Option<projects::entity::Model>, ApiError> {
    use projects::entity as project;
    Ok(project::Entity::find()
        .filter(project::Column::WorkspaceId.eq(workspace_id))
        .filter(Expr::expr(Func::lower(Expr::col(project::Column::Name))).eq(name.to_lowercase()))
        .one(db)
        .await?)
}

async fn member_by_email<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    email: &str,
) -> Result<Option<Uuid>, ApiError> {
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?;
    let Some(found) = found else { return Ok(None) };
    let member = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .filter(membership::Column::UserId.eq(found.id))
        .one(db)
        .await?;
    Ok(member.map(|_| found.id))
}

/// The row's user: the caller, or (admins) the member whose email the row names.
async fn owner<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    lookups: &mut Lookups,
    row: &RawRow,
) -> Result<Result<Uuid, RowError>, ApiError> {
    let (Some(email), true) = (&row.email, acting.is_admin) else {
        return Ok(Ok(acting.user_id));
    };
    let key = email.to_lowercase();
    if !lookups.members_by_email.contains_key(&key) {
        let found = member_by_email(db, acting.workspace_id, email).await?;
        lookups.members_by_email.insert(key.clone(), found);
    }
    Ok(lookups.members_by_email[&key].ok_or_else(|| {
        RowError::new(
            row.line,
            "email",
            format!("no member of this workspace has the email {email}"),
        )
    }))
}

/// Checks one row against the workspace: whose it is, its project and task, its times.
async fn check_row<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    lookups: &mut Lookups,
    row: RawRow,
) -> Result<Result<ReadyRow, RowError>, ApiError> {
    if let Some(column) = nul_column(&row) {
        return Ok(Err(RowError::new(
            row.line,
            column,
            "must not contain the NUL character",
        )));
    }
    let user_id = match owner(db, acting, lookups, &row).await? {
        Ok(user) => user,
        Err(e) => return Ok(Err(e)),
    };
    let project = match resolve_project(db, acting, lookups, &row).await? {
        Ok(project) => project,
        Err(e) => return Ok(Err(e)),
    };
    let task = match resolve_task(db, acting, lookups, &project, &row).await? {
        Ok(task) => task,
        Err(e) => return Ok(Err(e)),
    };
    Ok(check_fields(&row).map(|billable| ReadyRow {
        user_id,
        project,
        task,
        row,
        billable,
    }))
}

/// The first text column holding a NUL character, which no database stores as text (checked
/// before any lookup, so both databases answer alike).
fn nul_column(row: &RawRow) -> Option<&'static str> {
    [
        ("project_id", &row.project_id),
        ("project", &row.project),
        ("client", &row.client),
        ("task_id", &row.task_id),
        ("task", &row.task),
        ("email", &row.email),
        ("notes", &row.notes),
        ("tags", &row.tags),
        ("billable", &row.billable),
    ]
    .into_iter()
    .find(|(_, value)| value.as_deref().is_some_and(|v| v.contains('\0')))
    .map(|(column, _)| column)
}

/// The row's own fields: its times, billable flag, notes and tags. Answers the flag.
fn check_fields(row: &RawRow) -> Result<Option<bool>, RowError> {
    let line = row.line;
    let (Some(start), Some(end)) = (row.start, row.end) else {
        let column = if row.start.is_none() {
            "start_time"
        } else {
            "end_time"
        };
        return Err(RowError::new(
            line,
            column,
            "is required (ISO 8601, or a date and a time column)",
        ));
    };
    if end <= start {
        return Err(RowError::new(line, "end_time", "must be after the start"));
    }
    let billable = match row.billable.as_deref() {
        Some(flag) => Some(parse_flag(flag).map_err(|e| RowError::new(line, "billable", e))?),
        None => None,
    };
    if row
        .notes
        .as_ref()
        .is_some_and(|n| n.chars().count() > service::MAX_NOTES)
    {
        return Err(RowError::new(
            line,
            "notes",
            format!("must be at most {} characters", service::MAX_NOTES),
        ));
    }
    let mut errors = FieldErrors::new();
    tagging::check_names(
        &mut errors,
        tagging::split(row.tags.as_deref().unwrap_or_default()),
    );
    if !errors.is_empty() {
        return Err(RowError::new(
            line,
            "tags",
            "a tag name must be at most 100 characters",
        ));
    }
    Ok(billable)
}

async fn resolve_project<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    lookups: &mut Lookups,
    row: &RawRow,
) -> Result<Result<ProjectRef, RowError>, ApiError> {
    let line = row.line;
    if let Some(id) = &row.project_id {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(Err(RowError::new(
                line,
                "project_id",
                "is not a project id (a UUID)",
            )));
        };
        if let Entry::Vacant(slot) = lookups.projects_by_id.entry(id) {
            let found = match projects::service::find(db, acting.workspace_id, id).await {
                Ok(found) => Some(found),
                Err(ApiError::NotFound(_)) => None,
                Err(e) => return Err(e),
            };
            slot.insert(found);
        }
        return Ok(match &lookups.projects_by_id[&id] {
            Some(found) => Ok(ProjectRef::Existing(found.clone())),
            None => Err(RowError::new(
                line,
                "project_id",
                "no such project in this workspace",
            )),
        });
    }
    let Some(name) = &row.project else {
        return Ok(Ok(ProjectRef::None));
    };
    if name.chars().count() > 200 {
        return Ok(Err(RowError::new(
            line,
            "project",
            "must be at most 200 characters",
        )));
    }
    let key = name.to_lowercase();
    if !lookups.projects_by_name.contains_key(&key) {
        let found = find_project_by_name(db, acting.workspace_id, name).await?;
        lookups.projects_by_name.insert(key.clone(), found);
    }
    Ok(Ok(match &lookups.projects_by_name[&key] {
        Some(found) => ProjectRef::Existing(found.clone()),
        None => ProjectRef::New {
            name: name.clone(),
            client: row.client.clone(),
        },
    }))
}

async fn resolve_task<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    lookups: &mut Lookups,
    project: &ProjectRef,
    row: &RawRow,
) -> Result<Result<Option<TaskRef>, RowError>, ApiError> {
    let line = row.line;
    if let Some(id) = &row.task_id {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(Err(RowError::new(
                line,
                "task_id",
                "is not a task id (a UUID)",
            )));
        };
        let ProjectRef::Existing(project) = project else {
            return Ok(Err(RowError::new(
                line,
                "task_id",
                "a task needs an existing project",
            )));
        };
        let key = (project.id, id);
        if let Entry::Vacant(slot) = lookups.task_of_project.entry(key) {
            let of_project = service::task_project(db, acting.workspace_id, id).await?;
            slot.insert(of_project == Some(project.id));
        }
        return Ok(if lookups.task_of_project[&key] {
            Ok(Some(TaskRef::Existing(id)))
        } else {
            Err(RowError::new(
                line,
                "task_id",
                "no such task in the row's project",
            ))
        });
    }
    Ok(match (&row.task, project) {
        (None, _) => Ok(None),
        (Some(_), ProjectRef::None) => Err(RowError::new(line, "task", "a task needs a project")),
        (Some(name), _) if name.chars().count() > 500 => Err(RowError::new(
            line,
            "task",
            "must be at most 500 characters",
        )),
        (Some(name), _) => Ok(Some(TaskRef::New(name.clone()))),
    })
}
