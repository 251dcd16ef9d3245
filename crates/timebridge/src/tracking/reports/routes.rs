//! `/api/v1/reports/summary`: HTTP only — parse, call the service, answer.

use axum::{extract::State, response::Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    Summary,
    service::{self, SummaryParams},
};
use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::Query,
        read_cache::ReadKey,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(summary))
}

#[derive(Serialize, ToSchema)]
pub struct SummaryEnvelope {
    pub summary: Summary,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// A date (`2026-11-01`, from midnight UTC) or an ISO 8601 date-time; not after the end
    /// (so, when `end_date` is left out, not after today). Default: 29 days before the end's
    /// day.
    #[param(example = "2026-11-01", pattern = "^\\s*[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    pub start_date: Option<String>,
    /// A date (the whole day, UTC) or an ISO 8601 date-time; not before the start. Default:
    /// the end of today.
    #[param(example = "2026-11-30", pattern = "^\\s*[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    pub end_date: Option<String>,
    /// Only this project's time.
    pub project_id: Option<Uuid>,
    /// Only this user's time. Members may name only themselves; admins anyone (default:
    /// everyone).
    pub user_id: Option<Uuid>,
}

/// Hours and billable amounts of finished time entries started in a range: in total, by
/// project, by user and by day. Members see only their own time.
#[utoipa::path(
    get, path = "/api/v1/reports/summary", tag = "reports",
    params(SummaryQuery),
    security(("api_token" = ["read:reports"])),
    responses(
        (status = 200, body = SummaryEnvelope),
        (status = 400, description = "Invalid dates, or start after end", body = ErrorBody),
        (status = 403, description = "A member asked for another user's time", body = ErrorBody),
    )
)]
async fn summary(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<SummaryQuery>,
) -> Result<Response, ApiError> {
    let acting = caller.acting();
    let params = SummaryParams {
        start_date: query.start_date,
        end_date: query.end_date,
        project_id: query.project_id,
        user_id: query.user_id,
    };
    let range = service::resolve(&acting, params)?;
    let key = ReadKey::new(caller.workspace_id, "reports.summary", format!("{range:?}"));
    app.reads
        .json(key, || async {
            let summary = service::summary(&app.db, &acting, &range).await?;
            Ok(SummaryEnvelope { summary })
        })
        .await
}
