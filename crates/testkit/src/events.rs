//! Watching the events a test's services publish, as an outside subscriber would.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use contracts::Event;
use futures::StreamExt as _;
use runtime::Subjects;

use crate::{PATIENCE, TestEnv};

/// An ephemeral consumer on one subject that decodes what it receives.
pub struct EventTap {
    messages: pull::Stream,
}

impl TestEnv {
    /// Taps `subject` (relative, e.g. `orders.order.placed`, or a wildcard under one
    /// service) from the start of its stream.
    pub async fn tap(&self, relative_subject: &str) -> EventTap {
        let subjects = self.subjects();
        let producer = Subjects::producer_of(relative_subject);
        let stream = runtime::nats::ensure_stream(
            self.jetstream(),
            &subjects,
            producer,
            &self.settings.streams,
        )
        .await
        .expect("stream");
        let consumer = stream
            .create_consumer(pull::Config {
                filter_subject: subjects.absolute(relative_subject),
                ack_policy: jetstream::consumer::AckPolicy::None,
                inactive_threshold: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .expect("tap consumer");
        EventTap {
            messages: consumer.messages().await.expect("tap messages"),
        }
    }
}

impl EventTap {
    /// The next raw message, or a test failure after [`PATIENCE`].
    pub async fn next_message(&mut self) -> jetstream::Message {
        match tokio::time::timeout(PATIENCE, self.messages.next()).await {
            Ok(Some(Ok(message))) => message,
            Ok(other) => panic!("event tap ended: {other:?}"),
            Err(_) => panic!("no event within {PATIENCE:?}"),
        }
    }

    /// The next message decoded as `E`.
    pub async fn next<E: Event>(&mut self) -> E {
        let message = self.next_message().await;
        E::decode(message.payload.as_ref()).expect("decodable event")
    }

    /// Whether another message arrives within `wait` (for asserting that nothing more came).
    pub async fn next_within(&mut self, wait: Duration) -> Option<jetstream::Message> {
        match tokio::time::timeout(wait, self.messages.next()).await {
            Ok(Some(Ok(message))) => Some(message),
            _ => None,
        }
    }
}
