//! A customer's preferences: which channels, per topic, muted topics, locale, and quiet hours —
//! a daily window in the customer's local time during which messages that can wait are held.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Timelike as _, Utc};

use super::{Channel, Topic};

const MINUTES_PER_DAY: i64 = 24 * 60;
/// UTC−14:00 to UTC+14:00, the offsets in use.
const MAX_OFFSET_MINUTES: i32 = 14 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    pub customer_id: String,
    pub email_enabled: bool,
    pub sms_enabled: bool,
    pub push_enabled: bool,
    /// Overrides the order's address when not empty.
    pub email: String,
    /// Overrides the order's phone when not empty.
    pub phone: String,
    pub push_token: String,
    pub muted_topics: BTreeSet<Topic>,
    /// Topics listed use only these channels (of those enabled).
    pub topic_channels: BTreeMap<Topic, BTreeSet<Channel>>,
    /// Empty: the service's default.
    pub locale: String,
    pub quiet_hours: Option<QuietHours>,
    /// None until the customer sets preferences.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Preferences {
    /// What a customer who never chose gets: e-mail and SMS, no push, nothing muted.
    pub fn defaults(customer_id: &str) -> Self {
        Self {
            customer_id: customer_id.to_owned(),
            email_enabled: true,
            sms_enabled: true,
            push_enabled: false,
            email: String::new(),
            phone: String::new(),
            push_token: String::new(),
            muted_topics: BTreeSet::new(),
            topic_channels: BTreeMap::new(),
            locale: String::new(),
            quiet_hours: None,
            updated_at: None,
        }
    }

    pub fn enabled(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email_enabled,
            Channel::Sms => self.sms_enabled,
            Channel::Push => self.push_enabled && !self.push_token.is_empty(),
        }
    }

    /// The channels the customer wants for `topic`, muting aside.
    pub fn channels_for(&self, topic: Topic) -> Vec<Channel> {
        Channel::ALL
            .into_iter()
            .filter(|c| self.enabled(*c))
            .filter(|c| {
                self.topic_channels
                    .get(&topic)
                    .is_none_or(|set| set.contains(c))
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start_minute: i64,
    end_minute: i64,
    utc_offset_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuietHoursError {
    #[error("must be a minute of the day, 0 to 1439")]
    Start,
    #[error("must be a minute of the day, 0 to 1439, other than start_minute")]
    End,
    #[error("must be between -840 and 840 minutes")]
    Offset,
}

impl QuietHours {
    /// Every field that is wrong.
    pub fn new(start: i32, end: i32, utc_offset: i32) -> Result<Self, Vec<QuietHoursError>> {
        let minute = |m: i32| (0..1440).contains(&m);
        let mut errors = Vec::new();
        if !minute(start) {
            errors.push(QuietHoursError::Start);
        }
        if !minute(end) || end == start {
            errors.push(QuietHoursError::End);
        }
        if !(-MAX_OFFSET_MINUTES..=MAX_OFFSET_MINUTES).contains(&utc_offset) {
            errors.push(QuietHoursError::Offset);
        }
        if errors.is_empty() {
            Ok(Self {
                start_minute: start.into(),
                end_minute: end.into(),
                utc_offset_minutes: utc_offset.into(),
            })
        } else {
            Err(errors)
        }
    }

    pub fn start_minute(&self) -> i32 {
        self.start_minute as i32
    }

    pub fn end_minute(&self) -> i32 {
        self.end_minute as i32
    }

    pub fn utc_offset_minutes(&self) -> i32 {
        self.utc_offset_minutes as i32
    }

    /// The minute of the customer's local day at `at`.
    fn local_minute(&self, at: DateTime<Utc>) -> i64 {
        let local = at + Duration::minutes(self.utc_offset_minutes);
        i64::from(local.hour()) * 60 + i64::from(local.minute())
    }

    /// Whether `at` falls in the window (start inclusive, end exclusive).
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let m = self.local_minute(at);
        if self.start_minute < self.end_minute {
            self.start_minute <= m && m < self.end_minute
        } else {
            m >= self.start_minute || m < self.end_minute
        }
    }

    /// When a message that can wait, due at `at`, may go: `at` itself outside the window,
    /// otherwise the end of the window.
    pub fn release_at(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        if !self.contains(at) {
            return at;
        }
        let m = self.local_minute(at);
        let until_end = (self.end_minute - m).rem_euclid(MINUTES_PER_DAY);
        // Back to the start of the current local minute, then forward to the window's end.
        let minute_start = at
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(at);
        minute_start + Duration::minutes(until_end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use proptest::prelude::*;

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, h, m, 30).unwrap()
    }

    #[test]
    fn a_window_across_midnight_in_utc_plus_8_holds_until_local_morning() {
        // 22:00–07:00 in UTC+8 is 14:00–23:00 UTC.
        let quiet = QuietHours::new(22 * 60, 7 * 60, 480).unwrap();
        assert!(!quiet.contains(utc(13, 59)));
        assert!(quiet.contains(utc(14, 0)));
        assert!(quiet.contains(utc(22, 59)));
        assert!(!quiet.contains(utc(23, 0)));
        assert_eq!(
            quiet.release_at(utc(15, 10)),
            Utc.with_ymd_and_hms(2026, 3, 10, 23, 0, 0).unwrap()
        );
        assert_eq!(quiet.release_at(utc(12, 0)), utc(12, 0));
    }

    #[test]
    fn a_daytime_window_with_a_negative_offset() {
        // 12:00–13:00 in UTC−5 is 17:00–18:00 UTC.
        let quiet = QuietHours::new(12 * 60, 13 * 60, -300).unwrap();
        assert!(quiet.contains(utc(17, 30)));
        assert!(!quiet.contains(utc(18, 0)));
        assert_eq!(
            quiet.release_at(utc(17, 30)),
            Utc.with_ymd_and_hms(2026, 3, 10, 18, 0, 0).unwrap()
        );
    }

    #[test]
    fn invalid_windows_name_every_bad_field() {
        assert_eq!(
            QuietHours::new(-1, -1, 900),
            Err(vec![
                QuietHoursError::Start,
                QuietHoursError::End,
                QuietHoursError::Offset
            ])
        );
        assert_eq!(QuietHours::new(60, 60, 0), Err(vec![QuietHoursError::End]));
    }

    #[test]
    fn channels_follow_enabled_flags_and_topic_overrides() {
        let mut prefs = Preferences::defaults("c1");
        assert_eq!(
            prefs.channels_for(Topic::OrderUpdates),
            vec![Channel::Email, Channel::Sms]
        );
        prefs.push_enabled = true;
        // Push needs a token.
        assert_eq!(
            prefs.channels_for(Topic::OrderUpdates),
            vec![Channel::Email, Channel::Sms]
        );
        prefs.push_token = "tok".into();
        prefs
            .topic_channels
            .insert(Topic::DeliveryUpdates, [Channel::Push, Channel::Sms].into());
        assert_eq!(
            prefs.channels_for(Topic::DeliveryUpdates),
            vec![Channel::Sms, Channel::Push]
        );
        assert_eq!(prefs.channels_for(Topic::OrderUpdates).len(), 3);
    }

    proptest! {
        #[test]
        fn a_held_message_is_released_outside_the_window_within_a_day(
            start in 0i32..1440,
            end in 0i32..1440,
            offset in -840i32..=840,
            secs in 0i64..(400 * 86_400),
        ) {
            prop_assume!(start != end);
            let quiet = QuietHours::new(start, end, offset).unwrap();
            let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(secs);
            let release = quiet.release_at(at);
            prop_assert!(!quiet.contains(release));
            if quiet.contains(at) {
                prop_assert!(release > at - Duration::minutes(1));
                prop_assert!(release - at <= Duration::days(1));
            } else {
                prop_assert_eq!(release, at);
            }
        }
    }
}
