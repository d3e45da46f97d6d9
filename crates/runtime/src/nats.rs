//! NATS: the connection (reconnecting forever, so an outage only delays events), subject names
//! under the configured root, and idempotent provisioning of the one stream per producing
//! service (`<ROOT>_<SERVICE>`, subjects `<root>.<service>.>`) plus the dead-letter stream.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::config::{StreamSettings, StreamStorage};

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error(
        "cannot reach NATS at {url}: {source}. Start it (e.g. `nats-server -js`) or point \
         OC_NATS_URL at a running server"
    )]
    Unreachable {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("cannot provision stream {stream}: {source}")]
    Stream {
        stream: String,
        #[source]
        source: async_nats::Error,
    },
}

/// Connects once (failing fast with an actionable error) and then reconnects forever.
pub async fn connect(url: &str, client_name: &str) -> Result<async_nats::Client, NatsError> {
    async_nats::ConnectOptions::new()
        .name(client_name)
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => tracing::info!("NATS connected"),
                async_nats::Event::Disconnected => tracing::warn!("NATS disconnected"),
                other => tracing::debug!(event = %other, "NATS event"),
            }
        })
        .connect(url)
        .await
        .map_err(|source| NatsError::Unreachable {
            url: url.to_owned(),
            source,
        })
}

/// Subject and stream names under one root (`oc` in production, unique per test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    root: String,
}

impl Subjects {
    pub fn new(root: impl Into<String>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    /// `orders.order.placed` → `oc.orders.order.placed`.
    pub fn absolute(&self, relative: &str) -> String {
        format!("{}.{relative}", self.root)
    }

    /// The relative form of an absolute subject under this root.
    pub fn relative<'a>(&self, absolute: &'a str) -> Option<&'a str> {
        absolute
            .strip_prefix(self.root.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
    }

    /// The stream that holds every event `service` publishes.
    pub fn stream_name(&self, service: &str) -> String {
        format!("{}_{}", self.root, service)
            .to_uppercase()
            .replace('-', "_")
    }

    /// The service owning a relative subject: its first token.
    pub fn producer_of(relative: &str) -> &str {
        relative.split('.').next().unwrap_or(relative)
    }

    pub fn dead_letter_stream(&self) -> String {
        self.stream_name("dlq")
    }

    /// Where a consumer's poison event goes: `<root>.dlq.<consumer>.<original relative subject>`.
    pub fn dead_letter_subject(&self, consumer: &str, relative: &str) -> String {
        format!("{}.dlq.{consumer}.{relative}", self.root)
    }
}

/// Creates the stream for `service`'s events if missing; an existing one is left as it is.
pub async fn ensure_stream(
    js: &jetstream::Context,
    subjects: &Subjects,
    service: &str,
    settings: &StreamSettings,
) -> Result<stream::Stream, NatsError> {
    let name = subjects.stream_name(service);
    let config = stream::Config {
        name: name.clone(),
        subjects: vec![format!("{}.{service}.>", subjects.root())],
        storage: match settings.storage {
            StreamStorage::File => stream::StorageType::File,
            StreamStorage::Memory => stream::StorageType::Memory,
        },
        duplicate_window: settings.duplicate_window,
        max_age: settings.max_age,
        ..Default::default()
    };
    js.get_or_create_stream(config)
        .await
        .map_err(|source| NatsError::Stream {
            stream: name,
            source: source.into(),
        })
}

/// Deletes every stream under `subjects`' root (test clean-up).
pub async fn delete_streams(js: &jetstream::Context, subjects: &Subjects) {
    use futures::StreamExt as _;
    let prefix = format!("{}_", subjects.root().to_uppercase().replace('-', "_"));
    let mut names = js.stream_names();
    let mut doomed = Vec::new();
    while let Some(Ok(name)) = names.next().await {
        if name.starts_with(&prefix) {
            doomed.push(name);
        }
    }
    for name in doomed {
        let _ = js.delete_stream(&name).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_root() {
        let s = Subjects::new("t1");
        assert_eq!(s.absolute("orders.order.placed"), "t1.orders.order.placed");
        assert_eq!(
            s.relative("t1.orders.order.placed"),
            Some("orders.order.placed")
        );
        assert_eq!(s.relative("t10.orders.order.placed"), None);
        assert_eq!(s.stream_name("orders"), "T1_ORDERS");
        assert_eq!(Subjects::producer_of("payments.risk.assessed"), "payments");
        assert_eq!(
            s.dead_letter_subject("payments", "orders.order.placed"),
            "t1.dlq.payments.orders.order.placed"
        );
    }
}
