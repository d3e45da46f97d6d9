//! The wire form of an event: a protobuf body and CloudEvents binary-mode headers, so that a
//! subscriber in any language needs only the `.proto` files.

use async_nats::HeaderMap;
use chrono::{DateTime, Utc};
use contracts::Event;
use uuid::Uuid;

pub const NATS_MSG_ID: &str = "Nats-Msg-Id";
pub const CE_SPECVERSION: &str = "ce-specversion";
pub const CE_ID: &str = "ce-id";
pub const CE_TYPE: &str = "ce-type";
pub const CE_SOURCE: &str = "ce-source";
pub const CE_TIME: &str = "ce-time";
pub const CE_SUBJECT: &str = "ce-subject";
pub const CONTENT_TYPE: &str = "content-type";
pub const PROTOBUF: &str = "application/protobuf";
pub const TRACEPARENT: &str = "traceparent";

/// A decoded event with its metadata.
#[derive(Debug, Clone)]
pub struct Envelope<E> {
    pub id: Uuid,
    /// Relative subject (`orders.order.placed`).
    pub subject: String,
    pub source: String,
    pub time: DateTime<Utc>,
    pub aggregate_id: String,
    pub traceparent: Option<String>,
    pub event: E,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("missing or invalid ce-id header")]
    MissingId,
    #[error("ce-type is `{found}`, expected `{expected}`")]
    WrongType { expected: String, found: String },
    #[error("subject {0} is not under this root")]
    ForeignSubject(String),
    #[error("body is not a valid {type_name}: {source}")]
    Body {
        type_name: String,
        #[source]
        source: prost::DecodeError,
    },
}

/// Everything needed to publish one event (what an outbox row holds).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: Uuid,
    pub subject: String,
    pub ce_type: String,
    pub aggregate_id: String,
    pub payload: Vec<u8>,
    pub traceparent: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

impl Outgoing {
    pub fn new<E: Event>(event: &E, occurred_at: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::now_v7(),
            subject: E::SUBJECT.to_owned(),
            ce_type: E::full_name(),
            aggregate_id: event.aggregate_id(),
            payload: event.encode_to_vec(),
            traceparent: runtime::telemetry::traceparent(&tracing::Span::current()),
            occurred_at,
        }
    }

    /// CloudEvents binary-mode headers plus `Nats-Msg-Id` for JetStream's duplicate window.
    pub fn headers(&self, source: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let id = self.id.to_string();
        headers.insert(NATS_MSG_ID, id.as_str());
        headers.insert(CE_SPECVERSION, "1.0");
        headers.insert(CE_ID, id.as_str());
        headers.insert(CE_TYPE, self.ce_type.as_str());
        headers.insert(CE_SOURCE, source);
        headers.insert(
            CE_TIME,
            self.occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .as_str(),
        );
        headers.insert(CE_SUBJECT, self.aggregate_id.as_str());
        headers.insert(CONTENT_TYPE, PROTOBUF);
        if let Some(tp) = &self.traceparent {
            headers.insert(TRACEPARENT, tp.as_str());
        }
        headers
    }
}

fn header<'a>(headers: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    headers.and_then(|h| h.get(name)).map(|v| v.as_str())
}

impl<E: Event> Envelope<E> {
    /// Decodes a JetStream message published by an outbox relay.
    pub fn decode(
        subjects: &runtime::Subjects,
        message: &async_nats::Message,
    ) -> Result<Self, DecodeError> {
        let headers = message.headers.as_ref();
        let id = header(headers, CE_ID)
            .or_else(|| header(headers, NATS_MSG_ID))
            .and_then(|v| Uuid::parse_str(v).ok())
            .ok_or(DecodeError::MissingId)?;
        let expected = E::full_name();
        if let Some(found) = header(headers, CE_TYPE)
            && found != expected
        {
            return Err(DecodeError::WrongType {
                expected,
                found: found.to_owned(),
            });
        }
        let subject = subjects
            .relative(message.subject.as_str())
            .ok_or_else(|| DecodeError::ForeignSubject(message.subject.to_string()))?
            .to_owned();
        let event = E::decode(message.payload.as_ref()).map_err(|source| DecodeError::Body {
            type_name: expected,
            source,
        })?;
        Ok(Self {
            id,
            subject,
            source: header(headers, CE_SOURCE).unwrap_or_default().to_owned(),
            time: header(headers, CE_TIME)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map_or_else(Utc::now, |t| t.with_timezone(&Utc)),
            aggregate_id: header(headers, CE_SUBJECT)
                .map_or_else(|| event.aggregate_id(), str::to_owned),
            traceparent: header(headers, TRACEPARENT).map(str::to_owned),
            event,
        })
    }
}

/// Publishes `event` straight to JetStream, bypassing any outbox — for tests that play another
/// service and for operator tools. Services publish through their outbox.
pub async fn publish_direct<E: Event>(
    jetstream: &async_nats::jetstream::Context,
    subjects: &runtime::Subjects,
    source: &str,
    event: &E,
) -> Result<Uuid, async_nats::Error> {
    let outgoing = Outgoing::new(event, Utc::now());
    jetstream
        .publish_with_headers(
            subjects.absolute(&outgoing.subject),
            outgoing.headers(source),
            outgoing.payload.clone().into(),
        )
        .await?
        .await?;
    Ok(outgoing.id)
}
