//! Projects: named containers of work with an hourly rate, a billable flag and a status
//! (`active` or `archived`). Deleting a project through the API archives it.

pub mod entity;
pub mod routes;
pub mod service;

pub use entity::ProjectStatus;
