//! How a tracking event moves a shipment, and what its ETA is afterwards.
//!
//! Carriers deliver scans late, twice and out of order. The rules:
//! - a final state (delivered, returned to sender, cancelled) is never left;
//! - a later stage of the journey (label → picked up → in transit → out for delivery /
//!   failed attempt → delivered / returned) always advances, whatever its timestamp;
//! - an event of the same stage advances only if it happened after the current one (a second
//!   delivery attempt after a failed one);
//! - the one legitimate step back, a failed attempt followed by the parcel going back into the
//!   network for the next try, advances only when it is newer;
//! - an exception applies when it is the newest event, and any newer non-final scan recovers
//!   from it;
//! - anything else is history only: recorded, shown, but the status stays.
//!
//! Duplicates never get here: they are recognised by the carrier's event id in the store.

use chrono::{DateTime, Duration, Utc};

use super::shipment::{Courier, FailureReason, Money, Shipment, TrackingStatus};

/// One tracking event as a carrier (or an operator) reported it, already mapped to a canonical
/// status.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingUpdate {
    pub status: TrackingStatus,
    pub carrier_status_code: String,
    pub description: String,
    pub location: String,
    pub occurred_at: DateTime<Utc>,
    pub eta: Option<DateTime<Utc>>,
    pub courier: Option<Courier>,
    pub cash_collected: Option<Money>,
    pub failure_reason: Option<FailureReason>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Who signed for a delivery, or where it was left.
    pub received_by: String,
}

/// Durations the ETA is computed with (configuration, see `config.rs`).
#[derive(Debug, Clone)]
pub struct EtaPolicy {
    /// Once in transit, the least time still to go.
    pub in_transit_remaining: Duration,
    /// Out for delivery: delivered within this window.
    pub out_for_delivery_window: Duration,
    /// After a failed attempt with no date from the carrier, the next one is this much later.
    pub retry_after: Duration,
    /// Attempts after which the carrier gives up and returns the parcel.
    pub max_delivery_attempts: i32,
}

impl Default for EtaPolicy {
    fn default() -> Self {
        Self {
            in_transit_remaining: Duration::days(1),
            out_for_delivery_window: Duration::hours(8),
            retry_after: Duration::days(1),
            max_delivery_attempts: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackingError {
    #[error("a shipment the carrier has already picked up cannot be cancelled")]
    CancelAfterPickup,
    #[error("a label-created event cannot be recorded: the label exists from creation")]
    LabelCreatedIsImplicit,
    #[error("the delivery of a cash-on-delivery shipment must report the cash collected")]
    CashCollectedMissing,
    #[error("cash collected must be in {expected}, the currency of the cash-on-delivery amount")]
    CashCollectedCurrency { expected: String },
    #[error("cash collected can only be reported for a cash-on-delivery shipment")]
    CashCollectedWithoutCod,
    #[error("cash collected can only be reported with a delivery")]
    CashCollectedNotDelivered,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The event moved the shipment (otherwise it is history only).
    pub advanced: bool,
    pub previous_status: TrackingStatus,
    pub status_changed: bool,
    pub eta_changed: bool,
    pub courier_changed: bool,
    /// For a failed attempt that advanced: its 1-based number.
    pub attempt: Option<i32>,
    /// A failed attempt after which the carrier gives up.
    pub returning_to_sender: bool,
}

impl Outcome {
    /// Whether subscribers hear of it as `shipment.status_changed`.
    pub fn is_visible_change(&self) -> bool {
        self.advanced && (self.status_changed || self.eta_changed || self.courier_changed)
    }
}

/// Position on the journey; events of a later stage advance regardless of their timestamps.
fn stage(status: TrackingStatus) -> u8 {
    match status {
        TrackingStatus::LabelCreated => 0,
        TrackingStatus::Accepted => 1,
        TrackingStatus::InTransit => 2,
        TrackingStatus::OutForDelivery | TrackingStatus::DeliveryFailed => 3,
        TrackingStatus::Delivered
        | TrackingStatus::ReturnedToSender
        | TrackingStatus::Cancelled => 4,
        // Not on the journey: see `advances`.
        TrackingStatus::Exception => 0,
    }
}

/// Whether an event of `new` at `new_at` moves a shipment that is `current` since `current_at`.
pub fn advances(
    current: TrackingStatus,
    current_at: DateTime<Utc>,
    new: TrackingStatus,
    new_at: DateTime<Utc>,
) -> bool {
    use TrackingStatus as S;
    if current.is_final() {
        return false;
    }
    let newer = new_at > current_at;
    match (current, new) {
        (_, S::Delivered | S::ReturnedToSender | S::Cancelled) => true,
        (_, S::LabelCreated) => false,
        (_, S::Exception) => new_at >= current_at,
        (S::Exception, _) => newer,
        (S::DeliveryFailed, S::InTransit) => newer,
        _ => match stage(new).cmp(&stage(current)) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => newer,
            std::cmp::Ordering::Less => false,
        },
    }
}

/// The ETA of a shipment in `status` since `status_at`, by the carrier's transit days.
pub fn estimate_eta(shipment: &Shipment, policy: &EtaPolicy) -> Option<DateTime<Utc>> {
    let transit = Duration::days(i64::from(shipment.transit_days));
    // Until the carrier has it, assume hand-over on the day the label was made.
    let base = shipment.handed_over_at.unwrap_or(shipment.created_at) + transit;
    let at = shipment.status_at;
    match shipment.status {
        TrackingStatus::LabelCreated | TrackingStatus::Accepted => Some(base),
        TrackingStatus::InTransit => Some(base.max(at + policy.in_transit_remaining)),
        TrackingStatus::OutForDelivery => Some(at + policy.out_for_delivery_window),
        TrackingStatus::DeliveryFailed => {
            if shipment.delivery_attempts >= policy.max_delivery_attempts {
                None
            } else {
                Some(
                    shipment.next_attempt_at.unwrap_or(at + policy.retry_after)
                        + policy.out_for_delivery_window,
                )
            }
        }
        TrackingStatus::Delivered => shipment.delivered_at,
        // Unknown until the carrier says more.
        TrackingStatus::Exception
        | TrackingStatus::ReturnedToSender
        | TrackingStatus::Cancelled => None,
    }
}

impl Shipment {
    /// Checks an event against this shipment before anything is stored.
    pub fn check(&self, update: &TrackingUpdate) -> Result<(), TrackingError> {
        match update.status {
            TrackingStatus::LabelCreated => return Err(TrackingError::LabelCreatedIsImplicit),
            TrackingStatus::Cancelled if self.status != TrackingStatus::LabelCreated => {
                return Err(TrackingError::CancelAfterPickup);
            }
            _ => {}
        }
        match (&update.cash_collected, &self.cash_on_delivery) {
            (Some(_), _) if update.status != TrackingStatus::Delivered => {
                Err(TrackingError::CashCollectedNotDelivered)
            }
            (Some(_), None) => Err(TrackingError::CashCollectedWithoutCod),
            (Some(cash), Some(cod)) if cash.currency != cod.currency => {
                Err(TrackingError::CashCollectedCurrency {
                    expected: cod.currency.clone(),
                })
            }
            (None, Some(_))
                if update.status == TrackingStatus::Delivered && !self.status.is_final() =>
            {
                Err(TrackingError::CashCollectedMissing)
            }
            _ => Ok(()),
        }
    }

    /// Applies a checked event; `now` is when shipping records it.
    pub fn apply(
        &mut self,
        update: &TrackingUpdate,
        policy: &EtaPolicy,
        now: DateTime<Utc>,
    ) -> Outcome {
        let previous_status = self.status;
        let previous_eta = self.eta;
        let previous_courier = self.courier.clone();
        self.updated_at = now;

        // Facts that hold whatever the order of arrival.
        if update.status == TrackingStatus::Accepted {
            self.handed_over_at = Some(
                self.handed_over_at
                    .map_or(update.occurred_at, |t| t.min(update.occurred_at)),
            );
        }
        if update.status == TrackingStatus::DeliveryFailed && !self.status.is_final() {
            self.delivery_attempts += 1;
        }

        let advanced = advances(
            self.status,
            self.status_at,
            update.status,
            update.occurred_at,
        );
        let mut attempt = None;
        let mut returning_to_sender = false;
        if advanced {
            self.status = update.status;
            self.status_at = update.occurred_at;
            if !update.location.is_empty() {
                self.last_location = update.location.clone();
            }
            if let Some(courier) = &update.courier {
                self.courier = Some(courier.clone());
            }
            match update.status {
                TrackingStatus::Delivered => {
                    self.delivered_at = Some(update.occurred_at);
                    self.cash_collected = update.cash_collected.clone();
                    self.received_by = update.received_by.clone();
                }
                TrackingStatus::DeliveryFailed => {
                    self.next_attempt_at = update.next_attempt_at;
                    attempt = Some(self.delivery_attempts);
                    // A refusal at the door is final at once; other failures after the last
                    // attempt.
                    returning_to_sender = update.next_attempt_at.is_none()
                        && (self.delivery_attempts >= policy.max_delivery_attempts
                            || update.failure_reason == Some(FailureReason::Refused));
                }
                TrackingStatus::OutForDelivery | TrackingStatus::InTransit => {
                    self.next_attempt_at = None;
                }
                _ => {}
            }
        }
        if !self.status.is_final() || advanced {
            // Recomputed on every event: a late hand-over scan moves the base too.
            self.eta = match update.eta {
                Some(eta) if advanced && !self.status.is_final() => Some(eta),
                _ => estimate_eta(self, policy),
            };
        }
        Outcome {
            advanced,
            previous_status,
            status_changed: self.status != previous_status,
            eta_changed: self.eta != previous_eta,
            courier_changed: self.courier != previous_courier,
            attempt,
            returning_to_sender,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::domain::shipment::fixtures::{at, shipment};

    fn update(status: TrackingStatus, hours: i64) -> TrackingUpdate {
        TrackingUpdate {
            status,
            carrier_status_code: String::new(),
            description: String::new(),
            location: format!("scan at {hours}h"),
            occurred_at: at(hours),
            eta: None,
            courier: None,
            cash_collected: None,
            failure_reason: None,
            next_attempt_at: None,
            received_by: String::new(),
        }
    }

    use TrackingStatus as S;

    #[test]
    fn the_journey_in_order_advances_step_by_step() {
        let mut s = shipment();
        let policy = EtaPolicy::default();
        for (status, h) in [
            (S::Accepted, 1),
            (S::InTransit, 5),
            (S::OutForDelivery, 30),
            (S::Delivered, 33),
        ] {
            let out = s.apply(&update(status, h), &policy, at(h));
            assert!(out.advanced && out.status_changed, "{status:?}");
            assert_eq!(s.status, status);
        }
        assert_eq!(s.delivered_at, Some(at(33)));
        assert_eq!(s.eta, Some(at(33)));
    }

    #[test]
    fn an_older_scan_arriving_late_never_moves_the_shipment_back() {
        let mut s = shipment();
        let policy = EtaPolicy::default();
        s.apply(&update(S::OutForDelivery, 30), &policy, at(31));
        let out = s.apply(&update(S::InTransit, 5), &policy, at(32));
        assert!(!out.advanced);
        assert_eq!(s.status, S::OutForDelivery);
        // A late hand-over scan is still a fact: it is when the transit days started.
        let out = s.apply(&update(S::Accepted, 1), &policy, at(33));
        assert!(!out.advanced);
        assert_eq!(s.handed_over_at, Some(at(1)));
        assert_eq!(s.status, S::OutForDelivery);
    }

    #[test]
    fn a_final_state_is_never_left() {
        let mut s = shipment();
        let policy = EtaPolicy::default();
        s.apply(&update(S::Delivered, 40), &policy, at(40));
        for status in [
            S::InTransit,
            S::Exception,
            S::DeliveryFailed,
            S::OutForDelivery,
        ] {
            let out = s.apply(&update(status, 50), &policy, at(50));
            assert!(!out.advanced);
            assert_eq!(s.status, S::Delivered);
        }
    }

    #[test]
    fn a_second_attempt_after_a_failed_one_advances_only_when_newer() {
        let mut s = shipment();
        let policy = EtaPolicy::default();
        s.apply(&update(S::OutForDelivery, 30), &policy, at(30));
        let mut failed = update(S::DeliveryFailed, 32);
        failed.failure_reason = Some(FailureReason::RecipientAbsent);
        let out = s.apply(&failed, &policy, at(32));
        assert_eq!(out.attempt, Some(1));
        assert!(!out.returning_to_sender);
        // The next attempt is tomorrow (retry_after), delivered within the window.
        assert_eq!(s.eta, Some(at(32 + 24 + 8)));
        // A stale out-for-delivery scan from before the failure changes nothing...
        assert!(
            !s.apply(&update(S::OutForDelivery, 31), &policy, at(33))
                .advanced
        );
        // ...the next day's does.
        assert!(
            s.apply(&update(S::OutForDelivery, 54), &policy, at(54))
                .advanced
        );
        assert_eq!(s.status, S::OutForDelivery);
    }

    #[test]
    fn the_last_failed_attempt_says_the_parcel_goes_back() {
        let mut s = shipment();
        let policy = EtaPolicy::default();
        let mut out = None;
        for attempt in 0..3 {
            let h = 30 + attempt * 24;
            s.apply(&update(S::OutForDelivery, h), &policy, at(h));
            out = Some(s.apply(&update(S::DeliveryFailed, h + 1), &policy, at(h + 1)));
        }
        let out = out.unwrap_or_else(|| unreachable!());
        assert_eq!(out.attempt, Some(3));
        assert!(out.returning_to_sender);
        assert_eq!(s.eta, None);
    }

    #[test]
    fn an_exception_holds_until_a_newer_scan_recovers_it() {
        let mut s = shipment();
        let policy = EtaPolicy::default();
        s.apply(&update(S::InTransit, 5), &policy, at(5));
        assert!(s.apply(&update(S::Exception, 10), &policy, at(10)).advanced);
        assert_eq!(s.eta, None);
        assert!(!s.apply(&update(S::InTransit, 8), &policy, at(11)).advanced);
        assert!(s.apply(&update(S::InTransit, 12), &policy, at(12)).advanced);
        assert!(s.eta.is_some());
    }

    #[test]
    fn the_eta_counts_transit_days_from_the_hand_over() {
        let mut s = shipment();
        let policy = EtaPolicy::default();
        s.apply(&update(S::Accepted, 20), &policy, at(20));
        assert_eq!(s.eta, Some(at(20 + 48)));
        // Late in transit: at least a day still to go.
        s.apply(&update(S::InTransit, 70), &policy, at(70));
        assert_eq!(s.eta, Some(at(70 + 24)));
        // The carrier's own ETA wins.
        let mut scan = update(S::InTransit, 71);
        scan.eta = Some(at(100));
        s.apply(&scan, &policy, at(71));
        assert_eq!(s.eta, Some(at(100)));
    }

    #[test]
    fn cash_on_delivery_must_be_reported_at_delivery_in_its_currency() {
        let mut s = shipment();
        s.cash_on_delivery = Some(Money {
            currency: "EUR".into(),
            minor: 1999,
        });
        let mut delivered = update(S::Delivered, 40);
        assert_eq!(
            s.check(&delivered),
            Err(TrackingError::CashCollectedMissing)
        );
        delivered.cash_collected = Some(Money {
            currency: "USD".into(),
            minor: 1999,
        });
        assert!(matches!(
            s.check(&delivered),
            Err(TrackingError::CashCollectedCurrency { .. })
        ));
        delivered.cash_collected = Some(Money {
            currency: "EUR".into(),
            minor: 1999,
        });
        assert_eq!(s.check(&delivered), Ok(()));
    }

    #[test]
    fn cancelling_is_refused_once_the_carrier_has_the_parcel() {
        let mut s = shipment();
        assert_eq!(s.check(&update(S::Cancelled, 1)), Ok(()));
        s.apply(&update(S::Accepted, 1), &EtaPolicy::default(), at(1));
        assert_eq!(
            s.check(&update(S::Cancelled, 2)),
            Err(TrackingError::CancelAfterPickup)
        );
    }

    fn any_status() -> impl Strategy<Value = TrackingStatus> {
        prop::sample::select(
            TrackingStatus::ALL
                .into_iter()
                .filter(|s| *s != S::LabelCreated && *s != S::Cancelled)
                .collect::<Vec<_>>(),
        )
    }

    proptest! {
        /// Whatever order the events of a journey arrive in, once the delivery is known the
        /// shipment is delivered, and no event moves a shipment to an earlier stage unless it
        /// is newer than the current one.
        #[test]
        fn arrival_order_never_undoes_a_delivery(
            events in prop::collection::vec((any_status(), 0i64..200), 1..20),
        ) {
            let policy = EtaPolicy::default();
            let mut s = shipment();
            let mut seen_final = false;
            for (status, h) in events {
                let before = (s.status, s.status_at);
                let out = s.apply(&update(status, h), &policy, at(h));
                if seen_final {
                    prop_assert!(!out.advanced);
                    prop_assert_eq!((s.status, s.status_at), before);
                }
                if out.advanced
                    && stage(s.status) < stage(before.0)
                    && before.0 != S::Exception
                    && s.status != S::Exception
                {
                    prop_assert!(at(h) > before.1);
                }
                seen_final |= s.status.is_final();
            }
        }
    }
}
