//! Protobuf ↔ domain for the notifications API: requests are checked field by field (every
//! bad field named at once) and turned into domain values; rows are turned into messages with
//! the recipient masked.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use contracts::notifications as pb;
use contracts::time::to_timestamp;
use runtime::grpc::FieldViolations;
use uuid::Uuid;

use crate::domain::preferences::{Preferences, QuietHours, QuietHoursError};
use crate::domain::{Audience, Channel, Status, Topic, recipient};
use crate::store::notifications::{Cursor, NotificationRow};

pub const MAX_ID: usize = 200;
const MAX_TOKEN: usize = 4096;
pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 200;

pub fn customer_id(violations: &mut FieldViolations, field: &str, id: &str) {
    if id.trim().is_empty() {
        violations.add(field, "is required");
    } else if id.len() > MAX_ID {
        violations.add(field, format!("must be at most {MAX_ID} characters"));
    }
}

fn topic_from_pb(value: i32) -> Option<Topic> {
    match pb::NotificationTopic::try_from(value).ok()? {
        pb::NotificationTopic::Unspecified => None,
        pb::NotificationTopic::OrderUpdates => Some(Topic::OrderUpdates),
        pb::NotificationTopic::PaymentUpdates => Some(Topic::PaymentUpdates),
        pb::NotificationTopic::DeliveryUpdates => Some(Topic::DeliveryUpdates),
        pb::NotificationTopic::ReturnUpdates => Some(Topic::ReturnUpdates),
        pb::NotificationTopic::FeedbackRequests => Some(Topic::FeedbackRequests),
        pb::NotificationTopic::Operations => Some(Topic::Operations),
    }
}

fn topic_to_pb(topic: Topic) -> pb::NotificationTopic {
    match topic {
        Topic::OrderUpdates => pb::NotificationTopic::OrderUpdates,
        Topic::PaymentUpdates => pb::NotificationTopic::PaymentUpdates,
        Topic::DeliveryUpdates => pb::NotificationTopic::DeliveryUpdates,
        Topic::ReturnUpdates => pb::NotificationTopic::ReturnUpdates,
        Topic::FeedbackRequests => pb::NotificationTopic::FeedbackRequests,
        Topic::Operations => pb::NotificationTopic::Operations,
    }
}

pub fn channel_from_pb(value: i32) -> Option<Channel> {
    match pb::NotificationChannel::try_from(value).ok()? {
        pb::NotificationChannel::Unspecified => None,
        pb::NotificationChannel::Email => Some(Channel::Email),
        pb::NotificationChannel::Sms => Some(Channel::Sms),
        pb::NotificationChannel::Push => Some(Channel::Push),
    }
}

fn channel_to_pb(channel: Channel) -> pb::NotificationChannel {
    match channel {
        Channel::Email => pb::NotificationChannel::Email,
        Channel::Sms => pb::NotificationChannel::Sms,
        Channel::Push => pb::NotificationChannel::Push,
    }
}

pub fn status_from_pb(value: i32) -> Option<Status> {
    match pb::NotificationStatus::try_from(value).ok()? {
        pb::NotificationStatus::Unspecified => None,
        pb::NotificationStatus::Pending => Some(Status::Pending),
        pb::NotificationStatus::Sent => Some(Status::Sent),
        pb::NotificationStatus::Failed => Some(Status::Failed),
        pb::NotificationStatus::Suppressed => Some(Status::Suppressed),
    }
}

fn status_to_pb(status: Status) -> pb::NotificationStatus {
    match status {
        Status::Pending => pb::NotificationStatus::Pending,
        Status::Sent => pb::NotificationStatus::Sent,
        Status::Failed => pb::NotificationStatus::Failed,
        Status::Suppressed => pb::NotificationStatus::Suppressed,
    }
}

/// A valid enum value for a filter: 0 means "all"; an unknown number is an error.
pub fn known_enum<T>(
    violations: &mut FieldViolations,
    field: &str,
    value: i32,
    parse: impl Fn(i32) -> Option<T>,
) -> Option<T> {
    if value == 0 {
        return None;
    }
    let parsed = parse(value);
    if parsed.is_none() {
        violations.add(field, format!("{value} is not a known value"));
    }
    parsed
}

/// The preferences a SetPreferences request asks for, or every bad field.
pub fn preferences(request: Option<pb::Preferences>) -> Result<Preferences, FieldViolations> {
    let mut v = FieldViolations::new();
    let Some(p) = request else {
        v.add("preferences", "is required");
        return Err(v);
    };
    customer_id(&mut v, "preferences.customer_id", &p.customer_id);
    if !p.email.is_empty() && !recipient::is_email(&p.email) {
        v.add("preferences.email", "must be an e-mail address");
    }
    if !p.phone.is_empty() && !recipient::is_e164(&p.phone) {
        v.add(
            "preferences.phone",
            "must be an E.164 number, e.g. +4915112345678",
        );
    }
    if p.push_token.len() > MAX_TOKEN || p.push_token.chars().any(char::is_control) {
        v.add(
            "preferences.push_token",
            format!("must be at most {MAX_TOKEN} printable characters"),
        );
    }
    if p.push_enabled && p.push_token.is_empty() {
        v.add(
            "preferences.push_token",
            "is required when push_enabled is true",
        );
    }
    if !p.locale.is_empty() && !recipient::is_locale(&p.locale) {
        v.add(
            "preferences.locale",
            "must be a BCP 47 language tag, e.g. zh-CN or en",
        );
    }

    let mut muted = BTreeSet::new();
    for (i, value) in p.muted_topics.iter().enumerate() {
        let field = format!("preferences.muted_topics[{i}]");
        match topic_from_pb(*value) {
            Some(Topic::Operations) => v.add(field, "is a staff topic"),
            Some(topic) => {
                muted.insert(topic);
            }
            None => v.add(field, "must be a known topic"),
        }
    }

    let mut topic_channels = BTreeMap::new();
    for (i, tc) in p.topic_channels.iter().enumerate() {
        let prefix = format!("preferences.topic_channels[{i}]");
        let topic = match topic_from_pb(tc.topic) {
            Some(Topic::Operations) => {
                v.add(format!("{prefix}.topic"), "is a staff topic");
                None
            }
            Some(topic) => Some(topic),
            None => {
                v.add(format!("{prefix}.topic"), "must be a known topic");
                None
            }
        };
        if tc.channels.is_empty() {
            v.add(
                format!("{prefix}.channels"),
                "needs at least one channel; mute the topic instead",
            );
        }
        let mut channels = BTreeSet::new();
        for (j, value) in tc.channels.iter().enumerate() {
            match channel_from_pb(*value) {
                Some(c) => {
                    channels.insert(c);
                }
                None => v.add(format!("{prefix}.channels[{j}]"), "must be a known channel"),
            }
        }
        if let Some(topic) = topic
            && topic_channels.insert(topic, channels).is_some()
        {
            v.add(format!("{prefix}.topic"), "is listed more than once");
        }
    }

    let quiet_hours = match &p.quiet_hours {
        None => None,
        Some(q) => match QuietHours::new(q.start_minute, q.end_minute, q.utc_offset_minutes) {
            Ok(q) => Some(q),
            Err(errors) => {
                for e in errors {
                    let field = match e {
                        QuietHoursError::Start => "start_minute",
                        QuietHoursError::End => "end_minute",
                        QuietHoursError::Offset => "utc_offset_minutes",
                    };
                    v.add(format!("preferences.quiet_hours.{field}"), e.to_string());
                }
                None
            }
        },
    };

    if !v.is_empty() {
        return Err(v);
    }
    Ok(Preferences {
        customer_id: p.customer_id,
        email_enabled: p.email_enabled,
        sms_enabled: p.sms_enabled,
        push_enabled: p.push_enabled,
        email: p.email,
        phone: p.phone,
        push_token: p.push_token,
        muted_topics: muted,
        topic_channels,
        locale: p.locale,
        quiet_hours,
        updated_at: None,
    })
}

pub fn preferences_pb(p: &Preferences) -> pb::Preferences {
    pb::Preferences {
        customer_id: p.customer_id.clone(),
        email_enabled: p.email_enabled,
        sms_enabled: p.sms_enabled,
        push_enabled: p.push_enabled,
        email: p.email.clone(),
        phone: p.phone.clone(),
        push_token: p.push_token.clone(),
        muted_topics: p
            .muted_topics
            .iter()
            .map(|t| topic_to_pb(*t) as i32)
            .collect(),
        locale: p.locale.clone(),
        updated_at: p.updated_at.map(to_timestamp),
        topic_channels: p
            .topic_channels
            .iter()
            .map(|(topic, channels)| pb::TopicChannels {
                topic: topic_to_pb(*topic) as i32,
                channels: channels.iter().map(|c| channel_to_pb(*c) as i32).collect(),
            })
            .collect(),
        quiet_hours: p.quiet_hours.map(|q| pb::QuietHours {
            start_minute: q.start_minute(),
            end_minute: q.end_minute(),
            utc_offset_minutes: q.utc_offset_minutes(),
        }),
    }
}

pub fn notification_pb(row: &NotificationRow) -> pb::Notification {
    let status = Status::parse(&row.status).unwrap_or(Status::Pending);
    pb::Notification {
        id: row.id.to_string(),
        customer_id: row.customer_id.clone(),
        order_id: row.order_id.clone(),
        audience: match Audience::parse(&row.audience) {
            Some(Audience::Customer) => pb::NotificationAudience::Customer,
            Some(Audience::Staff) => pb::NotificationAudience::Staff,
            None => pb::NotificationAudience::Unspecified,
        } as i32,
        channel: Channel::parse(&row.channel)
            .map_or(pb::NotificationChannel::Unspecified, channel_to_pb) as i32,
        topic: Topic::parse(&row.topic).map_or(pb::NotificationTopic::Unspecified, topic_to_pb)
            as i32,
        template: row.template.clone(),
        recipient: recipient::mask(&row.recipient),
        subject: row.subject.clone(),
        body: row.body.clone(),
        status: status_to_pb(status) as i32,
        attempts: row.attempts,
        failure_reason: row.failure_reason.clone(),
        source_event_id: row.source_event_id.clone(),
        source_subject: row.source_subject.clone(),
        created_at: Some(to_timestamp(row.created_at)),
        sent_at: row.sent_at.map(to_timestamp),
        send_after: row.send_after.map(to_timestamp),
        idempotency_key: row.idempotency_key.clone(),
        locale: row.locale.clone(),
    }
}

/// Page tokens are `<created_at in microseconds>.<id>` of the last row served: opaque to
/// callers, stable under inserts (newer rows do not shift later pages).
pub fn page_token(cursor: Cursor) -> String {
    format!(
        "{}.{}",
        cursor.created_at.timestamp_micros(),
        cursor.id.simple()
    )
}

pub fn parse_page_token(token: &str) -> Option<Cursor> {
    let (micros, id) = token.split_once('.')?;
    let created_at = DateTime::<Utc>::from_timestamp_micros(micros.parse().ok()?)?;
    Some(Cursor {
        created_at,
        id: Uuid::parse_str(id).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> pb::Preferences {
        pb::Preferences {
            customer_id: "c1".into(),
            email_enabled: true,
            ..Default::default()
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        let request = pb::Preferences {
            customer_id: String::new(),
            email: "not-an-address".into(),
            phone: "0151".into(),
            push_enabled: true,
            locale: "english".into(),
            muted_topics: vec![99, pb::NotificationTopic::Operations as i32],
            topic_channels: vec![
                pb::TopicChannels {
                    topic: pb::NotificationTopic::DeliveryUpdates as i32,
                    channels: vec![],
                },
                pb::TopicChannels {
                    topic: pb::NotificationTopic::DeliveryUpdates as i32,
                    channels: vec![7],
                },
            ],
            quiet_hours: Some(pb::QuietHours {
                start_minute: 1440,
                end_minute: 10,
                utc_offset_minutes: 1000,
            }),
            ..Default::default()
        };
        let fields: Vec<String> = preferences(Some(request))
            .unwrap_err()
            .iter()
            .map(|(f, _)| f.to_owned())
            .collect();
        for expected in [
            "preferences.customer_id",
            "preferences.email",
            "preferences.phone",
            "preferences.push_token",
            "preferences.locale",
            "preferences.muted_topics[0]",
            "preferences.muted_topics[1]",
            "preferences.topic_channels[0].channels",
            "preferences.topic_channels[1].channels[0]",
            "preferences.topic_channels[1].topic",
            "preferences.quiet_hours.start_minute",
            "preferences.quiet_hours.utc_offset_minutes",
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "{expected} missing from {fields:?}"
            );
        }
    }

    #[test]
    fn preferences_round_trip() {
        let mut request = valid();
        request.quiet_hours = Some(pb::QuietHours {
            start_minute: 1320,
            end_minute: 420,
            utc_offset_minutes: 480,
        });
        request.topic_channels = vec![pb::TopicChannels {
            topic: pb::NotificationTopic::DeliveryUpdates as i32,
            channels: vec![pb::NotificationChannel::Sms as i32],
        }];
        request.muted_topics = vec![pb::NotificationTopic::FeedbackRequests as i32];
        let domain = preferences(Some(request.clone())).unwrap();
        assert_eq!(preferences_pb(&domain), request);
    }

    #[test]
    fn page_tokens_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            created_at: DateTime::<Utc>::from_timestamp_micros(1_770_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(parse_page_token(&page_token(cursor)), Some(cursor));
        assert_eq!(parse_page_token("nope"), None);
        assert_eq!(parse_page_token("12.not-a-uuid"), None);
    }
}
