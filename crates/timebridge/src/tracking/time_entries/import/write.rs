//! Writing checked rows: the projects, clients, tasks and tags the file names are found or
//! created once each, then the entries go in with multi-row inserts, a thousand at a time,
//! each with its `time_entry.created` event.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use super::{
    Progress,
    checks::{ProjectRef, ReadyRow, TaskRef},
};
use crate::{
    platform::{
        acting::Acting,
        changes::WorkspaceChange,
        error::{ApiError, FieldErrors},
        outbox::EventType,
        time,
    },
    tracking::{
        clients, projects,
        tags::entity::entry_tag,
        time_entries::{TimeEntryView, entity as entry, tagging, task_link},
    },
};

/// Entries per multi-row insert: 16 columns each, far below either backend's limit of bound
/// values.
const CHUNK: usize = 1000;

/// What the rows need created, once each.
#[derive(Default)]
struct Created {
    projects: HashMap<String, Uuid>,
    clients: HashMap<String, Uuid>,
    tasks: HashMap<(Uuid, String), Uuid>,
}

/// One entry ready to insert, with its tag names.
struct NewEntry {
    model: entry::Model,
    tags: Vec<String>,
}

/// Inserts the rows as entries of the workspace (source `import`); answers how many.
pub async fn insert_rows(
    change: &mut WorkspaceChange,
    acting: &Acting,
    rows: Vec<ReadyRow>,
    progress: &dyn Progress,
) -> Result<usize, ApiError> {
    let total = rows.len();
    let mut created = Created::default();
    let now = time::now();
    let mut entries = Vec::with_capacity(total);
    for row in rows {
        entries.push(materialize(change, acting, &mut created, row, now).await?);
    }
    let tags = find_or_create_tags(change, acting.workspace_id, &entries).await?;
    let mut done = 0;
    let mut entries = entries.into_iter().peekable();
    while entries.peek().is_some() {
        let chunk: Vec<NewEntry> = entries.by_ref().take(CHUNK).collect();
        insert_chunk(change, chunk, &tags, &mut done).await?;
        progress.imported(done, total);
    }
    Ok(done)
}

async fn insert_chunk(
    change: &mut WorkspaceChange,
    chunk: Vec<NewEntry>,
    tags: &HashMap<String, (Uuid, String)>,
    done: &mut usize,
) -> Result<(), ApiError> {
    let rows = chunk
        .iter()
        .map(|e| e.model.clone().into_active_model().reset_all());
    entry::Entity::insert_many(rows)
        .exec_without_returning(&**change)
        .await?;
    let mut links = Vec::new();
    for e in &chunk {
        for name in &e.tags {
            if let Some((tag_id, _)) = tags.get(&name.to_lowercase()) {
                links.push(entry_tag::ActiveModel {
                    time_entry_id: Set(e.model.id),
                    tag_id: Set(*tag_id),
                });
            }
        }
    }
    for links in links.chunks(5 * CHUNK) {
        entry_tag::Entity::insert_many(links.to_vec())
            .exec_without_returning(&**change)
            .await?;
    }
    for e in chunk {
        let names = e
            .tags
            .iter()
            .filter_map(|n| {
                tags.get(&n.to_lowercase())
                    .map(|(_, stored)| stored.clone())
            })
            .collect();
        let view = TimeEntryView::new(e.model, names);
        change.record(EventType::TimeEntryCreated, view.id, &view)?;
        *done += 1;
    }
    Ok(())
}

/// Every tag the entries name, found or created in one go, by lower-case name.
async fn find_or_create_tags(
    change: &mut WorkspaceChange,
    workspace_id: Uuid,
    entries: &[NewEntry],
) -> Result<HashMap<String, (Uuid, String)>, ApiError> {
    let mut names: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for e in entries {
        for name in &e.tags {
            if seen.insert(name.to_lowercase()) {
                names.push(name.clone());
            }
        }
    }
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let found = tagging::find_or_create(change, workspace_id, &names).await?;
    Ok(found
        .into_iter()
        .map(|t| (t.name.to_lowercase(), (t.id, t.name)))
        .collect())
}

/// Creates what a checked row still needs (its project, client, task) and returns its entry.
async fn materialize(
    change: &mut WorkspaceChange,
    acting: &Acting,
    created: &mut Created,
    ready: ReadyRow,
    now: ::time::OffsetDateTime,
) -> Result<NewEntry, ApiError> {
    let (project_id, default_billable) = match &ready.project {
        ProjectRef::None => (None, true),
        ProjectRef::Existing(p) => (Some(p.id), p.billable),
        ProjectRef::New { name, client } => (
            Some(create_project(change, acting, created, name, client.as_deref()).await?),
            true,
        ),
    };
    let task_id = match (&ready.task, project_id) {
        (Some(TaskRef::Existing(id)), _) => Some(*id),
        (Some(TaskRef::New(name)), Some(project_id)) => {
            Some(find_or_create_task(change, acting, created, project_id, name).await?)
        }
        _ => None,
    };
    let row = ready.row;
    let (Some(start), Some(end)) = (row.start, row.end) else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "a checked row lost its times"
        )));
    };
    let tags = tagging::check_names(
        &mut FieldErrors::new(),
        tagging::split(row.tags.as_deref().unwrap_or_default()),
    );
    let model = entry::Model {
        id: Uuid::now_v7(),
        workspace_id: acting.workspace_id,
        user_id: ready.user_id,
        project_id,
        task_id,
        start_time: start,
        end_time: Some(end),
        duration_seconds: Some((end - start).whole_seconds()),
        notes: row.notes,
        billable: ready.billable.unwrap_or(default_billable),
        paid: false,
        invoice_id: None,
        source: "import".into(),
        running_user_id: None,
        created_at: now,
        updated_at: now,
    };
    Ok(NewEntry { model, tags })
}

async fn create_project(
    change: &mut WorkspaceChange,
    acting: &Acting,
    created: &mut Created,
    name: &str,
    client: Option<&str>,
) -> Result<Uuid, ApiError> {
    if let Some(id) = created.projects.get(&name.to_lowercase()) {
        return Ok(*id);
    }
    let client_id = match client {
        Some(client) => Some(find_or_create_client(change, acting, created, client).await?),
        None => None,
    };
    let new = projects::service::NewProject {
        name: name.to_owned(),
        client_id,
        ..Default::default()
    };
    let view = projects::service::insert(change, acting.workspace_id, new, None).await?;
    created.projects.insert(name.to_lowercase(), view.id);
    Ok(view.id)
}

async fn find_or_create_client(
    change: &mut WorkspaceChange,
    acting: &Acting,
    created: &mut Created,
    name: &str,
) -> Result<Uuid, ApiError> {
    use clients::entity as client;
    let key = name.to_lowercase();
    if let Some(id) = created.clients.get(&key) {
        return Ok(*id);
    }
    let existing = client::Entity::find()
        .filter(client::Column::WorkspaceId.eq(acting.workspace_id))
        .filter(Expr::expr(Func::lower(Expr::col(client::Column::Name))).eq(key.clone()))
        .one(&**change)
        .await?;
    let id = match existing {
        Some(found) => found.id,
        None => {
            let new = clients::service::NewClient {
                name: name.chars().take(200).collect(),
                ..Default::default()
            };
            clients::service::insert(change, acting.workspace_id, new, None)
                .await?
                .id
        }
    };
    created.clients.insert(key, id);
    Ok(id)
}

async fn find_or_create_task(
    change: &mut WorkspaceChange,
    acting: &Acting,
    created: &mut Created,
    project_id: Uuid,
    name: &str,
) -> Result<Uuid, ApiError> {
    let key = (project_id, name.to_lowercase());
    if let Some(id) = created.tasks.get(&key) {
        return Ok(*id);
    }
    let id = task_link::find_or_create(change, acting.workspace_id, project_id, name).await?;
    created.tasks.insert(key, id);
    Ok(id)
}
