//! Order updates after confirmation with every real service: inventory reserves the added
//! units, payments covers the new total, fulfillment takes the new lines and address — or one
//! of them refuses and the others are put back. Each test asserts every service's state.

use contracts::common::PaymentMethod;
use contracts::common::{Address, Money};
use contracts::fulfillment::fulfillment_service_client::FulfillmentServiceClient;
use contracts::fulfillment::{CreatePickWaveRequest, FulfillmentStatus};
use contracts::inventory::inventory_service_client::InventoryServiceClient;
use contracts::inventory::{GetAvailabilityRequest, Item, ReceiveStockRequest, UpsertItemRequest};
use contracts::orders::invoice_service_client::InvoiceServiceClient;
use contracts::orders::order_update_service_client::OrderUpdateServiceClient;
use contracts::orders::{
    GetOrderUpdateRequest, LineChange, NewOrderLine, OrderStatus, OrderUpdate, OrderUpdateRecord,
    OrderUpdateState, UpdateOrderRequest, UpdateOrderResponse,
};
use contracts::orders::{InvoiceKind, ListInvoicesRequest};
use contracts::payments::payment_service_client::PaymentServiceClient;
use contracts::payments::{ConfirmBankTransferRequest, PaymentStatus};
use contracts::shipping::TrackingStatus;

use crate::cycle::{
    BERLIN, PRICE, available, eur, fulfillments_of, order_in, order_request, payment_if_any,
    payment_of, pending_fulfillment, place, platform, ship_pending, shipment_of, stock,
    stock_settles_at,
};
use crate::platform::Platform;

const CUP: &str = "CUP-002";
const CUP_PRICE: i64 = 899;

/// The cup in the catalog, with `units` of it in Berlin's bin A-01.
async fn cups(p: &Platform, units: i32) {
    let mut inventory = InventoryServiceClient::new(p.service("inventory").channel().await);
    inventory
        .upsert_item(UpsertItemRequest {
            item: Some(Item {
                sku: CUP.into(),
                name: "Celadon cup".into(),
                unit_price: Some(eur(CUP_PRICE)),
                weight_grams: 180,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    inventory
        .receive_stock(ReceiveStockRequest {
            request_id: "receive-cups".into(),
            sku: CUP.into(),
            warehouse_id: BERLIN.into(),
            quantity: units,
            bin: "A-01".into(),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// (on hand, reserved, available) of the cup in Berlin.
async fn cups_available(p: &Platform) -> Option<(i32, i32, i32)> {
    InventoryServiceClient::new(p.service("inventory").channel().await)
        .get_availability(GetAvailabilityRequest {
            sku: CUP.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .levels
        .into_iter()
        .find(|l| l.warehouse_id == BERLIN)
        .map(|l| (l.on_hand, l.reserved, l.available))
}

pub(crate) async fn update(
    p: &Platform,
    request_id: &str,
    order_id: &str,
    u: OrderUpdate,
) -> UpdateOrderResponse {
    let orders = OrderUpdateServiceClient::new(p.service("orders").channel().await);
    // The cup's catalog entry may still be travelling to orders.
    testkit::eventually("orders to take the update", || {
        let mut orders = orders.clone();
        let request = UpdateOrderRequest {
            request_id: request_id.into(),
            order_id: order_id.into(),
            update: Some(u.clone()),
            reason: "customer called".into(),
            expected_version: None,
        };
        async move { orders.update_order(request).await.ok() }
    })
    .await
    .into_inner()
}

/// Waits until the update has ended (applied or refused).
pub(crate) async fn finished(p: &Platform, update_id: &str) -> OrderUpdateRecord {
    let orders = OrderUpdateServiceClient::new(p.service("orders").channel().await);
    testkit::eventually(&format!("update {update_id} to end"), || {
        let mut orders = orders.clone();
        let update_id = update_id.to_owned();
        async move {
            let record = orders
                .get_order_update(GetOrderUpdateRequest { update_id })
                .await
                .ok()?
                .into_inner()
                .update?;
            (record.state() != OrderUpdateState::InProgress).then_some(record)
        }
    })
    .await
}

async fn payment_covers(p: &Platform, order_id: &str, amount: Money) {
    testkit::eventually(&format!("the payment to cover {amount:?}"), || async {
        let payment = payment_of(p, order_id).await;
        (payment.authorized_amount.as_ref() == Some(&amount)).then_some(())
    })
    .await;
}

fn line(line_id: &str, quantity: i32) -> LineChange {
    LineChange {
        line_id: line_id.into(),
        quantity,
    }
}

#[tokio::test]
async fn an_update_after_confirmation_moves_stock_money_and_the_warehouse_work_together() {
    let p = platform().await;
    stock(&p, 10).await;
    cups(&p, 5).await;
    let order = place(&p, order_request("upd-e2e", 2, "tok_visa")).await;
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    assert_eq!(available(&p).await, (10, 2, 8));

    // One tea fewer, two cups more: 25.00 → 12.50 + 17.98 = 30.48, and a new address.
    let new_address = Address {
        recipient: "Mei Lin".into(),
        line1: "Karl-Marx-Allee 2".into(),
        city: "Berlin".into(),
        region: "BE".into(),
        postal_code: "10178".into(),
        country_code: "DE".into(),
        ..Default::default()
    };
    let started = update(
        &p,
        "upd-e2e-1",
        &order.id,
        OrderUpdate {
            line_changes: vec![line("L1", 1)],
            add_lines: vec![NewOrderLine {
                sku: CUP.into(),
                quantity: 2,
                unit_price: Some(eur(CUP_PRICE)),
                ..Default::default()
            }],
            shipping_address: Some(new_address.clone()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(started.state(), OrderUpdateState::InProgress);
    assert_eq!(started.amount_to_charge, Some(eur(2 * CUP_PRICE - PRICE)));
    let record = finished(&p, &started.update_id).await;
    assert_eq!(
        record.state(),
        OrderUpdateState::Applied,
        "{}",
        record.refused_reason
    );

    // Orders: the new lines and total.
    let total = PRICE + 2 * CUP_PRICE;
    let updated = order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    assert_eq!(updated.total, Some(eur(total)));
    let lines: Vec<(&str, &str, i32)> = updated
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), l.sku.as_str(), l.quantity))
        .collect();
    assert_eq!(lines, [("L1", "TEA-001", 1), ("L2", CUP, 2)]);
    assert_eq!(
        updated.shipping_address.as_ref().unwrap().line1,
        "Karl-Marx-Allee 2"
    );
    // Inventory: the tea given back, the cups held.
    stock_settles_at(&p, BERLIN, (10, 1, 9)).await;
    assert_eq!(cups_available(&p).await, Some((5, 2, 3)));
    // Payments: the authorization covers the new total.
    payment_covers(&p, &order.id, eur(total)).await;
    // Fulfillment: the new lines and address.
    let f = pending_fulfillment(&p, &order.id, BERLIN).await;
    let mut work: Vec<(&str, i32)> = f
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), l.quantity))
        .collect();
    work.sort_unstable();
    assert_eq!(work, [("L1", 1), ("L2", 2)]);
    assert_eq!(f.ship_to.as_ref().unwrap().line1, "Karl-Marx-Allee 2");

    // The order ships as updated: the new units committed, the new total captured, the
    // parcel to the new address.
    let parcel = ship_pending(&p, &order.id, "upd-e2e").await;
    let shipment = shipment_of(&p, &parcel.shipment_id).await;
    assert_eq!(
        shipment.ship_to.as_ref().unwrap().line1,
        "Karl-Marx-Allee 2"
    );
    stock_settles_at(&p, BERLIN, (9, 0, 9)).await;
    testkit::eventually("the cups to be committed", || async {
        (cups_available(&p).await == Some((3, 0, 3))).then_some(())
    })
    .await;
    testkit::eventually("the new total to be captured", || async {
        let payment = payment_of(&p, &order.id).await;
        (payment.captured_amount == Some(eur(total)) && payment.status() == PaymentStatus::Captured)
            .then_some(())
    })
    .await;
    let delivered = order_in(&p, &order.id, OrderStatus::Delivered).await;
    assert_eq!(delivered.total, Some(eur(total)));
    assert_eq!(
        shipment_of(&p, &parcel.shipment_id).await.status(),
        TrackingStatus::Delivered
    );
}

#[tokio::test]
async fn an_update_the_warehouse_or_the_stock_cannot_take_leaves_every_service_as_it_was() {
    let p = platform().await;
    stock(&p, 10).await;
    let order = place(&p, order_request("upd-e2e-refused", 2, "tok_visa")).await;
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;

    // More tea than there is: inventory refuses, nothing else is asked.
    let short = update(
        &p,
        "upd-e2e-short",
        &order.id,
        OrderUpdate {
            line_changes: vec![line("L1", 40)],
            ..Default::default()
        },
    )
    .await;
    let record = finished(&p, &short.update_id).await;
    assert_eq!(record.state(), OrderUpdateState::Refused);
    assert!(
        record.refused_reason.starts_with("inventory refused"),
        "{}",
        record.refused_reason
    );
    assert_eq!(available(&p).await, (10, 2, 8));

    // The warehouse has waved the order: stock and payment agree to one more tea, fulfillment
    // refuses, and both are put back.
    let f = pending_fulfillment(&p, &order.id, BERLIN).await;
    FulfillmentServiceClient::new(p.service("fulfillment").channel().await)
        .create_pick_wave(CreatePickWaveRequest {
            request_id: "wave-upd-e2e".into(),
            warehouse_id: BERLIN.into(),
            fulfillment_ids: vec![f.id.clone()],
            max_fulfillments: 0,
        })
        .await
        .unwrap();
    let late = update(
        &p,
        "upd-e2e-late",
        &order.id,
        OrderUpdate {
            line_changes: vec![line("L1", 3)],
            ..Default::default()
        },
    )
    .await;
    let record = finished(&p, &late.update_id).await;
    assert_eq!(record.state(), OrderUpdateState::Refused);
    assert!(
        record.refused_reason.starts_with("fulfillment refused"),
        "{}",
        record.refused_reason
    );
    stock_settles_at(&p, BERLIN, (10, 2, 8)).await;
    payment_covers(&p, &order.id, eur(2 * PRICE)).await;
    let order_now = order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    assert_eq!(order_now.total, Some(eur(2 * PRICE)));
    assert_eq!(order_now.version, 0);
    let fulfillments = fulfillments_of(&p, &order.id).await;
    assert_eq!(fulfillments.len(), 1);
    assert_eq!(fulfillments[0].lines[0].quantity, 2);
    assert_ne!(fulfillments[0].status(), FulfillmentStatus::Cancelled);
}

#[tokio::test]
async fn a_received_bank_transfer_is_refunded_what_an_update_takes_off_with_a_credit_note() {
    let p = platform().await;
    stock(&p, 10).await;
    let mut request = order_request("upd-e2e-transfer", 2, "");
    request.payment.as_mut().unwrap().method = PaymentMethod::BankTransfer.into();
    let order = place(&p, request).await;
    order_in(&p, &order.id, OrderStatus::AwaitingPayment).await;
    let pending = testkit::eventually("the transfer instructions", || async {
        let payment = payment_if_any(&p, &order.id).await?;
        (payment.status() == PaymentStatus::Pending).then_some(payment)
    })
    .await;
    PaymentServiceClient::new(p.service("payments").channel().await)
        .confirm_bank_transfer(ConfirmBankTransferRequest {
            request_id: "upd-e2e-transfer-in".into(),
            payment_id: pending.id.clone(),
            amount_received: Some(eur(2 * PRICE)),
            bank_reference: "BANK-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;

    // More cannot be collected from a received transfer; less is refunded.
    let more = UpdateOrderRequest {
        request_id: "upd-e2e-transfer-more".into(),
        order_id: order.id.clone(),
        update: Some(OrderUpdate {
            line_changes: vec![line("L1", 3)],
            ..Default::default()
        }),
        reason: "customer called".into(),
        expected_version: None,
    };
    let refused = OrderUpdateServiceClient::new(p.service("orders").channel().await)
        .update_order(more)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    let fewer = update(
        &p,
        "upd-e2e-transfer-fewer",
        &order.id,
        OrderUpdate {
            line_changes: vec![line("L1", 1)],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(fewer.amount_to_refund, Some(eur(PRICE)));
    let record = finished(&p, &fewer.update_id).await;
    assert_eq!(
        record.state(),
        OrderUpdateState::Applied,
        "{}",
        record.refused_reason
    );
    stock_settles_at(&p, BERLIN, (10, 1, 9)).await;
    testkit::eventually("the difference to be refunded", || async {
        let payment = payment_of(&p, &order.id).await;
        (payment.refunded_amount == Some(eur(PRICE))).then_some(())
    })
    .await;
    let documents = InvoiceServiceClient::new(p.service("orders").channel().await)
        .list_invoices(ListInvoicesRequest {
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .invoices;
    let kinds: Vec<InvoiceKind> = documents.iter().map(|d| d.kind()).collect();
    assert!(kinds.contains(&InvoiceKind::Invoice), "{kinds:?}");
    let credit = documents
        .iter()
        .find(|d| d.kind() == InvoiceKind::CreditNote)
        .expect("a credit note for the refund");
    assert_eq!(credit.total.as_ref().unwrap().amount_minor.abs(), PRICE);
}
