//! The time-tracking core: the data the integrations read, write and react to. Each resource
//! is a folder: `mod.rs` (the resource as the API shows it), `entity.rs` (its table),
//! `service.rs` (rules, transactions, events), `routes.rs` (HTTP only).

pub mod clients;
pub mod expenses;
pub mod invoices;
pub mod projects;
pub mod quotes;
pub mod reports;
pub mod tags;
pub mod tasks;
pub mod time_entries;
pub mod time_off;
pub mod timesheets;
