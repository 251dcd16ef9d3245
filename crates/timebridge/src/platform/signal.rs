//! Named wake-ups between a writer and the background worker that acts on what it wrote.
//!
//! A [`Signal`] is raised after a commit that gave a worker something to do (queued webhook
//! deliveries, an enqueued job): the worker of this process wakes at once through a
//! [`Notify`], and on PostgreSQL the commit also sends `NOTIFY <channel>`, which
//! [`spawn_listener`] turns into the same wake-up in every other instance. A missed signal
//! costs only latency: every worker also polls.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::Notify, task::JoinHandle};

/// One named wake-up: this process's [`Notify`] and the PostgreSQL channel other processes
/// listen on. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Signal {
    channel: &'static str,
    local: Arc<Notify>,
}

impl Signal {
    /// The PostgreSQL channel (lower-case letters and underscores).
    pub fn channel(&self) -> &'static str {
        self.channel
    }

    /// Wakes this process's waiter (or the next one to wait).
    pub fn raise_locally(&self) {
        self.local.notify_one();
    }

    /// Resolves when the signal is raised in this process (or by another, through `LISTEN`).
    pub async fn raised(&self) {
        self.local.notified().await
    }
}

/// Every signal of one database, by channel.
#[derive(Debug, Default)]
pub struct Signals(Mutex<HashMap<&'static str, Signal>>);

impl Signals {
    /// The signal named `channel`, created on first use, so a writer and a worker that name the
    /// same channel share one.
    ///
    /// # Panics
    /// When `channel` is not lower-case ASCII letters and underscores: channel names are
    /// constants, and anything else could not be sent unquoted in `NOTIFY`.
    pub fn get(&self, channel: &'static str) -> Signal {
        assert!(
            !channel.is_empty() && channel.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "signal channel {channel:?} must be lower-case letters and underscores"
        );
        // A poisoned lock only means a panic between two map operations; the map is intact.
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(channel)
            .or_insert_with(|| Signal {
                channel,
                local: Arc::default(),
            })
            .clone()
    }

    fn all(&self) -> Vec<Signal> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }
}

/// On PostgreSQL: listens on every channel known when it starts and raises the matching
/// signal in this process when another instance sends `NOTIFY`.
pub fn spawn_listener(db: super::db::Db) -> Option<JoinHandle<()>> {
    if db.is_sqlite() {
        return None;
    }
    Some(tokio::spawn(async move {
        use sea_orm::sqlx::postgres::PgListener;
        let signals = db.signals().all();
        let channels: Vec<&str> = signals.iter().map(Signal::channel).collect();
        if channels.is_empty() {
            return;
        }
        loop {
            let pool = db.conn().get_postgres_connection_pool();
            let listening = async {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen_all(channels.iter().copied()).await?;
                Ok::<_, sea_orm::sqlx::Error>(listener)
            };
            let mut listener = match listening.await {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot LISTEN for other instances; polling only");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            while let Ok(notification) = listener.recv().await {
                if let Some(signal) = signals
                    .iter()
                    .find(|s| s.channel() == notification.channel())
                {
                    signal.raise_locally();
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_name_is_one_signal() {
        let signals = Signals::default();
        let (a, b) = (signals.get("jobs_queued"), signals.get("jobs_queued"));
        a.raise_locally();
        tokio::time::timeout(Duration::from_secs(1), b.raised())
            .await
            .expect("raised through the other handle");
    }

    #[test]
    #[should_panic(expected = "lower-case")]
    fn channel_names_are_identifiers() {
        Signals::default().get("drop table; --");
    }
}
