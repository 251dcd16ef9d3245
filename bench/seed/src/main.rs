//! `seed-entries DATABASE_URL EMAIL COUNT [PER_DAY]`: gives the user's first workspace ten
//! projects and COUNT finished time entries, PER_DAY (default 400) a day going back from now,
//! through Timebridge's own entities so every value is stored exactly as the server stores it.
//! Benchmark data only: it bypasses the API (and writes no events).

use anyhow::{Context, bail};
use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};
use time::Duration;
use timebridge::{
    directory::service::{find_user_by_email, memberships_of},
    platform::{db, time::now},
    tracking::{projects, time_entries::entity as entry},
};
use uuid::Uuid;

const BATCH: usize = 1000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, email, count, rest @ ..] = args.as_slice() else {
        bail!("usage: seed-entries DATABASE_URL EMAIL COUNT [PER_DAY]");
    };
    let count: usize = count.parse().context("COUNT")?;
    let per_day: i64 = rest
        .first()
        .map_or(Ok(400), |p| p.parse())
        .context("PER_DAY")?;
    let db = sea_orm::Database::connect(url.as_str()).await?;
    let user = find_user_by_email(&db, email)
        .await?
        .context("no such user")?;
    let member = memberships_of(&db, &user)
        .await?
        .into_iter()
        .next()
        .context("the user has no workspace")?;
    let workspace = member.workspace.id;

    let stamp = now();
    let project_ids: Vec<Uuid> = (0..10).map(|_| Uuid::now_v7()).collect();
    let rows = project_ids
        .iter()
        .enumerate()
        .map(|(i, id)| projects::entity::ActiveModel {
            id: Set(*id),
            workspace_id: Set(workspace),
            client_id: Set(None),
            name: Set(format!("Bench project {i:02}")),
            description: Set(None),
            hourly_rate_cents: Set(Some(9000)),
            billable: Set(true),
            status: Set(projects::ProjectStatus::Active),
            created_at: Set(stamp),
            updated_at: Set(stamp),
        });
    projects::entity::Entity::insert_many(rows)
        .exec(&db)
        .await?;

    let step = Duration::seconds(86_400 / per_day.max(1));
    let length = Duration::minutes(30);
    let mut written = 0;
    while written < count {
        let n = BATCH.min(count - written);
        let txn = db.begin().await?;
        let rows = (written..written + n).map(|i| {
            let start = stamp - step * (i as i32 + 1);
            entry::ActiveModel {
                id: Set(Uuid::now_v7()),
                workspace_id: Set(workspace),
                user_id: Set(user.id),
                project_id: Set(Some(project_ids[i % project_ids.len()])),
                task_id: Set(None),
                start_time: Set(start),
                end_time: Set(Some(start + length)),
                duration_seconds: Set(Some(length.whole_seconds())),
                notes: Set(Some(format!("Bench entry {i}"))),
                billable: Set(i % 3 != 0),
                paid: Set(false),
                invoice_id: Set(None),
                source: Set("import".into()),
                running_user_id: Set(None),
                created_at: Set(stamp),
                updated_at: Set(stamp),
            }
        });
        entry::Entity::insert_many(rows).exec(&txn).await?;
        txn.commit().await?;
        written += n;
    }
    let _ = db::ping(&db).await;
    eprintln!("seeded {written} entries ({per_day} a day) into workspace {workspace}");
    Ok(())
}
