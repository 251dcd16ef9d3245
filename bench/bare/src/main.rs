//! The baseline for `bench/run.sh`: the cheapest server that answers `GET /api/v1/projects`
//! with the same JSON page Timebridge returns (50 projects of 1,000), but with no
//! authentication, rate limiting, logging or database.
//!
//! Comparing Timebridge's requests per second against this one shows what the framework,
//! auth and database cost on top of HTTP and JSON serialization. The page is built once at
//! start-up and serialized on every request, as the real server does; the bytes are
//! deliberately not cached.
//!
//! Usage: `bare [ADDR]` (default `127.0.0.1:8090`).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::State,
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;

const TOTAL: u64 = 1000;
const PER_PAGE: u64 = 50;
const CREATED_AT: &str = "2026-11-23T16:39:03.474160Z";

#[derive(Serialize)]
struct Project {
    id: String,
    name: String,
    description: Option<String>,
    hourly_rate: Option<f64>,
    billable: bool,
    status: &'static str,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize)]
struct Pagination {
    page: u64,
    per_page: u64,
    total: u64,
    pages: u64,
    has_next: bool,
    has_prev: bool,
    next_page: Option<u64>,
    prev_page: Option<u64>,
}

#[derive(Serialize)]
struct ProjectList {
    projects: Vec<Project>,
    pagination: Pagination,
}

fn first_page() -> ProjectList {
    let projects = (1..=PER_PAGE)
        .map(|n| Project {
            id: format!("019ab1f2-3c4d-7e5f-8a9b-{n:012x}"),
            name: format!("Project {n:04}"),
            description: None,
            hourly_rate: Some(85.5),
            billable: true,
            status: "active",
            created_at: CREATED_AT.to_owned(),
            updated_at: CREATED_AT.to_owned(),
        })
        .collect();
    let pages = TOTAL.div_ceil(PER_PAGE);
    ProjectList {
        projects,
        pagination: Pagination {
            page: 1,
            per_page: PER_PAGE,
            total: TOTAL,
            pages,
            has_next: pages > 1,
            has_prev: false,
            next_page: (pages > 1).then_some(2),
            prev_page: None,
        },
    }
}

async fn list_projects(State(page): State<Arc<ProjectList>>) -> Response {
    Json(&*page).into_response()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("127.0.0.1:8090")
        .parse()
        .expect("ADDR must be an address like 127.0.0.1:8090");
    let app = Router::new()
        .route("/api/v1/projects", get(list_projects))
        .with_state(Arc::new(first_page()));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
    eprintln!("bare listening on {addr}");
    axum::serve(listener, app).await.expect("server error");
}
