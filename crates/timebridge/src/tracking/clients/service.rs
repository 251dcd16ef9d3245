//! Rules and queries for clients. Every function is scoped to the caller's workspace: a client
//! of another workspace is indistinguishable from one that does not exist.

use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use super::{
    ClientView,
    entity::{self as client, ClientStatus},
};
use crate::{
    platform::{
        acting::Acting,
        changes::WorkspaceChange,
        db::{Db, contains_pattern, count as count_rows},
        error::{ApiError, FieldErrors},
        money,
        outbox::EventType,
        pagination::PageRequest,
        time,
        validate::{optional_text, required_text},
    },
    tracking::{invoices::entity as invoice, projects::entity as project, quotes::entity as quote},
};

/// Filters of the client list.
#[derive(Debug, Default)]
pub struct ClientFilter {
    pub status: Option<ClientStatus>,
    /// Case-insensitive part of the name.
    pub search: Option<String>,
}

/// Fields of a new client.
#[derive(Default)]
pub struct NewClient {
    pub name: String,
    pub email: Option<String>,
    pub contact_person: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub default_hourly_rate: Option<Decimal>,
}

/// Changes to a client; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Default)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub email: Option<Option<String>>,
    pub contact_person: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub default_hourly_rate: Option<Option<Decimal>>,
    pub status: Option<ClientStatus>,
}

fn check_email(errors: &mut FieldErrors, email: Option<String>) -> Option<String> {
    let email = optional_text(errors, "email", email, 320);
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        errors.add("email", "is not a valid email address");
    }
    email
}

fn check_rate(errors: &mut FieldErrors, rate: Option<Decimal>) -> Option<i64> {
    rate.and_then(|r| money::check("default_hourly_rate", r, false, errors))
}

/// One page of the workspace's clients, by name.
pub async fn list(
    db: &Db,
    acting: &Acting,
    filter: &ClientFilter,
    page: PageRequest,
) -> Result<(Vec<ClientView>, u64), ApiError> {
    let mut cond = Condition::all().add(client::Column::WorkspaceId.eq(acting.workspace_id));
    if let Some(status) = filter.status {
        cond = cond.add(client::Column::Status.eq(status));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        cond = cond.add(
            Expr::expr(Func::lower(Expr::col(client::Column::Name))).like(contains_pattern(search)),
        );
    }
    let total = count_rows(client::Entity::find().filter(cond.clone()), db.conn()).await?;
    let rows = client::Entity::find()
        .filter(cond)
        .order_by_asc(client::Column::Name)
        .order_by_asc(client::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db.conn())
        .await?;
    Ok((rows.into_iter().map(ClientView::from).collect(), total))
}

/// The client, when it exists in the caller's workspace.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<client::Model, ApiError> {
    client::Entity::find_by_id(id)
        .filter(client::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Client"))
}

pub async fn get(db: &Db, acting: &Acting, id: Uuid) -> Result<ClientView, ApiError> {
    find(db.conn(), acting.workspace_id, id)
        .await
        .map(ClientView::from)
}

/// A client invoices or quotes still name cannot be deleted.
pub const STILL_BILLED: &str =
    "The client is still referenced by invoices or quotes; set its status to inactive instead";

/// Creates an active client. Names are unique within a workspace (the unique index answers a
/// duplicate: see `tracking::CONSTRAINTS`).
pub async fn create(db: &Db, acting: &Acting, new: NewClient) -> Result<ClientView, ApiError> {
    let mut errors = FieldErrors::new();
    let name = required_text(&mut errors, "name", &new.name, 200);
    let email = check_email(&mut errors, new.email);
    let contact_person = optional_text(&mut errors, "contact_person", new.contact_person, 200);
    let phone = optional_text(&mut errors, "phone", new.phone, 64);
    let address = optional_text(&mut errors, "address", new.address, 2000);
    let rate = check_rate(&mut errors, new.default_hourly_rate);
    errors.into_result()?;

    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let checked = NewClient {
        name,
        email,
        contact_person,
        phone,
        address,
        default_hourly_rate: None,
    };
    let view = insert(&mut change, acting.workspace_id, checked, rate).await?;
    change.commit().await?;
    Ok(view)
}

/// Inserts a checked client inside `change` and records `client.created` (409 when the name
/// is taken).
pub async fn insert(
    change: &mut WorkspaceChange,
    workspace_id: Uuid,
    new: NewClient,
    rate_cents: Option<i64>,
) -> Result<ClientView, ApiError> {
    let now = time::now();
    let inserted = client::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        name: Set(new.name),
        email: Set(new.email),
        contact_person: Set(new.contact_person),
        phone: Set(new.phone),
        address: Set(new.address),
        default_hourly_rate_cents: Set(rate_cents),
        status: Set(ClientStatus::Active),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&**change)
    .await?;
    let view = ClientView::from(inserted);
    change.record(EventType::ClientCreated, view.id, &view)?;
    Ok(view)
}

/// Applies changes to a client.
pub async fn update(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    changes: ClientChanges,
) -> Result<ClientView, ApiError> {
    let mut errors = FieldErrors::new();
    let name = changes
        .name
        .map(|n| required_text(&mut errors, "name", &n, 200));
    let email = changes.email.map(|e| check_email(&mut errors, e));
    let contact_person = changes
        .contact_person
        .map(|c| optional_text(&mut errors, "contact_person", c, 200));
    let phone = changes
        .phone
        .map(|p| optional_text(&mut errors, "phone", p, 64));
    let address = changes
        .address
        .map(|a| optional_text(&mut errors, "address", a, 2000));
    let rate = changes
        .default_hourly_rate
        .map(|r| check_rate(&mut errors, r));
    errors.into_result()?;

    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let mut active: client::ActiveModel = find(&*change, acting.workspace_id, id).await?.into();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(email) = email {
        active.email = Set(email);
    }
    if let Some(contact_person) = contact_person {
        active.contact_person = Set(contact_person);
    }
    if let Some(phone) = phone {
        active.phone = Set(phone);
    }
    if let Some(address) = address {
        active.address = Set(address);
    }
    if let Some(rate) = rate {
        active.default_hourly_rate_cents = Set(rate);
    }
    if let Some(status) = changes.status {
        active.status = Set(status);
    }
    active.updated_at = Set(time::now());
    let updated = active.update(&*change).await?;
    let view = ClientView::from(updated);
    change.record(EventType::ClientUpdated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Deletes a client that nothing refers to. A client with projects, invoices or quotes answers
/// 409: set it `inactive` instead.
pub async fn delete(db: &Db, acting: &Acting, id: Uuid) -> Result<ClientView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id).await?;
    let projects = project::Entity::find()
        .filter(project::Column::ClientId.eq(id))
        .count(&*change)
        .await?;
    if projects > 0 {
        return Err(ApiError::Conflict(format!(
            "The client has {projects} project(s); set its status to inactive instead"
        )));
    }
    let invoices = invoice::Entity::find()
        .filter(invoice::Column::ClientId.eq(id))
        .count(&*change)
        .await?;
    let quotes = quote::Entity::find()
        .filter(quote::Column::ClientId.eq(id))
        .count(&*change)
        .await?;
    if invoices + quotes > 0 {
        return Err(ApiError::Conflict(STILL_BILLED.into()));
    }
    // Expenses let go of the client (their key sets null); invoices' and quotes' keys refuse.
    client::Entity::delete_by_id(id).exec(&*change).await?;
    let view = ClientView::from(existing);
    change.record(EventType::ClientDeleted, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}
