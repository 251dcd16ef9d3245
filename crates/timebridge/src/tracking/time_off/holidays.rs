//! Rules and queries for company holidays. Admins keep them; everyone with `read:reports`
//! reads them.

use ::time::Date;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use uuid::Uuid;

use super::{HolidayView, check_range, entity::holiday, require_admin};
use crate::platform::{
    acting::Acting,
    changes::WorkspaceChange,
    db::{Db, count as count_rows},
    error::{ApiError, FieldErrors},
    outbox::EventType,
    pagination::PageRequest,
    time,
    validate::{optional_text, required_text},
};

/// Which holidays a list shows: those overlapping `[start_date, end_date]` (either bound may
/// be open).
#[derive(Debug, Default)]
pub struct HolidayFilter {
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
}

/// Fields of a new holiday.
pub struct NewHoliday {
    pub name: String,
    pub start_date: Date,
    pub end_date: Date,
    pub region: Option<String>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

/// One page of the workspace's holidays overlapping the filter's range, by start date.
pub async fn list(
    db: &Db,
    acting: &Acting,
    filter: &HolidayFilter,
    page: PageRequest,
) -> Result<(Vec<HolidayView>, u64), ApiError> {
    if let (Some(start), Some(end)) = (filter.start_date, filter.end_date) {
        let mut errors = FieldErrors::new();
        check_range(&mut errors, "end_date", start, end);
        errors.into_result()?;
    }
    let mut cond = Condition::all().add(holiday::Column::WorkspaceId.eq(acting.workspace_id));
    if let Some(start) = filter.start_date {
        cond = cond.add(holiday::Column::EndDate.gte(start));
    }
    if let Some(end) = filter.end_date {
        cond = cond.add(holiday::Column::StartDate.lte(end));
    }
    let total = count_rows(holiday::Entity::find().filter(cond.clone()), db.conn()).await?;
    let rows = holiday::Entity::find()
        .filter(cond)
        .order_by_asc(holiday::Column::StartDate)
        .order_by_asc(holiday::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db.conn())
        .await?;
    Ok((rows.into_iter().map(HolidayView::from).collect(), total))
}

/// Creates a holiday (admins only).
pub async fn create(db: &Db, acting: &Acting, new: NewHoliday) -> Result<HolidayView, ApiError> {
    require_admin(acting, "manage holidays")?;
    let mut errors = FieldErrors::new();
    let name = required_text(&mut errors, "name", &new.name, 200);
    let region = optional_text(&mut errors, "region", new.region, 64);
    check_range(&mut errors, "end_date", new.start_date, new.end_date);
    errors.into_result()?;

    let now = time::now();
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let inserted = holiday::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acting.workspace_id),
        name: Set(name),
        start_date: Set(new.start_date),
        end_date: Set(new.end_date),
        region: Set(region),
        enabled: Set(new.enabled.unwrap_or(true)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*change)
    .await?;
    let view = HolidayView::from(inserted);
    change.record(EventType::HolidayCreated, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}

/// Deletes a holiday (admins only).
pub async fn delete(db: &Db, acting: &Acting, id: Uuid) -> Result<HolidayView, ApiError> {
    require_admin(acting, "manage holidays")?;
    let mut change = WorkspaceChange::begin(db, acting.workspace_id, acting.actor.clone()).await?;
    let existing = holiday::Entity::find_by_id(id)
        .filter(holiday::Column::WorkspaceId.eq(acting.workspace_id))
        .one(&*change)
        .await?
        .ok_or(ApiError::NotFound("Holiday"))?;
    holiday::Entity::delete_by_id(id).exec(&*change).await?;
    let view = HolidayView::from(existing);
    change.record(EventType::HolidayDeleted, view.id, &view)?;
    change.commit().await?;
    Ok(view)
}
