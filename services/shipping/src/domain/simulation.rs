//! What the simulated carriers do with a parcel: the scans they report, in order. A demo or a
//! test picks a scenario with a marker anywhere in the recipient address (usually `line2`):
//!
//! | marker | journey |
//! |---|---|
//! | none | picked up → in transit → out for delivery → delivered |
//! | `[sim:fail-once]` | … out for delivery → failed (recipient absent) → out for delivery → delivered |
//! | `[sim:no-cash]` | as `fail-once`, failing with "payment not available" (cash on delivery) |
//! | `[sim:fail-always]` | every attempt fails (recipient absent) up to the last → returned to sender |
//! | `[sim:refuse]` | … out for delivery → failed (refused at the door, e.g. cash on delivery) → returned to sender |
//! | `[sim:exception]` | picked up → in transit → exception (damaged), and nothing more |
//! | `[sim:hold]` | nothing: the carrier never picks the parcel up (tests drive it themselves) |
//!
//! The carrier-side plumbing (timers on the service clock, the scans recorded like webhooks)
//! is in `carriers.rs`.

use super::shipment::{Address, Courier, FailureReason, TrackingStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Delivered,
    FailOnce,
    NoCash,
    FailAlways,
    Refuse,
    Exception,
    Hold,
}

impl Scenario {
    /// The scenario a recipient address asks for.
    pub fn from_address(to: &Address) -> Self {
        let text = [
            &to.recipient,
            &to.line1,
            &to.line2,
            &to.city,
            &to.postal_code,
        ]
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
        [
            ("[sim:fail-once]", Self::FailOnce),
            ("[sim:no-cash]", Self::NoCash),
            ("[sim:fail-always]", Self::FailAlways),
            ("[sim:refuse]", Self::Refuse),
            ("[sim:exception]", Self::Exception),
            ("[sim:hold]", Self::Hold),
        ]
        .into_iter()
        .find(|(marker, _)| text.contains(marker))
        .map_or(Self::Delivered, |(_, scenario)| scenario)
    }
}

/// One scan the simulated carrier reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimStep {
    pub status: TrackingStatus,
    pub failure_reason: Option<FailureReason>,
    pub location: String,
    /// The courier named on the way out for delivery.
    pub courier: Option<Courier>,
    /// A failed attempt after which another one is planned.
    pub retry_planned: bool,
}

/// The simulated courier: a fixed contact, named as simulated so no one calls it.
pub fn courier() -> Courier {
    Courier {
        name: "Sam Sim (simulated courier)".into(),
        phone: "+49301234567".into(),
    }
}

/// The scans of `scenario` for a parcel from `from` to `to`.
pub fn script(scenario: Scenario, from: &Address, to: &Address, max_attempts: i32) -> Vec<SimStep> {
    let step = |status, location: String| SimStep {
        status,
        failure_reason: None,
        location,
        courier: None,
        retry_planned: false,
    };
    let out_for_delivery = || SimStep {
        courier: Some(courier()),
        ..step(
            TrackingStatus::OutForDelivery,
            format!("{} delivery base", to.city),
        )
    };
    let failed = |reason, retry_planned| SimStep {
        failure_reason: Some(reason),
        retry_planned,
        ..step(TrackingStatus::DeliveryFailed, to.city.clone())
    };
    if scenario == Scenario::Hold {
        return Vec::new();
    }
    let mut steps = vec![
        step(TrackingStatus::Accepted, format!("{} depot", from.city)),
        step(TrackingStatus::InTransit, "sorting hub".into()),
    ];
    match scenario {
        Scenario::Hold => {}
        Scenario::Delivered => {
            steps.push(out_for_delivery());
            steps.push(step(TrackingStatus::Delivered, to.city.clone()));
        }
        Scenario::FailOnce | Scenario::NoCash => {
            let reason = if scenario == Scenario::NoCash {
                FailureReason::PaymentNotAvailable
            } else {
                FailureReason::RecipientAbsent
            };
            steps.push(out_for_delivery());
            steps.push(failed(reason, true));
            steps.push(out_for_delivery());
            steps.push(step(TrackingStatus::Delivered, to.city.clone()));
        }
        Scenario::FailAlways => {
            let attempts = max_attempts.max(1);
            for attempt in 1..=attempts {
                steps.push(out_for_delivery());
                steps.push(failed(FailureReason::RecipientAbsent, attempt < attempts));
            }
            steps.push(step(
                TrackingStatus::ReturnedToSender,
                format!("{} depot", from.city),
            ));
        }
        Scenario::Refuse => {
            steps.push(out_for_delivery());
            steps.push(failed(FailureReason::Refused, false));
            steps.push(step(
                TrackingStatus::ReturnedToSender,
                format!("{} depot", from.city),
            ));
        }
        Scenario::Exception => {
            steps.push(SimStep {
                failure_reason: None,
                ..step(TrackingStatus::Exception, "sorting hub".into())
            });
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(line2: &str) -> Address {
        Address {
            recipient: "R".into(),
            line1: "L".into(),
            line2: line2.into(),
            city: "Berlin".into(),
            country_code: "DE".into(),
            ..Address::default()
        }
    }

    #[test]
    fn markers_in_the_address_choose_the_scenario() {
        assert_eq!(Scenario::from_address(&to("")), Scenario::Delivered);
        assert_eq!(
            Scenario::from_address(&to("c/o [SIM:FAIL-ONCE]")),
            Scenario::FailOnce
        );
        assert_eq!(Scenario::from_address(&to("[sim:hold]")), Scenario::Hold);
    }

    #[test]
    fn the_happy_journey_ends_delivered_with_a_courier_on_the_way() {
        let steps = script(Scenario::Delivered, &to(""), &to(""), 3);
        let statuses: Vec<_> = steps.iter().map(|s| s.status).collect();
        assert_eq!(
            statuses,
            [
                TrackingStatus::Accepted,
                TrackingStatus::InTransit,
                TrackingStatus::OutForDelivery,
                TrackingStatus::Delivered
            ]
        );
        assert!(steps[2].courier.is_some());
    }

    #[test]
    fn a_refusal_at_the_door_returns_the_parcel_at_once() {
        let steps = script(Scenario::Refuse, &to(""), &to("[sim:refuse]"), 3);
        let failures: Vec<_> = steps
            .iter()
            .filter(|s| s.status == TrackingStatus::DeliveryFailed)
            .map(|s| (s.failure_reason, s.retry_planned))
            .collect();
        assert_eq!(failures, [(Some(FailureReason::Refused), false)]);
        assert_eq!(
            steps.last().map(|s| s.status),
            Some(TrackingStatus::ReturnedToSender)
        );
    }

    #[test]
    fn failing_always_returns_the_parcel_after_the_last_attempt() {
        let steps = script(Scenario::FailAlways, &to(""), &to(""), 3);
        let failures: Vec<_> = steps
            .iter()
            .filter(|s| s.status == TrackingStatus::DeliveryFailed)
            .map(|s| s.retry_planned)
            .collect();
        assert_eq!(failures, [true, true, false]);
        assert_eq!(
            steps.last().map(|s| s.status),
            Some(TrackingStatus::ReturnedToSender)
        );
    }
}
