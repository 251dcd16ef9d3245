//! Rules and queries for time-off requests: members file their own, admins decide on them.
//! A request of another workspace is indistinguishable from one that does not exist; a
//! member touching a colleague's request is refused (403).

use std::collections::HashMap;

use ::time::Date;
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::{
    TimeOffRequestView, TimeOffStatus, check_range,
    entity::{leave_type, request},
    hours, leave_types, require_admin,
};
use crate::platform::{
    acting::Acting,
    changes::WorkspaceChange,
    db::{Db, count as count_rows},
    error::{ApiError, FieldErrors},
    outbox::EventType,
    pagination::PageRequest,
    time,
    validate::optional_text,
};

/// Filters of the request list. `user_id` is the user whose requests are shown (already
/// resolved against what the caller may see); `None` is everyone's.
#[derive(Debug, Default)]
pub struct RequestFilter {
    pub user_id: Option<Uuid>,
    pub status: Option<TimeOffStatus>,
    /// Requests overlapping `[start_date, end_date]`; either bound may be open.
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
}

/// Fields of a new request; it is always the caller's own.
pub struct NewRequest {
    pub leave_type_id: Uuid,
    pub start_date: Date,
    pub end_date: Date,
    pub start_half_day: Option<bool>,
    pub end_half_day: Option<bool>,
    pub requested_hours: Option<Decimal>,
    pub comment: Option<String>,
    /// Default `true`: submitted for approval at once; `false` keeps a draft.
    pub submit: Option<bool>,
}

/// An approver's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// The names of these leave types.
async fn leave_type_names<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, ApiError> {
    let rows: Vec<(Uuid, String)> = leave_type::Entity::find()
        .filter(leave_type::Column::Id.is_in(ids))
        .select_only()
        .column(leave_type::Column::Id)
        .column(leave_type::Column::Name)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

async fn view<C: ConnectionTrait>(
    db: &C,
    model: request::Model,
) -> Result<TimeOffRequestView, ApiError> {
    let mut names = leave_type_names(db, [model.leave_type_id]).await?;
    let name = names.remove(&model.leave_type_id).unwrap_or_default();
    Ok(TimeOffRequestView::new(model, name))
}

/// One page of requests, latest start first.
pub async fn list(
    db: &Db,
    acting: &Acting,
    filter: &RequestFilter,
    page: PageRequest,
) -> Result<(Vec<TimeOffRequestView>, u64), ApiError> {
    if let (Some(start), Some(end)) = (filter.start_date, filter.end_date) {
        let mut errors = FieldErrors::new();
        check_range(&mut errors, "end_date", start, end);
        errors.into_result()?;
    }
    let mut cond = Condition::all().add(request::Column::WorkspaceId.eq(acting.workspace_id));
    if let Some(user) = filter.user_id {
        cond = cond.add(request::Column::UserId.eq(user));
    }
    if let Some(status) = filter.status {
        cond = cond.add(request::Column::Status.eq(status));
    }
    if let Some(start) = filter.start_date {
        cond = cond.add(request::Column::EndDate.gte(start));
    }
    if let Some(end) = filter.end_date {
        cond = cond.add(request::Column::StartDate.lte(end));
    }
    let total = count_rows(request::Entity::find().filter(cond.clone()), db.conn()).await?;
    let rows = request::Entity::find()
        .filter(cond)
        .order_by_desc(request::Column::StartDate)
        .order_by_desc(request::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db.conn())
        .await?;
    let names = leave_type_names(db.conn(), rows.iter().map(|r| r.leave_type_id)).await?;
    let views = rows
        .into_iter()
        .map(|r| {
            let name = names.get(&r.leave_type_id).cloned().unwrap_or_default();
            TimeOffRequestView::new(r, name)
        })
        .collect();
    Ok((views, total))
}

/// A request names a leave type that is not one of the workspace's enabled ones.
pub const NOT_A_LEAVE_TYPE: &str = "is not an enabled leave type of this workspace";

/// Files a request for the caller against an enabled leave type of the workspace.
pub async fn create(
    db: &Db,
    acting: &Acting,
    new: NewRequest,
) -> Result<TimeOffRequestView, ApiError> {
    let mut errors = FieldErrors::new();
    check_range(&mut errors, "end_date", new.start_date, new.end_date);
    let requested = hours::check("requested_hours", new.requested_hours, &mut errors);
    let comment = optional_text(&mut errors, "comment", new.comment, 2000);
    // Looked up inside the change, so the type cannot be deleted before the request is in.
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let leave_type = leave_types::find(&*change, acting.workspace_id, new.leave_type_id)
        .await?
        .filter(|t| t.enabled);
    if leave_type.is_none() {
        errors.add("leave_type_id", NOT_A_LEAVE_TYPE);
    }
    errors.into_result()?;
    let leave_type_name = leave_type.map(|t| t.name).unwrap_or_default();

    let now = time::now();
    let (status, submitted_at) = match new.submit.unwrap_or(true) {
        true => (TimeOffStatus::Submitted, Some(now)),
        false => (TimeOffStatus::Draft, None),
    };
    let inserted = request::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acting.workspace_id),
        user_id: Set(acting.user_id),
        leave_type_id: Set(new.leave_type_id),
        start_date: Set(new.start_date),
        end_date: Set(new.end_date),
        start_half_day: Set(new.start_half_day.unwrap_or(false)),
        end_half_day: Set(new.end_half_day.unwrap_or(false)),
        requested_hundredths: Set(requested),
        status: Set(status),
        requested_comment: Set(comment),
        review_comment: Set(None),
        submitted_at: Set(submitted_at),
        reviewed_at: Set(None),
        reviewed_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*change)
    .await?;
    let view = TimeOffRequestView::new(inserted, leave_type_name);
    change.record(EventType::TimeOffRequestCreated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

async fn find<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<request::Model, ApiError> {
    request::Entity::find_by_id(id)
        .filter(request::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Time-off request"))
}

/// Approves or rejects a request that is still open (admins only).
pub async fn decide(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    decision: Decision,
    comment: Option<String>,
) -> Result<TimeOffRequestView, ApiError> {
    require_admin(acting, "approve or reject time-off requests")?;
    let mut errors = FieldErrors::new();
    let comment = optional_text(&mut errors, "comment", comment, 2000);
    errors.into_result()?;

    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id).await?;
    if !existing.status.is_open() {
        return Err(ApiError::Conflict(
            "Request has already been processed".into(),
        ));
    }
    let now = time::now();
    let mut active: request::ActiveModel = existing.into();
    active.status = Set(match decision {
        Decision::Approve => TimeOffStatus::Approved,
        Decision::Reject => TimeOffStatus::Rejected,
    });
    active.review_comment = Set(comment);
    active.reviewed_at = Set(Some(now));
    // Timebridge itself (no user) may decide too; it is recorded as no one.
    active.reviewed_by = Set(Some(acting.user_id).filter(|u| !u.is_nil()));
    active.updated_at = Set(now);
    let updated = active.update(&*change).await?;
    let view = view(&*change, updated).await?;
    change.record(EventType::TimeOffRequestUpdated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Deletes a request of the caller's (an admin: anyone's) that has not been decided yet.
pub async fn delete(db: &Db, acting: &Acting, id: Uuid) -> Result<TimeOffRequestView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting.workspace_id, id).await?;
    if !acting.may_access(existing.user_id) {
        return Err(ApiError::Forbidden(
            "Only the request owner or an admin can delete it".into(),
        ));
    }
    if !existing.status.is_deletable() {
        return Err(ApiError::Conflict(
            "Only draft, submitted, or cancelled requests can be deleted".into(),
        ));
    }
    request::Entity::delete_by_id(id).exec(&*change).await?;
    let view = view(&*change, existing).await?;
    change.record(EventType::TimeOffRequestDeleted, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}
