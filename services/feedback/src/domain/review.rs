//! Product reviews: written by a customer who received the SKU, checked by automatic
//! moderation ([`ModerationRules`] flags blocked words and links for the moderator), then
//! published or rejected by a person. Published reviews can carry the merchant's replies.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::text_enum;

text_enum!(
    ReviewStatus {
        Pending = "PENDING",
        Published = "PUBLISHED",
        Rejected = "REJECTED",
    }
);

text_enum!(
    /// What automatic moderation found.
    ReviewFlag {
        BlockedWord = "BLOCKED_WORD",
        Link = "LINK",
    }
);

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 5000;
pub const MAX_REPLY_CHARS: usize = 5000;

/// 1 to 5 stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating(i32);

impl Rating {
    pub fn new(stars: i32) -> Option<Self> {
        (1..=5).contains(&stars).then_some(Self(stars))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// Top-level domains that make `word.tld` read as a web address. A list rather than "any
/// letters" so that a missing space after a full stop ("great.Love it") is not a link.
const LINK_TLDS: &[&str] = &[
    "com", "net", "org", "info", "biz", "io", "co", "me", "ly", "app", "shop", "store", "online",
    "site", "xyz", "top", "club", "link", "click", "de", "uk", "fr", "es", "it", "nl", "ru", "cn",
    "eu", "us", "ca", "au", "pl", "ch", "at", "be", "se", "no", "dk", "fi", "jp", "in", "br",
];

/// Automatic moderation: which words are blocked and whether links are flagged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModerationRules {
    /// Lower-case, each normalised to words separated by one space.
    blocked: Vec<String>,
    flag_links: bool,
}

impl ModerationRules {
    pub fn new(blocked_words: &[String], flag_links: bool) -> Self {
        let blocked = blocked_words
            .iter()
            .map(|w| words(w))
            .filter(|w| !w.is_empty())
            .collect();
        Self {
            blocked,
            flag_links,
        }
    }

    /// The flags `texts` earn, each at most once, in a stable order.
    pub fn flags(&self, texts: &[&str]) -> Vec<ReviewFlag> {
        let mut flags = Vec::new();
        let normalised: Vec<String> = texts.iter().map(|t| format!(" {} ", words(t))).collect();
        if self.blocked.iter().any(|phrase| {
            let needle = format!(" {phrase} ");
            normalised.iter().any(|text| text.contains(&needle))
        }) {
            flags.push(ReviewFlag::BlockedWord);
        }
        if self.flag_links && texts.iter().any(|t| contains_link(t)) {
            flags.push(ReviewFlag::Link);
        }
        flags
    }
}

/// Lower-case words (letters and digits) separated by single spaces.
fn words(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A URL, a `www.` address, a bare `host.tld`, or an e-mail address.
pub fn contains_link(text: &str) -> bool {
    text.split_whitespace().any(|token| {
        let token = token
            .trim_matches(|c: char| matches!(c, '(' | ')' | '[' | ']' | '<' | '>' | '"' | '\''))
            .trim_end_matches(['.', ',', ';', ':', '!', '?'])
            .to_lowercase();
        if token.contains("://") || token.starts_with("www.") {
            return true;
        }
        let host = match token.split_once('@') {
            Some((user, domain)) if !user.is_empty() => domain,
            Some(_) => return false,
            None => token.split(['/', '?', '#']).next().unwrap_or_default(),
        };
        let labels: Vec<&str> = host.split('.').collect();
        labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| LINK_TLDS.contains(tld))
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub id: Uuid,
    pub author_id: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub id: Uuid,
    pub sku: String,
    pub order_id: Uuid,
    pub customer_id: String,
    pub display_name: String,
    pub rating: Rating,
    pub title: String,
    pub body: String,
    pub status: ReviewStatus,
    pub flags: Vec<ReviewFlag>,
    pub moderation_note: String,
    pub moderated_by: String,
    pub moderated_at: Option<DateTime<Utc>>,
    pub replies: Vec<Reply>,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

/// A validated new review (eligibility is checked against the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    pub order_id: Uuid,
    pub customer_id: String,
    pub sku: String,
    pub rating: Rating,
    pub title: String,
    pub body: String,
    pub display_name: String,
}

impl Review {
    /// A pending review, flagged by `rules`.
    pub fn submit(new: NewReview, id: Uuid, rules: &ModerationRules, now: DateTime<Utc>) -> Self {
        let flags = rules.flags(&[&new.title, &new.body, &new.display_name]);
        Self {
            id,
            sku: new.sku,
            order_id: new.order_id,
            customer_id: new.customer_id,
            display_name: new.display_name,
            rating: new.rating,
            title: new.title,
            body: new.body,
            status: ReviewStatus::Pending,
            flags,
            moderation_note: String::new(),
            moderated_by: String::new(),
            moderated_at: None,
            replies: Vec::new(),
            created_at: now,
            published_at: None,
        }
    }

    /// Applies a moderator's decision. Idempotent by state: the same decision again changes
    /// nothing; reversing a decision is refused.
    pub fn moderate(
        &mut self,
        decision: Decision,
        moderator: &str,
        now: DateTime<Utc>,
    ) -> Result<Moderated, ReviewError> {
        let target = match &decision {
            Decision::Publish { .. } => ReviewStatus::Published,
            Decision::Reject { .. } => ReviewStatus::Rejected,
        };
        if self.status == target {
            return Ok(Moderated::Unchanged);
        }
        if self.status != ReviewStatus::Pending {
            return Err(ReviewError::AlreadyModerated(self.status));
        }
        self.status = target;
        self.moderated_by = moderator.to_owned();
        self.moderated_at = Some(now);
        match decision {
            Decision::Publish { note } => {
                self.moderation_note = note;
                self.published_at = Some(now);
                Ok(Moderated::Published)
            }
            Decision::Reject { reason } => {
                self.moderation_note = reason;
                Ok(Moderated::Rejected)
            }
        }
    }

    /// Whether the merchant may reply: only to what the public can see.
    pub fn check_replyable(&self) -> Result<(), ReviewError> {
        if self.status == ReviewStatus::Published {
            Ok(())
        } else {
            Err(ReviewError::NotPublished)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Publish {
        note: String,
    },
    /// A rejection always says why.
    Reject {
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderated {
    Published,
    Rejected,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("the review was already moderated (status {})", .0.as_str())]
    AlreadyModerated(ReviewStatus),
    #[error("only published reviews can be replied to")]
    NotPublished,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn rules() -> ModerationRules {
        ModerationRules::new(&["scam".into(), "rip off".into()], true)
    }

    fn review(title: &str, body: &str) -> Review {
        Review::submit(
            NewReview {
                order_id: Uuid::nil(),
                customer_id: "c-1".into(),
                sku: "TEA-001".into(),
                rating: Rating::new(4).unwrap(),
                title: title.into(),
                body: body.into(),
                display_name: String::new(),
            },
            Uuid::nil(),
            &rules(),
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        )
    }

    #[test]
    fn blocked_words_match_whole_words_and_phrases_in_any_case() {
        let r = rules();
        assert_eq!(r.flags(&["What a SCAM!"]), [ReviewFlag::BlockedWord]);
        assert_eq!(r.flags(&["a total rip-off"]), [ReviewFlag::BlockedWord]);
        assert!(r.flags(&["scampi was tasty"]).is_empty());
        assert!(r.flags(&["great tea"]).is_empty());
    }

    #[test]
    fn links_and_addresses_are_flagged_but_sentences_are_not() {
        for text in [
            "see https://cheap.example/deal",
            "visit www.tea-deals.net now",
            "buy at teadeals.com.",
            "mail me: anna@example.org",
        ] {
            assert!(contains_link(text), "{text}");
        }
        for text in [
            "Great.Love it",
            "rated 4.5 stars",
            "e.g. the lid",
            "@anna thanks",
        ] {
            assert!(!contains_link(text), "{text}");
        }
        assert_eq!(
            rules().flags(&["scam", "www.x.com"]),
            [ReviewFlag::BlockedWord, ReviewFlag::Link]
        );
        assert!(
            ModerationRules::new(&[], false)
                .flags(&["www.x.com"])
                .is_empty()
        );
    }

    #[test]
    fn a_review_waits_for_a_moderator_who_publishes_or_rejects_it_once() {
        let now = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let mut r = review("Lovely", "Fresh and fragrant");
        assert_eq!(r.status, ReviewStatus::Pending);
        assert_eq!(r.check_replyable(), Err(ReviewError::NotPublished));
        let publish = || Decision::Publish {
            note: String::new(),
        };
        assert_eq!(r.moderate(publish(), "m-1", now), Ok(Moderated::Published));
        assert_eq!(r.published_at, Some(now));
        assert_eq!(r.moderate(publish(), "m-2", now), Ok(Moderated::Unchanged));
        assert_eq!(r.moderated_by, "m-1");
        assert_eq!(
            r.moderate(Decision::Reject { reason: "x".into() }, "m-1", now),
            Err(ReviewError::AlreadyModerated(ReviewStatus::Published))
        );
        assert!(r.check_replyable().is_ok());
    }

    proptest! {
        #[test]
        fn ratings_are_one_to_five(stars in -10i32..10) {
            prop_assert_eq!(Rating::new(stars).is_some(), (1..=5).contains(&stars));
        }

        #[test]
        fn flagging_never_panics_and_plain_words_are_clean(text in "[a-z ]{0,80}") {
            let flags = ModerationRules::new(&[], true).flags(&[&text]);
            prop_assert!(flags.is_empty());
        }
    }
}
