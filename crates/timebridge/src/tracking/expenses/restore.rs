//! Deleted expenses and `POST /api/v1/expenses/{id}/restore`. Deleting an expense moves a copy
//! of it to the platform's kept records in the same change, so it vanishes from every list at
//! once; for `DELETED_RETENTION_DAYS` it can be put back with its id, amount, dates and status.
//! A project or client deleted since is left out of the restored expense.

use axum::{extract::State, http::StatusCode};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ExpenseView,
    entity::{self as expense, ExpenseCategory, ExpenseStatus},
    routes::ExpenseChanged,
    service,
};
use crate::{
    app::AppState,
    directory::entity::membership,
    platform::{
        acting::Acting,
        auth::Caller,
        changes::WorkspaceChange,
        db::Db,
        error::{ApiError, ErrorBody},
        extract::{Json, Path},
        outbox::EventType,
        time::{self as clock, iso_date},
        trash::{self, Kept},
    },
    tracking::{clients::entity as client, projects::entity as project},
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(restore_expense))
}

/// The kind of the kept copies.
const RESOURCE: &str = "expense";

/// What is kept of a deleted expense: everything needed to put it back.
#[derive(Serialize, Deserialize)]
struct DeletedExpense {
    user_id: Uuid,
    project_id: Option<Uuid>,
    client_id: Option<Uuid>,
    title: String,
    description: Option<String>,
    category: ExpenseCategory,
    amount_cents: i64,
    currency: String,
    #[serde(with = "iso_date")]
    expense_date: Date,
    billable: bool,
    reimbursable: bool,
    status: ExpenseStatus,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl DeletedExpense {
    /// The expense back, with the project and client it keeps.
    fn into_expense(
        self,
        id: Uuid,
        workspace_id: Uuid,
        project_id: Option<Uuid>,
        client_id: Option<Uuid>,
    ) -> expense::ActiveModel {
        expense::ActiveModel {
            id: Set(id),
            workspace_id: Set(workspace_id),
            user_id: Set(self.user_id),
            project_id: Set(project_id),
            client_id: Set(client_id),
            title: Set(self.title),
            description: Set(self.description),
            category: Set(self.category),
            amount_cents: Set(self.amount_cents),
            currency: Set(self.currency),
            expense_date: Set(self.expense_date),
            billable: Set(self.billable),
            reimbursable: Set(self.reimbursable),
            status: Set(self.status),
            created_at: Set(self.created_at),
            updated_at: Set(clock::now()),
        }
    }
}

/// Keeps a copy of an expense being deleted in `change`, so it can be restored.
pub async fn keep_deleted(change: &WorkspaceChange, deleted: &expense::Model) -> Result<(), DbErr> {
    let record = Kept {
        id: deleted.id,
        owner_id: Some(deleted.user_id),
        data: DeletedExpense {
            user_id: deleted.user_id,
            project_id: deleted.project_id,
            client_id: deleted.client_id,
            title: deleted.title.clone(),
            description: deleted.description.clone(),
            category: deleted.category,
            amount_cents: deleted.amount_cents,
            currency: deleted.currency.clone(),
            expense_date: deleted.expense_date,
            billable: deleted.billable,
            reimbursable: deleted.reimbursable,
            status: deleted.status,
            created_at: deleted.created_at,
        },
    };
    trash::keep(
        &**change,
        deleted.workspace_id,
        RESOURCE,
        vec![record],
        clock::now(),
    )
    .await
}

/// Purges deleted expenses past the window; returns how many.
pub async fn purge(db: &Db, window_days: u32) -> Result<u64, DbErr> {
    let before = clock::now() - time::Duration::days(i64::from(window_days));
    trash::purge(db.conn(), RESOURCE, before).await
}

fn not_restorable(window_days: u32) -> ApiError {
    ApiError::coded(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "No expense with this id was deleted in the last {window_days} days (deleted \
             expenses can be restored for {window_days} days)"
        ),
    )
}

/// Puts a deleted expense back (`expense.restored`), within `window_days` of its deletion.
pub async fn restore(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    window_days: u32,
) -> Result<ExpenseView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let live = expense::Entity::find_by_id(id)
        .filter(expense::Column::WorkspaceId.eq(acting.workspace_id))
        .one(&*change)
        .await?;
    if live.is_some() {
        service::find(&*change, acting, id).await?;
        return Err(ApiError::Conflict(
            "The expense is not deleted: there is nothing to restore".into(),
        ));
    }
    let kept = trash::find::<_, DeletedExpense>(&*change, acting.workspace_id, RESOURCE, id)
        .await?
        .ok_or_else(|| not_restorable(window_days))?;
    let deleted = kept.data;
    if !acting.may_access(deleted.user_id) {
        return Err(ApiError::Forbidden("Access denied".into()));
    }
    if kept.deleted_at < clock::now() - time::Duration::days(i64::from(window_days)) {
        return Err(not_restorable(window_days));
    }
    let ws = acting.workspace_id;
    if !is_member(&*change, ws, deleted.user_id).await? {
        return Err(ApiError::Conflict(
            "The expense's user is no longer a member of this workspace".into(),
        ));
    }
    let project_id = match deleted.project_id {
        Some(id) if project_exists(&*change, ws, id).await? => Some(id),
        _ => None,
    };
    let client_id = match deleted.client_id {
        Some(id) if client_exists(&*change, ws, id).await? => Some(id),
        _ => None,
    };
    let model = deleted
        .into_expense(id, ws, project_id, client_id)
        .insert(&*change)
        .await?;
    trash::forget(&*change, id).await?;
    let view = ExpenseView::from(model);
    change.record(EventType::ExpenseRestored, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

async fn is_member<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<bool, DbErr> {
    let found = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(db)
        .await?;
    Ok(found.is_some())
}

async fn project_exists<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<bool, DbErr> {
    let found = project::Entity::find_by_id(id)
        .filter(project::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?;
    Ok(found.is_some())
}

async fn client_exists<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<bool, DbErr> {
    let found = client::Entity::find_by_id(id)
        .filter(client::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// Restore a deleted expense (within `DELETED_RETENTION_DAYS` of its deletion) with its id,
/// amount, dates and status; a project or client deleted since is left out.
#[utoipa::path(
    post, path = "/api/v1/expenses/{id}/restore", tag = "expenses",
    params(("id" = Uuid, Path, description = "The deleted expense's id")),
    security(("api_token" = ["write:expenses"])),
    responses(
        (status = 200, description = "The expense, back in lists", body = ExpenseChanged),
        (status = 403, description = "Another member's expense", body = ErrorBody),
        (status = 404, description = "No expense with this id was deleted within the retention window", body = ErrorBody),
        (status = 409, description = "The expense is not deleted, or its user left the workspace", body = ErrorBody),
    )
)]
async fn restore_expense(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<ExpenseChanged>, ApiError> {
    let window = app.config.deleted_retention_days;
    let expense = restore(&app.db, &caller.acting(), id, window).await?;
    Ok(Json(ExpenseChanged {
        message: "Expense restored successfully".into(),
        expense,
    }))
}
