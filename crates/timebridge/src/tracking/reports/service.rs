//! The summary report: two grouped queries over the range's finished entries — by (project,
//! user, billable) and by (day, billable) — so the work is the database's, however many
//! entries the range holds. Names and rates are loaded for the groups found. Every breakdown
//! shares out the totals' hundredths of an hour ([`apportion`]), so its rows add up to them.

use std::collections::{BTreeMap, HashMap};

use ::time::{Date, Duration, OffsetDateTime, Time};
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QuerySelect, sea_query::Expr,
};
use uuid::Uuid;

use super::{DaySummary, NO_PROJECT, ProjectSummary, Summary, UserSummary};
use crate::{
    directory::entity::user,
    platform::{
        acting::Acting,
        db::Db,
        error::{ApiError, FieldErrors},
        money,
        time::{self, parse_bound, parse_date},
    },
    tracking::{
        clients::entity as client,
        invoices::lines::{amount_cents, hours_2dp, hundredths_of_hours},
        projects::entity as project,
        time_entries::entity as time_entry,
    },
};

/// Days a summary covers when no start is given (ending with the end's day).
const DEFAULT_DAYS: i64 = 30;

/// The query of `GET /reports/summary`, as sent.
#[derive(Debug, Default)]
pub struct SummaryParams {
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub project_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
}

/// What a summary covers, checked: the range, and whose time (`None`: everyone's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryRange {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub project_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
}

fn present(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

fn bound(errors: &mut FieldErrors, field: &str, text: &str, end: bool) -> Option<OffsetDateTime> {
    parse_bound(text, end)
        .map_err(|m| errors.add(field, m))
        .ok()
}

/// Checks the query. By default the range is the 30 days (UTC) ending today, whole days; a
/// date bound covers its whole day. Members may ask only for their own time (403).
pub fn resolve(acting: &Acting, params: SummaryParams) -> Result<SummaryRange, ApiError> {
    let mut errors = FieldErrors::new();
    let end_given = params
        .end_date
        .as_deref()
        .is_some_and(|e| !e.trim().is_empty());
    let end = match present(params.end_date) {
        Some(text) => bound(&mut errors, "end_date", &text, true),
        None => Some(end_of(time::now().date())),
    };
    let start = match present(params.start_date) {
        Some(text) => bound(&mut errors, "start_date", &text, false),
        None => end.map(|end| midnight(end.date() - Duration::days(DEFAULT_DAYS - 1))),
    };
    errors.into_result()?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(ApiError::invalid("start_date", "is invalid"));
    };
    if start > end {
        return Err(ApiError::invalid(
            "start_date",
            if end_given {
                "must not be after end_date"
            } else {
                "must not be after today (the end of the range when end_date is left out)"
            },
        ));
    }
    Ok(SummaryRange {
        start,
        end,
        project_id: params.project_id,
        user_id: acting.visible_user(params.user_id)?,
    })
}

fn midnight(day: Date) -> OffsetDateTime {
    day.with_time(Time::MIDNIGHT).assume_utc()
}

fn end_of(day: Date) -> OffsetDateTime {
    midnight(day) + Duration::DAY - Duration::SECOND
}

/// The entries a summary counts: finished, started within the range, of the asked user and
/// project.
fn counted(workspace_id: Uuid, range: &SummaryRange) -> Condition {
    let mut cond = Condition::all()
        .add(time_entry::Column::WorkspaceId.eq(workspace_id))
        .add(time_entry::Column::EndTime.is_not_null())
        .add(time_entry::Column::StartTime.gte(range.start))
        .add(time_entry::Column::StartTime.lte(range.end));
    if let Some(user_id) = range.user_id {
        cond = cond.add(time_entry::Column::UserId.eq(user_id));
    }
    if let Some(project_id) = range.project_id {
        cond = cond.add(time_entry::Column::ProjectId.eq(project_id));
    }
    cond
}

const SECONDS: &str = "CAST(SUM(duration_seconds) AS BIGINT)";

/// One group of entries: same project, user and billable flag.
struct Group {
    project_id: Option<Uuid>,
    user_id: Uuid,
    billable: bool,
    entries: i64,
    seconds: i64,
}

/// `(project_id, user_id, billable, entries, seconds)` as the grouped query returns it.
type GroupRow = (Option<Uuid>, Uuid, bool, i64, Option<i64>);

async fn groups<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    range: &SummaryRange,
) -> Result<Vec<Group>, ApiError> {
    let rows: Vec<GroupRow> = time_entry::Entity::find()
        .select_only()
        .column(time_entry::Column::ProjectId)
        .column(time_entry::Column::UserId)
        .column(time_entry::Column::Billable)
        .column_as(Expr::cust("COUNT(*)"), "entries")
        .column_as(Expr::cust(SECONDS), "seconds")
        .filter(counted(workspace_id, range))
        .group_by(time_entry::Column::ProjectId)
        .group_by(time_entry::Column::UserId)
        .group_by(time_entry::Column::Billable)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(project_id, user_id, billable, entries, seconds)| Group {
            project_id,
            user_id,
            billable,
            entries,
            seconds: seconds.unwrap_or(0),
        })
        .collect())
}

/// The UTC day of `start_time`, as `YYYY-MM-DD` text: SQLite keeps RFC 3339 text in UTC,
/// PostgreSQL a `timestamptz`.
fn day_of_start(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::Postgres => "to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        _ => "substr(start_time, 1, 10)",
    }
}

async fn days<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    range: &SummaryRange,
) -> Result<Vec<DaySummary>, ApiError> {
    let day = day_of_start(db.get_database_backend());
    let rows: Vec<(String, bool, Option<i64>)> = time_entry::Entity::find()
        .select_only()
        .column_as(Expr::cust(day), "day")
        .column(time_entry::Column::Billable)
        .column_as(Expr::cust(SECONDS), "seconds")
        .filter(counted(workspace_id, range))
        .group_by(Expr::cust(day))
        .group_by(time_entry::Column::Billable)
        .into_tuple()
        .all(db)
        .await?;
    let mut by_day: BTreeMap<Date, Tally> = BTreeMap::new();
    for (text, billable, seconds) in rows {
        let date = parse_date(&text).map_err(|e| anyhow::anyhow!("day of an entry: {e}"))?;
        by_day
            .entry(date)
            .or_default()
            .add_seconds(seconds.unwrap_or(0), billable, 0);
    }
    let (dates, tallies): (Vec<Date>, Vec<Tally>) = by_day.into_iter().unzip();
    let shares = Shares::of(&tallies);
    Ok(dates
        .into_iter()
        .enumerate()
        .map(|(i, date)| DaySummary {
            date,
            hours: shares.hours(i),
            billable_hours: shares.billable_hours(i),
        })
        .collect())
}

/// Seconds, billable seconds and entries of a share.
#[derive(Clone, Copy, Default)]
struct Tally {
    seconds: i64,
    billable_seconds: i64,
    entries: i64,
}

impl Tally {
    fn add(&mut self, group: &Group) {
        self.add_seconds(group.seconds, group.billable, group.entries);
    }

    fn add_seconds(&mut self, seconds: i64, billable: bool, entries: i64) {
        self.seconds += seconds;
        self.entries += entries;
        if billable {
            self.billable_seconds += seconds;
        }
    }
}

/// Hundredths of an hour for each of `seconds`, adding up exactly to their sum rounded
/// half-up (what the summary's total shows). Each share is its exact value rounded down or up:
/// every share gets its whole hundredths, and the hundredths left go to the largest
/// remainders (ties: the larger share, then the earlier one). So a breakdown always adds up
/// to its total, and no row is off by more than 0.01 h from its own time.
fn apportion(seconds: &[i64]) -> Vec<i64> {
    const PER_HUNDREDTH: i128 = 36;
    let exact: Vec<i128> = seconds.iter().map(|s| i128::from((*s).max(0))).collect();
    let total = hundredths_of_hours(seconds.iter().map(|s| (*s).max(0)).sum());
    let mut shares: Vec<i64> = exact
        .iter()
        .map(|s| i64::try_from(s / PER_HUNDREDTH).unwrap_or(i64::MAX))
        .collect();
    let left = total - shares.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by(|&a, &b| {
        let remainder = |i: usize| exact[i] % PER_HUNDREDTH;
        remainder(b)
            .cmp(&remainder(a))
            .then(exact[b].cmp(&exact[a]))
            .then(a.cmp(&b))
    });
    for &i in order.iter().take(usize::try_from(left).unwrap_or(0)) {
        shares[i] += 1;
    }
    shares
}

/// The hours and billable hours of a breakdown's rows, apportioned (see [`apportion`]).
struct Shares {
    hours: Vec<i64>,
    billable: Vec<i64>,
}

impl Shares {
    fn of(rows: &[Tally]) -> Self {
        let seconds: Vec<i64> = rows.iter().map(|t| t.seconds).collect();
        let billable: Vec<i64> = rows.iter().map(|t| t.billable_seconds).collect();
        Self {
            hours: apportion(&seconds),
            billable: apportion(&billable),
        }
    }

    fn hours(&self, row: usize) -> Decimal {
        Decimal::new(self.hours[row], 2)
    }

    fn billable_hours(&self, row: usize) -> Decimal {
        Decimal::new(self.billable[row], 2)
    }
}

/// Computes the summary of a checked range.
pub async fn summary(db: &Db, acting: &Acting, range: &SummaryRange) -> Result<Summary, ApiError> {
    let groups = groups(db.conn(), acting.workspace_id, range).await?;
    let by_day = days(db.conn(), acting.workspace_id, range).await?;
    let mut total = Tally::default();
    let mut projects: HashMap<Option<Uuid>, Tally> = HashMap::new();
    let mut users: HashMap<Uuid, Tally> = HashMap::new();
    for group in &groups {
        total.add(group);
        users.entry(group.user_id).or_default().add(group);
        projects.entry(group.project_id).or_default().add(group);
    }
    let by_project = project_summaries(db, projects).await?;
    let by_user = user_summaries(db, users).await?;
    Ok(Summary {
        start_date: range.start,
        end_date: range.end,
        total_hours: hours_2dp(total.seconds),
        billable_hours: hours_2dp(total.billable_seconds),
        billable_amount: total_amount(&by_project),
        total_entries: total.entries.max(0) as u64,
        by_project,
        by_user,
        by_day,
    })
}

/// Σ of the projects' amounts, with two decimals even when there are none.
fn total_amount(projects: &[ProjectSummary]) -> Decimal {
    let mut total: Decimal = projects.iter().map(|p| p.billable_amount).sum();
    total.rescale(2);
    total
}

/// The projects' rows, by name, then the time without a project (when there is some).
async fn project_summaries(
    db: &Db,
    tallies: HashMap<Option<Uuid>, Tally>,
) -> Result<Vec<ProjectSummary>, ApiError> {
    let mut found = project::Entity::find()
        .filter(project::Column::Id.is_in(tallies.keys().filter_map(|id| *id)))
        .all(db.conn())
        .await?;
    found.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let client_rates: HashMap<Uuid, Option<i64>> = client::Entity::find()
        .filter(client::Column::Id.is_in(found.iter().filter_map(|p| p.client_id)))
        .all(db.conn())
        .await?
        .into_iter()
        .map(|c| (c.id, c.default_hourly_rate_cents))
        .collect();
    // (id, name, rate in cents) of each row, in order.
    let mut rows: Vec<(Option<Uuid>, String, i64)> = found
        .into_iter()
        .map(|p| {
            let client_rate = p
                .client_id
                .and_then(|c| client_rates.get(&c).copied().flatten());
            let rate = p.hourly_rate_cents.or(client_rate).unwrap_or(0);
            (Some(p.id), p.name, rate)
        })
        .collect();
    if tallies.contains_key(&None) {
        rows.push((None, NO_PROJECT.to_owned(), 0));
    }
    let row_tallies: Vec<Tally> = rows
        .iter()
        .map(|(id, ..)| tallies.get(id).copied().unwrap_or_default())
        .collect();
    let shares = Shares::of(&row_tallies);
    Ok(rows
        .into_iter()
        .zip(row_tallies)
        .enumerate()
        .map(|(i, ((project_id, project_name, rate), tally))| {
            // The amount follows the billable hours the row shows.
            let billable_e4 = shares.billable[i] * 100;
            ProjectSummary {
                project_id,
                project_name,
                hours: shares.hours(i),
                billable_hours: shares.billable_hours(i),
                billable_amount: money::from_cents(amount_cents(billable_e4, rate)),
                entries: tally.entries.max(0) as u64,
            }
        })
        .collect())
}

async fn user_summaries(
    db: &Db,
    tallies: HashMap<Uuid, Tally>,
) -> Result<Vec<UserSummary>, ApiError> {
    let mut found = user::Entity::find()
        .filter(user::Column::Id.is_in(tallies.keys().copied()))
        .all(db.conn())
        .await?;
    found.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let row_tallies: Vec<Tally> = found
        .iter()
        .map(|u| tallies.get(&u.id).copied().unwrap_or_default())
        .collect();
    let shares = Shares::of(&row_tallies);
    Ok(found
        .into_iter()
        .zip(row_tallies)
        .enumerate()
        .map(|(i, (u, tally))| UserSummary {
            user_id: u.id,
            user_name: u.name,
            hours: shares.hours(i),
            billable_hours: shares.billable_hours(i),
            entries: tally.entries.max(0) as u64,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(shares: &[i64]) -> i64 {
        shares.iter().sum()
    }

    #[test]
    fn shares_add_up_to_the_rounded_total() {
        // 20 min three times: 0.33 each, but the hour is 1.00.
        assert_eq!(apportion(&[1200, 1200, 1200]), [34, 33, 33]);
        // The report's fixture: 2 h 50 min, 1 h 30 min and 20 min make 4.67 h.
        assert_eq!(apportion(&[10200, 5400, 1200]), [284, 150, 33]);
        // Whole hundredths need nothing shared out.
        assert_eq!(apportion(&[7200, 3600]), [200, 100]);
        assert_eq!(apportion(&[]), Vec::<i64>::new());
        assert_eq!(apportion(&[0, 0]), [0, 0]);
    }

    #[test]
    fn every_share_is_its_own_time_rounded_down_or_up() {
        // A deterministic spread of awkward durations, including seconds below one hundredth.
        let mut seed: i64 = 7;
        for n in 1..40 {
            let seconds: Vec<i64> = (0..n)
                .map(|_| {
                    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
                    seed % 20_000
                })
                .collect();
            let shares = apportion(&seconds);
            assert_eq!(
                sum(&shares),
                hundredths_of_hours(seconds.iter().sum()),
                "{seconds:?}"
            );
            for (s, share) in seconds.iter().zip(&shares) {
                let floor = s / 36;
                assert!(*share == floor || *share == floor + 1, "{s} s → {share}");
            }
        }
    }
}
