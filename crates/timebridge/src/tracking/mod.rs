//! The time-tracking core: the data the integrations read, write and react to.
//! (Projects now; clients, tasks, time entries, timer, invoices and the rest arrive with the
//! core-API issue.)

pub mod projects;
