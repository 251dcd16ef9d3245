//! `/api/v1/projects`: HTTP only — parse, call the service, answer.

use axum::{extract::State, http::StatusCode, response::Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ProjectStatus, ProjectView,
    service::{self, NewProject, ProjectChanges, ProjectFilter},
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query, double_option},
        pagination::{PageParams, PageRequest, Pagination},
        read_cache::ReadKey,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, update_project, archive_project))
}

#[derive(Serialize, ToSchema)]
pub struct ProjectList {
    pub projects: Vec<ProjectView>,
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectEnvelope {
    pub project: ProjectView,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectCreated {
    #[schema(example = "Project created successfully")]
    pub message: String,
    pub project: ProjectView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectListFilter {
    /// Only projects with this status (default: all).
    pub status: Option<ProjectStatus>,
    /// Only this client's projects.
    pub client_id: Option<Uuid>,
    /// Case-insensitive part of the name.
    pub search: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateProject {
    /// 1 to 200 characters (trimmed; not only spaces).
    #[schema(
        example = "Website relaunch",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: String,
    /// A client of this workspace.
    pub client_id: Option<Uuid>,
    /// At most 10000 characters (trimmed); empty is none.
    #[schema(
        example = "Redesign and relaunch of the marketing site",
        max_length = 10000
    )]
    pub description: Option<String>,
    /// Non-negative, at most two decimal places, below 10^12. A number or a decimal string.
    #[schema(value_type = Option<f64>, example = 85.5, minimum = 0, maximum = 999999999999.99)]
    pub hourly_rate: Option<Decimal>,
    /// Default `true`.
    pub billable: Option<bool>,
    /// Default `active`.
    pub status: Option<ProjectStatus>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateProject {
    /// 1 to 200 characters (trimmed; not only spaces). `null` or left out: unchanged.
    #[schema(
        example = "Website relaunch 2027",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    pub name: Option<String>,
    /// A client of this workspace; `null` detaches the project from its client.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub client_id: Option<Option<Uuid>>,
    /// At most 10000 characters (trimmed); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Phase two of the relaunch", max_length = 10000)]
    pub description: Option<Option<String>>,
    /// Non-negative, at most two decimal places, below 10^12; `null` clears it. A number or a
    /// decimal string.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>, example = 90.0, minimum = 0, maximum = 999999999999.99)]
    pub hourly_rate: Option<Option<Decimal>>,
    pub billable: Option<bool>,
    pub status: Option<ProjectStatus>,
}

/// List projects.
#[utoipa::path(
    get, path = "/api/v1/projects", tag = "projects",
    params(PageParams, ProjectListFilter),
    security(("api_token" = ["read:projects"])),
    responses(
        (status = 200, description = "One page of projects", body = ProjectList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list_projects(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<ProjectListFilter>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let filter = ProjectFilter {
        status: filter.status,
        client_id: filter.client_id,
        search: filter.search,
    };
    let key = ReadKey::new(
        caller.workspace_id,
        "projects.list",
        format!("{page:?}{filter:?}"),
    );
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let (projects, total) = service::list(&app.db, &acting, &filter, page).await?;
            Ok(ProjectList {
                projects,
                pagination: Pagination::new(page, total),
            })
        })
        .await
}

/// Get a project.
#[utoipa::path(
    get, path = "/api/v1/projects/{id}", tag = "projects",
    params(("id" = Uuid, Path, description = "Project id")),
    security(("api_token" = ["read:projects"])),
    responses(
        (status = 200, body = ProjectEnvelope),
        (status = 404, description = "No such project in this workspace", body = ErrorBody),
    )
)]
async fn get_project(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let key = ReadKey::new(caller.workspace_id, "projects.get", id.to_string());
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let project = service::get(&app.db, &acting, id).await?;
            Ok(ProjectEnvelope { project })
        })
        .await
}

/// Create a project.
#[utoipa::path(
    post, path = "/api/v1/projects", tag = "projects",
    request_body = CreateProject,
    security(("api_token" = ["write:projects"])),
    responses(
        (status = 201, body = ProjectCreated),
        (status = 400, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn create_project(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateProject>,
) -> Result<(StatusCode, Json<ProjectCreated>), ApiError> {
    let project = service::create(
        &app.db,
        &caller.acting(),
        NewProject {
            name: body.name,
            client_id: body.client_id,
            description: body.description,
            hourly_rate: body.hourly_rate,
            billable: body.billable,
            status: body.status,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ProjectCreated {
            message: "Project created successfully".into(),
            project,
        }),
    ))
}

/// Update a project (`PUT` and `PATCH` both change only the fields sent).
#[utoipa::path(
    method(put, patch), path = "/api/v1/projects/{id}", tag = "projects",
    params(("id" = Uuid, Path, description = "Project id")),
    request_body = UpdateProject,
    security(("api_token" = ["write:projects"])),
    responses(
        (status = 200, body = ProjectEnvelope),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "No such project in this workspace", body = ErrorBody),
    )
)]
async fn update_project(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateProject>,
) -> Result<Json<ProjectEnvelope>, ApiError> {
    let changes = ProjectChanges {
        name: body.name,
        client_id: body.client_id,
        description: body.description,
        hourly_rate: body.hourly_rate,
        billable: body.billable,
        status: body.status,
    };
    let project = service::update(&app.db, &caller.acting(), id, changes).await?;
    Ok(Json(ProjectEnvelope { project }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteProjectQuery {
    /// `true`: delete the project and its tasks for good (`project.deleted`), which only a
    /// project no time entry, expense, invoice line or quote line refers to allows (else 409).
    /// Default `false`: archive it (`project.archived`), as TimeTracker does.
    pub permanent: Option<bool>,
}

/// Archive a project (TimeTracker's `DELETE` semantics: nothing is deleted), or, with
/// `permanent=true`, delete it and its tasks for good.
#[utoipa::path(
    delete, path = "/api/v1/projects/{id}", tag = "projects",
    params(("id" = Uuid, Path, description = "Project id"), DeleteProjectQuery),
    security(("api_token" = ["write:projects"])),
    responses(
        (status = 200, description = "The archived project, or the deleted one as it was", body = ProjectEnvelope),
        (status = 400, description = "`permanent` is not a boolean", body = ErrorBody),
        (status = 404, description = "No such project in this workspace", body = ErrorBody),
        (status = 409, description = "`permanent=true`, but time entries, expenses, invoice lines or quote lines refer to the project (`error_code: project_in_use`, counts in `references`)", body = ErrorBody),
    )
)]
async fn archive_project(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(query): Query<DeleteProjectQuery>,
) -> Result<Json<ProjectEnvelope>, ApiError> {
    let project = if query.permanent.unwrap_or(false) {
        service::delete(&app.db, &caller.acting(), id).await?
    } else {
        service::archive(&app.db, &caller.acting(), id).await?
    };
    Ok(Json(ProjectEnvelope { project }))
}
