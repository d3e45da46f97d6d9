use contracts::common::FulfillmentMode;
use contracts::fulfillment::{
    ConfirmPickupRequest, FulfillmentCreated, FulfillmentPickedUp, FulfillmentReadyForPickup,
    FulfillmentStatus, MarkReadyForPickupRequest,
};
use tonic::Code;

use crate::helpers::{Warehouse, eur, line, request};

#[tokio::test]
async fn a_store_pickup_with_cash_is_collected_with_its_code() {
    let w = Warehouse::start().await;
    let mut created = w.env.tap("fulfillment.fulfillment.created").await;
    let mut ready = w.env.tap("fulfillment.fulfillment.ready_for_pickup").await;
    let mut collected = w.env.tap("fulfillment.fulfillment.picked_up").await;
    let order_id = uuid::Uuid::new_v4().to_string();
    let mut event = request(&order_id, vec![line("L1", "TEA-001", 2)], vec![]);
    event.fulfillment_mode = FulfillmentMode::StorePickup.into();
    event.pickup_store_id = "STORE-MITTE".into();
    event.shipping_address = None;
    event.collect_cash_on_delivery = true;
    w.publish(&event).await;
    let f: FulfillmentCreated = created.next().await;
    assert_eq!(f.warehouse_id, "STORE-MITTE");

    let mut client = w.client().await;
    client
        .mark_ready_for_pickup(MarkReadyForPickupRequest {
            fulfillment_id: f.fulfillment_id.clone(),
            shelf_location: "S-3".into(),
            staff_id: "clerk-1".into(),
        })
        .await
        .unwrap();
    let notice: FulfillmentReadyForPickup = ready.next().await;
    assert_eq!(notice.pickup_code.len(), 6);
    assert_eq!(notice.cash_due, Some(eur(2500)));

    let attempt = |code: &str, cash: i64| ConfirmPickupRequest {
        request_id: format!("pickup-{code}-{cash}"),
        fulfillment_id: f.fulfillment_id.clone(),
        pickup_code: code.into(),
        collected_by: "Mei Lin".into(),
        cash_collected: Some(eur(cash)),
        staff_id: "clerk-1".into(),
    };
    let wrong_code = if notice.pickup_code == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        client
            .confirm_pickup(attempt(wrong_code, 2500))
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
    assert_eq!(
        client
            .confirm_pickup(attempt(&notice.pickup_code, 2000))
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument,
        "the full amount due must be collected"
    );
    let done = client
        .confirm_pickup(attempt(&notice.pickup_code, 2500))
        .await
        .unwrap()
        .into_inner()
        .fulfillment
        .unwrap();
    assert_eq!(done.status(), FulfillmentStatus::PickedUp);
    let event: FulfillmentPickedUp = collected.next().await;
    assert_eq!(event.cash_collected, Some(eur(2500)));
    assert_eq!(event.lines.len(), 1);
}
