//! (Being built: see issue 3.)

pub mod routes;
