//! Tags: labels on time entries, unique by name within a workspace.

pub mod entity;
pub mod routes;
