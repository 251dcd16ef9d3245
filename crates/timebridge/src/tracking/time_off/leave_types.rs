//! Rules and queries for leave types. Admins keep them; everyone with `read:reports` reads
//! them. A leave type that requests refer to cannot be deleted.

use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::{
    LeaveTypeView,
    entity::{leave_type, request},
    hours, require_admin,
};
use crate::platform::{
    acting::Acting,
    changes::WorkspaceChange,
    db::{Db, count as count_rows},
    error::{ApiError, FieldErrors},
    outbox::EventType,
    pagination::PageRequest,
    time,
    validate::required_text,
};

/// Fields of a new leave type.
pub struct NewLeaveType {
    pub name: String,
    pub code: String,
    /// Default `true`.
    pub is_paid: Option<bool>,
    pub annual_allowance_hours: Option<Decimal>,
    pub accrual_hours_per_month: Option<Decimal>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

/// One page of the workspace's leave types, by name; only enabled ones when `enabled_only`.
pub async fn list(
    db: &Db,
    acting: &Acting,
    enabled_only: bool,
    page: PageRequest,
) -> Result<(Vec<LeaveTypeView>, u64), ApiError> {
    let mut cond = Condition::all().add(leave_type::Column::WorkspaceId.eq(acting.workspace_id));
    if enabled_only {
        cond = cond.add(leave_type::Column::Enabled.eq(true));
    }
    let total = count_rows(leave_type::Entity::find().filter(cond.clone()), db.conn()).await?;
    let rows = leave_type::Entity::find()
        .filter(cond)
        .order_by_asc(leave_type::Column::Name)
        .order_by_asc(leave_type::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db.conn())
        .await?;
    Ok((rows.into_iter().map(LeaveTypeView::from).collect(), total))
}

/// The leave type, when it exists in the workspace.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<leave_type::Model>, ApiError> {
    Ok(leave_type::Entity::find_by_id(id)
        .filter(leave_type::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?)
}

/// Creates a leave type (admins only). Codes are trimmed, lower-cased and unique.
pub async fn create(
    db: &Db,
    acting: &Acting,
    new: NewLeaveType,
) -> Result<LeaveTypeView, ApiError> {
    require_admin(acting, "manage leave types")?;
    let mut errors = FieldErrors::new();
    let name = required_text(&mut errors, "name", &new.name, 200);
    let code = required_text(&mut errors, "code", &new.code, 64).to_lowercase();
    let allowance = hours::check(
        "annual_allowance_hours",
        new.annual_allowance_hours,
        &mut errors,
    );
    let accrual = hours::check(
        "accrual_hours_per_month",
        new.accrual_hours_per_month,
        &mut errors,
    );
    errors.into_result()?;

    let now = time::now();
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let inserted = leave_type::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acting.workspace_id),
        name: Set(name),
        code: Set(code),
        is_paid: Set(new.is_paid.unwrap_or(true)),
        annual_allowance_hundredths: Set(allowance),
        accrual_hundredths_per_month: Set(accrual),
        enabled: Set(new.enabled.unwrap_or(true)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*change)
    .await?;
    let view = LeaveTypeView::from(inserted);
    change.record(EventType::LeaveTypeCreated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// A leave type time-off requests refer to cannot be deleted.
pub const IN_USE: &str = "Cannot delete a leave type that has time-off requests";

/// Deletes a leave type (admins only) that no time-off request refers to.
pub async fn delete(db: &Db, acting: &Acting, id: Uuid) -> Result<LeaveTypeView, ApiError> {
    require_admin(acting, "manage leave types")?;
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("Leave type"))?;
    let requests = request::Entity::find()
        .filter(request::Column::LeaveTypeId.eq(id))
        .count(&*change)
        .await?;
    if requests > 0 {
        return Err(ApiError::Conflict(IN_USE.into()));
    }
    leave_type::Entity::delete_by_id(id).exec(&*change).await?;
    let view = LeaveTypeView::from(existing);
    change.record(EventType::LeaveTypeDeleted, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}
