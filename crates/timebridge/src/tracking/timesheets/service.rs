//! Rules and queries for timesheet periods. A period of another workspace is indistinguishable
//! from one that does not exist; a member touching a colleague's period is refused (403).

use ::time::{Date, Duration};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::{
    PeriodStatus, PeriodType, TimesheetPeriodView,
    entity::{self as period},
    worked,
};
use crate::{
    directory::service as directory,
    platform::{
        acting::Acting,
        changes::WorkspaceChange,
        constraints::{self, UniqueKey},
        db::{Db, count as count_rows},
        error::{ApiError, FieldErrors},
        outbox::EventType,
        pagination::PageRequest,
        time,
        validate::{optional_text, required_text},
    },
};

/// Filters of the period list. `user_id` is the user whose periods are shown (already
/// resolved against what the caller may see); `None` is everyone's.
#[derive(Debug, Default)]
pub struct PeriodFilter {
    pub user_id: Option<Uuid>,
    pub status: Option<PeriodStatus>,
    /// Periods overlapping `[start_date, end_date]`; either bound may be open.
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
}

/// Which period to open.
#[derive(Default)]
pub struct PeriodRequest {
    /// A day of the period; default today (UTC).
    pub reference_date: Option<Date>,
    pub period_type: Option<PeriodType>,
    /// Whose period (admins); default the caller.
    pub user_id: Option<Uuid>,
}

/// The Monday and Sunday of the week containing `date`.
pub fn week_of(date: Date) -> Option<(Date, Date)> {
    let monday = date.checked_sub(Duration::days(
        date.weekday().number_days_from_monday().into(),
    ))?;
    Some((monday, monday.checked_add(Duration::days(6))?))
}

async fn view<C: ConnectionTrait>(
    db: &C,
    p: period::Model,
) -> Result<TimesheetPeriodView, ApiError> {
    let seconds = worked::seconds(db, &p).await?;
    Ok(TimesheetPeriodView::new(p, seconds))
}

/// One page of periods, latest first, each with the hours worked in it.
pub async fn list(
    db: &Db,
    acting: &Acting,
    filter: &PeriodFilter,
    page: PageRequest,
) -> Result<(Vec<TimesheetPeriodView>, u64), ApiError> {
    if let (Some(start), Some(end)) = (filter.start_date, filter.end_date)
        && end < start
    {
        return Err(ApiError::invalid(
            "end_date",
            "must not be before start_date",
        ));
    }
    let mut cond = Condition::all().add(period::Column::WorkspaceId.eq(acting.workspace_id));
    if let Some(user) = filter.user_id {
        cond = cond.add(period::Column::UserId.eq(user));
    }
    if let Some(status) = filter.status {
        cond = cond.add(period::Column::Status.eq(status));
    }
    if let Some(start) = filter.start_date {
        cond = cond.add(period::Column::PeriodEnd.gte(start));
    }
    if let Some(end) = filter.end_date {
        cond = cond.add(period::Column::PeriodStart.lte(end));
    }
    let total = count_rows(period::Entity::find().filter(cond.clone()), db.conn()).await?;
    let rows = period::Entity::find()
        .filter(cond)
        .order_by_desc(period::Column::PeriodStart)
        .order_by_desc(period::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db.conn())
        .await?;
    let seconds = worked::seconds_each(db.conn(), &rows).await?;
    let views = rows
        .into_iter()
        .map(|p| {
            let worked = seconds.get(&p.id).copied().unwrap_or(0);
            TimesheetPeriodView::new(p, worked)
        })
        .collect();
    Ok((views, total))
}

/// Whose period the caller may open: their own, or (admins) a member's of the workspace.
async fn owner(db: &Db, acting: &Acting, asked: Option<Uuid>) -> Result<Uuid, ApiError> {
    match asked {
        None => Ok(acting.user_id),
        Some(user) if user == acting.user_id => Ok(user),
        Some(_) if !acting.is_admin => Err(ApiError::Forbidden(
            "Only admins can open periods for other users".into(),
        )),
        Some(user) => match directory::member(db.conn(), acting.workspace_id, user).await? {
            Some(_) => Ok(user),
            None => Err(ApiError::invalid(
                "user_id",
                "is not a member of this workspace",
            )),
        },
    }
}

async fn find_by_start<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    user: Uuid,
    period_type: PeriodType,
    start: Date,
) -> Result<Option<period::Model>, ApiError> {
    Ok(period::Entity::find()
        .filter(period::Column::WorkspaceId.eq(acting.workspace_id))
        .filter(period::Column::UserId.eq(user))
        .filter(period::Column::PeriodType.eq(period_type))
        .filter(period::Column::PeriodStart.eq(start))
        .one(db)
        .await?)
}

/// One period per user, type and start in a workspace.
pub const PERIOD_KEY: UniqueKey = UniqueKey::new(
    "ux_timesheet_periods_workspace_user_type_start",
    "timesheet_periods",
    &["workspace_id", "user_id", "period_type", "period_start"],
);

/// The period containing the reference date, created as a draft when it does not exist yet.
/// Answers whether it was created.
pub async fn open(
    db: &Db,
    acting: &Acting,
    request: PeriodRequest,
) -> Result<(TimesheetPeriodView, bool), ApiError> {
    let user = owner(db, acting, request.user_id).await?;
    let period_type = request.period_type.unwrap_or_default();
    let reference = request.reference_date.unwrap_or_else(|| time::now().date());
    let (start, end) =
        week_of(reference).ok_or_else(|| ApiError::invalid("reference_date", "is out of range"))?;
    if let Some(existing) = find_by_start(db.conn(), acting, user, period_type, start).await? {
        return Ok((view(db.conn(), existing).await?, false));
    }

    let now = time::now();
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let inserted = period::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acting.workspace_id),
        user_id: Set(user),
        period_type: Set(period_type),
        period_start: Set(start),
        period_end: Set(end),
        status: Set(PeriodStatus::Draft),
        submitted_at: Set(None),
        submitted_by: Set(None),
        approved_at: Set(None),
        approved_by: Set(None),
        approval_comment: Set(None),
        rejected_at: Set(None),
        rejected_by: Set(None),
        rejection_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*change)
    .await;
    let inserted = match inserted {
        Ok(inserted) => inserted,
        // A concurrent request opened it first: answer that one.
        Err(e) if constraints::violated(&e, &PERIOD_KEY) => {
            drop(change);
            let existing = find_by_start(db.conn(), acting, user, period_type, start)
                .await?
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("period vanished: {e}")))?;
            return Ok((view(db.conn(), existing).await?, false));
        }
        Err(e) => return Err(e.into()),
    };
    let view = view(&*change, inserted).await?;
    change.record(EventType::TimesheetPeriodCreated, view.id, &view)?;
    change.commit().await?;
    Ok((view, true))
}

async fn find<C: ConnectionTrait>(
    db: &C,
    acting: &Acting,
    id: Uuid,
) -> Result<period::Model, ApiError> {
    period::Entity::find_by_id(id)
        .filter(period::Column::WorkspaceId.eq(acting.workspace_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Timesheet period"))
}

fn admins_only(acting: &Acting) -> Result<(), ApiError> {
    if acting.is_admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "Only admins can approve or reject timesheet periods".into(),
        ))
    }
}

/// The acting user as recorded on a decision (Timebridge itself is no one).
fn by(acting: &Acting) -> Option<Uuid> {
    Some(acting.user_id).filter(|u| !u.is_nil())
}

/// Saves a status change and records its event in one change.
async fn save(
    mut change: WorkspaceChange,
    active: period::ActiveModel,
    event: EventType,
) -> Result<TimesheetPeriodView, ApiError> {
    let updated = active.update(&*change).await?;
    let view = view(&*change, updated).await?;
    change.record(event, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Submits the caller's own draft or rejected period for approval. Refused while the owner
/// has a timer running in it.
pub async fn submit(db: &Db, acting: &Acting, id: Uuid) -> Result<TimesheetPeriodView, ApiError> {
    let change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting, id).await?;
    if existing.user_id != acting.user_id {
        return Err(ApiError::Forbidden(
            "You can only submit your own period".into(),
        ));
    }
    if !existing.status.is_editable() {
        return Err(ApiError::Conflict(
            "Only draft or rejected periods can be submitted".into(),
        ));
    }
    if worked::has_running_timer(&*change, &existing).await? {
        return Err(ApiError::Conflict(
            "Stop active timers in this period before submitting".into(),
        ));
    }
    let now = time::now();
    let mut active: period::ActiveModel = existing.into();
    active.status = Set(PeriodStatus::Submitted);
    active.submitted_at = Set(Some(now));
    active.submitted_by = Set(by(acting));
    active.updated_at = Set(now);
    save(change, active, EventType::ApprovalRequested).await
}

/// Approves a submitted period (admins only).
pub async fn approve(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    comment: Option<String>,
) -> Result<TimesheetPeriodView, ApiError> {
    admins_only(acting)?;
    let mut errors = FieldErrors::new();
    let comment = optional_text(&mut errors, "comment", comment, 2000);
    errors.into_result()?;
    let change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting, id).await?;
    if existing.status != PeriodStatus::Submitted {
        return Err(ApiError::Conflict(
            "Only submitted periods can be approved".into(),
        ));
    }
    let now = time::now();
    let mut active: period::ActiveModel = existing.into();
    active.status = Set(PeriodStatus::Approved);
    active.approved_at = Set(Some(now));
    active.approved_by = Set(by(acting));
    active.approval_comment = Set(comment);
    active.updated_at = Set(now);
    save(change, active, EventType::ApprovalStatusUpdated).await
}

/// Rejects a submitted period with a reason (admins only); its owner may resubmit it.
pub async fn reject(
    db: &Db,
    acting: &Acting,
    id: Uuid,
    reason: Option<String>,
) -> Result<TimesheetPeriodView, ApiError> {
    admins_only(acting)?;
    let mut errors = FieldErrors::new();
    let reason = required_text(&mut errors, "reason", reason.as_deref().unwrap_or(""), 2000);
    errors.into_result()?;
    let change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting, id).await?;
    if existing.status != PeriodStatus::Submitted {
        return Err(ApiError::Conflict(
            "Only submitted periods can be rejected".into(),
        ));
    }
    let now = time::now();
    let mut active: period::ActiveModel = existing.into();
    active.status = Set(PeriodStatus::Rejected);
    active.rejected_at = Set(Some(now));
    active.rejected_by = Set(by(acting));
    active.rejection_reason = Set(Some(reason));
    active.updated_at = Set(now);
    save(change, active, EventType::ApprovalStatusUpdated).await
}

/// Deletes a draft or rejected period (its owner or an admin).
pub async fn delete(db: &Db, acting: &Acting, id: Uuid) -> Result<TimesheetPeriodView, ApiError> {
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = find(&*change, acting, id).await?;
    if !acting.may_access(existing.user_id) {
        return Err(ApiError::Forbidden(
            "Only the period owner or an admin can delete it".into(),
        ));
    }
    if !existing.status.is_editable() {
        return Err(ApiError::Conflict(
            "Only draft or rejected periods can be deleted".into(),
        ));
    }
    let view = view(&*change, existing).await?;
    period::Entity::delete_by_id(id).exec(&*change).await?;
    change.record(EventType::TimesheetPeriodDeleted, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use ::time::macros::date;

    use super::week_of;

    #[test]
    fn a_week_runs_from_monday_to_sunday() {
        let week = Some((date!(2027 - 03 - 01), date!(2027 - 03 - 07)));
        assert_eq!(week_of(date!(2027 - 03 - 01)), week);
        assert_eq!(week_of(date!(2027 - 03 - 03)), week);
        assert_eq!(week_of(date!(2027 - 03 - 07)), week);
        // Across a year's end.
        assert_eq!(
            week_of(date!(2027 - 01 - 01)),
            Some((date!(2026 - 12 - 28), date!(2027 - 01 - 03)))
        );
    }
}
