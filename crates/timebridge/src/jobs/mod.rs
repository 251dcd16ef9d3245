//! `/api/v1/integration/jobs`: a workspace admin's view of the job queue — the job kinds that
//! run for the workspace, their runs (with progress, attempts and errors), running one now and
//! retrying a failed one. Only the workspace's own jobs are visible; the instance's own jobs
//! (retention) are not, and run through the CLI (`timebridge jobs …`).
//!
//! The queue itself is the platform's ([`crate::platform::jobs`]); the kinds are registered
//! by the capabilities (see [`crate::app::capabilities`]).

pub mod routes;
