//! Protobuf ↔ domain for the payments API: validating request fields (every bad one named) and
//! building responses from stored rows. No protobuf type goes further in than this module and
//! its siblings; no provider token ever goes out.

use chrono::{DateTime, Utc};
use contracts::common;
use contracts::payments as pb;
use contracts::time::{from_timestamp, to_timestamp};
use runtime::grpc::FieldViolations;
use uuid::Uuid;

use crate::domain::money::{Currency, Money};
use crate::domain::payment::{Method, Status, TransactionKind};
use crate::movements::{pb_decline, pb_instructions, pb_method, pb_money};
use crate::store::payments::PaymentRow;
use crate::store::plans::{InstallmentRow, PlanRow};
use crate::store::transactions::TransactionRow;
use runtime::pan::looks_like_card_number;

/// Free text: trimmed, bounded, and never a card number.
pub fn text(
    v: &mut FieldViolations,
    field: &str,
    value: &str,
    required: bool,
    max: usize,
) -> String {
    let value = value.trim();
    if required && value.is_empty() {
        v.add(field, "is required");
    } else if value.chars().count() > max {
        v.add(field, format!("must be at most {max} characters"));
    } else if looks_like_card_number(value) {
        v.add(field, "must not contain a payment card number");
    }
    value.to_owned()
}

pub fn uuid(v: &mut FieldViolations, field: &str, value: &str, required: bool) -> Option<Uuid> {
    let value = value.trim();
    if value.is_empty() {
        if required {
            v.add(field, "is required");
        }
        return None;
    }
    match Uuid::parse_str(value) {
        Ok(id) => Some(id),
        Err(_) => {
            v.add(field, "must be a UUID");
            None
        }
    }
}

/// An optional positive amount; its currency is checked against the payment later.
pub fn amount(
    v: &mut FieldViolations,
    field: &str,
    money: Option<&common::Money>,
) -> Option<Money> {
    let money = money?;
    let currency = Currency::parse(&money.currency_code);
    if currency.is_none() {
        v.add(
            format!("{field}.currency_code"),
            "must be an ISO 4217 code of three upper-case letters",
        );
    }
    if money.amount_minor <= 0 {
        v.add(format!("{field}.amount_minor"), "must be positive");
    }
    currency.map(|c| Money::new(c, money.amount_minor))
}

pub fn timestamp(
    v: &mut FieldViolations,
    field: &str,
    ts: Option<&prost_types::Timestamp>,
) -> Option<DateTime<Utc>> {
    let ts = ts?;
    let parsed = from_timestamp(ts);
    if parsed.is_none() {
        v.add(field, "must be a valid timestamp");
    }
    parsed
}

pub fn page_size(v: &mut FieldViolations, raw: i32, default: i64, max: i64) -> i64 {
    match i64::from(raw) {
        0 => default,
        n if (1..=max).contains(&n) => n,
        _ => {
            v.add("page_size", format!("must be between 0 and {max}"));
            default
        }
    }
}

pub fn method_from_pb(raw: i32) -> Option<Method> {
    use common::PaymentMethod as M;
    match M::try_from(raw).ok()? {
        M::Unspecified => None,
        M::Card => Some(Method::Card),
        M::Wallet => Some(Method::Wallet),
        M::BankTransfer => Some(Method::BankTransfer),
        M::CashOnDelivery => Some(Method::CashOnDelivery),
        M::Installments => Some(Method::Installments),
    }
}

pub fn status_from_pb(raw: i32) -> Option<Status> {
    use pb::PaymentStatus as S;
    match S::try_from(raw).ok()? {
        S::Unspecified => None,
        S::Pending => Some(Status::Pending),
        S::Authorized => Some(Status::Authorized),
        S::Declined => Some(Status::Declined),
        S::PartiallyCaptured => Some(Status::PartiallyCaptured),
        S::Captured => Some(Status::Captured),
        S::Voided => Some(Status::Voided),
        S::PartiallyRefunded => Some(Status::PartiallyRefunded),
        S::Refunded => Some(Status::Refunded),
    }
}

fn status_pb(status: Status) -> i32 {
    use pb::PaymentStatus as S;
    (match status {
        Status::Pending => S::Pending,
        Status::Authorized => S::Authorized,
        Status::Declined => S::Declined,
        Status::PartiallyCaptured => S::PartiallyCaptured,
        Status::Captured => S::Captured,
        Status::Voided => S::Voided,
        Status::PartiallyRefunded => S::PartiallyRefunded,
        Status::Refunded => S::Refunded,
    }) as i32
}

fn kind_pb(kind: Option<TransactionKind>) -> i32 {
    use pb::TransactionKind as K;
    (match kind {
        Some(TransactionKind::Authorization) => K::Authorization,
        Some(TransactionKind::Reauthorization) => K::Reauthorization,
        Some(TransactionKind::Capture) => K::Capture,
        Some(TransactionKind::Void) => K::Void,
        Some(TransactionKind::Refund) => K::Refund,
        Some(TransactionKind::CashCollection) => K::CashCollection,
        Some(TransactionKind::BankTransfer) => K::BankTransfer,
        // The contract has no write-off kind yet; the reason names it.
        Some(TransactionKind::WriteOff) | None => K::Unspecified,
    }) as i32
}

pub fn transaction_pb(p: &PaymentRow, t: &TransactionRow) -> pb::PaymentTransaction {
    use pb::TransactionStatus as S;
    let status = match t.status.as_str() {
        "SUCCEEDED" => S::Succeeded,
        "FAILED" => S::Failed,
        "PENDING" => S::Pending,
        _ => S::Unspecified,
    };
    let reason = if t.kind() == Some(TransactionKind::WriteOff) {
        format!("written off: {}", t.reason)
    } else {
        t.reason.clone()
    };
    pb::PaymentTransaction {
        id: t.id.to_string(),
        kind: kind_pb(t.kind()),
        status: status as i32,
        amount: Some(pb_money(p.money(t.amount_minor))),
        provider_reference: t.provider_reference.clone(),
        shipment_id: t.shipment_id.clone(),
        installment_number: t.installment_number,
        return_id: t.return_id.clone(),
        case_id: t.case_id.clone(),
        reason,
        failure_message: t.failure_message.clone(),
        request_id: t.request_id.clone(),
        created_at: Some(to_timestamp(t.created_at)),
    }
}

pub fn payment_pb(
    p: &PaymentRow,
    transactions: &[TransactionRow],
    plan_id: Option<Uuid>,
) -> pb::Payment {
    let money = |minor| Some(pb_money(p.money(minor)));
    pb::Payment {
        id: p.id.to_string(),
        order_id: p.order_id.to_string(),
        order_number: p.order_number.clone(),
        method: pb_method(p.method()),
        status: status_pb(p.status()),
        amount: money(p.amount_minor),
        authorized_amount: money(p.authorized_minor),
        captured_amount: money(p.captured_minor),
        voided_amount: money(p.voided_minor),
        refunded_amount: money(p.refunded_minor),
        installment_count: p.installment_count,
        installment_plan_id: plan_id.map(|id| id.to_string()).unwrap_or_default(),
        provider: p.provider.clone(),
        provider_reference: p.provider_reference.clone(),
        authorization_expires_at: p.authorization_expires_at.map(to_timestamp),
        bank_transfer: p
            .bank_transfer
            .as_ref()
            .map(|i| pb_instructions(&i.0, p.money(p.amount_minor))),
        transactions: transactions.iter().map(|t| transaction_pb(p, t)).collect(),
        settled: p.settled_at.is_some(),
        settled_at: p.settled_at.map(to_timestamp),
        decline_reason: p.decline_reason().map(pb_decline).unwrap_or_default(),
        decline_message: p.decline_message.clone().unwrap_or_default(),
        created_at: Some(to_timestamp(p.created_at)),
        updated_at: Some(to_timestamp(p.updated_at)),
    }
}

pub fn plan_pb(plan: &PlanRow, installments: &[InstallmentRow]) -> pb::InstallmentPlan {
    use pb::{InstallmentPlanStatus as P, InstallmentStatus as I};
    let currency = Currency::parse(&plan.currency).unwrap_or(Currency::UNKNOWN);
    let money = |minor| Some(pb_money(Money::new(currency, minor)));
    let paid: i64 = installments
        .iter()
        .filter(|i| i.status == "CAPTURED")
        .map(|i| i.amount_minor)
        .sum();
    let status = match plan.status.as_str() {
        "ACTIVE" => P::Active,
        "PAID_OFF" => P::PaidOff,
        "DEFAULTED" => P::Defaulted,
        "CANCELLED" => P::Cancelled,
        _ => P::Unspecified,
    };
    pb::InstallmentPlan {
        id: plan.id.to_string(),
        payment_id: plan.payment_id.to_string(),
        order_id: plan.order_id.to_string(),
        status: status as i32,
        installment_count: plan.count,
        total: money(plan.total_minor),
        amount_paid: money(paid),
        amount_outstanding: money(plan.total_minor - paid),
        installments: installments
            .iter()
            .map(|i| pb::Installment {
                number: i.number,
                amount: money(i.amount_minor),
                due_at: Some(to_timestamp(i.due_at)),
                status: (match i.status.as_str() {
                    "SCHEDULED" => I::Scheduled,
                    "CAPTURED" => I::Captured,
                    "OVERDUE" => I::Overdue,
                    "CANCELLED" => I::Cancelled,
                    _ => I::Unspecified,
                }) as i32,
                captured_at: i.captured_at.map(to_timestamp),
                transaction_id: i.transaction_id.map(|t| t.to_string()).unwrap_or_default(),
                failed_attempts: i.failed_attempts,
            })
            .collect(),
        created_at: Some(to_timestamp(plan.created_at)),
        closed_at: plan.closed_at.map(to_timestamp),
    }
}

/// Opaque page tokens: hex of the previous page's last key.
pub fn encode_token(parts: &[&str]) -> String {
    hex::encode(parts.join("\u{1f}"))
}

pub fn decode_token(v: &mut FieldViolations, token: &str, parts: usize) -> Option<Vec<String>> {
    if token.is_empty() {
        return None;
    }
    let decoded = hex::decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(|s| s.split('\u{1f}').map(str::to_owned).collect::<Vec<_>>())
        .filter(|p| p.len() == parts);
    if decoded.is_none() {
        v.add("page_token", "is not a token this service issued");
    }
    decoded
}
