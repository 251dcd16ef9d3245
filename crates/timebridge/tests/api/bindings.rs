//! Data sync bindings against the ClickUp stand-in: every bad field of a binding named, a
//! two-way task binding (pull, push, a change each way, a conflict recorded with both values
//! and settled by the rule), and ClickUp's tracked time imported once through an opt-in
//! time-entry binding.

use serde_json::{Value, json};

use crate::{
    both,
    clickup::{app_with, connect, deliver, walk},
    clickup_stand_in::ClickUp,
    support::*,
};

const LIST: &str = "901100001";
const TEAM: &str = "9011";

async fn project(app: &TestApp, token: &str, name: &str) -> String {
    let (status, body) = send(
        app.post(token, "/api/v1/projects")
            .json(&json!({"name": name})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["project"]["id"].as_str().unwrap().to_owned()
}

/// Changes a ClickUp task as a member would in ClickUp's UI (through its API).
async fn edit_in_clickup(stand_in: &ClickUp, task_id: &str, changes: Value) {
    stand_in.issue_token("ui-token");
    let answer = reqwest::Client::new()
        .put(format!("{}/task/{task_id}", stand_in.base))
        .header("Authorization", "ui-token")
        .json(&changes)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

async fn sync(app: &TestApp, token: &str, binding_id: &str) -> Value {
    let (status, run) = send(app.post(
        token,
        &format!("/api/v1/integration/bindings/{binding_id}/sync"),
    ))
    .await;
    assert_eq!(status, 200, "{run}");
    run
}

async fn task_named(app: &TestApp, token: &str, name: &str) -> Value {
    let (_, list) = send(app.get(token, "/api/v1/tasks?per_page=100")).await;
    list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no task {name}: {list}"))
}

both! {
    async fn binding_validation_errors_name_each_field(backend) {
        let stand_in = ClickUp::start().await;
        walk(&stand_in);
        let app = app_with(backend, &stand_in, &[]).await;
        let admin = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&app, &stand_in, &admin, "ck-bind").await;
        let project_id = project(&app, &token, "Website").await;
        let post = |body: Value| send(app.post(&token, "/api/v1/integration/bindings").json(&body));

        let (status, body) = post(json!({})).await;
        assert_eq!(status, 400, "{body}");
        for field in ["provider", "entity", "collection"] {
            assert!(body["errors"][field].is_array(), "{field}: {body}");
        }
        let (status, body) = post(json!({"provider": "slack", "entity": "task", "collection": LIST})).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["provider"][0].as_str().unwrap().contains("offers no bindings"), "{body}");
        let (status, body) = post(json!({"provider": "github", "entity": "task", "collection": "octo/site", "project_id": project_id})).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["provider"][0].as_str().unwrap().contains("not set up"), "{body}");
        let (status, body) = post(json!({"provider": "clickup", "entity": "project", "collection": LIST})).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["entity"][0].as_str().unwrap().contains("binds task, time_entry, client"), "{body}");

        // A mapping checked against both sides: each bad field named.
        let (status, body) = post(json!({
            "provider": "clickup", "entity": "task", "collection": LIST, "project_id": project_id,
            "direction": "both",
            "mapping": {
                "name": "title",
                "colour": "name",
                "priority": "priority",
                "due_date": "url",
                "status": {"field": "status", "map": {"finished": "complete"}},
            },
        })).await;
        assert_eq!(status, 400, "{body}");
        let errors = &body["errors"];
        assert!(errors["mapping.name"][0].as_str().unwrap().contains("ClickUp tasks have no field 'title'"), "{body}");
        assert!(errors["mapping.colour"][0].as_str().unwrap().contains("Timebridge tasks have no field 'colour'"), "{body}");
        assert!(errors["mapping.priority"][0].as_str().unwrap().contains("'medium' is not one of ClickUp's 'priority' values"), "{body}");
        assert!(errors["mapping.due_date"].to_string().contains("read-only"), "{body}");
        assert!(errors["mapping.status"][0].as_str().unwrap().contains("'finished' is not a Timebridge 'status'"), "{body}");

        // The collection is asked of ClickUp; a task binding needs its project; time entries
        // only pull.
        let (status, body) = post(json!({"provider": "clickup", "entity": "task", "collection": "999", "project_id": project_id})).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["collection"][0].as_str().unwrap().contains("no list '999'"), "{body}");
        let (status, body) = post(json!({"provider": "clickup", "entity": "task", "collection": LIST})).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["project_id"].is_array(), "{body}");
        let (status, body) = post(json!({"provider": "clickup", "entity": "time_entry", "collection": TEAM, "direction": "both"})).await;
        assert_eq!(status, 400);
        assert!(body["errors"]["direction"][0].as_str().unwrap().contains("pull only"), "{body}");

        // Members may not bind.
        let member = app.member_in(&admin.workspace.name, false, None).await;
        let member_token = app.token(&member, &["write:integrations", "read:integrations"]).await;
        let (status, _) = send(app.post(&member_token, "/api/v1/integration/bindings").json(&json!({"provider": "clickup", "entity": "task", "collection": LIST, "project_id": project_id}))).await;
        assert_eq!(status, 403);

        // A good one with the default mapping; the same collection again is a conflict.
        let (status, made) = post(json!({"provider": "clickup", "entity": "task", "collection": LIST, "project_id": project_id})).await;
        assert_eq!(status, 201, "{made}");
        assert_eq!(made["direction"], "both");
        assert_eq!(made["conflict_rule"], "newest_wins");
        assert_eq!(made["mapping"]["status"]["map"]["done"], "complete", "{made}");
        let (status, _) = post(json!({"provider": "clickup", "entity": "task", "collection": LIST, "project_id": project_id})).await;
        assert_eq!(status, 409);

        // A bad change is refused whole; the binding stays as it was.
        let path = format!("/api/v1/integration/bindings/{}", made["id"].as_str().unwrap());
        let (status, body) = send(app.patch(&token, &path).json(&json!({"name": "Renamed", "mapping": {"name": "nom"}}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["errors"]["mapping.name"].is_array(), "{body}");
        let (_, kept) = send(app.get(&member_token, &path)).await;
        assert_eq!(kept["mapping"], made["mapping"]);
        assert_eq!(kept["name"], made["name"]);

        // What a mapping may name is listed.
        let (_, fields) = send(app.get(&member_token, "/api/v1/integration/bindings/fields")).await;
        let clickup_task = fields["bindables"].as_array().unwrap().iter().find(|b| b["provider"] == "clickup" && b["entity"] == "task").expect("ClickUp binds tasks");
        assert!(clickup_task["provider_fields"].as_array().unwrap().iter().any(|f| f["name"] == "status"));
        assert!(clickup_task["timebridge_fields"].as_array().unwrap().iter().any(|f| f["name"] == "due_date"));
    }

    async fn a_two_way_task_binding_keeps_both_sides_and_records_a_conflict_with_both_values(backend) {
        let stand_in = ClickUp::start().await;
        walk(&stand_in);
        let design = stand_in.add_task(LIST, json!({"name": "Design", "status": "to do", "priority": 2}));
        let app = app_with(backend, &stand_in, &[("TIMEBRIDGE_JOBS", "false")]).await;
        let admin = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&app, &stand_in, &admin, "ck-two-way").await;
        let project_id = project(&app, &token, "Website").await;
        let (status, _) = send(app.post(&token, "/api/v1/tasks").json(&json!({"project_id": project_id, "name": "Local only", "priority": "urgent"}))).await;
        assert_eq!(status, 201);
        let (status, binding) = send(app.post(&token, "/api/v1/integration/bindings").json(&json!({
            "provider": "clickup", "entity": "task", "collection": LIST, "project_id": project_id,
        }))).await;
        assert_eq!(status, 201, "{binding}");
        let id = binding["id"].as_str().unwrap().to_owned();

        // First run: ClickUp's task pulled, ours pushed.
        let run = sync(&app, &token, &id).await;
        assert_eq!((run["status"].clone(), run["created"].clone()), (json!("ok"), json!(2)), "{run}");
        let pulled = task_named(&app, &token, "Design").await;
        assert_eq!((pulled["status"].as_str(), pulled["priority"].as_str()), (Some("todo"), Some("high")));
        assert_eq!(pulled["external_ref"], format!("clickup_task_{design}"));
        let pushed: Vec<Value> = stand_in.tasks(LIST).into_iter().filter(|t| t["name"] == "Local only").collect();
        assert_eq!(pushed.len(), 1, "made in ClickUp once");
        assert_eq!(pushed[0]["priority"]["priority"], "urgent");
        let run = sync(&app, &token, &id).await;
        assert_eq!((run["created"].clone(), run["updated"].clone(), run["skipped"].clone()), (json!(0), json!(0), json!(2)), "in step: {run}");
        assert_eq!(stand_in.tasks(LIST).len(), 2, "nothing made twice");

        // A change on one side flows to the other, through the map.
        let task_path = format!("/api/v1/tasks/{}", pulled["id"].as_str().unwrap());
        send(app.patch(&token, &task_path).json(&json!({"status": "in_progress"}))).await;
        let run = sync(&app, &token, &id).await;
        assert_eq!(run["updated"], 1, "{run}");
        let remote = stand_in.tasks(LIST).into_iter().find(|t| t["id"] == design.as_str()).unwrap();
        assert_eq!(remote["status"]["status"], "in progress");
        edit_in_clickup(&stand_in, &design, json!({"status": "complete"})).await;
        sync(&app, &token, &id).await;
        let (_, now) = send(app.get(&token, &task_path)).await;
        assert_eq!(now["task"]["status"], "done", "{now}");

        // Both sides change the name: a conflict, both values kept; the newest (ClickUp's) wins.
        send(app.patch(&token, &task_path).json(&json!({"name": "Design (ours)"}))).await;
        edit_in_clickup(&stand_in, &design, json!({"name": "Design (theirs)"})).await;
        let run = sync(&app, &token, &id).await;
        assert_eq!(run["conflicts"], json!([{
            "local_id": pulled["id"], "remote_id": design, "field": "name", "provider_field": "name",
            "timebridge_value": "Design (ours)", "provider_value": "Design (theirs)", "resolution": "provider",
        }]), "{run}");
        let (_, now) = send(app.get(&token, &task_path)).await;
        assert_eq!(now["task"]["name"], "Design (theirs)");

        // Under timebridge_wins the next conflict goes our way, and ClickUp follows.
        let binding_path = format!("/api/v1/integration/bindings/{id}");
        let (status, _) = send(app.patch(&token, &binding_path).json(&json!({"conflict_rule": "timebridge_wins"}))).await;
        assert_eq!(status, 200);
        edit_in_clickup(&stand_in, &design, json!({"name": "Design 3 (theirs)"})).await;
        send(app.patch(&token, &task_path).json(&json!({"name": "Design 3 (ours)"}))).await;
        let run = sync(&app, &token, &id).await;
        assert_eq!(run["conflicts"][0]["resolution"], "timebridge", "{run}");
        assert_eq!(run["conflicts"][0]["provider_value"], "Design 3 (theirs)");
        let remote = stand_in.tasks(LIST).into_iter().find(|t| t["id"] == design.as_str()).unwrap();
        assert_eq!(remote["name"], "Design 3 (ours)");

        // Every run is kept and listed, newest first; the binding shows its last.
        let (_, runs) = send(app.get(&token, &format!("{binding_path}/runs"))).await;
        let runs = runs["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 6);
        assert_eq!(runs[0]["conflicts"][0]["resolution"], "timebridge");
        assert_eq!(runs[1]["conflicts"][0]["timebridge_value"], "Design (ours)");
        let (_, shown) = send(app.get(&token, &binding_path)).await;
        assert_eq!(shown["last_run"]["id"], runs[0]["id"]);
    }

    async fn time_tracked_in_clickup_on_a_linked_task_is_imported_once_when_opted_in(backend) {
        let stand_in = ClickUp::start().await;
        walk(&stand_in);
        let linked = stand_in.add_task(LIST, json!({"name": "Billing export"}));
        let elsewhere = stand_in.add_task(LIST, json!({"name": "Not ours"}));
        let app = app_with(backend, &stand_in, &[("TIMEBRIDGE_JOBS", "false")]).await;
        let admin = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&app, &stand_in, &admin, "ck-time").await;
        let (_, reply) = send(app.post(&token, "/api/integrations/clickup/sync")).await;
        assert_eq!(reply["webhook_registered"], true, "{reply}");
        let hook = &stand_in.webhooks()[0];
        let (webhook_id, secret) = (hook["id"].as_str().unwrap().to_owned(), hook["secret"].as_str().unwrap().to_owned());
        let project_id = project(&app, &token, "Billing").await;
        // Only the linked task is Timebridge's: a pull binding filtered to it by deleting the other.
        let (_, tasks) = send(app.post(&token, "/api/v1/integration/bindings").json(&json!({
            "provider": "clickup", "entity": "task", "collection": LIST, "project_id": project_id, "direction": "pull",
        }))).await;
        sync(&app, &token, tasks["id"].as_str().unwrap()).await;
        let ours = task_named(&app, &token, "Billing export").await;
        let theirs = task_named(&app, &token, "Not ours").await;
        send(app.delete(&token, &format!("/api/v1/tasks/{}", theirs["id"].as_str().unwrap()))).await;
        send(app.patch(&token, &format!("/api/v1/integration/bindings/{}", tasks["id"].as_str().unwrap())).json(&json!({"active": false}))).await;

        let start = 1_764_583_200_000; // 2025-12-01T10:00:00Z
        let entry = stand_in.add_time_entry(&linked, start, 90 * 60_000, &admin.user.email, "Export by client");
        // Not opted in: the delivery is recorded and ignored.
        let (status, body) = deliver(&app, &secret, &stand_in.task_time_tracked_updated_payload(&webhook_id, &entry)).await;
        assert_eq!((status, body["ignored"].clone()), (200, json!(true)), "{body}");
        let (_, entries) = send(app.get(&token, "/api/v1/time-entries")).await;
        assert_eq!(entries["time_entries"], json!([]));

        // Opting in: a time-entry binding of the team.
        let (status, binding) = send(app.post(&token, "/api/v1/integration/bindings").json(&json!({
            "provider": "clickup", "entity": "time_entry", "collection": TEAM, "auto_sync": false,
        }))).await;
        assert_eq!(status, 201, "{binding}");
        let payload = stand_in.task_time_tracked_updated_payload(&webhook_id, &entry);
        let (status, body) = deliver(&app, &secret, &payload).await;
        assert_eq!((status, body["applied"].clone()), (200, json!("imported")), "{body}");
        let (status, again) = deliver(&app, &secret, &payload).await;
        assert_eq!((status, again["duplicate"].clone()), (200, json!(true)), "{again}");
        let (_, entries) = send(app.get(&token, "/api/v1/time-entries")).await;
        let imported = entries["time_entries"].as_array().unwrap();
        assert_eq!(imported.len(), 1, "{entries}");
        assert_eq!(imported[0]["task_id"], ours["id"]);
        assert_eq!(imported[0]["user_id"], admin.user.id.to_string());
        assert_eq!(imported[0]["notes"], "Export by client");
        assert_eq!(imported[0]["start_time"], "2025-12-01T10:00:00Z");
        assert_eq!(imported[0]["end_time"], "2025-12-01T11:30:00Z");
        assert_eq!(imported[0]["source"], "clickup");

        // The interval edited in ClickUp moves the imported entry; time on a task Timebridge
        // does not know is not imported.
        stand_in.update_time_entry(&entry, start, 60 * 60_000);
        let (_, body) = deliver(&app, &secret, &stand_in.task_time_tracked_updated_payload(&webhook_id, &entry)).await;
        assert_eq!(body["applied"], "updated", "{body}");
        let other = stand_in.add_time_entry(&elsewhere, start, 60_000, &admin.user.email, "");
        let (_, body) = deliver(&app, &secret, &stand_in.task_time_tracked_updated_payload(&webhook_id, &other)).await;
        assert_eq!(body["ignored"], true, "{body}");
        let (_, entries) = send(app.get(&token, "/api/v1/time-entries")).await;
        let imported = entries["time_entries"].as_array().unwrap();
        assert_eq!(imported.len(), 1, "{entries}");
        assert_eq!(imported[0]["end_time"], "2025-12-01T11:00:00Z");

        // A run of the binding finds nothing new.
        let run = sync(&app, &token, binding["id"].as_str().unwrap()).await;
        assert_eq!((run["created"].clone(), run["status"].clone()), (json!(0), json!("ok")), "{run}");
    }

    async fn the_periodic_job_runs_auto_sync_bindings_and_a_status_webhook_applies_through_the_binding(backend) {
        let stand_in = ClickUp::start().await;
        walk(&stand_in);
        let review = stand_in.add_task(LIST, json!({"name": "Review copy", "status": "to do"}));
        let app = app_with(backend, &stand_in, &[("TIMEBRIDGE_JOBS", "false")]).await;
        let admin = app.member(true, timebridge::directory::Plan::Enterprise).await;
        let token = connect(&app, &stand_in, &admin, "ck-periodic").await;
        send(app.post(&token, "/api/integrations/clickup/sync")).await;
        let hook = &stand_in.webhooks()[0];
        let (webhook_id, secret) = (hook["id"].as_str().unwrap().to_owned(), hook["secret"].as_str().unwrap().to_owned());
        let project_id = project(&app, &token, "Content").await;
        let (_, tasks) = send(app.post(&token, "/api/v1/integration/bindings").json(&json!({
            "provider": "clickup", "entity": "task", "collection": LIST, "project_id": project_id, "direction": "pull",
        }))).await;
        let (_, quiet) = send(app.post(&token, "/api/v1/integration/bindings").json(&json!({
            "provider": "clickup", "entity": "time_entry", "collection": TEAM, "auto_sync": false,
        }))).await;

        // The periodic kind runs the workspace's active bindings that sync on their own.
        let (status, job) = send(app.post(&token, "/api/v1/integration/jobs/integration_binding_sync/run")).await;
        assert_eq!(status, 200, "{job}");
        assert_eq!(job["outcome"]["bindings"], json!([{"binding_id": tasks["id"], "status": "ok"}]), "{job}");
        let local = task_named(&app, &token, "Review copy").await;
        assert_eq!(local["status"], "todo");
        let (_, runs) = send(app.get(&token, &format!("/api/v1/integration/bindings/{}/runs", quiet["id"].as_str().unwrap()))).await;
        assert_eq!(runs["runs"], json!([]), "auto_sync off: not run");

        // A status change ClickUp reports on a bound task is read through the binding: a
        // custom status the plain rule would ignore follows through the mapping.
        edit_in_clickup(&stand_in, &review, json!({"status": "in progress"})).await;
        let payload = crate::clickup_stand_in::task_status_updated_payload(&webhook_id, &review, "to do", "in progress");
        let (status, body) = deliver(&app, &secret, &payload).await;
        assert_eq!((status, body["applied"].clone()), (200, json!("synced")), "{body}");
        let (_, now) = send(app.get(&token, &format!("/api/v1/tasks/{}", local["id"].as_str().unwrap()))).await;
        assert_eq!(now["task"]["status"], "in_progress", "{now}");
        let (_, runs) = send(app.get(&token, &format!("/api/v1/integration/bindings/{}/runs", tasks["id"].as_str().unwrap()))).await;
        assert_eq!(runs["runs"][0]["trigger"], "webhook", "{runs}");
        assert_eq!(runs["runs"][0]["updated"], 1, "{runs}");

        // An inactive binding is neither run by the job nor by hand.
        let path = format!("/api/v1/integration/bindings/{}", tasks["id"].as_str().unwrap());
        send(app.patch(&token, &path).json(&json!({"active": false}))).await;
        let (_, job) = send(app.post(&token, "/api/v1/integration/jobs/integration_binding_sync/run")).await;
        assert_eq!(job["outcome"]["bindings"], json!([]), "{job}");
        let (status, _) = send(app.post(&token, &format!("{path}/sync"))).await;
        assert_eq!(status, 409);
    }
}
