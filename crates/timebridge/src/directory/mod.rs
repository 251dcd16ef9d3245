//! Workspaces, users and their memberships: who exists, where, and with which role.
//!
//! A workspace has a plan (which sets its API rate limits); a user belongs to workspaces
//! through memberships, each with a role (`admin` or `member`). An API token is bound to one
//! user in one workspace, so "is this caller an admin" is the role of that membership.

pub mod entity;
pub mod routes;
pub mod service;
pub mod view;

pub use entity::{Plan, Role};
pub use service::{Member, NewUser};
