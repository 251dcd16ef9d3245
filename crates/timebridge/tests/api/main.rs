//! The integration tests: one binary. Each test boots a real server on 127.0.0.1 against a real
//! database; tests written with `both!` run once on SQLite and once on PostgreSQL.

mod support;

mod cli;
mod clients;
mod events;
mod projects;
mod ratelimit;
mod read_cache;
mod scopes;
mod system;
mod tokens;
