//! The saga's columns of an order: read under a row lock, written back after a transition,
//! and the facts other services report (risk, allocations, payment, shipments, problems).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::review::HoldReason;
use crate::domain::saga::{CancelReason, Payment, Reservation, Saga};
use crate::domain::{OrderStatus, PaymentMethod};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub line_id: String,
    pub sku: String,
    pub warehouse_id: String,
    pub quantity: i32,
}

/// Everything the saga and its commands need beyond the order itself.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SagaRow {
    pub status: String,
    pub reservation_state: String,
    pub payment_state: String,
    pub payment_method: String,
    pub settled: bool,
    pub shipped_any: bool,
    pub captured: bool,
    pub reservation_id: Option<Uuid>,
    pub allocations: Json<Vec<Allocation>>,
    pub payment_id: Option<String>,
    pub payment_token: Option<String>,
    pub pay_by: Option<DateTime<Utc>>,
    pub bank_reference: Option<String>,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub risk_score: Option<i32>,
    pub hold_reasons: Json<Vec<HoldReason>>,
    pub review_deadline: Option<DateTime<Utc>>,
    pub reviewed_by: Option<String>,
    pub review_note: Option<String>,
    pub cancel_reason: Option<String>,
    pub cancel_note: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub accept_by: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When the order entered `status` (none for orders placed before it was kept).
    pub status_since: Option<DateTime<Utc>>,
}

pub(super) const COLUMNS: &str =
    "status, reservation_state, payment_state, payment_method, settled,
    shipped_any, captured, reservation_id, allocations, payment_id, payment_token, pay_by,
    bank_reference, captured_minor, refunded_minor, risk_score, hold_reasons, review_deadline,
    reviewed_by, review_note, cancel_reason, cancel_note, confirmed_at, delivered_at, accept_by,
    accepted_at, completed_at, cancelled_at, status_since";

pub async fn lock(conn: &mut PgConnection, order_id: Uuid) -> Result<Option<SagaRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE id = $1 FOR UPDATE"
    ))
    .bind(order_id)
    .fetch_optional(conn)
    .await
}

pub async fn read(conn: &mut PgConnection, order_id: Uuid) -> Result<Option<SagaRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM orders WHERE id = $1"))
        .bind(order_id)
        .fetch_optional(conn)
        .await
}

impl SagaRow {
    /// The pure state machine's view; `None` if a stored name is unknown (corrupt row).
    pub fn saga(&self) -> Option<Saga> {
        Some(Saga {
            status: OrderStatus::parse(&self.status)?,
            reservation: reservation_parse(&self.reservation_state)?,
            payment: payment_parse(&self.payment_state)?,
            method: PaymentMethod::parse(&self.payment_method)?,
            settled: self.settled,
            shipped_any: self.shipped_any,
            captured: self.captured,
        })
    }
}

fn reservation_name(r: Reservation) -> &'static str {
    match r {
        Reservation::None => "NONE",
        Reservation::Requested => "REQUESTED",
        Reservation::Reserved => "RESERVED",
        Reservation::Confirmed => "CONFIRMED",
        Reservation::Released => "RELEASED",
        Reservation::Short => "SHORT",
        Reservation::Expired => "EXPIRED",
    }
}

fn reservation_parse(name: &str) -> Option<Reservation> {
    [
        Reservation::None,
        Reservation::Requested,
        Reservation::Reserved,
        Reservation::Confirmed,
        Reservation::Released,
        Reservation::Short,
        Reservation::Expired,
    ]
    .into_iter()
    .find(|r| reservation_name(*r) == name)
}

fn payment_name(p: Payment) -> &'static str {
    match p {
        Payment::None => "NONE",
        Payment::Requested => "REQUESTED",
        Payment::Pending => "PENDING",
        Payment::Accepted => "ACCEPTED",
        Payment::Declined => "DECLINED",
        Payment::Voided => "VOIDED",
        Payment::Abandoned => "ABANDONED",
    }
}

fn payment_parse(name: &str) -> Option<Payment> {
    [
        Payment::None,
        Payment::Requested,
        Payment::Pending,
        Payment::Accepted,
        Payment::Declined,
        Payment::Voided,
        Payment::Abandoned,
    ]
    .into_iter()
    .find(|p| payment_name(*p) == name)
}

pub fn cancel_reason_name(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::CustomerRequest => "CUSTOMER_REQUEST",
        CancelReason::Operator => "OPERATOR",
        CancelReason::OutOfStock => "OUT_OF_STOCK",
        CancelReason::PaymentDeclined => "PAYMENT_DECLINED",
        CancelReason::ReservationExpired => "RESERVATION_EXPIRED",
        CancelReason::FulfillmentFailed => "FULFILLMENT_FAILED",
        CancelReason::DeliveryFailed => "DELIVERY_FAILED",
        CancelReason::DeliveryRefused => "DELIVERY_REFUSED",
    }
}

/// Writes the state after a transition, stamping the time of the status reached.
pub async fn save(
    conn: &mut PgConnection,
    order_id: Uuid,
    saga: &Saga,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orders SET status = $2, reservation_state = $3, payment_state = $4,
             settled = $5, shipped_any = $6, captured = $7, updated_at = $8,
             status_since = CASE WHEN status = $2 THEN status_since ELSE $8 END,
             confirmed_at = CASE WHEN $2 = 'CONFIRMED' THEN coalesce(confirmed_at, $8) ELSE confirmed_at END,
             delivered_at = CASE WHEN $2 = 'DELIVERED' THEN coalesce(delivered_at, $8) ELSE delivered_at END,
             -- accepted and settled in one step goes straight to COMPLETED: still accepted then
             accepted_at = CASE WHEN $2 IN ('ACCEPTED', 'COMPLETED') THEN coalesce(accepted_at, $8) ELSE accepted_at END,
             completed_at = CASE WHEN $2 = 'COMPLETED' THEN coalesce(completed_at, $8) ELSE completed_at END,
             cancelled_at = CASE WHEN $2 IN ('CANCELLED', 'REJECTED') THEN coalesce(cancelled_at, $8) ELSE cancelled_at END,
             -- the provider token is only needed until payments has it
             payment_token = CASE WHEN $4 = 'NONE' THEN payment_token ELSE NULL END
         WHERE id = $1",
    )
    .bind(order_id)
    .bind(saga.status.as_str())
    .bind(reservation_name(saga.reservation))
    .bind(payment_name(saga.payment))
    .bind(saga.settled)
    .bind(saga.shipped_any)
    .bind(saga.captured)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_risk(
    conn: &mut PgConnection,
    order_id: Uuid,
    score: i32,
    reasons: &[HoldReason],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET risk_score = $2, hold_reasons = $3 WHERE id = $1")
        .bind(order_id)
        .bind(score)
        .bind(Json(reasons))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_review_deadline(
    conn: &mut PgConnection,
    order_id: Uuid,
    deadline: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET review_deadline = $2 WHERE id = $1")
        .bind(order_id)
        .bind(deadline)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_review(
    conn: &mut PgConnection,
    order_id: Uuid,
    reviewer: &str,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET reviewed_by = $2, review_note = $3 WHERE id = $1")
        .bind(order_id)
        .bind(reviewer)
        .bind(note)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_cancel(
    conn: &mut PgConnection,
    order_id: Uuid,
    reason: &str,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET cancel_reason = $2, cancel_note = $3 WHERE id = $1")
        .bind(order_id)
        .bind(reason)
        .bind(note)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_reservation_id(
    conn: &mut PgConnection,
    order_id: Uuid,
    reservation_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET reservation_id = $2 WHERE id = $1")
        .bind(order_id)
        .bind(reservation_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_allocations(
    conn: &mut PgConnection,
    order_id: Uuid,
    allocations: &[Allocation],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET allocations = $2 WHERE id = $1")
        .bind(order_id)
        .bind(Json(allocations))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_payment(
    conn: &mut PgConnection,
    order_id: Uuid,
    payment_id: &str,
    pay_by: Option<DateTime<Utc>>,
    bank_reference: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orders SET payment_id = $2, pay_by = coalesce($3, pay_by),
             bank_reference = coalesce($4, bank_reference) WHERE id = $1",
    )
    .bind(order_id)
    .bind(payment_id)
    .bind(pay_by)
    .bind(bank_reference)
    .execute(conn)
    .await?;
    Ok(())
}

/// Payments' running totals (they only grow; a late, smaller total is ignored).
pub async fn set_money_totals(
    conn: &mut PgConnection,
    order_id: Uuid,
    captured_minor: Option<i64>,
    refunded_minor: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orders SET captured_minor = greatest(captured_minor, coalesce($2, 0)),
             refunded_minor = greatest(refunded_minor, coalesce($3, 0)) WHERE id = $1",
    )
    .bind(order_id)
    .bind(captured_minor)
    .bind(refunded_minor)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_accept_by(
    conn: &mut PgConnection,
    order_id: Uuid,
    accept_by: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET accept_by = $2 WHERE id = $1")
        .bind(order_id)
        .bind(accept_by)
        .execute(conn)
        .await?;
    Ok(())
}
