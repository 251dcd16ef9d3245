//! The integration tests: one binary. Each test boots a real server on 127.0.0.1 against a real
//! database; tests written with `both!` run once on SQLite and once on PostgreSQL.

mod receiver;
mod support;

mod addon_signing;
mod addons;
mod billing;
mod bindings;
mod cli;
mod cli_admin;
mod clickup;
mod clickup_stand_in;
mod clients;
mod connectors;
mod contract;
mod events;
mod expenses;
mod github;
mod google_calendar;
mod google_calendar_stand_in;
mod google_stand_in;
mod hardening;
mod imports;
mod jobs;
mod key_rotation;
mod oauth;
mod projects;
mod ratelimit;
mod read_cache;
mod reports;
mod restore_and_split;
mod scopes;
mod slack;
mod stand_ins;
mod startup;
mod system;
mod tags;
mod tasks;
mod time_entries;
mod time_off;
mod timer;
mod timesheets;
mod tokens;
mod users;
mod webhook_processes;
mod webhooks;
