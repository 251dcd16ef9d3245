//! What every capability uses and none owns: storage, errors, extractors, the request guard,
//! rate limiting, pagination, the OpenAPI document, logging, and the secret keys and the columns they seal.

pub mod acting;
pub mod auth;
pub mod changes;
pub mod constraints;
pub mod consumers;
pub mod crypto;
pub mod db;
pub mod error;
pub mod extract;
pub mod http_client;
pub mod jobs;
pub mod lease;
pub mod money;
pub mod openapi;
pub mod outbox;
pub mod pagination;
pub mod ratelimit;
pub mod read_cache;
pub mod request_log;
pub mod sealed;
pub mod signal;
pub mod telemetry;
pub mod time;
pub mod trash;
pub mod validate;
