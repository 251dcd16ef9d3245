//! The connectors this server offers, by provider: filled once where the application is
//! assembled (each provider's `register` adds itself, see `app::capabilities`), read by the
//! uniform routes and the receivers.

use std::sync::Arc;

use super::{Connector, Provider};

/// Registered connectors, in registration order (a handful: a scan beats a map).
#[derive(Default)]
pub struct ConnectorRegistry(Vec<Arc<dyn Connector>>);

impl ConnectorRegistry {
    /// Adds a connector.
    ///
    /// # Panics
    /// When its provider has a connector already: two registration lines for one provider
    /// are a programming error, caught when the application (and so every test) starts.
    pub fn register(&mut self, connector: Arc<dyn Connector>) -> &mut Self {
        let provider = connector.provider();
        assert!(
            self.get(provider).is_none(),
            "the {provider} connector is registered twice"
        );
        self.0.push(connector);
        self
    }

    /// The connector of `provider`, if registered.
    pub fn get(&self, provider: Provider) -> Option<&Arc<dyn Connector>> {
        self.0.iter().find(|c| c.provider() == provider)
    }

    /// The connector a path names (`github`), if it names a registered one.
    pub fn find(&self, name: &str) -> Option<&Arc<dyn Connector>> {
        self.get(name.parse().ok()?)
    }

    /// Every registered connector, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Connector>> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::Iterable;

    use super::*;
    use crate::connectors::github::GithubConnector;

    fn github_only() -> ConnectorRegistry {
        let mut registry = ConnectorRegistry::default();
        registry.register(Arc::new(GithubConnector));
        registry
    }

    #[test]
    fn a_registered_provider_is_found_by_provider_and_by_path_name() {
        let registry = github_only();
        let found = registry.get(Provider::Github).map(|c| c.provider());
        assert_eq!(found, Some(Provider::Github));
        let found = registry.find("github").map(|c| c.provider());
        assert_eq!(found, Some(Provider::Github));
        assert_eq!(registry.iter().count(), 1);
    }

    #[test]
    fn unknown_and_unregistered_providers_are_not_found() {
        let registry = github_only();
        assert!(registry.get(Provider::Slack).is_none(), "not registered");
        assert!(registry.find("slack").is_none(), "not registered");
        assert!(registry.find("gitlab").is_none(), "no such provider");
        assert!(registry.find("GitHub").is_none(), "names are lower-case");
        assert!(registry.find("").is_none());
    }

    #[test]
    #[should_panic(expected = "the github connector is registered twice")]
    fn a_provider_registers_once() {
        github_only().register(Arc::new(GithubConnector));
    }

    #[test]
    fn the_server_registers_every_provider() {
        let registry = crate::app::capabilities().connectors;
        for provider in Provider::iter() {
            assert!(
                registry.get(provider).is_some(),
                "{provider} has no connector"
            );
        }
        assert_eq!(registry.iter().count(), Provider::iter().count());
    }

    #[test]
    fn receiver_paths_are_unique_and_under_their_provider() {
        let registry = crate::app::capabilities().connectors;
        let mut paths = Vec::new();
        for connector in registry.iter() {
            let provider = connector.provider();
            for receiver in connector.receivers() {
                let path = receiver.path(provider);
                assert!(path.starts_with(&format!("/api/integrations/{provider}/")));
                assert!(
                    receiver.responses.iter().any(|(status, _)| *status == 401),
                    "{path} documents the 401 of a refused signature"
                );
                paths.push(path);
            }
        }
        let count = paths.len();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), count, "{paths:?}");
        assert!(count >= 2, "{paths:?}");
    }
}
