//! The notifications domain, free of I/O and protobuf: what a notification is about
//! ([`Topic`]), how it travels ([`Channel`]), whom it is for ([`Audience`]) and where it stands
//! ([`Status`]); the customer's [`preferences`] with their quiet hours; the pure decision of
//! which channels a message goes to and when ([`plan`]); the catalogue of [`messages`];
//! recipients (validation and masking, [`recipient`]); amounts as people read them
//! ([`money`]); and the idempotency key a message carries ([`idempotency_key`]).

pub mod messages;
pub mod money;
pub mod plan;
pub mod preferences;
pub mod recipient;

use sha2::{Digest as _, Sha256};

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    Email,
    Sms,
    Push,
}

impl Channel {
    pub const ALL: [Self; 3] = [Self::Email, Self::Sms, Self::Push];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Push => "push",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// What a message is about; customers choose channels and mute per topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    OrderUpdates,
    PaymentUpdates,
    DeliveryUpdates,
    ReturnUpdates,
    FeedbackRequests,
    /// Staff alerts; never a customer's.
    Operations,
}

impl Topic {
    pub const ALL: [Self; 6] = [
        Self::OrderUpdates,
        Self::PaymentUpdates,
        Self::DeliveryUpdates,
        Self::ReturnUpdates,
        Self::FeedbackRequests,
        Self::Operations,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderUpdates => "order_updates",
            Self::PaymentUpdates => "payment_updates",
            Self::DeliveryUpdates => "delivery_updates",
            Self::ReturnUpdates => "return_updates",
            Self::FeedbackRequests => "feedback_requests",
            Self::Operations => "operations",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Customer,
    Staff,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Staff => "staff",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "customer" => Some(Self::Customer),
            "staff" => Some(Self::Staff),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for its time, being sent, or between retries.
    Pending,
    Sent,
    /// Given up: a permanent refusal, or every attempt failed.
    Failed,
    /// Never to be sent: the customer's preferences, no address, or a channel not configured.
    Suppressed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Suppressed => "suppressed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            "suppressed" => Some(Self::Suppressed),
            _ => None,
        }
    }
}

/// The key a message carries as its e-mail `Message-ID` (left of the `@`) and its HTTP
/// `Idempotency-Key`: the source event, the channel and a digest of the recipient, so a resend
/// of the same message (a retry, or a send repeated after a crash) carries the same key and
/// the receiver can drop it, while staff recipients of one event get keys of their own. The
/// recipient enters only as a digest: keys end up in logs and headers.
///
/// Event ids are UUIDs and are used as they are; any other source id (a dead-letter message
/// id) is replaced by its digest, so the key is always a valid `Message-ID` left part.
pub fn idempotency_key(source_event_id: &str, channel: Channel, recipient: &str) -> String {
    let source = match uuid::Uuid::parse_str(source_event_id) {
        Ok(id) => id.to_string(),
        Err(_) => format!("h{}", &digest(source_event_id)[..32]),
    };
    format!("{source}.{}.{}", channel.as_str(), &digest(recipient)[..12])
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_stable_per_event_channel_and_recipient() {
        let event = "0194b2a4-7c1d-7e8f-9a0b-1c2d3e4f5a6b";
        let a = idempotency_key(event, Channel::Email, "mei@example.com");
        assert_eq!(a, idempotency_key(event, Channel::Email, "mei@example.com"));
        assert!(a.starts_with("0194b2a4-7c1d-7e8f-9a0b-1c2d3e4f5a6b.email."));
        assert_ne!(a, idempotency_key(event, Channel::Sms, "mei@example.com"));
        assert_ne!(a, idempotency_key(event, Channel::Email, "li@example.com"));
        assert!(!a.contains("mei"));
    }

    #[test]
    fn a_non_uuid_source_is_digested_into_a_message_id_safe_key() {
        let key = idempotency_key("dlq:orders__x:abc", Channel::Email, "ops@example.com");
        assert!(
            key.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        );
    }

    #[test]
    fn names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        for t in Topic::ALL {
            assert_eq!(Topic::parse(t.as_str()), Some(t));
        }
        for s in [
            Status::Pending,
            Status::Sent,
            Status::Failed,
            Status::Suppressed,
        ] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
