//! The event feed: `GET /api/v1/integration/events` pages through a workspace's outbox in
//! commit order, so a consumer can poll "everything after the last one I saw" and never miss
//! an event. (The outbox itself is written by `platform::changes`.)

pub mod routes;
