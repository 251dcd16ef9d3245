//! `/api/v1/projects`: HTTP only — parse, call the service, answer.

use axum::{extract::State, http::StatusCode, response::Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    entity::{self as project, ProjectStatus},
    service::{self, NewProject, ProjectChanges, ProjectFilter},
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Path, Query, double_option},
        money,
        pagination::{PageParams, PageRequest, Pagination},
        read_cache::ReadKey,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, update_project, archive_project))
}

/// A project as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct ProjectView {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// Hourly rate, exact to the cent.
    #[serde(with = "rust_decimal::serde::float_option")]
    #[schema(value_type = Option<f64>, example = 85.5)]
    pub hourly_rate: Option<Decimal>,
    pub billable: bool,
    pub status: ProjectStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<project::Model> for ProjectView {
    fn from(p: project::Model) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            hourly_rate: p.hourly_rate_cents.map(money::from_cents),
            billable: p.billable,
            status: p.status,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
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
    /// Case-insensitive part of the name.
    pub search: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateProject {
    #[schema(example = "Website relaunch")]
    pub name: String,
    pub description: Option<String>,
    /// Non-negative, at most two decimal places. A number or a decimal string.
    #[schema(value_type = Option<f64>, example = 85.5)]
    pub hourly_rate: Option<Decimal>,
    /// Default `true`.
    pub billable: Option<bool>,
    /// Default `active`.
    pub status: Option<ProjectStatus>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateProject {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
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
        search: filter.search,
    };
    let key = ReadKey::new(
        caller.workspace_id,
        "projects.list",
        format!("{page:?}{:?}{:?}", filter.status, filter.search),
    );
    app.reads
        .json(key, || async {
            let (rows, total) = service::list(&app.db, caller.workspace_id, &filter, page).await?;
            Ok(ProjectList {
                projects: rows.into_iter().map(ProjectView::from).collect(),
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
    app.reads
        .json(key, || async {
            let project = service::get(app.db.conn(), caller.workspace_id, id).await?;
            Ok(ProjectEnvelope {
                project: project.into(),
            })
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
        caller.workspace_id,
        NewProject {
            name: body.name,
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
            project: project.into(),
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
        description: body.description,
        hourly_rate: body.hourly_rate,
        billable: body.billable,
        status: body.status,
    };
    let project = service::update(&app.db, caller.workspace_id, id, changes).await?;
    Ok(Json(ProjectEnvelope {
        project: project.into(),
    }))
}

/// Archive a project (TimeTracker's `DELETE` semantics: nothing is deleted).
#[utoipa::path(
    delete, path = "/api/v1/projects/{id}", tag = "projects",
    params(("id" = Uuid, Path, description = "Project id")),
    security(("api_token" = ["write:projects"])),
    responses(
        (status = 200, description = "The archived project", body = ProjectEnvelope),
        (status = 404, description = "No such project in this workspace", body = ErrorBody),
    )
)]
async fn archive_project(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<ProjectEnvelope>, ApiError> {
    let project = service::archive(&app.db, caller.workspace_id, id).await?;
    Ok(Json(ProjectEnvelope {
        project: project.into(),
    }))
}
