//! Signers other capabilities register for the deliveries of endpoints they own: an endpoint
//! whose `signer` names one is signed by it (an add-on's deliveries carry an RS256 JWT) instead
//! of the Standard Webhooks HMAC. The queue, order, retries and history stay the engine's.

use std::{collections::HashMap, sync::Arc};

use super::entity::{delivery, endpoint};
use crate::{app::AppState, platform::consumers::BoxFuture};

/// Signs one delivery of an endpoint that names this signer.
pub trait DeliverySigner: Send + Sync {
    /// The headers that authenticate the delivery of `body` (besides `Content-Type`), or why
    /// it cannot be signed (the attempt then fails and is retried).
    fn headers<'a>(
        &'a self,
        app: &'a AppState,
        endpoint: &'a endpoint::Model,
        delivery: &'a delivery::Model,
        body: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(&'static str, String)>, String>>;
}

/// The registered signers, by name.
#[derive(Default, Clone)]
pub struct Signers(HashMap<&'static str, Arc<dyn DeliverySigner>>);

impl Signers {
    /// Adds a signer.
    ///
    /// # Panics
    /// When the name is taken: two registrations of one name are a programming error.
    pub fn register(&mut self, name: &'static str, signer: Arc<dyn DeliverySigner>) {
        assert!(
            self.0.insert(name, signer).is_none(),
            "the delivery signer {name} is registered twice"
        );
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn DeliverySigner>> {
        self.0.get(name)
    }
}
