//! The job queue: retries by policy, timeouts, progress, dedup, takeover after a crash, each
//! job once across instances, and jobs that belong to their workspace.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use timebridge::platform::{
    db::Db,
    jobs::{
        self, Enqueued, JobKind, JobOptions, JobRegistry, JobStatus, RetryPolicy, job,
        runner::Runner,
    },
    time,
};
use uuid::Uuid;

use crate::{both, support::*, webhooks::admin_token};

/// Calls per job id, shared by the handlers of a test's kinds.
type Calls = Arc<Mutex<HashMap<Uuid, u32>>>;

fn count(calls: &Calls, id: Uuid) -> u32 {
    let mut calls = calls.lock().unwrap();
    let n = calls.entry(id).or_default();
    *n += 1;
    *n
}

/// The test's own kinds, run by runners of its own over the app's database.
fn registry() -> Arc<JobRegistry<Calls>> {
    let mut r = JobRegistry::default();
    r.register(
        JobKind::new(
            "flaky",
            "fails twice, then succeeds",
            |calls: Calls, job| async move {
                match count(&calls, job.id) {
                    n if n < 3 => Err(format!("failure {n}")),
                    n => Ok(json!({"calls": n, "payload": job.payload})),
                }
            },
        )
        .retry(RetryPolicy::attempts(3, &[0])),
    );
    r.register(
        JobKind::new("broken", "always fails", |calls: Calls, job| async move {
            Err(format!("broken, call {}", count(&calls, job.id)))
        })
        .retry(RetryPolicy::attempts(2, &[0])),
    );
    r.register(
        JobKind::new(
            "patient",
            "fails; retried after 60, 120, 240 s",
            |_: Calls, _| async { Err::<Value, _>("ClickUp answered 503".to_owned()) },
        )
        .retry(RetryPolicy::attempts(3, &[60, 120, 240]))
        .timeout(Duration::from_secs(120)),
    );
    r.register(
        JobKind::new("slow", "outlives its timeout", |_: Calls, _| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(Value::Null)
        })
        .timeout(Duration::from_secs(1)),
    );
    r.register(JobKind::new(
        "bootstrap",
        "reports progress",
        |calls: Calls, job| async move {
            count(&calls, job.id);
            for done in [10, 20] {
                job.progress
                    .report(done, Some(20), Some("importing time entries"))
                    .await;
            }
            Ok(json!({"imported": 20}))
        },
    ));
    r.register(
        JobKind::new("once", "counts its runs", |calls: Calls, job| async move {
            count(&calls, job.id);
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(Value::Null)
        })
        .retry(RetryPolicy::attempts(2, &[0])),
    );
    Arc::new(r)
}

fn runner(
    db: &Db,
    registry: &Arc<JobRegistry<Calls>>,
    calls: &Calls,
    owner: &str,
) -> Runner<Calls> {
    Runner {
        db: db.clone(),
        registry: registry.clone(),
        state: calls.clone(),
        owner: owner.into(),
        queues: None,
    }
}

async fn push(db: &Db, registry: &JobRegistry<Calls>, kind: &str, options: JobOptions) -> Uuid {
    let kind = registry.get(kind).unwrap();
    let _turn = db.write_turn().await;
    match jobs::enqueue(db.conn(), kind, &json!({"n": 1}), options)
        .await
        .unwrap()
    {
        Enqueued::New(id) => id,
        Enqueued::Duplicate => panic!("not a duplicate"),
    }
}

async fn row(db: &Db, id: Uuid) -> job::Model {
    job::Entity::find_by_id(id)
        .one(db.conn())
        .await
        .unwrap()
        .unwrap()
}

both! {
    async fn failed_attempts_are_retried_by_policy_and_a_spent_job_stays_failed_until_retried(backend) {
        let app = TestApp::private(backend, &[("TIMEBRIDGE_JOBS", "false")]).await;
        let calls = Calls::default();
        let registry = registry();
        let r = runner(&app.db, &registry, &calls, "a");
        let flaky = push(&app.db, &registry, "flaky", JobOptions::default()).await;
        let broken = push(&app.db, &registry, "broken", JobOptions::default()).await;
        r.tick().await.unwrap();

        let done = row(&app.db, flaky).await;
        assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 3), "{done:?}");
        assert_eq!(done.last_error.as_deref(), Some("failure 2"));
        let outcome: Value = serde_json::from_str(done.outcome.as_deref().unwrap()).unwrap();
        assert_eq!(outcome, json!({"calls": 3, "payload": {"n": 1}}));

        let failed = row(&app.db, broken).await;
        assert_eq!((failed.status, failed.attempts), (JobStatus::Failed, 2), "{failed:?}");
        assert_eq!(failed.last_error.as_deref(), Some("broken, call 2"));
        assert!(failed.finished_at.is_some());
        // Nothing runs it again on its own.
        r.tick().await.unwrap();
        assert_eq!(calls.lock().unwrap()[&broken], 2);
        // An admin's retry gives it one more attempt.
        let retried = jobs::retry(&app.db, None, broken).await.unwrap();
        assert_eq!((retried.status, retried.max_attempts), (JobStatus::Pending, 3));
        r.tick().await.unwrap();
        let again = row(&app.db, broken).await;
        assert_eq!((again.status, again.attempts), (JobStatus::Failed, 3));
        assert_eq!(again.last_error.as_deref(), Some("broken, call 3"));
        assert!(matches!(jobs::retry(&app.db, None, flaky).await, Err(jobs::RetryError::NotFailed(JobStatus::Succeeded))));
    }

    async fn a_retry_waits_out_the_backoff_and_a_slow_attempt_times_out(backend) {
        let app = TestApp::private(backend, &[("TIMEBRIDGE_JOBS", "false")]).await;
        let calls = Calls::default();
        let registry = registry();
        let r = runner(&app.db, &registry, &calls, "a");
        let patient = push(&app.db, &registry, "patient", JobOptions::default()).await;
        let slow = push(&app.db, &registry, "slow", JobOptions::default()).await;
        let before = time::now();
        r.tick().await.unwrap();
        let waiting = row(&app.db, patient).await;
        assert_eq!((waiting.status, waiting.attempts), (JobStatus::Pending, 1));
        assert_eq!(waiting.last_error.as_deref(), Some("ClickUp answered 503"));
        let wait = (waiting.run_after - before).whole_seconds();
        assert!((59..=62).contains(&wait), "first retry after 60 s, not {wait} s");
        assert_eq!(waiting.timeout_seconds, 120);
        // Not due yet: another tick leaves it alone.
        r.tick().await.unwrap();
        assert_eq!(row(&app.db, patient).await.attempts, 1);

        let timed_out = row(&app.db, slow).await;
        assert_eq!(timed_out.status, JobStatus::Failed);
        assert_eq!(timed_out.last_error.as_deref(), Some("timed out after 1 s"));
    }

    async fn progress_is_recorded_and_a_dedup_key_makes_one_job(backend) {
        let app = TestApp::private(backend, &[("TIMEBRIDGE_JOBS", "false")]).await;
        let calls = Calls::default();
        let registry = registry();
        let key = JobOptions { dedup_key: Some("bootstrap:ws-1".into()), ..Default::default() };
        let id = push(&app.db, &registry, "bootstrap", key.clone()).await;
        let again = {
            let _turn = app.db.write_turn().await;
            jobs::enqueue(app.db.conn(), registry.get("bootstrap").unwrap(), &json!({}), key).await.unwrap()
        };
        assert_eq!(again, Enqueued::Duplicate);
        runner(&app.db, &registry, &calls, "a").tick().await.unwrap();
        let done = row(&app.db, id).await;
        assert_eq!(done.status, JobStatus::Succeeded);
        assert_eq!((done.progress_done, done.progress_total), (Some(20), Some(20)));
        assert_eq!(done.progress_message.as_deref(), Some("importing time entries"));
        assert_eq!(calls.lock().unwrap().len(), 1, "one job ran, once");
    }

    async fn finished_jobs_are_purged_after_their_kinds_retention(backend) {
        let app = TestApp::private(backend, &[("TIMEBRIDGE_JOBS", "false")]).await;
        let calls = Calls::default();
        let registry = registry();
        let r = runner(&app.db, &registry, &calls, "a");
        let (old, recent, waiting) = (
            push(&app.db, &registry, "once", JobOptions::default()).await,
            push(&app.db, &registry, "once", JobOptions::default()).await,
            push(&app.db, &registry, "once", JobOptions { run_after: Some(time::now() + Duration::from_secs(3600)), ..Default::default() }).await,
        );
        r.tick().await.unwrap();
        // Finished eight days ago: past the default seven days.
        job::ActiveModel { id: Set(old), finished_at: Set(Some(time::now() - Duration::from_secs(8 * 86_400))), ..Default::default() }
            .update(app.db.conn())
            .await
            .unwrap();
        r.purge_finished().await;
        assert!(job::Entity::find_by_id(old).one(app.db.conn()).await.unwrap().is_none(), "purged");
        assert_eq!(row(&app.db, recent).await.status, JobStatus::Succeeded, "kept");
        assert_eq!(row(&app.db, waiting).await.status, JobStatus::Pending, "unfinished jobs are never purged");
    }

    async fn a_job_whose_instance_died_is_taken_over_when_its_lease_expires(backend) {
        let app = TestApp::private(backend, &[("TIMEBRIDGE_JOBS", "false")]).await;
        let calls = Calls::default();
        let registry = registry();
        let id = push(&app.db, &registry, "once", JobOptions::default()).await;
        // Claimed by an instance that then died: running, lease held.
        let held = |until| job::ActiveModel {
            id: Set(id),
            status: Set(JobStatus::Running),
            attempts: Set(1),
            lease_owner: Set(Some("dead-instance".into())),
            lease_expires_at: Set(Some(until)),
            ..Default::default()
        };
        held(time::now() + Duration::from_secs(60)).update(app.db.conn()).await.unwrap();
        let r = runner(&app.db, &registry, &calls, "survivor");
        assert_eq!(r.tick().await.unwrap(), 0, "not while the lease lasts");
        held(time::now() - Duration::from_secs(1)).update(app.db.conn()).await.unwrap();
        assert_eq!(r.tick().await.unwrap(), 1);
        let done = row(&app.db, id).await;
        assert_eq!((done.status, done.attempts, done.lease_owner), (JobStatus::Succeeded, 2, None));
        assert_eq!(calls.lock().unwrap()[&id], 1);
    }

    async fn two_instances_run_every_job_once(backend) {
        let (url, _dir) = private_database(backend).await;
        let a = TestApp::on_database(&url, &[("TIMEBRIDGE_JOBS", "false")]).await;
        let b = TestApp::on_database(&url, &[("TIMEBRIDGE_JOBS", "false")]).await;
        let calls = Calls::default();
        let registry = registry();
        let mut ids = Vec::new();
        for _ in 0..40 {
            ids.push(push(&a.db, &registry, "once", JobOptions::default()).await);
        }
        let (ra, rb) = (runner(&a.db, &registry, &calls, "a"), runner(&b.db, &registry, &calls, "b"));
        let (na, nb) = tokio::join!(ra.tick(), rb.tick());
        assert_eq!(na.unwrap() + nb.unwrap(), 40);
        let calls = calls.lock().unwrap();
        for id in &ids {
            assert_eq!(calls.get(id), Some(&1), "job {id} ran once");
        }
    }

    async fn a_job_enqueued_with_a_change_runs_once_it_commits_and_never_if_it_rolls_back(backend) {
        use timebridge::platform::{changes::WorkspaceChange, outbox::Actor};
        let app = TestApp::private(backend, &[("TIMEBRIDGE_JOBS", "true")]).await;
        let member = app.member(true, timebridge::directory::Plan::Pro).await;
        let kind = app.state.jobs.get("github_sync").expect("registered by the GitHub connector");
        let options = |key: &str| JobOptions {
            workspace_id: Some(member.workspace.id),
            dedup_key: Some(key.into()),
            ..Default::default()
        };

        let change = WorkspaceChange::begin(&app.db, member.workspace.id, Actor::system()).await.unwrap();
        let rolled_back = jobs::enqueue(&*change, kind, &json!({}), options("rolled-back")).await.unwrap();
        drop(change);
        let mut change = WorkspaceChange::begin(&app.db, member.workspace.id, Actor::system()).await.unwrap();
        let Enqueued::New(id) = jobs::enqueue(&*change, kind, &json!({}), options("committed")).await.unwrap() else {
            panic!("a new job");
        };
        change.wake(jobs::jobs_queued(&app.db));
        change.commit().await.unwrap();

        // The running server's own runner picks it up.
        let done = eventually(|| {
            let db = app.db.clone();
            async move { Some(row(&db, id).await).filter(|j| j.status == JobStatus::Succeeded) }
        })
        .await;
        assert_eq!((done.attempts, done.workspace_id), (1, Some(member.workspace.id)));
        let outcome: Value = serde_json::from_str(done.outcome.as_deref().unwrap()).unwrap();
        assert_eq!(outcome["synced"], 0, "{outcome}");
        if let Enqueued::New(gone) = rolled_back {
            assert!(job::Entity::find_by_id(gone).one(app.db.conn()).await.unwrap().is_none(), "rolled back with its change");
        }
    }

    async fn a_workspace_sees_and_runs_only_its_own_jobs(backend) {
        let app = TestApp::private(backend, &[("TIMEBRIDGE_JOBS", "false"), ("SLACK_API_URL", "http://127.0.0.1:9")]).await;
        let (ours, theirs) = (admin_token(&app).await, admin_token(&app).await);
        let now = ::time::OffsetDateTime::now_utc();
        let hhmm = format!("{:02}:{:02}", now.hour(), now.minute());
        for token in [&ours, &theirs] {
            let (status, body) = send(app.put(token, "/api/integrations/slack/config").json(&json!({
                "bot_token": "xoxb-1", "signing_secret": "s", "slack_user_id": "U1", "channel": "C1",
                "daily_summary_time": hhmm,
            }))).await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, run) = send(app.post(&theirs, "/api/v1/integration/jobs/slack_daily_summary/run")).await;
        assert_eq!(status, 200, "{run}");
        let their_run = run["id"].as_str().unwrap().to_owned();

        // Our list shows our workspace's jobs only: none yet.
        let (_, list) = send(app.get(&ours, "/api/v1/integration/jobs")).await;
        let names: Vec<&str> = list["jobs"].as_array().unwrap().iter().map(|j| j["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"slack_daily_summary") && names.contains(&"github_sync"), "{list}");
        assert!(!names.iter().any(|n| n.contains("retention")), "instance jobs are not a workspace's: {list}");
        let summary = list["jobs"].as_array().unwrap().iter().find(|j| j["name"] == "slack_daily_summary").unwrap();
        assert!(summary["last_run"].is_null(), "their run is not ours: {summary}");
        let (_, runs) = send(app.get(&ours, "/api/v1/integration/jobs/runs")).await;
        assert_eq!(runs["pagination"]["total"], 0, "{runs}");
        let (status, _) = send(app.get(&ours, &format!("/api/v1/integration/jobs/runs/{their_run}"))).await;
        assert_eq!(status, 404);
        let (status, _) = send(app.post(&ours, &format!("/api/v1/integration/jobs/runs/{their_run}/retry"))).await;
        assert_eq!(status, 404);
        // Instance jobs cannot be run with a workspace token.
        for name in ["webhook_retention", "inbound_webhook_retention", "retention"] {
            let (status, _) = send(app.post(&ours, &format!("/api/v1/integration/jobs/{name}/run"))).await;
            assert_eq!(status, 404, "{name}");
        }

        // Their run covered their member only, and failed to reach Slack: visible to them.
        let (_, theirs_list) = send(app.get(&theirs, "/api/v1/integration/jobs/runs?kind=slack_daily_summary")).await;
        assert_eq!(theirs_list["pagination"]["total"], 1, "{theirs_list}");
        let mine = &theirs_list["runs"][0];
        assert_eq!(mine["status"], "succeeded", "{mine}");
        assert_eq!(mine["outcome"]["failed"].as_u64().unwrap() + mine["outcome"]["posted"].as_u64().unwrap(), 1, "{mine}");
        let (status, body) = send(app.post(&theirs, &format!("/api/v1/integration/jobs/runs/{their_run}/retry"))).await;
        assert_eq!((status, body["error_code"].as_str()), (409, Some("conflict")), "{body}");
        let (status, body) = send(app.get(&theirs, "/api/v1/integration/jobs/runs?status=nope")).await;
        assert_eq!(status, 400, "{body}");
    }
}
