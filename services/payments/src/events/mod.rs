//! Handlers for the events payments consumes. Payments acts only on orders' requests (DESIGN
//! §2a), and each handler survives:
//!
//! - duplicates: the runner's inbox skips a redelivered event id, and every effect is keyed by
//!   a natural key (one payment per order; a capture per shipment; a refund per return or
//!   case), so the same request under a new event id changes nothing;
//! - reordering: a capture, void or refund for an order whose payment does not exist *yet*
//!   (its `PaymentRequested` is still on its way on another subject) is parked and applied,
//!   in arrival order, when the payment opens; a request that no longer applies (void after a
//!   full capture, capture of a declined payment) is refused with its reason in the log and
//!   acknowledged. An amendment (`amend_requested`) comes only after orders heard that the
//!   payment was accepted, so it is never parked: it is always answered, declined when it no
//!   longer applies, and its outcome is kept per (payment, update, compensation);
//! - poison: a malformed event is `HandlerError::Permanent` and goes to the dead-letter stream.

pub mod amend_requested;
pub mod capture_requested;
pub mod order_placed;
pub mod payment_requested;
pub mod refund_requested;
pub mod void_requested;

use contracts::common;
use messaging::HandlerError;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::money::Currency;
use crate::movements::{MoveFailure, MoveRequest, Moved};
use crate::store;
use crate::store::payments::{self, Key, PaymentRow};

/// The payment an orders request is about, locked for the movement; None while it does not
/// exist yet.
pub(crate) async fn locked_payment(
    tx: &mut PgConnection,
    order_id: &str,
    payment_id: &str,
) -> Result<(Uuid, Option<PaymentRow>), HandlerError> {
    let order = Uuid::parse_str(order_id)
        .map_err(|_| HandlerError::permanent(format!("order_id {order_id:?} is not a UUID")))?;
    store::parked::lock_order(tx, order).await?;
    let payment = payments::get(tx, Key::Order(order), true).await?;
    if let Some(p) = &payment
        && !payment_id.is_empty()
        && payment_id != p.id.to_string()
    {
        return Err(HandlerError::permanent(format!(
            "payment_id {payment_id} is not the payment of order {order}"
        )));
    }
    Ok((order, payment))
}

/// An optional positive amount: (minor units, currency code).
pub(crate) fn amount(
    money: Option<&common::Money>,
) -> Result<(Option<i64>, Option<String>), HandlerError> {
    let Some(money) = money else {
        return Ok((None, None));
    };
    if Currency::parse(&money.currency_code).is_none() {
        return Err(HandlerError::permanent(format!(
            "currency {:?} is not an ISO 4217 code",
            money.currency_code
        )));
    }
    if money.amount_minor <= 0 {
        return Err(HandlerError::permanent("the amount must be positive"));
    }
    Ok((Some(money.amount_minor), Some(money.currency_code.clone())))
}

/// Applies `request` with `apply` to the order's payment, or parks it until the payment opens.
pub(crate) async fn apply_or_park<F>(
    tx: &mut PgConnection,
    clock: &runtime::Clock,
    order_id: &str,
    payment_id: &str,
    kind: &str,
    request: MoveRequest,
    apply: F,
) -> Result<(), HandlerError>
where
    F: AsyncFnOnce(&mut PgConnection, &mut PaymentRow, &MoveRequest) -> Result<Moved, MoveFailure>,
{
    let (order, payment) = locked_payment(tx, order_id, payment_id).await?;
    let Some(mut payment) = payment else {
        tracing::info!(order_id = %order, kind, "request arrived before the payment; parked");
        store::parked::park(tx, order, kind, &request, clock.now()).await?;
        return Ok(());
    };
    let result = apply(tx, &mut payment, &request).await;
    settle_failure(kind, &payment, result)
}

/// How a refused or failed movement ends an event: refusals are logged and acknowledged (the
/// request no longer applies), provider outages and database errors are retried.
pub(crate) fn settle_failure(
    what: &str,
    payment: &PaymentRow,
    result: Result<Moved, MoveFailure>,
) -> Result<(), HandlerError> {
    match result {
        Ok(moved) => {
            if !moved.fresh {
                tracing::info!(payment_id = %payment.id, what, "already done under the same key");
            }
            Ok(())
        }
        Err(MoveFailure::Refused(why)) | Err(MoveFailure::Declined(why)) => {
            tracing::warn!(payment_id = %payment.id, order_id = %payment.order_id, what, reason = %why, "request refused");
            Ok(())
        }
        Err(MoveFailure::Unavailable(why)) => Err(HandlerError::transient(why)),
        Err(MoveFailure::Store(err)) => Err(err.into()),
    }
}
