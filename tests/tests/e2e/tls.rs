//! The platform under mutual TLS: every server requires a certificate of our CA, and the one
//! call between services (fulfillment asking shipping for a shipment when a parcel is packed)
//! presents fulfillment's own.

use contracts::orders::OrderStatus;
use testkit::TestEnv;

use crate::cycle::{order_in, order_request, place, ship_pending, stock};
use crate::platform::Platform;

#[tokio::test]
async fn a_parcel_is_packed_and_shipped_with_every_call_over_mutual_tls() {
    let env = TestEnv::with(|s| {
        s.clock = runtime::Clock::scaled(3600.0);
        s.tls = Some(testkit::tls::mutual());
    })
    .await;
    let p = Platform::start_in(env).await;
    stock(&p, 5).await;
    let order = place(&p, order_request("tls-1", 1, "tok_visa")).await;
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    // Packing calls shipping's CreateShipment: over mutual TLS, or the parcel has no label.
    let parcel = ship_pending(&p, &order.id, "tls").await;
    assert!(!parcel.tracking_number.is_empty());
    order_in(&p, &order.id, OrderStatus::Delivered).await;
}
