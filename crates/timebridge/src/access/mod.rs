//! API access: personal API tokens, their scopes, verifying them on each request, and the log
//! of what each token did.
//!
//! - [`scopes`]: the scope catalog and what each scope grants.
//! - [`secret`]: the `tb_pat_…` secret format, generation and hashing.
//! - [`authority`]: turns a presented secret into a [`Principal`] (cached; no write per request).
//! - [`tokens`]: issuing, listing, updating and revoking tokens.
//! - [`usage`]: the batched, off-request-path usage log writer.
//! - [`routes`]: the `/api/v1/integration/tokens` endpoints.

pub mod authority;
pub mod entity;
pub mod routes;
pub mod scopes;
pub mod secret;
pub mod tokens;
pub mod usage;

pub use authority::{AuthFailure, Principal, TokenAuthority, TokenGate};
pub use scopes::{Resource, Scope, ScopeSet};
