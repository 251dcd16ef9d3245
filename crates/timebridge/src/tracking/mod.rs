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

use crate::platform::constraints::{Answer, ConstraintRule, UniqueKey};

/// What breaking one of tracking's database constraints answers (registered at start-up; see
/// `platform::constraints`). Services check what they can before writing, so most of these
/// only settle races; a client's name and a task's external_ref are left to the database.
pub const CONSTRAINTS: &[ConstraintRule] = &[
    ConstraintRule::duplicate(
        UniqueKey::new(
            "ux_clients_workspace_name",
            "clients",
            &["workspace_id", "name"],
        ),
        Answer::Conflict("A client with this name already exists"),
    ),
    ConstraintRule::duplicate(
        UniqueKey::new(
            "ux_tasks_workspace_external_ref",
            "tasks",
            &["workspace_id", "external_ref"],
        ),
        Answer::Conflict("A task with this external_ref already exists"),
    ),
    ConstraintRule::duplicate(
        UniqueKey::new("ux_tags_workspace_name", "tags", &["workspace_id", "name"]),
        Answer::Conflict("A tag with this name already exists"),
    ),
    ConstraintRule::duplicate(
        UniqueKey::new(
            "ux_leave_types_workspace_code",
            "leave_types",
            &["workspace_id", "code"],
        ),
        Answer::Conflict("A leave type with this code already exists"),
    ),
    ConstraintRule::still_referenced(
        "fk_invoices_client",
        Answer::Conflict(clients::service::STILL_BILLED),
    ),
    ConstraintRule::still_referenced(
        "fk_quotes_client",
        Answer::Conflict(clients::service::STILL_BILLED),
    ),
    ConstraintRule::still_referenced(
        "fk_time_off_requests_leave_type",
        Answer::Conflict(time_off::leave_types::IN_USE),
    ),
    ConstraintRule::missing_reference(
        "fk_time_off_requests_leave_type",
        Answer::invalid("leave_type_id", time_off::requests::NOT_A_LEAVE_TYPE),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_declared_constraint_is_in_the_migrated_schema() {
        let keys = [
            time_entries::timer::RUNNING_TIMER,
            time_entries::idempotency::TOKEN_KEY,
            timesheets::service::PERIOD_KEY,
        ];
        let absent = crate::platform::constraints::absent_from_schema(CONSTRAINTS, &keys).await;
        assert!(absent.is_empty(), "{absent:?}");
    }
}
