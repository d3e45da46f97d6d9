//! The dead-letter stream (`<ROOT>_DLQ`, subjects `<root>.dlq.<consumer>.<original subject>`):
//! where a consumer puts an event it cannot apply, with the original headers and body and the
//! reason, so that one poison event never blocks the ones behind it and nothing is dropped.
//! `ordercycle dlq` lists, shows and replays them.

use async_nats::HeaderMap;
use async_nats::jetstream;

use crate::envelope::{CE_ID, NATS_MSG_ID};
use runtime::Subjects;

pub const DLQ_CONSUMER: &str = "oc-dlq-consumer";
pub const DLQ_REASON: &str = "oc-dlq-reason";
pub const DLQ_DELIVERIES: &str = "oc-dlq-deliveries";
pub const DLQ_SUBJECT: &str = "oc-dlq-subject";

#[derive(Debug, thiserror::Error)]
#[error("dead-letter publish failed: {0}")]
pub struct DlqError(String);

pub async fn publish(
    jetstream: &jetstream::Context,
    subjects: &Subjects,
    consumer: &str,
    relative_subject: &str,
    message: &async_nats::Message,
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
    headers.insert(NATS_MSG_ID, format!("dlq:{consumer}:{event_id}").as_str());
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
