//! Protobuf ↔ domain. Requests become domain values here or are refused with every invalid
//! field named; no protobuf type goes further in.

use contracts::common;
use contracts::orders as pb;
use contracts::time::to_timestamp;
use runtime::grpc::FieldViolations;

use crate::domain::invoices::{InvoiceRequest, InvoiceType};
use crate::domain::pricing::{AdjustmentKind, Breakdown, TaxMode};
use crate::domain::review::{HoldKind, HoldReason};
use crate::domain::{
    Address, Channel, Currency, Customer, Fulfillment, LinePrice, Money, NewLine, NewOrder, Order,
    OrderStatus, PaymentChoice, PaymentMethod, Quantity, Sku,
};
use runtime::pan::looks_like_card_number;

const MAX_LINES: usize = 500;
const INSTALLMENT_COUNTS: [i32; 3] = [3, 6, 12];
/// Discount codes one order may carry.
pub const MAX_DISCOUNT_CODES: usize = 5;
/// Heaviest unit weight accepted on a request line: 1 t.
const MAX_UNIT_WEIGHT_GRAMS: i32 = 1_000_000;

/// A discount code as operators and customers type it: 1–32 letters, digits, `-` or `_`,
/// matched case-insensitively (returned upper-case).
pub fn discount_code(raw: &str) -> Result<String, &'static str> {
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty() || code.len() > 32 {
        return Err("must be 1 to 32 characters");
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return Err("may contain only letters, digits, '-' and '_'");
    }
    Ok(code)
}

/// A shipping service level: 1–32 lower-case letters, digits, `-` or `_`.
pub fn service_level(raw: &str) -> Result<String, &'static str> {
    let level = raw.trim();
    if level.is_empty() || level.len() > 32 {
        return Err("must be 1 to 32 characters");
    }
    if !level
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
    {
        return Err("may contain only lower-case letters, digits, '-' and '_'");
    }
    Ok(level.to_owned())
}

fn text(v: &mut FieldViolations, field: &str, value: &str, required: bool, max: usize) -> String {
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

pub(crate) fn money(
    v: &mut FieldViolations,
    field: &str,
    money: Option<&common::Money>,
) -> Option<Money> {
    let Some(money) = money else {
        v.add(field, "is required");
        return None;
    };
    let currency = Currency::parse(&money.currency_code);
    if currency.is_none() {
        v.add(
            format!("{field}.currency_code"),
            "must be an ISO 4217 code of three upper-case letters",
        );
    }
    if money.amount_minor < 0 {
        v.add(format!("{field}.amount_minor"), "must not be negative");
    }
    currency.map(|c| Money::new(c, money.amount_minor))
}

/// A new order line (PlaceOrder's, or one an update adds), every bad field reported under
/// `field`.
pub(crate) fn new_line(
    v: &mut FieldViolations,
    field: &str,
    line: &pb::NewOrderLine,
) -> Option<NewLine> {
    let field = |name: &str| format!("{field}.{name}");
    let sku = Sku::parse(line.sku.trim())
        .map_err(|e| v.add(field("sku"), e))
        .ok();
    let quantity = Quantity::parse(line.quantity)
        .map_err(|e| v.add(field("quantity"), e))
        .ok();
    let price = money(v, &field("unit_price"), line.unit_price.as_ref());
    let category = text(v, &field("category"), &line.category, false, 64);
    v.check(
        (0..=MAX_UNIT_WEIGHT_GRAMS).contains(&line.weight_grams),
        field("weight_grams"),
        format!("must be between 0 and {MAX_UNIT_WEIGHT_GRAMS}"),
    );
    let (sku, quantity, unit_price) = (sku?, quantity?, price?);
    let charged = unit_price.minor.saturating_mul(i64::from(quantity.get()));
    Some(NewLine {
        sku,
        quantity,
        unit_price,
        name: String::new(),
        category,
        weight_grams: u32::try_from(line.weight_grams).unwrap_or(0),
        priced: LinePrice {
            charged,
            ..LinePrice::default()
        },
    })
}

pub(crate) fn address(v: &mut FieldViolations, field: &str, a: &common::Address) -> Address {
    let mut f = |name: &str, value: &str, required: bool, max: usize| {
        text(v, &format!("{field}.{name}"), value, required, max)
    };
    let address = Address {
        recipient: f("recipient", &a.recipient, true, 200),
        line1: f("line1", &a.line1, true, 200),
        line2: f("line2", &a.line2, false, 200),
        city: f("city", &a.city, true, 100),
        region: f("region", &a.region, false, 100),
        postal_code: f("postal_code", &a.postal_code, false, 20),
        country_code: a.country_code.trim().to_owned(),
        phone: f("phone", &a.phone, false, 40),
    };
    let cc = address.country_code.as_bytes();
    if !(cc.len() == 2 && cc.iter().all(u8::is_ascii_uppercase)) {
        v.add(
            format!("{field}.country_code"),
            "must be an ISO 3166-1 alpha-2 code (two upper-case letters)",
        );
    }
    address
}

fn channel(raw: i32) -> Option<Channel> {
    match common::Channel::try_from(raw).ok()? {
        common::Channel::Unspecified => None,
        common::Channel::Web => Some(Channel::Web),
        common::Channel::MobileApp => Some(Channel::MobileApp),
        common::Channel::Store => Some(Channel::Store),
        common::Channel::Phone => Some(Channel::Phone),
        common::Channel::Marketplace => Some(Channel::Marketplace),
        common::Channel::Api => Some(Channel::Api),
    }
}

fn payment_method(raw: i32) -> Option<PaymentMethod> {
    match common::PaymentMethod::try_from(raw).ok()? {
        common::PaymentMethod::Unspecified => None,
        common::PaymentMethod::Card => Some(PaymentMethod::Card),
        common::PaymentMethod::Wallet => Some(PaymentMethod::Wallet),
        common::PaymentMethod::BankTransfer => Some(PaymentMethod::BankTransfer),
        common::PaymentMethod::CashOnDelivery => Some(PaymentMethod::CashOnDelivery),
        common::PaymentMethod::Installments => Some(PaymentMethod::Installments),
    }
}

impl TryFrom<pb::PlaceOrderRequest> for NewOrder {
    type Error = FieldViolations;

    fn try_from(r: pb::PlaceOrderRequest) -> Result<Self, FieldViolations> {
        let mut v = FieldViolations::new();
        let request_id = text(&mut v, "request_id", &r.request_id, true, 128);

        let customer = match &r.customer {
            None => {
                v.add("customer", "is required");
                None
            }
            Some(c) => {
                let customer = Customer {
                    id: text(&mut v, "customer.id", &c.id, false, 128),
                    name: text(&mut v, "customer.name", &c.name, true, 200),
                    email: text(&mut v, "customer.email", &c.email, true, 254),
                    phone: text(&mut v, "customer.phone", &c.phone, false, 40),
                };
                let email_ok = customer
                    .email
                    .split_once('@')
                    .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
                if !customer.email.is_empty() && !email_ok {
                    v.add("customer.email", "must be an e-mail address");
                }
                Some(customer)
            }
        };

        let channel = channel(r.channel);
        if channel.is_none() {
            v.add("channel", "must be one of CHANNEL_WEB … CHANNEL_API");
        }
        let channel_ref = text(&mut v, "channel_ref", &r.channel_ref, false, 128);
        if channel_ref.is_empty() {
            match channel {
                Some(Channel::Store) => {
                    v.add("channel_ref", "the store that took the order is required")
                }
                Some(Channel::Phone) => {
                    v.add("channel_ref", "the agent who took the order is required")
                }
                _ => {}
            }
        }

        let fulfillment = match common::FulfillmentMode::try_from(r.fulfillment_mode) {
            Ok(common::FulfillmentMode::Ship) => match &r.shipping_address {
                Some(a) => {
                    v.check(
                        r.pickup_store_id.is_empty(),
                        "pickup_store_id",
                        "must be empty when shipping",
                    );
                    Some(Fulfillment::Ship {
                        address: address(&mut v, "shipping_address", a),
                    })
                }
                None => {
                    v.add("shipping_address", "is required when shipping");
                    None
                }
            },
            Ok(common::FulfillmentMode::StorePickup) => {
                let store_id = text(&mut v, "pickup_store_id", &r.pickup_store_id, true, 64);
                Some(Fulfillment::StorePickup { store_id })
            }
            _ => {
                v.add(
                    "fulfillment_mode",
                    "must be FULFILLMENT_MODE_SHIP or FULFILLMENT_MODE_STORE_PICKUP",
                );
                None
            }
        };
        let billing_address = r
            .billing_address
            .as_ref()
            .map(|a| address(&mut v, "billing_address", a));

        if r.lines.is_empty() {
            v.add("lines", "at least one line is required");
        } else if r.lines.len() > MAX_LINES {
            v.add("lines", format!("at most {MAX_LINES} lines"));
        }
        let mut lines = Vec::with_capacity(r.lines.len());
        for (i, line) in r.lines.iter().enumerate() {
            if let Some(line) = new_line(&mut v, &format!("lines[{i}]"), line) {
                lines.push(line);
            }
        }
        if let Some(first) = lines.first().map(|l| l.unit_price.currency) {
            for (i, line) in lines.iter().enumerate() {
                if line.unit_price.currency != first {
                    v.add(
                        format!("lines[{i}].unit_price.currency_code"),
                        format!("every line must be priced in {first}"),
                    );
                }
            }
        }

        let payment = match &r.payment {
            None => {
                v.add("payment", "is required");
                None
            }
            Some(p) => {
                let method = payment_method(p.method);
                let token = p.token.trim();
                if looks_like_card_number(token) {
                    v.add(
                        "payment.token",
                        "must be a provider token, never a card number",
                    );
                }
                match method {
                    None => v.add(
                        "payment.method",
                        "must be one of PAYMENT_METHOD_CARD … _INSTALLMENTS",
                    ),
                    Some(m) if m.needs_token() => v.check(
                        token.starts_with("tok_") && token.len() <= 128,
                        "payment.token",
                        "a provider token (tok_…) is required for this method",
                    ),
                    Some(_) => v.check(
                        token.is_empty(),
                        "payment.token",
                        "must be empty for bank transfer and cash on delivery",
                    ),
                }
                if method == Some(PaymentMethod::Installments) {
                    v.check(
                        INSTALLMENT_COUNTS.contains(&p.installment_count),
                        "payment.installment_count",
                        "must be 3, 6 or 12",
                    );
                } else {
                    v.check(
                        p.installment_count == 0,
                        "payment.installment_count",
                        "must be 0 unless paying in installments",
                    );
                }
                method.map(|method| PaymentChoice {
                    method,
                    token: (!token.is_empty()).then(|| token.to_owned()),
                    installments: u8::try_from(p.installment_count).unwrap_or(0),
                })
            }
        };

        if r.discount_codes.len() > MAX_DISCOUNT_CODES {
            v.add(
                "discount_codes",
                format!("at most {MAX_DISCOUNT_CODES} codes"),
            );
        }
        let mut discount_codes: Vec<String> = Vec::with_capacity(r.discount_codes.len());
        for (i, raw) in r.discount_codes.iter().enumerate() {
            match discount_code(raw) {
                Ok(code) if discount_codes.contains(&code) => {
                    v.add(format!("discount_codes[{i}]"), "is given twice")
                }
                Ok(code) => discount_codes.push(code),
                Err(e) => v.add(format!("discount_codes[{i}]"), e),
            }
        }
        let service_level = if r.shipping_service_level.trim().is_empty() {
            String::new()
        } else if matches!(fulfillment, Some(Fulfillment::StorePickup { .. })) {
            v.add("shipping_service_level", "must be empty for store pickup");
            String::new()
        } else {
            service_level(&r.shipping_service_level)
                .map_err(|e| v.add("shipping_service_level", e))
                .unwrap_or_default()
        };
        let expected_total = r
            .expected_total
            .as_ref()
            .and_then(|m| money(&mut v, "expected_total", Some(m)));

        let invoice_request = r
            .invoice_request
            .as_ref()
            .and_then(|asked| invoice_request(&mut v, asked));

        let total = if lines.len() == r.lines.len() && !lines.is_empty() && v.is_empty() {
            match NewOrder::total_of(&lines) {
                Ok(total) => Some(total),
                Err(_) => {
                    v.add("lines", "the order total is out of range");
                    None
                }
            }
        } else {
            None
        };

        match (customer, channel, fulfillment, payment, total) {
            (Some(customer), Some(channel), Some(fulfillment), Some(payment), Some(total))
                if v.is_empty() =>
            {
                Ok(NewOrder {
                    request_id,
                    customer,
                    channel,
                    channel_ref,
                    fulfillment,
                    billing_address,
                    lines,
                    payment,
                    total,
                    discount_codes,
                    service_level,
                    expected_total,
                    breakdown: Breakdown::plain(total.minor),
                    invoice_request,
                })
            }
            _ => Err(v),
        }
    }
}

/// A checkout's invoice request, or its violations under `invoice_request.*`.
pub fn invoice_request(
    v: &mut FieldViolations,
    asked: &pb::InvoiceRequest,
) -> Option<InvoiceRequest> {
    let kind = match pb::InvoiceType::try_from(asked.invoice_type) {
        Ok(pb::InvoiceType::Personal) => Some(InvoiceType::Personal),
        Ok(pb::InvoiceType::Company) => Some(InvoiceType::Company),
        _ => None,
    };
    for (field, value) in [
        ("buyer_title", &asked.buyer_title),
        ("buyer_tax_id", &asked.buyer_tax_id),
        ("email", &asked.email),
    ] {
        if looks_like_card_number(value) {
            v.add(
                format!("invoice_request.{field}"),
                "must not contain a payment card number",
            );
            return None;
        }
    }
    match InvoiceRequest::parse(kind, &asked.buyer_title, &asked.buyer_tax_id, &asked.email) {
        Ok(request) => Some(request),
        Err(refused) => {
            for (field, why) in refused {
                v.add(format!("invoice_request.{field}"), why);
            }
            None
        }
    }
}

pub fn invoice_request_pb(r: &InvoiceRequest) -> pb::InvoiceRequest {
    pb::InvoiceRequest {
        invoice_type: match r.invoice_type {
            InvoiceType::Personal => pb::InvoiceType::Personal,
            InvoiceType::Company => pb::InvoiceType::Company,
        }
        .into(),
        buyer_title: r.buyer_title.clone(),
        buyer_tax_id: r.buyer_tax_id.clone(),
        email: r.email.clone(),
    }
}

pub fn money_pb(m: Money) -> common::Money {
    common::Money {
        currency_code: m.currency.as_str().to_owned(),
        amount_minor: m.minor,
    }
}

pub fn address_pb(a: &Address) -> common::Address {
    common::Address {
        recipient: a.recipient.clone(),
        line1: a.line1.clone(),
        line2: a.line2.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country_code: a.country_code.clone(),
        phone: a.phone.clone(),
    }
}

pub fn customer_pb(c: &Customer) -> common::Customer {
    common::Customer {
        id: c.id.clone(),
        name: c.name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
    }
}

pub fn status_pb(s: OrderStatus) -> pb::OrderStatus {
    match s {
        OrderStatus::Pending => pb::OrderStatus::Pending,
        OrderStatus::OnHold => pb::OrderStatus::OnHold,
        OrderStatus::AwaitingStock => pb::OrderStatus::AwaitingStock,
        OrderStatus::AwaitingPayment => pb::OrderStatus::AwaitingPayment,
        OrderStatus::Confirmed => pb::OrderStatus::Confirmed,
        OrderStatus::InFulfillment => pb::OrderStatus::InFulfillment,
        OrderStatus::PartiallyShipped => pb::OrderStatus::PartiallyShipped,
        OrderStatus::Shipped => pb::OrderStatus::Shipped,
        OrderStatus::ReadyForPickup => pb::OrderStatus::ReadyForPickup,
        OrderStatus::Delivered => pb::OrderStatus::Delivered,
        OrderStatus::Accepted => pb::OrderStatus::Accepted,
        OrderStatus::Disputed => pb::OrderStatus::Disputed,
        OrderStatus::Completed => pb::OrderStatus::Completed,
        OrderStatus::Cancelled => pb::OrderStatus::Cancelled,
        OrderStatus::Rejected => pb::OrderStatus::Rejected,
    }
}

pub fn channel_pb(c: Channel) -> common::Channel {
    match c {
        Channel::Web => common::Channel::Web,
        Channel::MobileApp => common::Channel::MobileApp,
        Channel::Store => common::Channel::Store,
        Channel::Phone => common::Channel::Phone,
        Channel::Marketplace => common::Channel::Marketplace,
        Channel::Api => common::Channel::Api,
    }
}

pub fn method_pb(m: PaymentMethod) -> common::PaymentMethod {
    match m {
        PaymentMethod::Card => common::PaymentMethod::Card,
        PaymentMethod::Wallet => common::PaymentMethod::Wallet,
        PaymentMethod::BankTransfer => common::PaymentMethod::BankTransfer,
        PaymentMethod::CashOnDelivery => common::PaymentMethod::CashOnDelivery,
        PaymentMethod::Installments => common::PaymentMethod::Installments,
    }
}

pub fn lines_pb(order: &Order) -> Vec<pb::OrderLine> {
    order
        .lines
        .iter()
        .map(|l| pb::OrderLine {
            line_id: l.line_id.clone(),
            sku: l.sku.clone(),
            name: l.name.clone(),
            quantity: l.quantity,
            unit_price: Some(money_pb(l.unit_price)),
            line_total: Some(money_pb(Money::new(
                l.unit_price.currency,
                l.unit_price.minor.saturating_mul(i64::from(l.quantity)),
            ))),
            shipped_quantity: l.shipped_quantity,
            cancelled_quantity: l.cancelled_quantity,
            fulfillment_status: line_fulfillment(order.status, l).into(),
            returned_quantity: 0,
            discount: Some(money_pb(Money::new(
                l.unit_price.currency,
                l.priced.discount,
            ))),
            tax: Some(money_pb(Money::new(l.unit_price.currency, l.priced.tax))),
            charged: Some(money_pb(Money::new(
                l.unit_price.currency,
                l.priced.charged,
            ))),
            category: l.category.clone(),
            weight_grams: l.weight_grams,
        })
        .collect()
}

/// The breakdown of an order's total in `currency`.
pub fn totals_pb(b: &Breakdown, currency: Currency) -> pb::OrderTotals {
    let m = |minor| Some(money_pb(Money::new(currency, minor)));
    pb::OrderTotals {
        subtotal: m(b.subtotal),
        shipping: m(b.shipping),
        discount: m(b.discount),
        tax: m(b.tax),
        included_tax: m(b.included_tax),
        total: m(b.total()),
        tax_inclusive: b.tax_mode == TaxMode::Inclusive,
        shipping_service_level: b.service_level.clone(),
        adjustments: b
            .adjustments
            .iter()
            .map(|a| pb::OrderAdjustment {
                kind: match a.kind {
                    AdjustmentKind::Shipping => pb::AdjustmentKind::Shipping,
                    AdjustmentKind::Discount => pb::AdjustmentKind::Discount,
                    AdjustmentKind::Tax => pb::AdjustmentKind::Tax,
                    AdjustmentKind::IncludedTax => pb::AdjustmentKind::IncludedTax,
                }
                .into(),
                code: a.code.clone(),
                amount: m(a.amount_minor),
                line_id: a.line_id.clone(),
                description: a.description.clone(),
            })
            .collect(),
        total_weight_grams: b.total_weight_grams,
    }
}

pub fn mode_parts(order: &Order) -> (common::FulfillmentMode, String, Option<common::Address>) {
    match &order.fulfillment {
        Fulfillment::Ship { address } => (
            common::FulfillmentMode::Ship,
            String::new(),
            Some(address_pb(address)),
        ),
        Fulfillment::StorePickup { store_id } => {
            (common::FulfillmentMode::StorePickup, store_id.clone(), None)
        }
    }
}

impl From<Order> for pb::Order {
    fn from(order: Order) -> Self {
        let (mode, pickup_store_id, shipping_address) = mode_parts(&order);
        pb::Order {
            id: order.id.to_string(),
            order_number: order.number.clone(),
            status: status_pb(order.status).into(),
            customer_id: order.customer.id.clone(),
            customer: Some(customer_pb(&order.customer)),
            channel: channel_pb(order.channel).into(),
            channel_ref: order.channel_ref.clone(),
            payment_status: pb::OrderPaymentStatus::NotRequested.into(),
            fulfillment_status: order_fulfillment(order.status).into(),
            fulfillment_mode: mode.into(),
            pickup_store_id,
            lines: lines_pb(&order),
            billing_address: order
                .billing_address
                .as_ref()
                .map(address_pb)
                .or_else(|| shipping_address.clone()),
            shipping_address,
            payment: Some(pb::OrderPayment {
                method: method_pb(order.payment_method).into(),
                installment_count: i32::from(order.installments),
                ..Default::default()
            }),
            total: Some(money_pb(order.total)),
            totals: Some(totals_pb(&order.breakdown, order.total.currency)),
            created_at: Some(to_timestamp(order.created_at)),
            updated_at: Some(to_timestamp(order.updated_at)),
            return_status: pb::OrderReturnStatus::None.into(),
            ..Default::default()
        }
    }
}

impl From<&Order> for pb::OrderPlaced {
    fn from(order: &Order) -> Self {
        let (mode, pickup_store_id, shipping_address) = mode_parts(order);
        pb::OrderPlaced {
            order_id: order.id.to_string(),
            order_number: order.number.clone(),
            customer: Some(customer_pb(&order.customer)),
            channel: channel_pb(order.channel).into(),
            fulfillment_mode: mode.into(),
            pickup_store_id,
            lines: lines_pb(order),
            total: Some(money_pb(order.total)),
            payment_method: method_pb(order.payment_method).into(),
            installment_count: i32::from(order.installments),
            billing_address: order
                .billing_address
                .as_ref()
                .map(address_pb)
                .or_else(|| shipping_address.clone()),
            shipping_address,
            placed_at: Some(to_timestamp(order.created_at)),
            payment_token_fingerprint: String::new(),
            totals: Some(totals_pb(&order.breakdown, order.total.currency)),
        }
    }
}

pub fn hold_reason_pb(reason: &HoldReason) -> pb::HoldReason {
    pb::HoldReason {
        kind: match reason.kind {
            HoldKind::HighRiskScore => pb::HoldReasonKind::HighRiskScore,
            HoldKind::HighValue => pb::HoldReasonKind::HighValue,
            HoldKind::Rule => pb::HoldReasonKind::Rule,
        }
        .into(),
        code: reason.code.clone(),
        description: reason.description.clone(),
    }
}

fn ts(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<prost_types::Timestamp> {
    t.map(to_timestamp)
}

/// The full order as the API shows it: the order, its saga state, shipments and problems.
pub fn order_view_pb(
    order: Order,
    saga: Option<&crate::store::saga::SagaRow>,
    shipments: &[crate::store::shipments::ShipmentRow],
    problems: &[crate::store::shipments::ProblemRow],
) -> pb::Order {
    let currency = order.total.currency;
    let total = order.total.minor;
    let mut view = pb::Order::from(order);
    let Some(s) = saga else { return view };
    view.payment_status = payment_status(s, total).into();
    if let Some(payment) = view.payment.as_mut() {
        payment.payment_id = s.payment_id.clone().unwrap_or_default();
        // Unset until money moved, so a new order reads back exactly as PlaceOrder answered.
        payment.captured_amount =
            (s.captured_minor > 0).then(|| money_pb(Money::new(currency, s.captured_minor)));
        payment.refunded_amount =
            (s.refunded_minor > 0).then(|| money_pb(Money::new(currency, s.refunded_minor)));
        payment.settled = s.settled;
        payment.pay_by = ts(s.pay_by);
        payment.bank_transfer_reference = s.bank_reference.clone().unwrap_or_default();
    }
    view.hold_reasons = s.hold_reasons.0.iter().map(hold_reason_pb).collect();
    view.risk_score = s.risk_score;
    view.review_deadline = ts(s.review_deadline);
    view.reviewed_by = s.reviewed_by.clone().unwrap_or_default();
    view.review_note = s.review_note.clone().unwrap_or_default();
    view.cancel_reason = s
        .cancel_reason
        .as_deref()
        .and_then(|r| pb::CancelReason::from_str_name(&format!("CANCEL_REASON_{r}")))
        .unwrap_or(pb::CancelReason::Unspecified)
        .into();
    view.cancel_note = s.cancel_note.clone().unwrap_or_default();
    view.confirmed_at = ts(s.confirmed_at);
    view.delivered_at = ts(s.delivered_at);
    view.accept_by = ts(s.accept_by);
    view.accepted_at = ts(s.accepted_at);
    view.completed_at = ts(s.completed_at);
    view.cancelled_at = ts(s.cancelled_at);
    view.shipments = shipments
        .iter()
        .map(|sh| pb::OrderShipment {
            shipment_id: sh.shipment_id.clone(),
            fulfillment_id: sh.fulfillment_id.clone(),
            parcel_id: sh.parcel_id.clone(),
            warehouse_id: sh.warehouse_id.clone(),
            carrier: sh.carrier.clone(),
            tracking_number: sh.tracking_number.clone(),
            tracking_url: sh.tracking_url.clone(),
            handed_over_at: ts(sh.handed_over_at),
            eta: ts(sh.eta),
            delivered_at: ts(sh.delivered_at),
            status: sh.status.clone(),
        })
        .collect();
    view.problems = problems.iter().map(problem_pb).collect();
    view
}

pub fn problem_pb(p: &crate::store::shipments::ProblemRow) -> pb::ProblemReport {
    pb::ProblemReport {
        id: p.id.to_string(),
        kind: common::ProblemKind::from_str_name(&p.kind)
            .unwrap_or(common::ProblemKind::Other)
            .into(),
        description: p.description.clone(),
        lines: p
            .lines
            .0
            .iter()
            .map(|l| pb::ProblemLine {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect(),
        attachment_urls: p.attachment_urls.0.clone(),
        reported_at: Some(to_timestamp(p.reported_at)),
        case_id: p.case_id.clone().unwrap_or_default(),
        resolution: p
            .resolution
            .as_deref()
            .and_then(|r| common::CaseResolution::from_str_name(&format!("CASE_RESOLUTION_{r}")))
            .unwrap_or(common::CaseResolution::Unspecified)
            .into(),
        resolved_at: ts(p.resolved_at),
    }
}

/// The order's goods, derived from its status.
pub fn order_fulfillment(status: OrderStatus) -> pb::OrderFulfillmentStatus {
    use pb::OrderFulfillmentStatus as F;
    match status {
        OrderStatus::Pending
        | OrderStatus::OnHold
        | OrderStatus::AwaitingStock
        | OrderStatus::AwaitingPayment => F::NotStarted,
        OrderStatus::Confirmed | OrderStatus::InFulfillment => F::InProgress,
        OrderStatus::PartiallyShipped => F::PartiallyShipped,
        OrderStatus::Shipped => F::Shipped,
        OrderStatus::ReadyForPickup => F::ReadyForPickup,
        OrderStatus::Delivered
        | OrderStatus::Accepted
        | OrderStatus::Disputed
        | OrderStatus::Completed => F::Delivered,
        OrderStatus::Cancelled | OrderStatus::Rejected => F::Cancelled,
    }
}

/// One line's goods: its own shipped and cancelled units within the order's progress.
fn line_fulfillment(
    status: OrderStatus,
    line: &crate::domain::OrderLine,
) -> pb::OrderFulfillmentStatus {
    use pb::OrderFulfillmentStatus as F;
    let order = order_fulfillment(status);
    let to_ship = line.quantity - line.cancelled_quantity;
    if to_ship <= 0 {
        F::Cancelled
    } else if order == F::Delivered || line.shipped_quantity >= to_ship {
        if order == F::Delivered {
            F::Delivered
        } else {
            F::Shipped
        }
    } else if line.shipped_quantity > 0 {
        F::PartiallyShipped
    } else {
        order
    }
}

/// The order's money, derived from payments' facts as orders recorded them.
fn payment_status(s: &crate::store::saga::SagaRow, total: i64) -> pb::OrderPaymentStatus {
    use pb::OrderPaymentStatus as P;
    if s.refunded_minor > 0 {
        return if s.refunded_minor >= s.captured_minor {
            P::Refunded
        } else {
            P::PartiallyRefunded
        };
    }
    match s.payment_state.as_str() {
        "NONE" => P::NotRequested,
        "REQUESTED" => P::Requested,
        "PENDING" => P::AwaitingTransfer,
        "DECLINED" => P::Declined,
        "VOIDED" | "ABANDONED" => P::Voided,
        _ if s.settled || (total > 0 && s.captured_minor >= total) => P::Settled,
        _ if s.captured_minor > 0 => P::PartiallyCaptured,
        _ => P::Authorized,
    }
}

/// The units of a handed-over parcel as orders keeps them per shipment.
pub fn parcel_lines(
    e: &contracts::fulfillment::ParcelHandedOver,
) -> Vec<crate::store::shipments::ProblemLine> {
    e.lines
        .iter()
        .map(|l| crate::store::shipments::ProblemLine {
            line_id: l.line_id.clone(),
            sku: l.sku.clone(),
            quantity: l.quantity,
        })
        .collect()
}

/// An `OrderUpdate` as a domain update, every bad field reported under `update.…`.
pub(crate) fn order_update(
    v: &mut FieldViolations,
    u: Option<&pb::OrderUpdate>,
) -> crate::updates::Update {
    let Some(u) = u else {
        v.add("update", "is required");
        return crate::updates::Update::default();
    };
    let address = u
        .shipping_address
        .as_ref()
        .map(|a| address(v, "update.shipping_address", a));
    let contact = u.contact.as_ref().map(|c| {
        let name = text(v, "update.contact.name", &c.name, true, 200);
        let email = text(v, "update.contact.email", &c.email, true, 254);
        let phone = text(v, "update.contact.phone", &c.phone, false, 40);
        let email_ok = email
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
        if !email.is_empty() && !email_ok {
            v.add("update.contact.email", "must be an e-mail address");
        }
        (name, email, phone)
    });
    let line_changes = u
        .line_changes
        .iter()
        .map(|c| (c.line_id.trim().to_owned(), c.quantity))
        .collect();
    let add_lines = u
        .add_lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| new_line(v, &format!("update.add_lines[{i}]"), l))
        .collect();
    if u.shipping_address.is_none()
        && u.contact.is_none()
        && u.line_changes.is_empty()
        && u.add_lines.is_empty()
    {
        v.add(
            "update",
            "names nothing to change: give a shipping address, contact, line changes or lines to add",
        );
    }
    if u.line_changes.len() + u.add_lines.len() > MAX_LINES {
        v.add("update", format!("at most {MAX_LINES} line changes"));
    }
    crate::updates::Update {
        address,
        contact,
        line_changes,
        add_lines,
    }
}
