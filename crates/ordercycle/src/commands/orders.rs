//! `orders`, `review` and `returns`: the orders service's three gRPC services.

use anyhow::Context as _;
use clap::Subcommand;
use contracts::common::{Address, Channel, Customer, FulfillmentMode, PaymentMethod, ReturnReason};
use contracts::fulfillment::{
    InspectedLine, InspectionGrade, ReceiveReturnRequest, RecordInspectionRequest,
};
use contracts::inventory::GetItemRequest;
use contracts::orders::{
    ApproveOrderRequest, ApproveReturnRequest, CancelOrderRequest, CancelReason, ExchangeLine,
    GetOrderRequest, GetOrderTimelineRequest, GetReturnRequest, ListOrdersRequest,
    ListReviewQueueRequest, NewOrderLine, NewReturnLine, Order, OrderStatus, PaymentInstruction,
    PlaceOrderRequest, RejectOrderRequest, RequestReturnRequest, Return, ReturnResolution,
};
use serde_json::{Value, json};

use super::{Out, money, number, parts, short, when};
use crate::clients::{Clients, Rpc as _};

#[derive(Subcommand, Debug)]
pub enum OrdersCmd {
    /// Place an order (prices come from the catalog).
    Place(Box<PlaceArgs>),
    /// One order (by id or order number).
    Get { id: String },
    /// Recent orders.
    List {
        /// Only this status (e.g. ON_HOLD, COMPLETED).
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        customer: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    /// Cancel an order that has not shipped.
    Cancel {
        id: String,
        /// customer_request or operator.
        #[arg(long, default_value = "operator")]
        reason: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Everything that happened to an order, oldest first.
    Timeline { id: String },
}

#[derive(clap::Args, Debug)]
pub struct PlaceArgs {
    /// SKU:QUANTITY, repeatable.
    #[arg(long = "line", required = true)]
    pub lines: Vec<String>,
    #[arg(long, default_value = "cust-cli")]
    pub customer: String,
    #[arg(long, default_value = "Mei Lin")]
    pub name: String,
    #[arg(long, default_value = "mei@example.com")]
    pub email: String,
    /// card, wallet, bank_transfer, cash_on_delivery, installments.
    #[arg(long, default_value = "card")]
    pub payment: String,
    #[arg(long, default_value = "tok_visa")]
    pub token: String,
    /// Number of installments (with --payment installments).
    #[arg(long, default_value_t = 3)]
    pub installments: i32,
    /// Collect at this pickup-enabled store instead of shipping.
    #[arg(long)]
    pub pickup_store: Option<String>,
    #[arg(long, default_value = "Unter den Linden 1")]
    pub line1: String,
    /// Address line 2 (carrier simulator markers such as `[sim:fail-once]` go here).
    #[arg(long, default_value = "")]
    pub line2: String,
    #[arg(long, default_value = "Berlin")]
    pub city: String,
    #[arg(long, default_value = "10117")]
    pub postal_code: String,
    #[arg(long, default_value = "DE")]
    pub country: String,
    /// Idempotency key (default: a new one).
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ReviewCmd {
    /// Held orders waiting for a reviewer.
    List,
    Approve {
        id: String,
        #[arg(long, default_value = "approved by operator")]
        reason: String,
        #[arg(long, default_value = "cli-reviewer")]
        reviewer: String,
    },
    Reject {
        id: String,
        #[arg(long, default_value = "rejected by operator")]
        reason: String,
        #[arg(long, default_value = "cli-reviewer")]
        reviewer: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReturnsCmd {
    /// Request a return (refund, or exchange with --exchange SKU).
    Request {
        order: String,
        /// LINE_ID:QUANTITY, repeatable (line ids as `orders get` shows them).
        #[arg(long = "line", required = true)]
        lines: Vec<String>,
        /// no_longer_needed, wrong_size, not_as_described, defective, damaged_in_transit,
        /// wrong_item_sent, arrived_late, other.
        #[arg(long, default_value = "defective")]
        reason: String,
        /// Exchange for this SKU instead of a refund.
        #[arg(long)]
        exchange: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Approve a requested return.
    Approve {
        id: String,
        #[arg(long, default_value = "approved by operator")]
        reason: String,
        /// Warehouse the goods come back to.
        #[arg(long, default_value = "")]
        warehouse: String,
    },
    /// The warehouse receives the return and records its inspection.
    Inspect {
        id: String,
        /// LINE_ID:QUANTITY:GRADE (resellable, damaged, defective, wrong_item), repeatable;
        /// default: every returned line resellable.
        #[arg(long = "line")]
        lines: Vec<String>,
        #[arg(long)]
        warehouse: Option<String>,
        #[arg(long, default_value = "cli-inspector")]
        by: String,
    },
}

fn rid(given: Option<String>) -> String {
    given.unwrap_or_else(|| format!("cli-{}", uuid::Uuid::new_v4()))
}

fn order_row(o: &Order) -> Vec<(&'static str, Value)> {
    vec![
        ("order_number", json!(o.order_number)),
        (
            "status",
            json!(short(o.status().as_str_name(), "ORDER_STATUS_")),
        ),
        ("customer_id", json!(o.customer_id)),
        ("total", json!(money(o.total.as_ref()))),
        (
            "payment",
            json!(o.payment.as_ref().map_or(String::new(), |p| short(
                p.method().as_str_name(),
                "PAYMENT_METHOD_"
            ))),
        ),
        ("lines", json!(o.lines.len())),
        ("created_at", json!(when(o.created_at.as_ref()))),
        ("id", json!(o.id)),
    ]
}

const ORDER_HEADERS: [&str; 8] = [
    "order", "status", "customer", "total", "payment", "lines", "created", "id",
];

fn return_row(r: &Return) -> Vec<(&'static str, Value)> {
    vec![
        ("rma_number", json!(r.rma_number)),
        (
            "status",
            json!(short(r.status().as_str_name(), "RETURN_STATUS_")),
        ),
        (
            "resolution",
            json!(short(r.resolution().as_str_name(), "RETURN_RESOLUTION_")),
        ),
        ("order_number", json!(r.order_number)),
        ("refund_total", json!(money(r.refund_total.as_ref()))),
        (
            "outcome",
            json!(short(r.outcome().as_str_name(), "RETURN_OUTCOME_")),
        ),
        ("id", json!(r.id)),
    ]
}

const RETURN_HEADERS: [&str; 7] = [
    "rma",
    "status",
    "resolution",
    "order",
    "refund",
    "outcome",
    "id",
];

fn print_order(out: &Out, o: &Order) {
    out.rows(&ORDER_HEADERS, vec![order_row(o)]);
    if out.json {
        return;
    }
    out.note("");
    out.rows(
        &[
            "line",
            "sku",
            "name",
            "qty",
            "unit price",
            "shipped",
            "returned",
        ],
        o.lines
            .iter()
            .map(|l| {
                vec![
                    ("line_id", json!(l.line_id)),
                    ("sku", json!(l.sku)),
                    ("name", json!(l.name)),
                    ("quantity", json!(l.quantity)),
                    ("unit_price", json!(money(l.unit_price.as_ref()))),
                    ("shipped", json!(l.shipped_quantity)),
                    ("returned", json!(l.returned_quantity)),
                ]
            })
            .collect(),
    );
    for s in &o.shipments {
        out.note(&format!(
            "shipment {} from {} via {} {} (delivered {})",
            s.shipment_id,
            s.warehouse_id,
            s.carrier,
            s.tracking_number,
            when(s.delivered_at.as_ref())
        ));
    }
    if !o.hold_reasons.is_empty() {
        let reasons: Vec<&str> = o
            .hold_reasons
            .iter()
            .map(|h| h.description.as_str())
            .collect();
        out.note(&format!("held: {}", reasons.join("; ")));
    }
    out.note(&format!(
        "return status: {}",
        short(o.return_status().as_str_name(), "ORDER_RETURN_STATUS_")
    ));
}

fn payment_method(raw: &str) -> anyhow::Result<PaymentMethod> {
    PaymentMethod::from_str_name(&format!("PAYMENT_METHOD_{}", raw.to_ascii_uppercase()))
        .with_context(|| {
            format!("unknown payment `{raw}`: card, wallet, bank_transfer, cash_on_delivery, installments")
        })
}

pub async fn orders(c: &Clients, out: &Out, cmd: OrdersCmd) -> anyhow::Result<()> {
    let mut orders = c.orders.clone();
    match cmd {
        OrdersCmd::Place(args) => {
            let PlaceArgs {
                lines,
                customer,
                name,
                email,
                payment,
                token,
                installments,
                pickup_store,
                line1,
                line2,
                city,
                postal_code,
                country,
                request_id,
            } = *args;
            let method = payment_method(&payment)?;
            let mut new_lines = Vec::new();
            for raw in &lines {
                let p = parts(raw, "SKU:QUANTITY", 2)?;
                let item = c
                    .inventory
                    .clone()
                    .get_item(GetItemRequest {
                        sku: p[0].to_owned(),
                    })
                    .await
                    .rpc("inventory GetItem")?
                    .item
                    .with_context(|| format!("no item {}", p[0]))?;
                new_lines.push(NewOrderLine {
                    sku: p[0].to_owned(),
                    quantity: number(p[1], "quantity")?,
                    unit_price: item.unit_price,
                    ..Default::default()
                });
            }
            let request = PlaceOrderRequest {
                request_id: rid(request_id),
                customer: Some(Customer {
                    id: customer,
                    name: name.clone(),
                    email,
                    phone: String::new(),
                }),
                channel: Channel::Api.into(),
                fulfillment_mode: if pickup_store.is_some() {
                    FulfillmentMode::StorePickup
                } else {
                    FulfillmentMode::Ship
                }
                .into(),
                pickup_store_id: pickup_store.unwrap_or_default(),
                lines: new_lines,
                shipping_address: Some(Address {
                    recipient: name,
                    line1,
                    line2,
                    city,
                    postal_code,
                    country_code: country,
                    ..Default::default()
                }),
                billing_address: None,
                payment: Some(PaymentInstruction {
                    method: method.into(),
                    token: if method == PaymentMethod::CashOnDelivery {
                        String::new()
                    } else {
                        token
                    },
                    installment_count: if method == PaymentMethod::Installments {
                        installments
                    } else {
                        0
                    },
                }),
                ..Default::default()
            };
            let order = orders
                .place_order(request)
                .await
                .rpc("orders PlaceOrder")?
                .order
                .context("no order returned")?;
            print_order(out, &order);
        }
        OrdersCmd::Get { id } => {
            let order = orders
                .get_order(GetOrderRequest { id })
                .await
                .rpc("orders GetOrder")?
                .order
                .context("no order returned")?;
            print_order(out, &order);
        }
        OrdersCmd::List {
            status,
            customer,
            limit,
        } => {
            let statuses = match status {
                None => Vec::new(),
                Some(s) => {
                    let name = format!(
                        "ORDER_STATUS_{}",
                        s.to_ascii_uppercase().trim_start_matches("ORDER_STATUS_")
                    );
                    vec![
                        OrderStatus::from_str_name(&name)
                            .with_context(|| format!("unknown status `{s}`"))?
                            .into(),
                    ]
                }
            };
            let list = orders
                .list_orders(ListOrdersRequest {
                    page_size: limit,
                    customer_id: customer.unwrap_or_default(),
                    statuses,
                    ..Default::default()
                })
                .await
                .rpc("orders ListOrders")?;
            out.rows(&ORDER_HEADERS, list.orders.iter().map(order_row).collect());
        }
        OrdersCmd::Cancel { id, reason, note } => {
            let reason = CancelReason::from_str_name(&format!(
                "CANCEL_REASON_{}",
                reason.to_ascii_uppercase()
            ))
            .with_context(|| format!("unknown reason `{reason}`: customer_request, operator"))?;
            let order_id = order_id_of(c, id).await?;
            let order = orders
                .cancel_order(CancelOrderRequest {
                    request_id: rid(None),
                    order_id,
                    reason: reason.into(),
                    note,
                })
                .await
                .rpc("orders CancelOrder")?
                .order
                .context("no order returned")?;
            out.rows(&ORDER_HEADERS, vec![order_row(&order)]);
        }
        OrdersCmd::Timeline { id } => {
            // Accept an order number too.
            let order = orders
                .get_order(GetOrderRequest { id })
                .await
                .rpc("orders GetOrder")?
                .order
                .context("no order returned")?;
            let mut entries = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = orders
                    .get_order_timeline(GetOrderTimelineRequest {
                        order_id: order.id.clone(),
                        page_size: 200,
                        page_token,
                    })
                    .await
                    .rpc("orders GetOrderTimeline")?;
                entries.extend(page.entries);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            out.note(&format!(
                "{} — {}",
                order.order_number,
                short(order.status().as_str_name(), "ORDER_STATUS_")
            ));
            out.rows(
                &["when", "what", "summary", "by", "reason"],
                entries
                    .iter()
                    .map(|e| {
                        vec![
                            ("occurred_at", json!(when(e.occurred_at.as_ref()))),
                            ("kind", json!(e.kind)),
                            ("summary", json!(e.summary)),
                            ("actor_id", json!(e.actor_id)),
                            ("reason", json!(e.reason)),
                        ]
                    })
                    .collect(),
            );
        }
    }
    Ok(())
}

pub async fn review(c: &Clients, out: &Out, cmd: ReviewCmd) -> anyhow::Result<()> {
    let mut review = c.review.clone();
    match cmd {
        ReviewCmd::List => {
            let queue = review
                .list_review_queue(ListReviewQueueRequest {
                    page_size: 100,
                    ..Default::default()
                })
                .await
                .rpc("orders ListReviewQueue")?;
            out.rows(
                &["order", "total", "risk", "review by", "reasons", "id"],
                queue
                    .orders
                    .iter()
                    .map(|o| {
                        let reasons: Vec<&str> = o
                            .hold_reasons
                            .iter()
                            .map(|h| h.description.as_str())
                            .collect();
                        vec![
                            ("order_number", json!(o.order_number)),
                            ("total", json!(money(o.total.as_ref()))),
                            ("risk_score", json!(o.risk_score)),
                            ("review_deadline", json!(when(o.review_deadline.as_ref()))),
                            ("reasons", json!(reasons.join("; "))),
                            ("id", json!(o.id)),
                        ]
                    })
                    .collect(),
            );
        }
        ReviewCmd::Approve {
            id,
            reason,
            reviewer,
        } => {
            let order_id = order_id_of(c, id).await?;
            let order = review
                .approve_order(ApproveOrderRequest {
                    order_id,
                    reviewer_id: reviewer,
                    reason,
                })
                .await
                .rpc("orders ApproveOrder")?
                .order
                .context("no order returned")?;
            out.rows(&ORDER_HEADERS, vec![order_row(&order)]);
        }
        ReviewCmd::Reject {
            id,
            reason,
            reviewer,
        } => {
            let order_id = order_id_of(c, id).await?;
            let order = review
                .reject_order(RejectOrderRequest {
                    order_id,
                    reviewer_id: reviewer,
                    reason,
                })
                .await
                .rpc("orders RejectOrder")?
                .order
                .context("no order returned")?;
            out.rows(&ORDER_HEADERS, vec![order_row(&order)]);
        }
    }
    Ok(())
}

/// The id of an order given by id or order number.
pub async fn order_id_of(c: &Clients, id_or_number: String) -> anyhow::Result<String> {
    Ok(c.orders
        .clone()
        .get_order(GetOrderRequest { id: id_or_number })
        .await
        .rpc("orders GetOrder")?
        .order
        .context("no order returned")?
        .id)
}

pub async fn returns(c: &Clients, out: &Out, cmd: ReturnsCmd) -> anyhow::Result<()> {
    let mut returns = c.returns.clone();
    match cmd {
        ReturnsCmd::Request {
            order,
            lines,
            reason,
            exchange,
            note,
        } => {
            let reason = ReturnReason::from_str_name(&format!(
                "RETURN_REASON_{}",
                reason.to_ascii_uppercase()
            ))
            .with_context(|| format!("unknown return reason `{reason}`"))?;
            let order_id = order_id_of(c, order).await?;
            let mut new_lines = Vec::new();
            let mut exchange_lines = Vec::new();
            for raw in &lines {
                let p = parts(raw, "LINE_ID:QUANTITY", 2)?;
                let quantity = number(p[1], "quantity")?;
                new_lines.push(NewReturnLine {
                    line_id: p[0].to_owned(),
                    quantity,
                    reason: reason.into(),
                    note: note.clone(),
                });
                if let Some(sku) = &exchange {
                    exchange_lines.push(ExchangeLine {
                        line_id: p[0].to_owned(),
                        sku: sku.clone(),
                        quantity,
                    });
                }
            }
            let rma = returns
                .request_return(RequestReturnRequest {
                    request_id: rid(None),
                    order_id,
                    lines: new_lines,
                    resolution: if exchange.is_some() {
                        ReturnResolution::Exchange
                    } else {
                        ReturnResolution::Refund
                    }
                    .into(),
                    exchange_lines,
                    customer_note: note,
                    pickup_address: None,
                })
                .await
                .rpc("orders RequestReturn")?
                .rma
                .context("no RMA returned")?;
            out.rows(&RETURN_HEADERS, vec![return_row(&rma)]);
        }
        ReturnsCmd::Approve {
            id,
            reason,
            warehouse,
        } => {
            let rma = returns
                .approve_return(ApproveReturnRequest {
                    return_id: id,
                    reviewer_id: "cli-operator".into(),
                    reason,
                    return_warehouse_id: warehouse,
                })
                .await
                .rpc("orders ApproveReturn")?
                .rma
                .context("no RMA returned")?;
            out.rows(&RETURN_HEADERS, vec![return_row(&rma)]);
        }
        ReturnsCmd::Inspect {
            id,
            lines,
            warehouse,
            by,
        } => {
            let rma = returns
                .get_return(GetReturnRequest { id })
                .await
                .rpc("orders GetReturn")?
                .rma
                .context("no RMA returned")?;
            let warehouse = warehouse
                .or_else(|| Some(rma.return_warehouse_id.clone()).filter(|w| !w.is_empty()))
                .context("the RMA names no return warehouse; pass --warehouse")?;
            let inspected = if lines.is_empty() {
                rma.lines
                    .iter()
                    .map(|l| InspectedLine {
                        line_id: l.line_id.clone(),
                        sku: l.sku.clone(),
                        quantity: l.quantity,
                        grade: InspectionGrade::Resellable.into(),
                        note: String::new(),
                    })
                    .collect()
            } else {
                let mut v = Vec::new();
                for raw in &lines {
                    let p = parts(raw, "LINE_ID:QUANTITY:GRADE", 3)?;
                    let grade = InspectionGrade::from_str_name(&format!(
                        "INSPECTION_GRADE_{}",
                        p[2].to_ascii_uppercase()
                    ))
                    .with_context(|| format!("unknown grade `{}`", p[2]))?;
                    let sku = rma
                        .lines
                        .iter()
                        .find(|l| l.line_id == p[0])
                        .map(|l| l.sku.clone())
                        .with_context(|| format!("the RMA has no line {}", p[0]))?;
                    v.push(InspectedLine {
                        line_id: p[0].to_owned(),
                        sku,
                        quantity: number(p[1], "quantity")?,
                        grade: grade.into(),
                        note: String::new(),
                    });
                }
                v
            };
            let mut f = c.fulfillment.clone();
            f.receive_return(ReceiveReturnRequest {
                request_id: format!("cli-receive-{}", rma.id),
                return_id: rma.id.clone(),
                order_id: rma.order_id.clone(),
                warehouse_id: warehouse.clone(),
                tracking_number: rma.return_tracking_number.clone(),
                received_by: by.clone(),
                note: String::new(),
            })
            .await
            .rpc("fulfillment ReceiveReturn")?;
            let receipt = f
                .record_inspection(RecordInspectionRequest {
                    request_id: format!("cli-inspect-{}", rma.id),
                    return_id: rma.id.clone(),
                    lines: inspected,
                    inspected_by: by,
                    note: String::new(),
                })
                .await
                .rpc("fulfillment RecordInspection")?
                .receipt
                .context("no receipt returned")?;
            out.rows(
                &["rma", "warehouse", "status", "inspected"],
                vec![vec![
                    ("rma_number", json!(rma.rma_number)),
                    ("warehouse_id", json!(receipt.warehouse_id)),
                    (
                        "status",
                        json!(short(
                            receipt.status().as_str_name(),
                            "RETURN_RECEIPT_STATUS_"
                        )),
                    ),
                    ("inspected_at", json!(when(receipt.inspected_at.as_ref()))),
                ]],
            );
        }
    }
    Ok(())
}
