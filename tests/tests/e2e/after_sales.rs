//! After the parcel leaves: a cash-on-delivery parcel refused at the door comes back and
//! cancels the order; an exchange and a repair ship their replacement and commit its stock.
//! Every service involved is asked for its final state.

use contracts::common::{PaymentMethod, ReturnReason};
use contracts::fulfillment::fulfillment_service_client::FulfillmentServiceClient;
use contracts::fulfillment::{
    InspectedLine, InspectionGrade, ReceiveReturnRequest, RecordInspectionRequest,
};
use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::return_service_client::ReturnServiceClient;
use contracts::orders::{
    ApproveReturnRequest, CancelReason, ConfirmReceiptRequest, ExchangeLine, GetReturnRequest,
    ListReturnsRequest, NewReturnLine, OrderReturnStatus, OrderStatus, RequestReturnRequest,
    Return, ReturnOutcome, ReturnResolution, ReturnStatus,
};
use contracts::payments::PaymentStatus;
use contracts::shipping::shipping_service_client::ShippingServiceClient;
use contracts::shipping::{GetShipmentRequest, TrackingStatus};

use crate::cycle::{
    PRICE, SKU, available, eur, order_in, order_request, payment_of, place, platform, ship_pending,
    stock,
};
use crate::platform::Platform;

/// Waits until the RMA is in `status`.
pub(crate) async fn rma_in(p: &Platform, id: &str, status: ReturnStatus) -> Return {
    let returns = ReturnServiceClient::new(p.service("orders").channel().await);
    testkit::eventually(&format!("return {id} to be {status:?}"), || {
        let mut returns = returns.clone();
        let id = id.to_owned();
        async move {
            let rma = returns
                .get_return(GetReturnRequest { id })
                .await
                .ok()?
                .into_inner()
                .rma?;
            (rma.status() == status).then_some(rma)
        }
    })
    .await
}

/// The warehouse receives the returned units of `rma` and grades them all `grade`.
pub(crate) async fn receive_and_inspect(p: &Platform, rma: &Return, grade: InspectionGrade) {
    let mut fulfillment = FulfillmentServiceClient::new(p.service("fulfillment").channel().await);
    fulfillment
        .receive_return(ReceiveReturnRequest {
            request_id: format!("receive-{}", rma.id),
            return_id: rma.id.clone(),
            order_id: rma.order_id.clone(),
            warehouse_id: "WH-BER".into(),
            tracking_number: rma.return_tracking_number.clone(),
            received_by: "returns-desk".into(),
            note: String::new(),
        })
        .await
        .unwrap();
    fulfillment
        .record_inspection(RecordInspectionRequest {
            request_id: format!("inspect-{}", rma.id),
            return_id: rma.id.clone(),
            lines: rma
                .lines
                .iter()
                .map(|l| InspectedLine {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                    grade: grade.into(),
                    note: String::new(),
                })
                .collect(),
            inspected_by: "inspector-1".into(),
            note: String::new(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_cash_on_delivery_parcel_refused_at_the_door_comes_back_and_cancels_the_order() {
    let p = platform().await;
    stock(&p, 10).await;
    let mut request = order_request("cod-refused", 2, "");
    request.payment.as_mut().unwrap().method = PaymentMethod::CashOnDelivery.into();
    // The simulated courier meets a recipient who will not pay.
    request.shipping_address.as_mut().unwrap().line2 = "[sim:refuse]".into();
    let order = place(&p, request).await;
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    let parcel = ship_pending(&p, &order.id, "cod-refused").await;

    let cancelled = order_in(&p, &order.id, OrderStatus::Cancelled).await;
    assert_eq!(cancelled.cancel_reason(), CancelReason::DeliveryRefused);
    assert_eq!(cancelled.return_status(), OrderReturnStatus::InProgress);
    // Nothing was collected; the accepted cash on delivery is voided.
    let payment = testkit::eventually("the cash on delivery to be voided", || async {
        let payment = payment_of(&p, &order.id).await;
        (payment.status() == PaymentStatus::Voided).then_some(payment)
    })
    .await;
    assert_eq!(payment.captured_amount.map_or(0, |m| m.amount_minor), 0);
    assert_eq!(payment.refunded_amount.map_or(0, |m| m.amount_minor), 0);
    // The stock left with the parcel and is not back yet.
    assert_eq!(available(&p).await, (8, 0, 8));
    // The carrier's last scan follows the refusal.
    let shipping = ShippingServiceClient::new(p.service("shipping").channel().await);
    testkit::eventually("the parcel to be back at the sender", || {
        let mut shipping = shipping.clone();
        let id = parcel.shipment_id.clone();
        async move {
            let shipment = shipping
                .get_shipment(GetShipmentRequest { id })
                .await
                .ok()?
                .into_inner()
                .shipment?;
            (shipment.status() == TrackingStatus::ReturnedToSender).then_some(())
        }
    })
    .await;

    // Orders opened the parcel's RMA itself, approved, with the carrier's shipment.
    let mut returns = ReturnServiceClient::new(p.service("orders").channel().await);
    let rmas = returns
        .list_returns(ListReturnsRequest {
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .returns;
    assert_eq!(rmas.len(), 1);
    let rma = &rmas[0];
    assert_eq!(rma.status(), ReturnStatus::Approved);
    assert_eq!(rma.return_shipment_id, parcel.shipment_id);
    assert_eq!(rma.return_warehouse_id, "WH-BER");
    assert_eq!(rma.lines.len(), 1);
    assert_eq!(rma.lines[0].quantity, 2);
    assert_eq!(rma.lines[0].reason(), ReturnReason::CashOnDeliveryRefused);

    // Back at the warehouse, intact: restocked, nothing to refund.
    receive_and_inspect(&p, rma, InspectionGrade::Resellable).await;
    let closed = rma_in(&p, &rma.id, ReturnStatus::Closed).await;
    assert_eq!(closed.outcome(), ReturnOutcome::NoRefund);
    assert_eq!(closed.lines[0].resellable_quantity, 2);
    testkit::eventually("the refused units to be back on the shelf", || async {
        (available(&p).await == (10, 0, 10)).then_some(())
    })
    .await;
    let order = order_in(&p, &order.id, OrderStatus::Cancelled).await;
    assert_eq!(order.return_status(), OrderReturnStatus::Returned);
    assert_eq!(
        payment_of(&p, &order.id).await.status(),
        PaymentStatus::Voided
    );
}

/// A delivered, completed card order of one unit whose unit comes back defective and is
/// replaced under `resolution`; returns the closed RMA after the replacement left.
async fn replaced(resolution: ReturnResolution, tag: &str) -> (Platform, Return) {
    let p = platform().await;
    stock(&p, 10).await;
    let order = place(&p, order_request(tag, 1, "tok_visa")).await;
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    ship_pending(&p, &order.id, tag).await;
    order_in(&p, &order.id, OrderStatus::Delivered).await;
    OrderServiceClient::new(p.service("orders").channel().await)
        .confirm_receipt(ConfirmReceiptRequest {
            order_id: order.id.clone(),
        })
        .await
        .unwrap();
    order_in(&p, &order.id, OrderStatus::Completed).await;
    assert_eq!(available(&p).await, (9, 0, 9));

    let mut returns = ReturnServiceClient::new(p.service("orders").channel().await);
    let mut rma = returns
        .request_return(RequestReturnRequest {
            request_id: format!("{tag}-return"),
            order_id: order.id.clone(),
            lines: vec![NewReturnLine {
                line_id: "L1".into(),
                quantity: 1,
                reason: ReturnReason::Defective.into(),
                note: "does not heat".into(),
            }],
            resolution: resolution.into(),
            // A repair names no replacement: it is the same SKU by definition.
            exchange_lines: if resolution == ReturnResolution::Exchange {
                vec![ExchangeLine {
                    line_id: "L1".into(),
                    sku: SKU.into(),
                    quantity: 1,
                }]
            } else {
                Vec::new()
            },
            customer_note: String::new(),
            pickup_address: None,
        })
        .await
        .unwrap()
        .into_inner()
        .rma
        .unwrap();
    if rma.status() == ReturnStatus::Requested {
        rma = returns
            .approve_return(ApproveReturnRequest {
                return_id: rma.id.clone(),
                reviewer_id: "support-1".into(),
                reason: "defective".into(),
                return_warehouse_id: "WH-BER".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .rma
            .unwrap();
    }
    assert_eq!(rma.status(), ReturnStatus::Approved);
    receive_and_inspect(&p, &rma, InspectionGrade::Defective).await;
    let closed = rma_in(&p, &rma.id, ReturnStatus::Closed).await;
    assert_eq!(closed.resolution(), resolution);
    assert_eq!(closed.lines[0].resellable_quantity, 0);
    assert!(
        closed.refund_total.is_none(),
        "a replacement refunds nothing"
    );

    // The replacement is a fulfilment of its own: worked, handed over, its stock committed.
    ship_pending(&p, &order.id, &format!("{tag}-replacement")).await;
    testkit::eventually("the replacement's stock to be committed", || async {
        (available(&p).await == (8, 0, 8)).then_some(())
    })
    .await;
    // The order keeps its state and its money: the replacement costs nothing.
    let order = order_in(&p, &order.id, OrderStatus::Completed).await;
    assert_eq!(order.return_status(), OrderReturnStatus::Exchanged);
    let payment = payment_of(&p, &order.id).await;
    assert_eq!(payment.captured_amount, Some(eur(PRICE)));
    assert_eq!(payment.refunded_amount.map_or(0, |m| m.amount_minor), 0);
    (p, closed)
}

#[tokio::test]
async fn an_exchange_ships_its_replacement_and_commits_the_replacement_stock() {
    let (_p, rma) = Box::pin(replaced(ReturnResolution::Exchange, "exchange")).await;
    assert_eq!(rma.outcome(), ReturnOutcome::Exchanged);
    assert_eq!(rma.exchange_lines.len(), 1);
    assert_eq!(rma.exchange_lines[0].sku, SKU);
}

#[tokio::test]
async fn a_repair_sends_back_a_unit_of_the_same_sku() {
    let (_p, rma) = Box::pin(replaced(ReturnResolution::Repair, "repair")).await;
    assert_eq!(rma.outcome(), ReturnOutcome::Repaired);
    assert_eq!(rma.exchange_lines.len(), 1);
    assert_eq!(rma.exchange_lines[0].sku, SKU);
    assert_eq!(rma.exchange_lines[0].quantity, 1);
}
