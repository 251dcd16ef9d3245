//! A stand-in for the Google Calendar API v3 events endpoints on 127.0.0.1, speaking the
//! protocol as Google documents it (https://developers.google.com/calendar/api/v3/reference/events
//! and the sync guide https://developers.google.com/calendar/api/guides/sync). `base` plays
//! `https://www.googleapis.com/calendar/v3`:
//!
//! - `GET /calendars/{calendarId}/events`: a page of `calendar#events` with `nextPageToken` on
//!   every page but the last and `nextSyncToken` on the last. Full syncs filter by `timeMin`,
//!   `timeMax`, `privateExtendedProperty`, `sharedExtendedProperty`, `iCalUID`, `q`,
//!   `updatedMin`, `showDeleted` and `singleEvents` and may be ordered by `startTime` or
//!   `updated`; an incremental sync (`syncToken`) answers what changed since the token was issued,
//!   cancelled events in Google's minimal form. A sync token combined with a filter is `400
//!   invalid`, an unknown or invalidated one `410 fullSyncRequired`.
//! - `POST /calendars/{calendarId}/events`: insert, with an optional client-supplied base32hex
//!   `id` (`409 duplicate` when taken, cancelled events included).
//! - `GET|PATCH|DELETE /calendars/{calendarId}/events/{eventId}`: read (cancelled ones too),
//!   merge top-level fields (`If-Match` honoured), cancel (`410 deleted` the second time).
//!
//! Every request needs a `ya29.` bearer (else `401 authError`) and is recorded. Tests can make
//! the next requests answer `429`/`403 rateLimitExceeded`, lose an insert's response (`503
//! backendError` after the event was stored), cap the page size and invalidate sync tokens.
//!
//! Deliberate simplifications: any calendar id exists (calendars come into being when used);
//! series masters are never expanded (tests store instances themselves, as events with
//! `recurringEventId` and `originalStartTime`); cancelling a master cancels its stored instances;
//! a `dateTime` without offset is stored as given and read as UTC when filtering; a series master
//! counts as in range whenever its first start is before `timeMax`.

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use serde_json::{Map, Value, json};
use time::{
    Date, OffsetDateTime, PrimitiveDateTime, format_description::well_known::Rfc3339,
    macros::format_description,
};
use tokio::sync::oneshot;

/// One request the stand-in received.
#[derive(Clone, Debug)]
pub struct CalendarRequest {
    pub method: String,
    /// The path as sent (percent-encoding kept), e.g. `/calendars/primary/events`.
    pub path: String,
    /// The query pairs, decoded, in order (repeated keys repeat).
    pub query: Vec<(String, String)>,
    /// The bearer token, or `""` without one.
    pub bearer: String,
    /// The JSON body, `Null` without one (a body that is not JSON is kept as a string).
    pub body: Value,
}

struct Stored {
    calendar: String,
    event: Value,
    /// The change counter's value at this event's last change.
    change: u64,
}

#[derive(Default)]
struct Inner {
    events: Vec<Stored>,
    changes: u64,
    /// Bumped by `invalidate_sync_tokens`; tokens carry the generation they were issued in.
    generation: u64,
    requests: Vec<CalendarRequest>,
    inserts: usize,
    rate_limited: usize,
    rate_status: u16,
    lose_next_insert: bool,
    page_size: Option<usize>,
    /// The last `created`/`updated` stamp handed out (they strictly increase).
    last_stamp: Option<OffsetDateTime>,
}

type Shared = Arc<Mutex<Inner>>;

/// The Google Calendar API stand-in; stops when dropped.
pub struct GoogleCalendar {
    pub base: String,
    inner: Shared,
    _stop: oneshot::Sender<()>,
}

impl GoogleCalendar {
    pub async fn start() -> Self {
        let inner = Shared::default();
        let router = Router::new()
            .route("/calendars/{calendar_id}/events", get(list).post(insert))
            .route(
                "/calendars/{calendar_id}/events/{event_id}",
                get(get_event).patch(patch).delete(delete),
            )
            .fallback(fallback)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            base: format!("http://{addr}"),
            inner,
            _stop: tx,
        }
    }

    /// The settings that point a server at this stand-in.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("GOOGLE_CALENDAR_API_URL", self.base.clone())]
    }

    /// Adds an event as if created in Google's UI; fills id (if absent), etag, created, updated,
    /// status, iCalUID…; returns the id. Counts as a change for sync tokens.
    pub fn add_event(&self, calendar_id: &str, event: Value) -> String {
        let mut state = self.inner.lock().unwrap();
        if let Some(id) = event["id"].as_str() {
            assert!(
                state.find(calendar_id, id).is_none(),
                "event {id} already exists in {calendar_id}"
            );
        }
        let index = state.create(calendar_id, event);
        state.events[index].event["id"].as_str().unwrap().to_owned()
    }

    /// Changes fields of an event as a user would in Google's UI (merge of top-level fields,
    /// `null` removes one); a change for sync tokens.
    pub fn update_event(&self, calendar_id: &str, event_id: &str, changes: Value) {
        let mut state = self.inner.lock().unwrap();
        let index = state
            .find(calendar_id, event_id)
            .unwrap_or_else(|| panic!("no event {event_id} in {calendar_id}"));
        state.merge(index, &changes);
    }

    /// Cancels (deletes) an event as a user would; a series master takes its instances along.
    pub fn cancel_event(&self, calendar_id: &str, event_id: &str) {
        let mut state = self.inner.lock().unwrap();
        let index = state
            .find(calendar_id, event_id)
            .unwrap_or_else(|| panic!("no event {event_id} in {calendar_id}"));
        state.cancel(index);
    }

    /// Every stored event of the calendar, cancelled ones included, in insertion order.
    pub fn events(&self, calendar_id: &str) -> Vec<Value> {
        let state = self.inner.lock().unwrap();
        state
            .events
            .iter()
            .filter(|s| s.calendar == calendar_id)
            .map(|s| s.event.clone())
            .collect()
    }

    /// Inserts through the API that created an event (not the 409s; a lost response counts).
    pub fn inserts(&self) -> usize {
        self.inner.lock().unwrap().inserts
    }

    /// Every request: method, path, query, bearer, body.
    pub fn requests(&self) -> Vec<CalendarRequest> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// Every sync token issued so far (and every page token of an incremental sync) stops
    /// working: its next use answers 410.
    pub fn invalidate_sync_tokens(&self) {
        self.inner.lock().unwrap().generation += 1;
    }

    /// The next `n` requests (any endpoint) answer `status` (429 or 403) with Google's
    /// `rateLimitExceeded` body, without doing anything.
    pub fn rate_limit_next(&self, n: usize, status: u16) {
        assert!(
            status == 429 || status == 403,
            "Google rate-limits with 429 or 403"
        );
        let mut state = self.inner.lock().unwrap();
        state.rate_limited = n;
        state.rate_status = status;
    }

    /// The next insert is stored, but its answer is `503 backendError`.
    pub fn lose_next_insert_response(&self) {
        self.inner.lock().unwrap().lose_next_insert = true;
    }

    /// At most `n` items per page, whatever `maxResults` says.
    pub fn page_size(&self, n: usize) {
        assert!(n > 0);
        self.inner.lock().unwrap().page_size = Some(n);
    }
}

// ---------------------------------------------------------------------------------------------
// State

impl Inner {
    fn find(&self, calendar: &str, id: &str) -> Option<usize> {
        self.events
            .iter()
            .position(|s| s.calendar == calendar && s.event["id"] == id)
    }

    /// An RFC 3339 UTC stamp with milliseconds, strictly later than the previous one.
    fn stamp(&mut self) -> String {
        let mut now = OffsetDateTime::now_utc();
        now = now
            .replace_nanosecond(u32::from(now.millisecond()) * 1_000_000)
            .unwrap();
        if let Some(last) = self.last_stamp
            && now <= last
        {
            now = last + time::Duration::milliseconds(1);
        }
        self.last_stamp = Some(now);
        now.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap()
    }

    /// Records a change of `events[index]`: new change number, etag and `updated`.
    fn touch(&mut self, index: usize) {
        self.changes += 1;
        let change = self.changes;
        let updated = self.stamp();
        let stored = &mut self.events[index];
        stored.change = change;
        stored.event["etag"] = json!(etag(change));
        stored.event["updated"] = json!(updated);
    }

    /// Stores a new event with Google's server-filled fields; returns its index.
    fn create(&mut self, calendar: &str, mut event: Value) -> usize {
        let id = match event["id"].as_str() {
            Some(id) => id.to_owned(),
            None => new_id(),
        };
        let created = self.stamp();
        let fields = event.as_object_mut().expect("an event is a JSON object");
        fields.insert("kind".into(), json!("calendar#event"));
        fields.insert("id".into(), json!(id));
        fields.entry("status").or_insert_with(|| json!("confirmed"));
        fields.insert(
            "htmlLink".into(),
            json!(format!(
                "https://www.google.com/calendar/event?eid={}",
                URL_SAFE_NO_PAD.encode(format!("{id} {calendar}"))
            )),
        );
        fields.insert("created".into(), json!(created));
        fields
            .entry("iCalUID")
            .or_insert_with(|| json!(format!("{id}@google.com")));
        fields.entry("sequence").or_insert_with(|| json!(0));
        let me = json!({"email": "ada@example.com", "self": true});
        fields.insert("creator".into(), me.clone());
        fields.entry("organizer").or_insert(me);
        fields
            .entry("reminders")
            .or_insert_with(|| json!({"useDefault": true}));
        fields
            .entry("eventType")
            .or_insert_with(|| json!("default"));
        self.events.push(Stored {
            calendar: calendar.to_owned(),
            event,
            change: 0,
        });
        let index = self.events.len() - 1;
        self.touch(index);
        index
    }

    /// Merges top-level fields (`null` removes one; read-only fields are ignored), bumps
    /// `sequence` and records the change.
    fn merge(&mut self, index: usize, changes: &Value) {
        const READ_ONLY: &[&str] = &[
            "kind", "etag", "id", "created", "updated", "htmlLink", "iCalUID", "creator",
        ];
        let event = self.events[index]
            .event
            .as_object_mut()
            .expect("an event is a JSON object");
        for (key, value) in changes.as_object().expect("changes are a JSON object") {
            if READ_ONLY.contains(&key.as_str()) || key == "sequence" {
                continue;
            }
            if value.is_null() {
                event.remove(key);
            } else {
                event.insert(key.clone(), value.clone());
            }
        }
        let sequence = event.get("sequence").and_then(Value::as_u64).unwrap_or(0);
        event.insert("sequence".into(), json!(sequence + 1));
        self.touch(index);
    }

    /// Marks the event cancelled; a series master takes its stored instances along.
    fn cancel(&mut self, index: usize) {
        self.events[index].event["status"] = json!("cancelled");
        self.touch(index);
        let calendar = self.events[index].calendar.clone();
        let id = self.events[index].event["id"].clone();
        let instances: Vec<usize> = (0..self.events.len())
            .filter(|&i| {
                let s = &self.events[i];
                s.calendar == calendar
                    && s.event["recurringEventId"] == id
                    && s.event["status"] != "cancelled"
            })
            .collect();
        for i in instances {
            self.events[i].event["status"] = json!("cancelled");
            self.touch(i);
        }
    }
}

fn etag(change: u64) -> String {
    format!("\"{}\"", 3_512_000_000_000_000u64 + change * 1_398)
}

const BASE32HEX: &[u8] = b"0123456789abcdefghijklmnopqrstuv";

/// A new event id, 26 base32hex characters as Google generates them.
fn new_id() -> String {
    let mut bits: u128 = rand::random();
    (0..26)
        .map(|_| {
            let c = BASE32HEX[(bits & 31) as usize] as char;
            bits >>= 5;
            c
        })
        .collect()
}

fn valid_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| BASE32HEX.contains(&b))
}

// ---------------------------------------------------------------------------------------------
// Errors, as Google's JSON error bodies

fn google_error(status: StatusCode, domain: &str, reason: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "error": {
                "code": status.as_u16(),
                "message": message,
                "errors": [{"domain": domain, "reason": reason, "message": message}],
            }
        })),
    )
        .into_response()
}

/// An error answer on its way out of a fallible helper (boxed: a `Response` is large).
struct Refusal(Box<Response>);

impl From<Response> for Refusal {
    fn from(response: Response) -> Self {
        Self(Box::new(response))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

fn refuse<T>(response: Response) -> Result<T, Refusal> {
    Err(response.into())
}

fn invalid(message: &str) -> Response {
    google_error(StatusCode::BAD_REQUEST, "global", "invalid", message)
}

fn not_found() -> Response {
    google_error(StatusCode::NOT_FOUND, "global", "notFound", "Not Found")
}

fn full_sync_required() -> Response {
    google_error(
        StatusCode::GONE,
        "global",
        "fullSyncRequired",
        "Sync token is no longer valid, a full sync is required.",
    )
}

fn unauthenticated() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            "www-authenticate",
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        )],
        axum::Json(json!({
            "error": {
                "code": 401,
                "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "errors": [{
                    "message": "Invalid Credentials",
                    "domain": "global",
                    "reason": "authError",
                    "location": "Authorization",
                    "locationType": "header",
                }],
                "status": "UNAUTHENTICATED",
            }
        })),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// What every handler gets.
struct Request {
    query: Vec<(String, String)>,
    body: Value,
}

impl Request {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn params(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn flag(&self, name: &str) -> Result<bool, Refusal> {
        match self.param(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => refuse(invalid(&format!(
                "Invalid value '{other}'. Values must match the following regular expression: 'true|false'"
            ))),
        }
    }
}

/// Records the request, then answers a pending rate limit, a missing `ya29.` bearer or a body
/// that is not JSON; otherwise hands the parsed request on.
fn admit(
    inner: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    raw_query: Option<String>,
    body: &Bytes,
) -> Result<Request, Refusal> {
    let query: Vec<(String, String)> =
        form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let parsed: Result<Value, ()> = if body.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice(body).map_err(|_| ())
    };
    let mut state = inner.lock().unwrap();
    state.requests.push(CalendarRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: query.clone(),
        bearer: bearer.clone(),
        body: parsed
            .clone()
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned())),
    });
    if state.rate_limited > 0 {
        state.rate_limited -= 1;
        let status = StatusCode::from_u16(state.rate_status).unwrap();
        return refuse(google_error(
            status,
            "usageLimits",
            "rateLimitExceeded",
            "Rate Limit Exceeded",
        ));
    }
    drop(state);
    if !bearer.starts_with("ya29.") {
        return refuse(unauthenticated());
    }
    let Ok(body) = parsed else {
        return refuse(google_error(
            StatusCode::BAD_REQUEST,
            "global",
            "parseError",
            "Parse Error",
        ));
    };
    Ok(Request { query, body })
}

async fn fallback(
    State(inner): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(refusal) = admit(&inner, &method, &uri, &headers, raw, &body) {
        return refusal.into_response();
    }
    not_found()
}

/// The instant an `EventDateTime` (`{"dateTime", "timeZone"?}` or `{"date"}`) stands for, for
/// filtering and ordering; a `dateTime` without offset is read as UTC and a `date` as midnight
/// UTC (the calendar's time zone).
fn instant(when: &Value) -> Option<OffsetDateTime> {
    if let Some(date_time) = when["dateTime"].as_str() {
        if let Ok(t) = OffsetDateTime::parse(date_time, &Rfc3339) {
            return Some(t);
        }
        let local = PrimitiveDateTime::parse(
            date_time,
            format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
            ),
        )
        .ok()?;
        return Some(local.assume_utc());
    }
    let date = Date::parse(
        when["date"].as_str()?,
        format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    Some(date.midnight().assume_utc())
}

/// Google's checks of an event's `start` and `end`.
fn check_times(event: &Value) -> Result<(), Refusal> {
    let mut instants = vec![];
    for (field, name) in [("start", "start"), ("end", "end")] {
        let when = &event[field];
        if !when.is_object() || (when["dateTime"].is_null() && when["date"].is_null()) {
            return refuse(google_error(
                StatusCode::BAD_REQUEST,
                "global",
                "required",
                &format!("Missing {name} time."),
            ));
        }
        if !when["dateTime"].is_null() && !when["date"].is_null() {
            return refuse(invalid(&format!("Invalid {name} time.")));
        }
        if let Some(date_time) = when["dateTime"].as_str()
            && OffsetDateTime::parse(date_time, &Rfc3339).is_err()
            && when["timeZone"].as_str().is_none_or(str::is_empty)
        {
            if instant(when).is_some() {
                return refuse(google_error(
                    StatusCode::BAD_REQUEST,
                    "global",
                    "required",
                    &format!("Missing time zone definition for {name} time."),
                ));
            }
            return refuse(invalid(&format!("Invalid {name} time.")));
        }
        match instant(when) {
            Some(t) => instants.push(t),
            None => return refuse(invalid(&format!("Invalid {name} time."))),
        }
    }
    if instants[1] < instants[0] {
        return refuse(google_error(
            StatusCode::BAD_REQUEST,
            "global",
            "timeRangeEmpty",
            "The specified time range is empty.",
        ));
    }
    Ok(())
}

/// What an event looks like in a list: cancelled ones in Google's minimal form.
fn listed(event: &Value) -> Value {
    if event["status"] != "cancelled" {
        return event.clone();
    }
    let mut minimal = Map::new();
    for key in [
        "kind",
        "etag",
        "id",
        "status",
        "recurringEventId",
        "originalStartTime",
    ] {
        if let Some(value) = event.get(key) {
            minimal.insert(key.into(), value.clone());
        }
    }
    Value::Object(minimal)
}

/// Where a listing stands: what a page token carries.
struct Cursor {
    /// The change number an incremental sync started from (`None`: a full sync).
    since: Option<u64>,
    /// The generation the sync token was issued in (checked for incremental syncs only).
    generation: u64,
    /// The change counter when the listing began: the next sync token's position.
    sync_at: u64,
    /// The sort key of the last item handed out.
    after: Option<(i128, usize)>,
}

fn sync_token(calendar: &str, generation: u64, at: u64) -> String {
    STANDARD.encode(format!("sync\n{calendar}\n{generation}\n{at}"))
}

fn parse_sync_token(token: &str) -> Option<(String, u64, u64)> {
    let text = String::from_utf8(STANDARD.decode(token).ok()?).ok()?;
    let parts: Vec<&str> = text.split('\n').collect();
    match parts.as_slice() {
        ["sync", calendar, generation, at] => Some((
            calendar.to_string(),
            generation.parse().ok()?,
            at.parse().ok()?,
        )),
        _ => None,
    }
}

fn page_token(calendar: &str, cursor: &Cursor) -> String {
    let since = cursor.since.map(|n| n.to_string()).unwrap_or_default();
    let (key, index) = cursor.after.unwrap_or_default();
    URL_SAFE_NO_PAD.encode(format!(
        "page\n{calendar}\n{}\n{since}\n{}\n{key}\n{index}",
        cursor.generation, cursor.sync_at
    ))
}

fn parse_page_token(token: &str) -> Option<(String, Cursor)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let parts: Vec<&str> = text.split('\n').collect();
    let ["page", calendar, generation, since, sync_at, key, index] = parts.as_slice() else {
        return None;
    };
    Some((
        calendar.to_string(),
        Cursor {
            since: if since.is_empty() {
                None
            } else {
                Some(since.parse().ok()?)
            },
            generation: generation.parse().ok()?,
            sync_at: sync_at.parse().ok()?,
            after: Some((key.parse().ok()?, index.parse().ok()?)),
        },
    ))
}

fn extended_properties_match(event: &Value, scope: &str, filters: &[&str]) -> bool {
    filters.iter().all(|filter| {
        let (key, value) = filter.split_once('=').unwrap_or((filter, ""));
        event["extendedProperties"][scope][key] == value
    })
}

async fn list(
    State(inner): State<Shared>,
    Path(calendar): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let request = match admit(&inner, &method, &uri, &headers, raw, &body) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    match list_events(&inner, &calendar, &request) {
        Ok(page) => page,
        Err(refusal) => refusal.into_response(),
    }
}

fn list_events(inner: &Shared, calendar: &str, request: &Request) -> Result<Response, Refusal> {
    let single_events = request.flag("singleEvents")?;
    let show_deleted = request.flag("showDeleted")?;
    let given_sync_token = request.param("syncToken");
    if given_sync_token.is_some() {
        for filter in [
            "timeMin",
            "timeMax",
            "updatedMin",
            "privateExtendedProperty",
            "sharedExtendedProperty",
            "orderBy",
            "q",
            "iCalUID",
        ] {
            if request.param(filter).is_some() {
                return refuse(invalid(&format!(
                    "Invalid combination of parameters: syncToken cannot be combined with {filter}."
                )));
            }
        }
    }
    let time = |name: &str| -> Result<Option<OffsetDateTime>, Refusal> {
        request
            .param(name)
            .map(|v| {
                OffsetDateTime::parse(v, &Rfc3339)
                    .map_err(|_| Refusal::from(invalid("Bad Request")))
            })
            .transpose()
    };
    let time_min = time("timeMin")?;
    let time_max = time("timeMax")?;
    let updated_min = time("updatedMin")?;
    if let (Some(min), Some(max)) = (time_min, time_max)
        && max <= min
    {
        return refuse(invalid("The specified time range is empty."));
    }
    let max_results = match request.param("maxResults") {
        None => 250,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(2500),
            _ => {
                return refuse(invalid(&format!(
                    "Invalid value '{n}'. Values must be within the range: [1, 2500]"
                )));
            }
        },
    };
    let order_by = request.param("orderBy");
    match order_by {
        None | Some("updated") => {}
        Some("startTime") if single_events => {}
        Some("startTime") => {
            return refuse(google_error(
                StatusCode::BAD_REQUEST,
                "global",
                "badRequest",
                "The requested ordering is not available for the particular query.",
            ));
        }
        Some(other) => return refuse(invalid(&format!("Invalid value for orderBy: {other}"))),
    }
    let private = request.params("privateExtendedProperty");
    let shared = request.params("sharedExtendedProperty");
    let ical_uid = request.param("iCalUID");
    let text = request.param("q").map(str::to_lowercase);

    let state = inner.lock().unwrap();
    let max_results = state
        .page_size
        .map_or(max_results, |cap| cap.min(max_results));
    let cursor = if let Some(token) = request.param("pageToken") {
        let Some((token_calendar, cursor)) = parse_page_token(token) else {
            return refuse(invalid("Invalid page token value."));
        };
        if token_calendar != calendar {
            return refuse(invalid("Invalid page token value."));
        }
        if cursor.since.is_some() && cursor.generation != state.generation {
            return refuse(full_sync_required());
        }
        cursor
    } else if let Some(token) = given_sync_token {
        match parse_sync_token(token) {
            Some((token_calendar, generation, at))
                if token_calendar == calendar
                    && generation == state.generation
                    && at <= state.changes =>
            {
                Cursor {
                    since: Some(at),
                    generation,
                    sync_at: state.changes,
                    after: None,
                }
            }
            _ => return refuse(full_sync_required()),
        }
    } else {
        Cursor {
            since: None,
            generation: state.generation,
            sync_at: state.changes,
            after: None,
        }
    };

    let mut matching: Vec<((i128, usize), &Value)> = state
        .events
        .iter()
        .enumerate()
        .filter(|(_, stored)| stored.calendar == calendar)
        .filter(|(_, stored)| {
            let event = &stored.event;
            let master = event["recurrence"]
                .as_array()
                .is_some_and(|r| !r.is_empty());
            let instance = !event["recurringEventId"].is_null();
            if (single_events && master) || (!single_events && instance) {
                return false;
            }
            if let Some(since) = cursor.since {
                return stored.change > since;
            }
            let updated = event["updated"]
                .as_str()
                .and_then(|u| OffsetDateTime::parse(u, &Rfc3339).ok());
            if event["status"] == "cancelled" && !show_deleted && updated_min.is_none() {
                return false;
            }
            if let (Some(min), Some(updated)) = (updated_min, updated)
                && updated < min
            {
                return false;
            }
            let start = instant(&event["start"]);
            let end = instant(&event["end"]);
            if let (Some(min), Some(end)) = (time_min, end)
                && end <= min
                && !master
            {
                return false;
            }
            if let (Some(max), Some(start)) = (time_max, start)
                && start >= max
            {
                return false;
            }
            if let Some(uid) = ical_uid
                && event["iCalUID"] != uid
            {
                return false;
            }
            if let Some(text) = &text {
                let haystack = ["summary", "description", "location"]
                    .iter()
                    .filter_map(|f| event[*f].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
                    .to_lowercase();
                if !haystack.contains(text.as_str()) {
                    return false;
                }
            }
            extended_properties_match(event, "private", &private)
                && extended_properties_match(event, "shared", &shared)
        })
        .map(|(index, stored)| {
            let nanos =
                |t: Option<OffsetDateTime>| t.map_or(i128::MIN, |t| t.unix_timestamp_nanos());
            let key = match order_by {
                Some("startTime") => nanos(instant(&stored.event["start"])),
                Some("updated") => nanos(
                    stored.event["updated"]
                        .as_str()
                        .and_then(|u| OffsetDateTime::parse(u, &Rfc3339).ok()),
                ),
                _ => 0,
            };
            ((key, index), &stored.event)
        })
        .filter(|(key, _)| cursor.after.is_none_or(|after| *key > after))
        .collect();
    matching.sort_by_key(|(key, _)| *key);

    let more = matching.len() > max_results;
    matching.truncate(max_results);
    let items: Vec<Value> = matching.iter().map(|(_, event)| listed(event)).collect();
    let updated = state
        .events
        .iter()
        .filter(|s| s.calendar == calendar)
        .filter_map(|s| s.event["updated"].as_str())
        .max()
        .map(str::to_owned)
        .unwrap_or_else(|| "2026-01-01T00:00:00.000Z".to_owned());
    let mut page = json!({
        "kind": "calendar#events",
        "etag": format!("\"p3{:014x}\"", state.changes * 7919),
        "summary": calendar,
        "updated": updated,
        "timeZone": "UTC",
        "accessRole": "owner",
        "defaultReminders": [],
        "items": items,
    });
    if more {
        let next = Cursor {
            after: matching.last().map(|(key, _)| *key),
            ..cursor
        };
        page["nextPageToken"] = json!(page_token(calendar, &next));
    } else {
        page["nextSyncToken"] = json!(sync_token(calendar, state.generation, cursor.sync_at));
    }
    Ok(axum::Json(page).into_response())
}

async fn insert(
    State(inner): State<Shared>,
    Path(calendar): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let request = match admit(&inner, &method, &uri, &headers, raw, &body) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    let event = request.body;
    if !event.is_object() {
        return google_error(
            StatusCode::BAD_REQUEST,
            "global",
            "required",
            "Missing end time.",
        );
    }
    let mut state = inner.lock().unwrap();
    if let Some(id) = event.get("id") {
        match id.as_str() {
            Some(id) if valid_id(id) => {
                if state.find(&calendar, id).is_some() {
                    return google_error(
                        StatusCode::CONFLICT,
                        "global",
                        "duplicate",
                        "The requested identifier already exists.",
                    );
                }
            }
            _ => return invalid("Invalid resource id value."),
        }
    }
    if let Err(refusal) = check_times(&event) {
        return refusal.into_response();
    }
    let mut event = event;
    if let Some(fields) = event.as_object_mut() {
        for read_only in ["kind", "etag", "created", "updated", "htmlLink", "creator"] {
            fields.remove(read_only);
        }
    }
    let index = state.create(&calendar, event);
    state.inserts += 1;
    if std::mem::take(&mut state.lose_next_insert) {
        return google_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "global",
            "backendError",
            "Backend Error",
        );
    }
    axum::Json(state.events[index].event.clone()).into_response()
}

async fn get_event(
    State(inner): State<Shared>,
    Path((calendar, id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(refusal) = admit(&inner, &method, &uri, &headers, raw, &body) {
        return refusal.into_response();
    }
    let state = inner.lock().unwrap();
    match state.find(&calendar, &id) {
        Some(index) => axum::Json(state.events[index].event.clone()).into_response(),
        None => not_found(),
    }
}

async fn patch(
    State(inner): State<Shared>,
    Path((calendar, id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let request = match admit(&inner, &method, &uri, &headers, raw, &body) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    if !request.body.is_object() {
        return invalid("Bad Request");
    }
    let mut state = inner.lock().unwrap();
    let Some(index) = state.find(&calendar, &id) else {
        return not_found();
    };
    if let Some(if_match) = headers.get("if-match").and_then(|v| v.to_str().ok())
        && if_match != "*"
        && state.events[index].event["etag"] != if_match
    {
        return (
            StatusCode::PRECONDITION_FAILED,
            axum::Json(json!({
                "error": {
                    "code": 412,
                    "message": "Precondition Failed",
                    "errors": [{
                        "domain": "global",
                        "reason": "conditionNotMet",
                        "message": "Precondition Failed",
                        "locationType": "header",
                        "location": "If-Match",
                    }],
                }
            })),
        )
            .into_response();
    }
    if request.body.get("start").is_some() || request.body.get("end").is_some() {
        let mut merged = state.events[index].event.clone();
        for key in ["start", "end"] {
            if let Some(value) = request.body.get(key) {
                merged[key] = value.clone();
            }
        }
        if let Err(refusal) = check_times(&merged) {
            return refusal.into_response();
        }
    }
    state.merge(index, &request.body);
    axum::Json(state.events[index].event.clone()).into_response()
}

async fn delete(
    State(inner): State<Shared>,
    Path((calendar, id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(refusal) = admit(&inner, &method, &uri, &headers, raw, &body) {
        return refusal.into_response();
    }
    let mut state = inner.lock().unwrap();
    let Some(index) = state.find(&calendar, &id) else {
        return not_found();
    };
    if state.events[index].event["status"] == "cancelled" {
        return google_error(
            StatusCode::GONE,
            "global",
            "deleted",
            "Resource has been deleted",
        );
    }
    state.cancel(index);
    StatusCode::NO_CONTENT.into_response()
}

// ---------------------------------------------------------------------------------------------
// Self-tests

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "ya29.a0AfB_stand-in";

    struct Client {
        http: reqwest::Client,
        base: String,
    }

    impl Client {
        fn new(calendar: &GoogleCalendar) -> Self {
            let (_, base) = calendar.env().remove(0);
            Self {
                http: reqwest::Client::new(),
                base,
            }
        }

        async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
            let response = request.bearer_auth(TOKEN).send().await.expect("send");
            let status = response.status().as_u16();
            let text = response.text().await.expect("body");
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }

        async fn list(&self, calendar: &str, query: &[(&str, &str)]) -> (u16, Value) {
            let url = format!("{}/calendars/{calendar}/events", self.base);
            self.send(self.http.get(url).query(query)).await
        }

        async fn insert(&self, calendar: &str, event: Value) -> (u16, Value) {
            let url = format!("{}/calendars/{calendar}/events", self.base);
            self.send(self.http.post(url).json(&event)).await
        }

        /// Follows `nextPageToken`s; returns every item and the final `nextSyncToken`.
        async fn sync(
            &self,
            calendar: &str,
            query: &[(&str, &str)],
        ) -> (Vec<Value>, String, usize) {
            let mut items = vec![];
            let mut page_token: Option<String> = None;
            let mut pages = 0;
            loop {
                let mut q: Vec<(&str, &str)> = query.to_vec();
                if let Some(token) = &page_token {
                    q.push(("pageToken", token));
                }
                let (status, page) = self.list(calendar, &q).await;
                assert_eq!(status, 200, "{page}");
                pages += 1;
                assert_eq!(page["kind"], "calendar#events");
                items.extend(page["items"].as_array().unwrap().iter().cloned());
                match page["nextPageToken"].as_str() {
                    Some(next) => {
                        assert!(page.get("nextSyncToken").is_none(), "{page}");
                        page_token = Some(next.to_owned());
                    }
                    None => {
                        return (
                            items,
                            page["nextSyncToken"]
                                .as_str()
                                .expect("a sync token")
                                .to_owned(),
                            pages,
                        );
                    }
                }
            }
        }
    }

    fn timed(summary: &str, start: &str, end: &str) -> Value {
        json!({"summary": summary, "start": {"dateTime": start}, "end": {"dateTime": end}})
    }

    fn ids(items: &[Value]) -> Vec<String> {
        items
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn google_calendar_stand_in_full_then_incremental_sync() {
        let google = GoogleCalendar::start().await;
        let client = Client::new(&google);
        google.page_size(2);
        let added: Vec<String> = (0..5)
            .map(|i| {
                google.add_event(
                    "primary",
                    timed(
                        &format!("Meeting {i}"),
                        &format!("2026-12-0{}T10:00:00Z", i + 1),
                        &format!("2026-12-0{}T11:00:00Z", i + 1),
                    ),
                )
            })
            .collect();
        let (items, token, pages) = client.sync("primary", &[("singleEvents", "true")]).await;
        assert_eq!(pages, 3);
        assert_eq!(ids(&items), added);
        let first = &items[0];
        assert_eq!(first["kind"], "calendar#event");
        assert_eq!(first["status"], "confirmed");
        assert_eq!(first["iCalUID"], format!("{}@google.com", added[0]));
        assert!(first["etag"].as_str().unwrap().starts_with('"'));
        assert_eq!(first["created"].as_str().unwrap().len(), 24);
        assert!(added.iter().all(|id| valid_id(id)));

        google.update_event("primary", &added[1], json!({"summary": "Moved"}));
        google.cancel_event("primary", &added[3]);
        let (changed, token2, _) = client
            .sync(
                "primary",
                &[("singleEvents", "true"), ("syncToken", &token)],
            )
            .await;
        assert_eq!(ids(&changed), vec![added[1].clone(), added[3].clone()]);
        assert_eq!(changed[0]["summary"], "Moved");
        assert_eq!(changed[0]["sequence"], 1);
        assert_ne!(changed[0]["etag"], items[1]["etag"]);
        let cancelled = changed[1].as_object().unwrap();
        assert_eq!(changed[1]["status"], "cancelled");
        let mut keys: Vec<&str> = cancelled.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["etag", "id", "kind", "status"]);

        // Nothing since: no items, a token still.
        let (none, token3, _) = client.sync("primary", &[("syncToken", &token2)]).await;
        assert!(none.is_empty());

        // An incremental sync pages too.
        for i in 0..3 {
            google.add_event(
                "primary",
                timed(
                    &format!("Late {i}"),
                    "2026-12-20T10:00:00Z",
                    "2026-12-20T11:00:00Z",
                ),
            );
        }
        let (late, _, pages) = client.sync("primary", &[("syncToken", &token3)]).await;
        assert_eq!((late.len(), pages), (3, 2));

        // A full sync without showDeleted leaves the cancelled one out; with it, it is there.
        let (all, _, _) = client.sync("primary", &[]).await;
        assert_eq!(all.len(), 7);
        let (all, _, _) = client.sync("primary", &[("showDeleted", "true")]).await;
        assert_eq!(all.len(), 8);
        assert_eq!(google.events("primary").len(), 8);

        // Range: end > timeMin and start < timeMax.
        let (in_range, _, _) = client
            .sync(
                "primary",
                &[
                    ("timeMin", "2026-12-02T11:00:00Z"),
                    ("timeMax", "2026-12-05T10:00:00+00:00"),
                ],
            )
            .await;
        assert_eq!(ids(&in_range), vec![added[2].clone()]);
    }

    #[tokio::test]
    async fn google_calendar_stand_in_sync_token_errors() {
        let google = GoogleCalendar::start().await;
        let client = Client::new(&google);
        google.add_event(
            "primary",
            timed("A", "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z"),
        );
        let (_, token, _) = client.sync("primary", &[]).await;

        let (status, body) = client
            .list(
                "primary",
                &[("syncToken", &token), ("timeMin", "2026-12-01T00:00:00Z")],
            )
            .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["errors"][0]["reason"], "invalid");

        let (status, _) = client
            .list("other@group.calendar.google.com", &[("syncToken", &token)])
            .await;
        assert_eq!(status, 410);

        google.invalidate_sync_tokens();
        let (status, body) = client.list("primary", &[("syncToken", &token)]).await;
        assert_eq!(status, 410);
        assert_eq!(
            body,
            json!({"error": {"code": 410, "message": "Sync token is no longer valid, a full sync is required.", "errors": [{"domain": "global", "reason": "fullSyncRequired", "message": "Sync token is no longer valid, a full sync is required."}]}})
        );
        let (status, _) = client
            .list("primary", &[("syncToken", "bm9uc2Vuc2U=")])
            .await;
        assert_eq!(status, 410);
        // A fresh full sync gives a working token.
        let (_, token, _) = client.sync("primary", &[]).await;
        let (status, _) = client.list("primary", &[("syncToken", &token)]).await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn google_calendar_stand_in_insert_patch_delete() {
        let google = GoogleCalendar::start().await;
        let client = Client::new(&google);
        let event = json!({
            "id": "tb0123456789abcdef",
            "summary": "Focus",
            "start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "Europe/Paris"},
            "end": {"dateTime": "2026-12-01T11:00:00", "timeZone": "Europe/Paris"},
            "extendedProperties": {"private": {"timebridgeEntry": "42"}},
        });
        let (status, created) = client.insert("primary", event.clone()).await;
        assert_eq!(status, 200, "{created}");
        assert_eq!(created["id"], "tb0123456789abcdef");
        assert_eq!(created["start"]["dateTime"], "2026-12-01T10:00:00");
        assert_eq!(
            created["organizer"],
            json!({"email": "ada@example.com", "self": true})
        );
        let (status, body) = client.insert("primary", event).await;
        assert_eq!(status, 409);
        assert_eq!(
            body,
            json!({"error": {"code": 409, "message": "The requested identifier already exists.", "errors": [{"domain": "global", "reason": "duplicate", "message": "The requested identifier already exists."}]}})
        );
        assert_eq!(google.inserts(), 1);

        let (status, body) = client
            .insert("primary", json!({"id": "UPPER-case", "start": {"date": "2026-12-01"}, "end": {"date": "2026-12-02"}}))
            .await;
        assert_eq!(
            (status, body["error"]["errors"][0]["reason"].as_str()),
            (400, Some("invalid"))
        );
        let (status, _) = client
            .insert("primary", json!({"start": {"dateTime": "2026-12-01T10:00:00"}, "end": {"dateTime": "2026-12-01T11:00:00Z"}}))
            .await;
        assert_eq!(status, 400);
        let (status, _) = client
            .insert("primary", json!({"start": {"date": "2026-12-01"}}))
            .await;
        assert_eq!(status, 400);

        let url = format!(
            "{}/calendars/primary/events/tb0123456789abcdef",
            google.base
        );
        let (status, patched) = client
            .send(
                client
                    .http
                    .patch(&url)
                    .json(&json!({"summary": "Deep work"})),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            (patched["summary"].as_str(), patched["sequence"].as_u64()),
            (Some("Deep work"), Some(1))
        );
        assert_eq!(
            patched["extendedProperties"]["private"]["timebridgeEntry"],
            "42"
        );
        assert_ne!(patched["etag"], created["etag"]);
        assert!(patched["updated"].as_str() > created["updated"].as_str());
        let (status, _) = client
            .send(
                client
                    .http
                    .patch(&url)
                    .header("if-match", created["etag"].as_str().unwrap())
                    .json(&json!({"summary": "x"})),
            )
            .await;
        assert_eq!(status, 412);
        let (status, body) = client
            .send(
                client
                    .http
                    .patch(format!("{url}zz"))
                    .json(&json!({"summary": "x"})),
            )
            .await;
        assert_eq!(status, 404);
        assert_eq!(body["error"]["errors"][0]["reason"], "notFound");

        let (status, _) = client.send(client.http.delete(&url)).await;
        assert_eq!(status, 204);
        let (status, body) = client.send(client.http.delete(&url)).await;
        assert_eq!(
            (status, body["error"]["errors"][0]["reason"].as_str()),
            (410, Some("deleted"))
        );
        let (status, got) = client.send(client.http.get(&url)).await;
        assert_eq!((status, got["status"].as_str()), (200, Some("cancelled")));
        assert_eq!(got["summary"], "Deep work");
        // Even a cancelled id is taken.
        let (status, _) = client
            .insert("primary", json!({"id": "tb0123456789abcdef", "start": {"date": "2026-12-01"}, "end": {"date": "2026-12-02"}}))
            .await;
        assert_eq!(status, 409);
        let (status, _) = client.send(client.http.get(format!("{url}zz"))).await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn google_calendar_stand_in_lost_insert_and_rate_limits() {
        let google = GoogleCalendar::start().await;
        let client = Client::new(&google);
        google.lose_next_insert_response();
        let (status, body) = client
            .insert("primary", json!({"id": "lost00001", "summary": "Lost", "start": {"date": "2026-12-01"}, "end": {"date": "2026-12-02"}}))
            .await;
        assert_eq!(status, 503);
        assert_eq!(body["error"]["errors"][0]["reason"], "backendError");
        assert_eq!(google.events("primary")[0]["id"], "lost00001");
        assert_eq!(google.inserts(), 1);
        let url = format!("{}/calendars/primary/events/lost00001", google.base);
        let (status, _) = client.send(client.http.get(&url)).await;
        assert_eq!(status, 200);

        google.rate_limit_next(2, 429);
        for _ in 0..2 {
            let (status, body) = client.list("primary", &[]).await;
            assert_eq!(status, 429);
            assert_eq!(
                body,
                json!({"error": {"code": 429, "message": "Rate Limit Exceeded", "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}]}})
            );
        }
        let (status, _) = client.list("primary", &[]).await;
        assert_eq!(status, 200);
        google.rate_limit_next(1, 403);
        let (status, body) = client.send(client.http.get(&url)).await;
        assert_eq!((status, body["error"]["code"].as_u64()), (403, Some(403)));
        assert_eq!(body["error"]["errors"][0]["reason"], "rateLimitExceeded");
    }

    #[tokio::test]
    async fn google_calendar_stand_in_recurring_and_filters() {
        let google = GoogleCalendar::start().await;
        let client = Client::new(&google);
        let master = google.add_event(
            "primary",
            json!({"summary": "Standup", "start": {"dateTime": "2026-12-01T09:00:00Z"}, "end": {"dateTime": "2026-12-01T09:15:00Z"}, "recurrence": ["RRULE:FREQ=DAILY;COUNT=2"]}),
        );
        let instances: Vec<String> = ["01", "02"]
            .iter()
            .map(|day| {
                let start = format!("2026-12-{day}T09:00:00Z");
                google.add_event(
                    "primary",
                    json!({
                        "id": format!("{master}_202612{day}t090000z"),
                        "summary": "Standup",
                        "recurringEventId": master,
                        "originalStartTime": {"dateTime": start},
                        "start": {"dateTime": start},
                        "end": {"dateTime": format!("2026-12-{day}T09:15:00Z")},
                    }),
                )
            })
            .collect();
        let (single, _, _) = client
            .sync(
                "primary",
                &[("singleEvents", "true"), ("orderBy", "startTime")],
            )
            .await;
        assert_eq!(ids(&single), instances);
        let (series, token, _) = client.sync("primary", &[("singleEvents", "false")]).await;
        assert_eq!(ids(&series), vec![master.clone()]);
        let (status, _) = client.list("primary", &[("orderBy", "startTime")]).await;
        assert_eq!(status, 400);

        // Cancelling the series cancels its instances; a single-events sync sees them go.
        let (_, single_token, _) = client.sync("primary", &[("singleEvents", "true")]).await;
        google.cancel_event("primary", &master);
        let (gone, _, _) = client
            .sync(
                "primary",
                &[("singleEvents", "true"), ("syncToken", &single_token)],
            )
            .await;
        assert_eq!(ids(&gone), instances);
        assert_eq!(gone[0]["recurringEventId"], master.as_str());
        assert_eq!(
            gone[0]["originalStartTime"]["dateTime"],
            "2026-12-01T09:00:00Z"
        );
        let (gone, _, _) = client.sync("primary", &[("syncToken", &token)]).await;
        assert_eq!(ids(&gone), vec![master]);

        // privateExtendedProperty: every given key=value must match.
        let tagged = |entry: &str, user: &str| {
            json!({"summary": entry, "start": {"date": "2026-12-03"}, "end": {"date": "2026-12-04"},
                   "extendedProperties": {"private": {"timebridgeEntry": entry, "timebridgeUser": user}}})
        };
        let a = google.add_event("work", tagged("1", "ada"));
        google.add_event("work", tagged("2", "ada"));
        google.add_event("work", tagged("1", "bob"));
        let (found, _, _) = client
            .sync(
                "work",
                &[
                    ("privateExtendedProperty", "timebridgeEntry=1"),
                    ("privateExtendedProperty", "timebridgeUser=ada"),
                ],
            )
            .await;
        assert_eq!(ids(&found), vec![a]);
        let (found, _, _) = client
            .sync("work", &[("privateExtendedProperty", "timebridgeUser=ada")])
            .await;
        assert_eq!(found.len(), 2);
    }

    #[tokio::test]
    async fn google_calendar_stand_in_needs_a_google_bearer() {
        let google = GoogleCalendar::start().await;
        let url = format!("{}/calendars/primary/events", google.base);
        let http = reqwest::Client::new();
        for request in [http.get(&url), http.get(&url).bearer_auth("github_pat_x")] {
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 401);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
            assert_eq!(body["error"]["errors"][0]["reason"], "authError");
            assert_eq!(body["error"]["errors"][0]["location"], "Authorization");
        }
        let client = Client::new(&google);
        let (status, _) = client
            .list("primary", &[("maxResults", "10"), ("singleEvents", "true")])
            .await;
        assert_eq!(status, 200);
        let requests = google.requests();
        assert_eq!(requests.len(), 3);
        let last = &requests[2];
        assert_eq!(
            (last.method.as_str(), last.path.as_str()),
            ("GET", "/calendars/primary/events")
        );
        assert_eq!(last.bearer, TOKEN);
        assert_eq!(
            last.query,
            vec![
                ("maxResults".to_owned(), "10".to_owned()),
                ("singleEvents".to_owned(), "true".to_owned())
            ]
        );
        assert_eq!(last.body, Value::Null);
        assert_eq!(requests[1].bearer, "github_pat_x");
    }
}
