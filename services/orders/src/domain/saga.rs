//! The order saga as a pure state machine. Every input — an event from another service, an
//! operator's or customer's action, a timer — goes through [`Saga::apply`], which returns the
//! next state and the [`Command`]s to carry out (requests to other services, events,
//! timers). The caller persists the state and turns commands into outbox rows in one
//! transaction. Inputs that no longer apply (duplicates under another id, late arrivals,
//! reordering) leave the state unchanged and, where something is left to undo, compensate.

use super::order::{OrderStatus, PaymentMethod};

/// Where the order's stock reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    None,
    Requested,
    Reserved,
    /// Made firm at confirmation: no TTL any more.
    Confirmed,
    Released,
    Short,
    Expired,
}

/// Where the order's payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    None,
    Requested,
    /// Bank transfer instructions issued; waiting for the money.
    Pending,
    /// Authorized, cash on delivery accepted, or installment plan accepted.
    Accepted,
    Declined,
    Voided,
    /// The order died while payments was still deciding: the void went out before there was
    /// a payment to name, so an acceptance arriving afterwards is voided again.
    Abandoned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    CustomerRequest,
    Operator,
    OutOfStock,
    PaymentDeclined,
    ReservationExpired,
    FulfillmentFailed,
    /// The carrier gave up delivering and is bringing the goods back.
    DeliveryFailed,
    /// The recipient refused the parcel (or the cash on delivery) at the door.
    DeliveryRefused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Refund,
    Reship,
    Return,
    None,
}

/// Everything that can happen to an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Payments scored the order; `hold` is true when a review rule fired.
    RiskAssessed {
        hold: bool,
    },
    Approve,
    Reject {
        by_deadline: bool,
    },
    StockReserved,
    StockShortage,
    ReservationExpired,
    PaymentPending,
    PaymentAccepted,
    PaymentDeclined,
    FulfillmentCreated,
    /// A parcel left the warehouse; `complete` when every line has now left.
    HandedOver {
        complete: bool,
    },
    ReadyForPickup,
    PickedUp,
    /// A shipment was delivered; `all` when every shipment of the order is.
    ShipmentDelivered {
        all: bool,
    },
    /// The carrier is returning a parcel to us; `all` when every parcel that left is coming
    /// back and none was delivered; `refused` when the recipient refused it at the door.
    ReturnedToSender {
        all: bool,
        refused: bool,
    },
    ConfirmReceipt,
    AutoAccept,
    ReportProblem,
    CaseResolved(Resolution),
    Settled,
    Cancel(CancelReason),
}

/// What the caller must do after a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    RequestReservation,
    RequestPayment,
    ConfirmReservation,
    RequestFulfillment,
    /// Commit the stock of the parcel or pickup that just left, and capture its share.
    CommitAndCapture,
    /// Capture money collected at delivery (cash on delivery).
    CaptureCollected,
    /// Installments: the first installment is captured at confirmation.
    CaptureFirstInstallment,
    ReleaseReservation,
    VoidPayment,
    RefundCaptured,
    CancelFulfillment,
    RefundProblemLines,
    ReshipProblemLines,
    ScheduleReviewDeadline,
    CancelReviewDeadline,
    ScheduleAutoAccept,
    CancelAutoAccept,
    EmitHeld,
    EmitApproved,
    EmitRejected,
    EmitConfirmed,
    EmitDelivered,
    EmitAccepted,
    EmitProblemReported,
    EmitCompleted,
    EmitCancelled(CancelReason),
    /// Everything owed is captured: issue the order's invoice.
    IssueInvoice,
}

/// Why an input was refused (for operator and customer actions; events never fail this way).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} an order that is {status:?}")]
pub struct NotAllowed {
    pub action: &'static str,
    pub status: OrderStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saga {
    pub status: OrderStatus,
    pub reservation: Reservation,
    pub payment: Payment,
    pub method: PaymentMethod,
    pub settled: bool,
    /// At least one parcel has left: the order can no longer be cancelled.
    pub shipped_any: bool,
    /// Money captured so far (a cancellation must refund it).
    pub captured: bool,
}

impl Saga {
    pub fn new(method: PaymentMethod) -> Self {
        Self {
            status: OrderStatus::Pending,
            reservation: Reservation::None,
            payment: Payment::None,
            method,
            settled: false,
            shipped_any: false,
            captured: false,
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(
            self.status,
            OrderStatus::Completed | OrderStatus::Cancelled | OrderStatus::Rejected
        )
    }

    fn is_dead(&self) -> bool {
        matches!(self.status, OrderStatus::Cancelled | OrderStatus::Rejected)
    }

    /// Applies `input`; `Err` only for actions a person asked for that the state refuses.
    pub fn apply(&self, input: &Input) -> Result<(Saga, Vec<Command>), NotAllowed> {
        use Command as C;
        use OrderStatus as S;
        let mut next = self.clone();
        let mut commands = Vec::new();
        let refuse = |action| NotAllowed {
            action,
            status: self.status,
        };
        match input {
            Input::RiskAssessed { hold } if self.status == S::Pending => {
                if *hold {
                    next.status = S::OnHold;
                    commands.extend([C::EmitHeld, C::ScheduleReviewDeadline]);
                } else {
                    next.request_reservation(&mut commands);
                }
            }
            Input::Approve => {
                if self.status != S::OnHold {
                    return Err(refuse("approve"));
                }
                commands.extend([C::CancelReviewDeadline, C::EmitApproved]);
                next.request_reservation(&mut commands);
            }
            Input::Reject { by_deadline } => {
                if self.status != S::OnHold {
                    return Err(refuse("reject"));
                }
                next.status = S::Rejected;
                if !by_deadline {
                    commands.push(C::CancelReviewDeadline);
                }
                commands.push(C::EmitRejected);
            }
            Input::StockReserved => match self.reservation {
                Reservation::Requested if self.status == S::AwaitingStock => {
                    next.reservation = Reservation::Reserved;
                    next.status = S::AwaitingPayment;
                    next.payment = Payment::Requested;
                    commands.push(C::RequestPayment);
                }
                // Stock arrived for an order that died meanwhile: give it back.
                Reservation::Requested | Reservation::Released if self.is_dead() => {
                    next.reservation = Reservation::Released;
                    commands.push(C::ReleaseReservation);
                }
                _ => {}
            },
            Input::StockShortage
                if self.status == S::AwaitingStock
                    && self.reservation == Reservation::Requested =>
            {
                next.reservation = Reservation::Short;
                next.cancel(CancelReason::OutOfStock, &mut commands);
            }
            Input::ReservationExpired
                if matches!(self.status, S::AwaitingStock | S::AwaitingPayment)
                    && self.reservation == Reservation::Reserved =>
            {
                next.reservation = Reservation::Expired;
                next.cancel(CancelReason::ReservationExpired, &mut commands);
            }
            Input::PaymentPending
                if self.status == S::AwaitingPayment && self.payment == Payment::Requested =>
            {
                next.payment = Payment::Pending;
            }
            Input::PaymentAccepted => {
                if self.status == S::AwaitingPayment
                    && matches!(self.payment, Payment::Requested | Payment::Pending)
                    && self.reservation == Reservation::Reserved
                {
                    next.payment = Payment::Accepted;
                    next.reservation = Reservation::Confirmed;
                    next.status = S::Confirmed;
                    commands.extend([
                        C::EmitConfirmed,
                        C::ConfirmReservation,
                        C::RequestFulfillment,
                    ]);
                    if self.method == PaymentMethod::Installments {
                        commands.push(C::CaptureFirstInstallment);
                    }
                    if self.method == PaymentMethod::BankTransfer {
                        // Payments captures a bank transfer when it confirms it.
                        next.captured = true;
                    }
                } else if self.is_dead() && self.payment != Payment::Voided {
                    // Money accepted for an order that died meanwhile: let it go.
                    next.payment = Payment::Voided;
                    commands.push(C::VoidPayment);
                }
            }
            Input::PaymentDeclined
                if self.status == S::AwaitingPayment
                    && matches!(self.payment, Payment::Requested | Payment::Pending) =>
            {
                next.payment = Payment::Declined;
                next.cancel(CancelReason::PaymentDeclined, &mut commands);
            }
            Input::FulfillmentCreated if self.status == S::Confirmed => {
                next.status = S::InFulfillment;
            }
            Input::HandedOver { complete }
                if matches!(
                    self.status,
                    S::Confirmed | S::InFulfillment | S::PartiallyShipped
                ) =>
            {
                next.shipped_any = true;
                next.status = if *complete {
                    S::Shipped
                } else {
                    S::PartiallyShipped
                };
                commands.push(C::CommitAndCapture);
                if !matches!(self.method, PaymentMethod::CashOnDelivery) {
                    next.captured = true;
                }
            }
            Input::ReadyForPickup if matches!(self.status, S::Confirmed | S::InFulfillment) => {
                next.status = S::ReadyForPickup;
            }
            Input::PickedUp if self.status == S::ReadyForPickup => {
                next.shipped_any = true;
                next.captured = true;
                next.status = S::Delivered;
                commands.extend([C::CommitAndCapture, C::EmitDelivered, C::ScheduleAutoAccept]);
            }
            Input::ShipmentDelivered { all } => {
                if matches!(self.status, S::Shipped | S::PartiallyShipped) {
                    if self.method == PaymentMethod::CashOnDelivery {
                        next.captured = true;
                        commands.push(C::CaptureCollected);
                    }
                    if *all && self.status == S::Shipped {
                        next.status = S::Delivered;
                        commands.extend([C::EmitDelivered, C::ScheduleAutoAccept]);
                    }
                }
            }
            // Nothing reached the customer: the order is cancelled (its goods come back through
            // the RMA orders opened for each parcel). With other parcels delivered or still
            // travelling, the order goes on; the returning parcel is refunded by its RMA.
            Input::ReturnedToSender { all, refused }
                if *all && matches!(self.status, S::Shipped | S::PartiallyShipped) =>
            {
                next.cancel(
                    if *refused {
                        CancelReason::DeliveryRefused
                    } else {
                        CancelReason::DeliveryFailed
                    },
                    &mut commands,
                );
            }
            Input::ConfirmReceipt | Input::AutoAccept => {
                if self.status != S::Delivered {
                    if matches!(input, Input::AutoAccept) {
                        return Ok((next, commands));
                    }
                    return Err(refuse("confirm receipt of"));
                }
                next.status = S::Accepted;
                if matches!(input, Input::ConfirmReceipt) {
                    commands.push(C::CancelAutoAccept);
                }
                commands.push(C::EmitAccepted);
                next.complete_if_settled(&mut commands);
            }
            Input::ReportProblem => {
                if !matches!(self.status, S::Delivered | S::Accepted) {
                    return Err(refuse("report a problem with"));
                }
                if self.status == S::Delivered {
                    commands.push(C::CancelAutoAccept);
                }
                next.status = S::Disputed;
                commands.push(C::EmitProblemReported);
            }
            Input::CaseResolved(resolution) if self.status == S::Disputed => {
                match resolution {
                    Resolution::Refund => commands.push(C::RefundProblemLines),
                    Resolution::Reship => commands.push(C::ReshipProblemLines),
                    Resolution::Return | Resolution::None => {}
                }
                next.status = S::Accepted;
                next.complete_if_settled(&mut commands);
            }
            Input::Settled if !self.is_dead() && !self.settled => {
                next.settled = true;
                commands.push(C::IssueInvoice);
                if self.status == S::Accepted {
                    next.complete_if_settled(&mut commands);
                }
            }
            Input::Cancel(reason) => {
                let cancellable = matches!(
                    self.status,
                    S::Pending
                        | S::OnHold
                        | S::AwaitingStock
                        | S::AwaitingPayment
                        | S::Confirmed
                        | S::InFulfillment
                        | S::ReadyForPickup
                ) && !self.shipped_any;
                if !cancellable {
                    return Err(refuse("cancel"));
                }
                if self.status == S::OnHold {
                    commands.push(C::CancelReviewDeadline);
                }
                next.cancel(*reason, &mut commands);
            }
            // Anything else arrived late, twice, or out of order: nothing to do.
            _ => {}
        }
        Ok((next, commands))
    }

    fn request_reservation(&mut self, commands: &mut Vec<Command>) {
        self.status = OrderStatus::AwaitingStock;
        self.reservation = Reservation::Requested;
        commands.push(Command::RequestReservation);
    }

    fn complete_if_settled(&mut self, commands: &mut Vec<Command>) {
        if self.settled {
            self.status = OrderStatus::Completed;
            commands.push(Command::EmitCompleted);
        }
    }

    /// Cancels with every compensation the current state needs.
    fn cancel(&mut self, reason: CancelReason, commands: &mut Vec<Command>) {
        let fulfilment_requested = matches!(
            self.status,
            OrderStatus::Confirmed
                | OrderStatus::InFulfillment
                | OrderStatus::ReadyForPickup
                | OrderStatus::PartiallyShipped
        );
        if matches!(
            self.reservation,
            Reservation::Requested | Reservation::Reserved | Reservation::Confirmed
        ) {
            self.reservation = Reservation::Released;
            commands.push(Command::ReleaseReservation);
        }
        match self.payment {
            Payment::Requested => {
                self.payment = Payment::Abandoned;
                commands.push(Command::VoidPayment);
            }
            Payment::Pending | Payment::Accepted => {
                self.payment = Payment::Voided;
                commands.push(Command::VoidPayment);
            }
            _ => {}
        }
        if self.captured {
            commands.push(Command::RefundCaptured);
        }
        if fulfilment_requested {
            commands.push(Command::CancelFulfillment);
        }
        self.status = OrderStatus::Cancelled;
        commands.push(Command::EmitCancelled(reason));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn run(method: PaymentMethod, inputs: &[Input]) -> (Saga, Vec<Command>) {
        let mut saga = Saga::new(method);
        let mut all = Vec::new();
        for input in inputs {
            if let Ok((next, commands)) = saga.apply(input) {
                saga = next;
                all.extend(commands);
            }
        }
        (saga, all)
    }

    #[test]
    fn a_cash_on_delivery_parcel_refused_at_the_door_cancels_and_voids() {
        let (saga, commands) = run(
            PaymentMethod::CashOnDelivery,
            &[
                Input::RiskAssessed { hold: false },
                Input::StockReserved,
                Input::PaymentAccepted,
                Input::FulfillmentCreated,
                Input::HandedOver { complete: true },
                Input::ReturnedToSender {
                    all: true,
                    refused: true,
                },
            ],
        );
        assert_eq!(saga.status, OrderStatus::Cancelled);
        assert!(commands.contains(&Command::VoidPayment));
        assert!(!commands.contains(&Command::RefundCaptured));
        assert!(commands.contains(&Command::EmitCancelled(CancelReason::DeliveryRefused)));
    }

    #[test]
    fn a_returned_card_parcel_refunds_and_one_of_several_leaves_the_order_alone() {
        let shipped = [
            Input::RiskAssessed { hold: false },
            Input::StockReserved,
            Input::PaymentAccepted,
            Input::FulfillmentCreated,
            Input::HandedOver { complete: true },
        ];
        let mut all = shipped.to_vec();
        all.push(Input::ReturnedToSender {
            all: true,
            refused: false,
        });
        let (saga, commands) = run(PaymentMethod::Card, &all);
        assert_eq!(saga.status, OrderStatus::Cancelled);
        assert!(commands.contains(&Command::RefundCaptured));
        assert!(commands.contains(&Command::EmitCancelled(CancelReason::DeliveryFailed)));

        let mut one = shipped.to_vec();
        one.push(Input::ReturnedToSender {
            all: false,
            refused: false,
        });
        let (saga, _) = run(PaymentMethod::Card, &one);
        assert_eq!(saga.status, OrderStatus::Shipped);
    }

    #[test]
    fn the_happy_path_of_a_card_order_ends_completed() {
        let (saga, commands) = run(
            PaymentMethod::Card,
            &[
                Input::RiskAssessed { hold: false },
                Input::StockReserved,
                Input::PaymentAccepted,
                Input::FulfillmentCreated,
                Input::HandedOver { complete: true },
                Input::ShipmentDelivered { all: true },
                Input::Settled,
                Input::ConfirmReceipt,
            ],
        );
        assert_eq!(saga.status, OrderStatus::Completed);
        for expected in [
            Command::RequestReservation,
            Command::RequestPayment,
            Command::ConfirmReservation,
            Command::RequestFulfillment,
            Command::CommitAndCapture,
            Command::EmitDelivered,
            Command::EmitAccepted,
            Command::EmitCompleted,
            Command::IssueInvoice,
        ] {
            assert!(
                commands.contains(&expected),
                "{expected:?} missing: {commands:?}"
            );
        }
    }

    #[test]
    fn a_held_order_rejected_at_its_deadline_ends_rejected() {
        let (saga, commands) = run(
            PaymentMethod::Card,
            &[
                Input::RiskAssessed { hold: true },
                Input::Reject { by_deadline: true },
            ],
        );
        assert_eq!(saga.status, OrderStatus::Rejected);
        assert!(commands.contains(&Command::EmitRejected));
        assert!(!commands.contains(&Command::RequestReservation));
    }

    #[test]
    fn a_decline_releases_the_stock() {
        let (saga, commands) = run(
            PaymentMethod::Card,
            &[
                Input::RiskAssessed { hold: false },
                Input::StockReserved,
                Input::PaymentDeclined,
            ],
        );
        assert_eq!(saga.status, OrderStatus::Cancelled);
        assert!(commands.contains(&Command::ReleaseReservation));
        assert!(commands.contains(&Command::EmitCancelled(CancelReason::PaymentDeclined)));
    }

    #[test]
    fn cancelling_after_confirmation_releases_voids_and_stops_fulfilment() {
        let (saga, commands) = run(
            PaymentMethod::Card,
            &[
                Input::RiskAssessed { hold: false },
                Input::StockReserved,
                Input::PaymentAccepted,
                Input::Cancel(CancelReason::CustomerRequest),
            ],
        );
        assert_eq!(saga.status, OrderStatus::Cancelled);
        for expected in [
            Command::ReleaseReservation,
            Command::VoidPayment,
            Command::CancelFulfillment,
        ] {
            assert!(
                commands.contains(&expected),
                "{expected:?} missing: {commands:?}"
            );
        }
    }

    #[test]
    fn an_order_cannot_be_cancelled_once_a_parcel_left() {
        let mut saga = Saga::new(PaymentMethod::Card);
        for input in [
            Input::RiskAssessed { hold: false },
            Input::StockReserved,
            Input::PaymentAccepted,
            Input::HandedOver { complete: false },
        ] {
            saga = saga.apply(&input).unwrap().0;
        }
        assert!(
            saga.apply(&Input::Cancel(CancelReason::CustomerRequest))
                .is_err()
        );
    }

    #[test]
    fn an_authorization_arriving_after_a_cancel_that_could_not_name_it_is_voided_again() {
        let (saga, commands) = run(
            PaymentMethod::Card,
            &[
                Input::RiskAssessed { hold: false },
                Input::StockReserved,
                Input::Cancel(CancelReason::CustomerRequest),
                Input::PaymentAccepted,
                Input::PaymentAccepted,
            ],
        );
        assert_eq!(saga.status, OrderStatus::Cancelled);
        let voids = commands
            .iter()
            .filter(|c| **c == Command::VoidPayment)
            .count();
        assert_eq!(voids, 2, "{commands:?}");
    }

    #[test]
    fn a_late_authorization_for_a_cancelled_order_is_voided() {
        let (saga, commands) = run(
            PaymentMethod::Card,
            &[
                Input::RiskAssessed { hold: false },
                Input::Cancel(CancelReason::CustomerRequest),
                Input::StockReserved,
                Input::PaymentAccepted,
            ],
        );
        assert_eq!(saga.status, OrderStatus::Cancelled);
        assert!(commands.contains(&Command::VoidPayment));
        assert!(commands.contains(&Command::ReleaseReservation));
    }

    fn any_input() -> impl Strategy<Value = Input> {
        prop_oneof![
            any::<bool>().prop_map(|hold| Input::RiskAssessed { hold }),
            Just(Input::Approve),
            any::<bool>().prop_map(|by_deadline| Input::Reject { by_deadline }),
            Just(Input::StockReserved),
            Just(Input::StockShortage),
            Just(Input::ReservationExpired),
            Just(Input::PaymentPending),
            Just(Input::PaymentAccepted),
            Just(Input::PaymentDeclined),
            Just(Input::FulfillmentCreated),
            any::<bool>().prop_map(|complete| Input::HandedOver { complete }),
            Just(Input::ReadyForPickup),
            Just(Input::PickedUp),
            any::<bool>().prop_map(|all| Input::ShipmentDelivered { all }),
            Just(Input::ConfirmReceipt),
            Just(Input::AutoAccept),
            Just(Input::ReportProblem),
            Just(Input::CaseResolved(Resolution::Refund)),
            Just(Input::CaseResolved(Resolution::None)),
            Just(Input::Settled),
            Just(Input::Cancel(CancelReason::CustomerRequest)),
        ]
    }

    fn any_method() -> impl Strategy<Value = PaymentMethod> {
        prop_oneof![
            Just(PaymentMethod::Card),
            Just(PaymentMethod::Wallet),
            Just(PaymentMethod::BankTransfer),
            Just(PaymentMethod::CashOnDelivery),
            Just(PaymentMethod::Installments),
        ]
    }

    proptest! {
        #[test]
        fn any_sequence_of_inputs_keeps_the_order_legal(
            method in any_method(),
            inputs in proptest::collection::vec(any_input(), 0..40),
        ) {
            let mut saga = Saga::new(method);
            let mut was_dead = false;
            let mut invoices = 0;
            for input in &inputs {
                let Ok((next, commands)) = saga.apply(input) else { continue };
                // One invoice per order, however often settlement is reported.
                invoices += commands.iter().filter(|c| **c == Command::IssueInvoice).count();
                prop_assert!(invoices <= 1);
                // A cancelled or rejected order never comes back to life.
                if was_dead {
                    prop_assert!(next.is_dead(), "{:?} revived by {:?}", saga.status, input);
                }
                // Nothing is confirmed (or beyond) without reserved stock and accepted payment.
                let past_confirmation = !matches!(
                    next.status,
                    OrderStatus::Pending | OrderStatus::OnHold | OrderStatus::AwaitingStock
                        | OrderStatus::AwaitingPayment | OrderStatus::Cancelled | OrderStatus::Rejected
                );
                if past_confirmation {
                    prop_assert_eq!(next.reservation, Reservation::Confirmed);
                    prop_assert_eq!(next.payment, Payment::Accepted);
                }
                // Completed means accepted and settled.
                if next.status == OrderStatus::Completed {
                    prop_assert!(next.settled);
                }
                if saga.status == OrderStatus::Completed {
                    prop_assert_eq!(next.status, OrderStatus::Completed);
                }
                was_dead = next.is_dead();
                saga = next;
            }
        }
    }
}
