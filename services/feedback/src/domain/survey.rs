//! Post-delivery surveys: scheduled when an order is delivered, invited once the configured
//! delay has passed, answered once (CSAT 1–5, optional NPS 0–10, comment, tags) before the
//! invitation expires.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::text_enum;

text_enum!(
    /// Where a survey stands. `Expired` is never stored: an invited survey past its
    /// `expires_at` reads as expired (see [`Survey::status_at`]).
    SurveyStatus {
        Scheduled = "SCHEDULED",
        Invited = "INVITED",
        Submitted = "SUBMITTED",
        Expired = "EXPIRED",
    }
);

text_enum!(
    /// What an answer is about.
    SurveyTag {
        ProductQuality = "PRODUCT_QUALITY",
        DeliverySpeed = "DELIVERY_SPEED",
        ServiceAttitude = "SERVICE_ATTITUDE",
    }
);

pub const MAX_COMMENT_CHARS: usize = 4000;

/// Customer satisfaction, 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Csat(i32);

impl Csat {
    pub fn new(score: i32) -> Option<Self> {
        (1..=5).contains(&score).then_some(Self(score))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// Net Promoter answer, 0 to 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nps(i32);

impl Nps {
    pub fn new(score: i32) -> Option<Self> {
        (0..=10).contains(&score).then_some(Self(score))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// A valid answer: built only from validated parts; tags sorted and without repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub csat: Csat,
    pub nps: Option<Nps>,
    pub comment: String,
    pub tags: Vec<SurveyTag>,
}

impl Answer {
    pub fn new(csat: Csat, nps: Option<Nps>, comment: String, mut tags: Vec<SurveyTag>) -> Self {
        tags.sort();
        tags.dedup();
        Self {
            csat,
            nps,
            comment,
            tags,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    pub id: Uuid,
    pub order_id: Uuid,
    pub order_number: String,
    pub customer_id: String,
    pub status: SurveyStatus,
    pub answer: Option<Answer>,
    pub delivered_at: DateTime<Utc>,
    pub invite_at: DateTime<Utc>,
    pub invited_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SurveyError {
    #[error("the survey is not open yet: its invitation has not been sent")]
    NotInvited,
    #[error("the survey expired and can no longer be answered")]
    Expired,
    #[error("the survey was already answered (with a different answer)")]
    AlreadyAnswered,
}

/// What [`Survey::submit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// The answer was recorded now.
    Recorded,
    /// The same answer had been recorded before: nothing changes.
    Unchanged,
}

impl Survey {
    /// A survey for an order delivered at `delivered_at`, to be sent `delay` later.
    pub fn schedule(
        id: Uuid,
        order_id: Uuid,
        order_number: String,
        customer_id: String,
        delivered_at: DateTime<Utc>,
        delay: Duration,
    ) -> Self {
        Self {
            id,
            order_id,
            order_number,
            customer_id,
            status: SurveyStatus::Scheduled,
            answer: None,
            delivered_at,
            invite_at: delivered_at + chrono_duration(delay),
            invited_at: None,
            expires_at: None,
            submitted_at: None,
        }
    }

    /// The status as seen at `now` (an unanswered invitation past its expiry has expired).
    pub fn status_at(&self, now: DateTime<Utc>) -> SurveyStatus {
        match (self.status, self.expires_at) {
            (SurveyStatus::Invited, Some(expires)) if now >= expires => SurveyStatus::Expired,
            (status, _) => status,
        }
    }

    /// Sends the invitation; false when it was sent already (a timer fired twice).
    pub fn invite(&mut self, now: DateTime<Utc>, valid_for: Duration) -> bool {
        if self.status != SurveyStatus::Scheduled {
            return false;
        }
        self.status = SurveyStatus::Invited;
        self.invited_at = Some(now);
        self.expires_at = Some(now + chrono_duration(valid_for));
        true
    }

    /// Records `answer`. A survey is answered once; the same answer again changes nothing.
    pub fn submit(&mut self, answer: Answer, now: DateTime<Utc>) -> Result<Submitted, SurveyError> {
        match self.status_at(now) {
            SurveyStatus::Scheduled => Err(SurveyError::NotInvited),
            SurveyStatus::Expired => Err(SurveyError::Expired),
            SurveyStatus::Submitted if self.answer.as_ref() == Some(&answer) => {
                Ok(Submitted::Unchanged)
            }
            SurveyStatus::Submitted => Err(SurveyError::AlreadyAnswered),
            SurveyStatus::Invited => {
                self.status = SurveyStatus::Submitted;
                self.answer = Some(answer);
                self.submitted_at = Some(now);
                Ok(Submitted::Recorded)
            }
        }
    }
}

/// A configured duration as a chrono one (saturating: configuration is bounded anyway).
pub fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn survey() -> Survey {
        let delivered = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        Survey::schedule(
            Uuid::nil(),
            Uuid::nil(),
            "OC-1".into(),
            "c-1".into(),
            delivered,
            Duration::from_secs(3600),
        )
    }

    fn answer(csat: i32) -> Answer {
        Answer::new(Csat::new(csat).unwrap(), None, String::new(), vec![])
    }

    #[test]
    fn the_invitation_is_due_the_delay_after_delivery() {
        let s = survey();
        assert_eq!(s.invite_at - s.delivered_at, chrono::Duration::hours(1));
    }

    #[test]
    fn a_survey_is_answered_once_between_invitation_and_expiry() {
        let mut s = survey();
        let t = s.invite_at;
        assert_eq!(s.submit(answer(5), t), Err(SurveyError::NotInvited));
        assert!(s.invite(t, Duration::from_secs(600)));
        assert!(!s.invite(t, Duration::from_secs(600)), "second invitation");
        assert_eq!(s.submit(answer(4), t), Ok(Submitted::Recorded));
        assert_eq!(s.submit(answer(4), t), Ok(Submitted::Unchanged));
        assert_eq!(s.submit(answer(2), t), Err(SurveyError::AlreadyAnswered));
    }

    #[test]
    fn an_unanswered_invitation_expires() {
        let mut s = survey();
        let t = s.invite_at;
        s.invite(t, Duration::from_secs(600));
        let later = t + chrono::Duration::seconds(600);
        assert_eq!(s.status_at(later), SurveyStatus::Expired);
        assert_eq!(s.submit(answer(3), later), Err(SurveyError::Expired));
    }

    #[test]
    fn tags_are_kept_once_in_a_stable_order() {
        let a = Answer::new(
            Csat::new(5).unwrap(),
            Nps::new(10),
            String::new(),
            vec![
                SurveyTag::ServiceAttitude,
                SurveyTag::ProductQuality,
                SurveyTag::ServiceAttitude,
            ],
        );
        assert_eq!(
            a.tags,
            [SurveyTag::ProductQuality, SurveyTag::ServiceAttitude]
        );
    }

    proptest! {
        #[test]
        fn scores_are_accepted_exactly_in_their_ranges(score in -20i32..20) {
            prop_assert_eq!(Csat::new(score).is_some(), (1..=5).contains(&score));
            prop_assert_eq!(Nps::new(score).is_some(), (0..=10).contains(&score));
        }
    }
}
