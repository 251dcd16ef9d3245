//! Add-ons (seed 001's plugin marketplace, the platform side of seed 000): manifests in
//! Clockify's schema-1.3 shape, a catalog the operator fills, installations per workspace with
//! scoped short-lived credentials, and every call to an add-on signed with an RS256 JWT whose
//! keys are published at `/.well-known/jwks.json`. No long-lived broad credential ever leaves
//! the server.

pub mod manifest;
pub mod signing;
