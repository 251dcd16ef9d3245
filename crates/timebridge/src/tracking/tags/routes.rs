//! `/api/v1/tags`: HTTP only — parse, call the service, answer.

use axum::{extract::State, http::StatusCode, response::Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    TagView,
    service::{self, NewTag, TagChanges, TagFilter},
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
        .routes(routes!(list_tags, create_tag))
        .routes(routes!(get_tag, update_tag, delete_tag))
}

#[derive(Serialize, ToSchema)]
pub struct TagList {
    pub tags: Vec<TagView>,
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct TagEnvelope {
    pub tag: TagView,
}

/// A change's answer: what happened, and the tag as it is now (or was, when deleted).
#[derive(Serialize, ToSchema)]
pub struct TagChanged {
    #[schema(example = "Tag created successfully")]
    pub message: String,
    pub tag: TagView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TagListFilter {
    /// Case-insensitive part of the name.
    pub search: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateTag {
    /// 1 to 100 characters (trimmed; not only spaces); unique in the workspace,
    /// case-insensitively (a taken name is a 409).
    #[schema(example = "backend", min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// `#rrggbb` (stored lower-case); empty is none.
    #[schema(example = "#1f6feb", pattern = "^\\s*(#[0-9A-Fa-f]{6})?\\s*$")]
    pub color: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateTag {
    /// 1 to 100 characters (trimmed; not only spaces); unique in the workspace,
    /// case-insensitively. `null` or left out: unchanged.
    #[schema(
        example = "frontend",
        min_length = 1,
        max_length = 100,
        pattern = "\\S"
    )]
    pub name: Option<String>,
    /// `#rrggbb` (stored lower-case); `null` or empty clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "#d73a49", pattern = "^\\s*(#[0-9A-Fa-f]{6})?\\s*$")]
    pub color: Option<Option<String>>,
}

/// List tags, by name regardless of case.
#[utoipa::path(
    get, path = "/api/v1/tags", tag = "tags",
    params(PageParams, TagListFilter),
    security(("api_token" = ["read:tags"])),
    responses(
        (status = 200, description = "One page of tags", body = TagList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list_tags(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<TagListFilter>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(&page)?;
    let filter = TagFilter {
        search: filter.search,
    };
    let key = ReadKey::new(
        caller.workspace_id,
        "tags.list",
        format!("{page:?}{filter:?}"),
    );
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let (tags, total) = service::list(&app.db, &acting, &filter, page).await?;
            Ok(TagList {
                tags,
                pagination: Pagination::new(page, total),
            })
        })
        .await
}

/// Get a tag.
#[utoipa::path(
    get, path = "/api/v1/tags/{id}", tag = "tags",
    params(("id" = Uuid, Path, description = "Tag id")),
    security(("api_token" = ["read:tags"])),
    responses(
        (status = 200, body = TagEnvelope),
        (status = 404, description = "No such tag in this workspace", body = ErrorBody),
    )
)]
async fn get_tag(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let key = ReadKey::new(caller.workspace_id, "tags.get", id.to_string());
    let acting = caller.acting();
    app.reads
        .json(key, || async {
            let tag = service::get(&app.db, &acting, id).await?;
            Ok(TagEnvelope { tag })
        })
        .await
}

/// Create a tag.
#[utoipa::path(
    post, path = "/api/v1/tags", tag = "tags",
    request_body = CreateTag,
    security(("api_token" = ["write:tags"])),
    responses(
        (status = 201, body = TagChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 409, description = "A tag with this name (in any case) exists", body = ErrorBody),
    )
)]
async fn create_tag(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateTag>,
) -> Result<(StatusCode, Json<TagChanged>), ApiError> {
    let new = NewTag {
        name: body.name,
        color: body.color,
    };
    let tag = service::create(&app.db, &caller.acting(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(TagChanged {
            message: "Tag created successfully".into(),
            tag,
        }),
    ))
}

/// Update a tag (`PUT` and `PATCH` both change only the fields sent).
#[utoipa::path(
    method(put, patch), path = "/api/v1/tags/{id}", tag = "tags",
    params(("id" = Uuid, Path, description = "Tag id")),
    request_body = UpdateTag,
    security(("api_token" = ["write:tags"])),
    responses(
        (status = 200, body = TagChanged),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "No such tag in this workspace", body = ErrorBody),
        (status = 409, description = "A tag with this name (in any case) exists", body = ErrorBody),
    )
)]
async fn update_tag(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateTag>,
) -> Result<Json<TagChanged>, ApiError> {
    let changes = TagChanges {
        name: body.name,
        color: body.color,
    };
    let tag = service::update(&app.db, &caller.acting(), id, changes).await?;
    Ok(Json(TagChanged {
        message: "Tag updated successfully".into(),
        tag,
    }))
}

/// Delete a tag. It disappears from every time entry; only `tag.deleted` is recorded (no
/// `time_entry.updated` for the entries that carried it).
#[utoipa::path(
    delete, path = "/api/v1/tags/{id}", tag = "tags",
    params(("id" = Uuid, Path, description = "Tag id")),
    security(("api_token" = ["write:tags"])),
    responses(
        (status = 200, description = "The deleted tag", body = TagChanged),
        (status = 404, description = "No such tag in this workspace", body = ErrorBody),
    )
)]
async fn delete_tag(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<TagChanged>, ApiError> {
    let tag = service::delete(&app.db, &caller.acting(), id).await?;
    Ok(Json(TagChanged {
        message: "Tag deleted successfully".into(),
        tag,
    }))
}
