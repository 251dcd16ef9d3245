//! The webhook tables: `webhook_endpoints`, `webhook_deliveries`, `webhook_attempts`, and the
//! enums stored in them.

use std::{fmt, str::FromStr};

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How a failed delivery is retried.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "UPPERCASE")]
pub enum RetryPolicy {
    /// Waits of base × 2ⁿ (with jitter): 1, 2, 4, 8, 16 × `WEBHOOK_RETRY_BACKOFF_SECONDS`.
    #[sea_orm(string_value = "EXPONENTIAL")]
    Exponential,
    /// Waits of base × n (with jitter).
    #[sea_orm(string_value = "LINEAR")]
    Linear,
    /// One attempt only.
    #[sea_orm(string_value = "NONE")]
    None,
}

impl RetryPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exponential => "EXPONENTIAL",
            Self::Linear => "LINEAR",
            Self::None => "NONE",
        }
    }
}

impl fmt::Display for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses what a request sends, in any case.
impl FromStr for RetryPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "EXPONENTIAL" => Ok(Self::Exponential),
            "LINEAR" => Ok(Self::Linear),
            "NONE" => Ok(Self::None),
            _ => Err("must be one of: EXPONENTIAL, LINEAR, NONE".into()),
        }
    }
}

/// Where a delivery stands.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Queued, or waiting for its next attempt.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// The receiver answered 2xx.
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    /// Given up: retries exhausted, `NONE` policy, too large, or the endpoint was disabled.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Not done within `WEBHOOK_DELIVERY_TTL_HOURS`.
    #[sea_orm(string_value = "expired")]
    Expired,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }
}

/// Parses a `status` filter.
impl FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "pending" => Ok(Self::Pending),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            "expired" => Ok(Self::Expired),
            _ => Err("must be one of: pending, succeeded, failed, expired".into()),
        }
    }
}

/// `webhook_endpoints`.
pub mod endpoint {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_endpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub name: String,
        pub url: String,
        /// The `whsec_…` secret, sealed with the server key.
        pub secret: String,
        /// The secret before the last rotation, sealed; it signs too until it expires.
        pub previous_secret: Option<String>,
        pub previous_secret_expires_at: Option<TimeDateTimeWithTimeZone>,
        /// JSON array of subscriptions: event names, `resource.*` or `*`.
        pub events: String,
        pub retry_policy: super::RetryPolicy,
        pub active: bool,
        pub disabled_reason: Option<String>,
        pub disabled_at: Option<TimeDateTimeWithTimeZone>,
        /// Since when every attempt has failed (`None` after any success).
        pub failing_since: Option<TimeDateTimeWithTimeZone>,
        pub created_by: Option<Uuid>,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
        pub queue_version: i64,
        pub next_due_at: Option<TimeDateTimeWithTimeZone>,
        pub lease_owner: Option<String>,
        pub lease_expires_at: Option<TimeDateTimeWithTimeZone>,
        /// The capability's record that owns it (`addon_installation:{id}`); `None`: an
        /// admin's endpoint.
        pub owner: Option<String>,
        /// The registered signer of its deliveries; `None`: the Standard Webhooks HMAC.
        pub signer: Option<String>,
        /// JSON object: event type → URL, for endpoints whose events go to different URLs.
        pub routes: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `webhook_deliveries`: one event (or ping) for one endpoint.
pub mod delivery {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub endpoint_id: Uuid,
        /// The outbox event delivered; `None` for a ping.
        pub event_id: Option<Uuid>,
        pub event_type: String,
        /// The event's sequence: the endpoint's queue runs in this order (pings are 0).
        pub sequence: i64,
        /// The body, for deliveries that carry no outbox event (pings).
        pub payload: Option<String>,
        pub status: super::DeliveryStatus,
        pub attempts: i32,
        pub next_attempt_at: TimeDateTimeWithTimeZone,
        pub last_status_code: Option<i32>,
        pub last_error: Option<String>,
        /// `webhook.delivery_failing` was raised for it (so success raises `…_recovered`).
        pub failing_reported: bool,
        pub created_at: TimeDateTimeWithTimeZone,
        pub completed_at: Option<TimeDateTimeWithTimeZone>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `webhook_attempts`: one HTTP request (or refusal to send one).
pub mod attempt {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_attempts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub delivery_id: Uuid,
        pub endpoint_id: Uuid,
        pub attempted_at: TimeDateTimeWithTimeZone,
        pub status_code: Option<i32>,
        pub duration_ms: i64,
        pub error: Option<String>,
        pub response_excerpt: Option<String>,
        pub succeeded: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};

    use super::*;

    #[test]
    fn stored_values_are_the_wire_names_rows_already_hold() {
        for policy in RetryPolicy::iter() {
            assert_eq!(policy.to_value(), policy.as_str());
            assert_eq!(RetryPolicy::try_from_value(&policy.to_value()), Ok(policy));
        }
        for status in DeliveryStatus::iter() {
            assert_eq!(status.to_value(), status.as_str());
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        let stored: Vec<_> = RetryPolicy::iter().map(|p| p.to_value()).collect();
        assert_eq!(stored, ["EXPONENTIAL", "LINEAR", "NONE"]);
        let stored: Vec<_> = DeliveryStatus::iter().map(|s| s.to_value()).collect();
        assert_eq!(stored, ["pending", "succeeded", "failed", "expired"]);
    }
}
