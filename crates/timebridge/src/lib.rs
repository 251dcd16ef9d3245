//! Timebridge: a self-hosted time-tracking server built around its integration ecosystem.
//!
//! Layout: [`platform`] holds what every capability uses; each capability ([`directory`],
//! [`access`], [`tracking`], …) owns its tables, rules and routes; [`app`] assembles them.

pub mod access;
pub mod addons;
pub mod app;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod directory;
pub mod events;
pub mod jobs;
pub mod oauth;
pub mod platform;
pub mod tracking;
pub mod webhooks;
