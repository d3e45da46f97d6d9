//! The dead-letter stream (`<ROOT>_DLQ`, subjects `<root>.dlq.<consumer>.<original subject>`):
//! where a consumer puts an event it cannot apply, with the original headers and body and the
//! reason, so that one poison event never blocks the ones behind it and nothing is dropped.
//! `ordercycle dlq` lists, shows and replays them.

use async_nats::HeaderMap;
use async_nats::jetstream;
use async_nats::jetstream::stream::RawMessageErrorKind;
use bytes::Bytes;

use crate::envelope::{CE_ID, CE_TIME, CE_TYPE, NATS_MSG_ID};
use runtime::Subjects;

pub const DLQ_CONSUMER: &str = "oc-dlq-consumer";
pub const DLQ_REASON: &str = "oc-dlq-reason";
pub const DLQ_DELIVERIES: &str = "oc-dlq-deliveries";
pub const DLQ_SUBJECT: &str = "oc-dlq-subject";

#[derive(Debug, thiserror::Error)]
#[error("dead-letter publish failed: {0}")]
pub struct DlqError(String);

/// Copies `message` (stream sequence `stream_sequence` of its own stream) to the dead-letter
/// stream. The copy's dedup id names that sequence: a redelivery of the same message is
/// dead-lettered once, while the same event replayed later (a new stream message) can be
/// dead-lettered again.
#[allow(clippy::too_many_arguments)]
pub async fn publish(
    jetstream: &jetstream::Context,
    subjects: &Subjects,
    consumer: &str,
    relative_subject: &str,
    message: &async_nats::Message,
    stream_sequence: u64,
    delivered: i64,
    reason: &str,
) -> Result<(), DlqError> {
    let mut headers = HeaderMap::new();
    if let Some(original) = &message.headers {
        for (name, values) in original.iter() {
            for value in values {
                headers.append(name.clone(), value.clone());
            }
        }
    }
    let event_id = message
        .headers
        .as_ref()
        .and_then(|h| h.get(CE_ID).or_else(|| h.get(NATS_MSG_ID)))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    headers.insert(
        NATS_MSG_ID,
        format!("dlq:{consumer}:{event_id}:{stream_sequence}").as_str(),
    );
    headers.insert(DLQ_CONSUMER, consumer);
    headers.insert(DLQ_SUBJECT, relative_subject);
    headers.insert(DLQ_DELIVERIES, delivered.to_string().as_str());
    // Header values are one line.
    headers.insert(DLQ_REASON, reason.replace(['\r', '\n'], " ").as_str());
    jetstream
        .publish_with_headers(
            subjects.dead_letter_subject(consumer, relative_subject),
            headers,
            message.payload.clone(),
        )
        .await
        .map_err(|e| DlqError(e.to_string()))?
        .await
        .map_err(|e| DlqError(e.to_string()))?;
    Ok(())
}

/// A dead-lettered event as the dead-letter stream keeps it.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Its sequence in the dead-letter stream: what `show` and `replay` name.
    pub sequence: u64,
    pub consumer: String,
    /// The original subject, relative to the root (`orders.order.placed`).
    pub subject: String,
    pub event_id: String,
    pub event_type: String,
    pub event_time: String,
    pub deliveries: String,
    pub reason: String,
    pub headers: HeaderMap,
    pub payload: Bytes,
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default()
}

impl DeadLetter {
    fn from_stream(m: jetstream::message::StreamMessage) -> Self {
        let h = &m.headers;
        Self {
            sequence: m.sequence,
            consumer: header(h, DLQ_CONSUMER),
            subject: header(h, DLQ_SUBJECT),
            event_id: header(h, CE_ID),
            event_type: header(h, CE_TYPE),
            event_time: header(h, CE_TIME),
            deliveries: header(h, DLQ_DELIVERIES),
            reason: header(h, DLQ_REASON),
            headers: m.headers.clone(),
            payload: m.payload,
        }
    }
}

async fn stream(
    jetstream: &jetstream::Context,
    subjects: &Subjects,
) -> Result<jetstream::stream::Stream, DlqError> {
    jetstream
        .get_stream(subjects.dead_letter_stream())
        .await
        .map_err(|e| DlqError(format!("dead-letter stream: {e}")))
}

/// Every dead letter (of one consumer, when named), oldest first.
pub async fn list(
    jetstream: &jetstream::Context,
    subjects: &Subjects,
    consumer: Option<&str>,
) -> Result<Vec<DeadLetter>, DlqError> {
    let stream = stream(jetstream, subjects).await?;
    let filter = match consumer {
        Some(c) => format!("{}.dlq.{c}.>", subjects.root()),
        None => format!("{}.dlq.>", subjects.root()),
    };
    let mut out = Vec::new();
    let mut next = 1;
    loop {
        let found = stream
            .raw_message_builder()
            .sequence(next)
            .next_by_subject(filter.clone())
            .send()
            .await;
        match found {
            Ok(m) => {
                next = m.sequence + 1;
                out.push(DeadLetter::from_stream(m));
            }
            Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => return Ok(out),
            Err(e) => return Err(DlqError(format!("reading dead letters: {e}"))),
        }
    }
}

/// One dead letter by its sequence; `None` if there is none (never was, or replayed).
pub async fn get(
    jetstream: &jetstream::Context,
    subjects: &Subjects,
    sequence: u64,
) -> Result<Option<DeadLetter>, DlqError> {
    let stream = stream(jetstream, subjects).await?;
    match stream.get_raw_message(sequence).await {
        Ok(m) => Ok(Some(DeadLetter::from_stream(m))),
        Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => Ok(None),
        Err(e) => Err(DlqError(format!("reading dead letter {sequence}: {e}"))),
    }
}

/// Puts a dead letter back on its original subject, with its original event id, and removes
/// it from the dead-letter stream. Every consumer of the subject sees it again; those that
/// applied it before find it in their inbox and skip it, the one that failed applies it now
/// (or dead-letters it again). `None` if there is no such dead letter.
pub async fn replay(
    jetstream: &jetstream::Context,
    subjects: &Subjects,
    sequence: u64,
) -> Result<Option<DeadLetter>, DlqError> {
    let Some(letter) = get(jetstream, subjects, sequence).await? else {
        return Ok(None);
    };
    if letter.subject.is_empty() {
        return Err(DlqError(format!(
            "dead letter {sequence} does not name its original subject"
        )));
    }
    let mut headers = HeaderMap::new();
    for (name, values) in letter.headers.iter() {
        let name_str: &str = name.as_ref();
        if name_str.starts_with("oc-dlq-") || name_str == NATS_MSG_ID {
            continue;
        }
        for value in values {
            headers.append(name.clone(), value.clone());
        }
    }
    // A fresh dedup id: the original one may still be inside the stream's duplicate window.
    headers.insert(
        NATS_MSG_ID,
        format!("replay:{sequence}:{}", letter.event_id).as_str(),
    );
    jetstream
        .publish_with_headers(
            subjects.absolute(&letter.subject),
            headers,
            letter.payload.clone(),
        )
        .await
        .map_err(|e| DlqError(e.to_string()))?
        .await
        .map_err(|e| DlqError(e.to_string()))?;
    // Published first, removed second: a crash in between replays it twice, which inboxes
    // absorb; the other order could lose it.
    stream(jetstream, subjects)
        .await?
        .delete_message(sequence)
        .await
        .map_err(|e| DlqError(format!("removing dead letter {sequence}: {e}")))?;
    Ok(Some(letter))
}
