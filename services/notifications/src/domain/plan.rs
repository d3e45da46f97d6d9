//! Which channels a message goes to, to whom, and from when — decided once, when the event
//! arrives, and recorded as one notification row per channel and recipient.
//!
//! For a customer: the channels they enabled (push only with a token), narrowed by their
//! per-topic choice; none for a muted topic, except that a message the order cannot complete
//! without (bank transfer instructions, a pickup code) still goes out on one enabled channel
//! that can reach them. A channel without an address, or one this deployment has not
//! configured, is recorded as suppressed with the reason. Quiet hours hold messages that can
//! wait until the window ends; time-critical ones go at once. Staff alerts go to every
//! configured staff address at once.

use chrono::{DateTime, Utc};

use super::preferences::Preferences;
use super::{Channel, Topic};

/// How a message of one kind is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub topic: Topic,
    /// Sent even during quiet hours (the courier is at the door, a deadline runs).
    pub urgent: bool,
    /// Needed to complete the order: sent on one channel even if the topic is muted.
    pub essential: bool,
}

/// Where the customer of an order can be reached, as given at checkout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub customer_id: String,
    pub email: String,
    pub phone: String,
}

/// The channels this deployment can send on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Configured {
    pub email: bool,
    pub sms: bool,
    pub push: bool,
}

impl Configured {
    pub fn has(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email,
            Channel::Sms => self.sms,
            Channel::Push => self.push,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Send from this time on.
    Send { after: DateTime<Utc> },
    /// Record, never send, with the reason.
    Suppress(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub channel: Channel,
    /// Empty when suppressed for the lack of one.
    pub recipient: String,
    pub delivery: Delivery,
}

pub const MUTED: &str = "the customer muted this topic";
pub const NO_ADDRESS: &str = "no address for this channel";
pub const NOT_CONFIGURED: &str = "this channel is not configured";
pub const UNREACHABLE: &str = "no enabled channel can reach the customer";

/// The customer's notifications for one message of `kind`, decided at `now`.
pub fn for_customer(
    kind: Kind,
    contact: &Contact,
    prefs: &Preferences,
    configured: Configured,
    now: DateTime<Utc>,
) -> Vec<Planned> {
    let recipient = |channel: Channel| -> String {
        let (preferred, fallback) = match channel {
            Channel::Email => (&prefs.email, &contact.email),
            Channel::Sms => (&prefs.phone, &contact.phone),
            Channel::Push => (&prefs.push_token, &prefs.push_token),
        };
        if preferred.is_empty() {
            fallback
        } else {
            preferred
        }
        .clone()
    };
    let after = match prefs.quiet_hours {
        Some(quiet) if !kind.urgent => quiet.release_at(now),
        _ => now,
    };
    let reachable = |channel: Channel| configured.has(channel) && !recipient(channel).is_empty();
    let muted = prefs.muted_topics.contains(&kind.topic);

    let mut planned: Vec<Planned> = prefs
        .channels_for(kind.topic)
        .into_iter()
        .map(|channel| {
            let delivery = if muted {
                Delivery::Suppress(MUTED)
            } else if recipient(channel).is_empty() {
                Delivery::Suppress(NO_ADDRESS)
            } else if !configured.has(channel) {
                Delivery::Suppress(NOT_CONFIGURED)
            } else {
                Delivery::Send { after }
            };
            Planned {
                channel,
                recipient: recipient(channel),
                delivery,
            }
        })
        .collect();

    let sending = planned
        .iter()
        .any(|p| matches!(p.delivery, Delivery::Send { .. }));
    if kind.essential && !sending {
        // One enabled channel that reaches them, preferring those chosen for the topic.
        let chosen: Vec<Channel> = planned.iter().map(|p| p.channel).collect();
        let fallback = chosen
            .iter()
            .copied()
            .chain(Channel::ALL.into_iter().filter(|c| prefs.enabled(*c)))
            .find(|c| reachable(*c));
        match fallback {
            Some(channel) => {
                planned.retain(|p| p.channel != channel);
                planned.push(Planned {
                    channel,
                    recipient: recipient(channel),
                    delivery: Delivery::Send { after },
                });
            }
            None if planned.is_empty() => planned.push(Planned {
                channel: Channel::Email,
                recipient: String::new(),
                delivery: Delivery::Suppress(UNREACHABLE),
            }),
            None => {}
        }
    }
    planned.sort_by_key(|p| p.channel);
    planned
}

/// Staff alerts: every configured staff address, at once.
pub fn for_staff(
    emails: &[String],
    phones: &[String],
    configured: Configured,
    now: DateTime<Utc>,
) -> Vec<Planned> {
    let one = |channel: Channel, recipient: &String| Planned {
        channel,
        recipient: recipient.clone(),
        delivery: if configured.has(channel) {
            Delivery::Send { after: now }
        } else {
            Delivery::Suppress(NOT_CONFIGURED)
        },
    };
    emails
        .iter()
        .map(|r| one(Channel::Email, r))
        .chain(phones.iter().map(|r| one(Channel::Sms, r)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::preferences::QuietHours;
    use chrono::TimeZone as _;

    const ALL: Configured = Configured {
        email: true,
        sms: true,
        push: true,
    };

    fn contact() -> Contact {
        Contact {
            customer_id: "c1".into(),
            email: "mei@example.com".into(),
            phone: "+4915112345678".into(),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 15, 0, 0).unwrap()
    }

    const ORDER: Kind = Kind {
        topic: Topic::OrderUpdates,
        urgent: false,
        essential: false,
    };
    const PICKUP: Kind = Kind {
        topic: Topic::DeliveryUpdates,
        urgent: false,
        essential: true,
    };

    fn sends(planned: &[Planned]) -> Vec<(Channel, String)> {
        planned
            .iter()
            .filter(|p| matches!(p.delivery, Delivery::Send { .. }))
            .map(|p| (p.channel, p.recipient.clone()))
            .collect()
    }

    #[test]
    fn by_default_email_and_sms_go_to_the_order_contact() {
        let planned = for_customer(ORDER, &contact(), &Preferences::defaults("c1"), ALL, now());
        assert_eq!(
            sends(&planned),
            vec![
                (Channel::Email, "mei@example.com".into()),
                (Channel::Sms, "+4915112345678".into())
            ]
        );
    }

    #[test]
    fn preferred_addresses_win_and_missing_ones_are_suppressed() {
        let mut prefs = Preferences::defaults("c1");
        prefs.email = "work@example.com".into();
        let no_phone = Contact {
            phone: String::new(),
            ..contact()
        };
        let planned = for_customer(ORDER, &no_phone, &prefs, ALL, now());
        assert_eq!(
            sends(&planned),
            vec![(Channel::Email, "work@example.com".into())]
        );
        assert!(
            planned
                .iter()
                .any(|p| p.channel == Channel::Sms && p.delivery == Delivery::Suppress(NO_ADDRESS))
        );
    }

    #[test]
    fn a_muted_topic_is_recorded_but_not_sent() {
        let mut prefs = Preferences::defaults("c1");
        prefs.muted_topics.insert(Topic::OrderUpdates);
        let planned = for_customer(ORDER, &contact(), &prefs, ALL, now());
        assert!(sends(&planned).is_empty());
        assert!(
            planned
                .iter()
                .all(|p| p.delivery == Delivery::Suppress(MUTED))
        );
    }

    #[test]
    fn an_essential_message_goes_out_on_one_channel_even_when_muted() {
        let mut prefs = Preferences::defaults("c1");
        prefs.muted_topics.insert(Topic::DeliveryUpdates);
        let planned = for_customer(PICKUP, &contact(), &prefs, ALL, now());
        assert_eq!(
            sends(&planned),
            vec![(Channel::Email, "mei@example.com".into())]
        );
    }

    #[test]
    fn an_essential_message_falls_back_to_a_channel_that_is_configured() {
        let prefs = Preferences::defaults("c1");
        let sms_only = Configured {
            email: false,
            sms: true,
            push: false,
        };
        let mut muted = prefs.clone();
        muted.muted_topics.insert(Topic::DeliveryUpdates);
        let planned = for_customer(PICKUP, &contact(), &muted, sms_only, now());
        assert_eq!(
            sends(&planned),
            vec![(Channel::Sms, "+4915112345678".into())]
        );
    }

    #[test]
    fn quiet_hours_hold_what_can_wait_and_not_what_is_urgent() {
        let mut prefs = Preferences::defaults("c1");
        // 22:00–07:00 in UTC+8: 15:00 UTC is 23:00 local.
        prefs.quiet_hours = Some(QuietHours::new(22 * 60, 7 * 60, 480).unwrap());
        let held = for_customer(ORDER, &contact(), &prefs, ALL, now());
        let release = Utc.with_ymd_and_hms(2026, 3, 10, 23, 0, 0).unwrap();
        assert!(
            held.iter()
                .all(|p| p.delivery == Delivery::Send { after: release })
        );
        let urgent = Kind {
            urgent: true,
            ..ORDER
        };
        let now_ = for_customer(urgent, &contact(), &prefs, ALL, now());
        assert!(
            now_.iter()
                .all(|p| p.delivery == Delivery::Send { after: now() })
        );
    }

    #[test]
    fn staff_alerts_go_to_every_staff_address() {
        let planned = for_staff(
            &["ops@example.com".into(), "lead@example.com".into()],
            &["+4915100000001".into()],
            Configured {
                email: true,
                sms: false,
                push: false,
            },
            now(),
        );
        assert_eq!(planned.len(), 3);
        assert_eq!(planned[2].delivery, Delivery::Suppress(NOT_CONFIGURED));
    }
}
