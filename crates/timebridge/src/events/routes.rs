//! `/api/v1/integration/events`.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    app::AppState,
    platform::{
        auth::Caller,
        error::{ApiError, ErrorBody},
        extract::{Json, Query},
        outbox::{self, EventView},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// The `sequence` of the last event already seen (a whole number, 0 or more) or that
    /// event's `id` (a UUID of an event of this workspace, else 404); omit or leave empty to
    /// start from the beginning.
    #[param(
        example = "0",
        pattern = "^\\s*([0-9]{1,18}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})?\\s*$"
    )]
    pub after: Option<String>,
    /// Events per page: default 100, at least 1; larger values than 1000 are accepted and
    /// treated as 1000.
    #[param(minimum = 1, example = 100)]
    pub limit: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct EventPage {
    /// Oldest first.
    pub events: Vec<EventView>,
    /// Pass as `after` to get the next page (the last event's sequence, or `after` again when
    /// there was none).
    pub next_after: i64,
    /// Whether more events are already waiting.
    pub has_more: bool,
}

/// The workspace's events in commit order, after a given one (admins only).
#[utoipa::path(
    get, path = "/api/v1/integration/events", tag = "events",
    params(EventQuery),
    security(("api_token" = ["admin:all"])),
    responses(
        (status = 200, description = "The next events", body = EventPage),
        (status = 400, description = "Invalid `after` or `limit`", body = ErrorBody),
        (status = 404, description = "`after` names an event of no such id", body = ErrorBody),
    )
)]
async fn list_events(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<EventQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let limit = match query.limit {
        None => DEFAULT_LIMIT,
        Some(0) => return Err(ApiError::invalid("limit", "must be at least 1")),
        Some(n) => n.min(MAX_LIMIT),
    };
    let after = match query.after.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(text) => match (text.parse::<i64>(), Uuid::parse_str(text)) {
            (Ok(n), _) if n >= 0 => n,
            (_, Ok(id)) => outbox::sequence_of(app.db.conn(), caller.workspace_id, id)
                .await?
                .ok_or(ApiError::NotFound("Event"))?,
            _ => {
                return Err(ApiError::invalid(
                    "after",
                    "must be an event's sequence number or id",
                ));
            }
        },
    };
    // One more than asked tells whether more are waiting.
    let mut rows = outbox::list_after(app.db.conn(), caller.workspace_id, after, limit + 1).await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_after = rows.last().map_or(after, |e| e.sequence);
    let events = rows
        .into_iter()
        .map(EventView::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(EventPage {
        events,
        next_after,
        has_more,
    }))
}
