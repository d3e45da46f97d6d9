//! OrderUpdateService: preview, then update — contact, shipping address and lines — with the
//! version check, request_id idempotency, the state rules and the timeline (who and why); after
//! confirmation the update saga, with the test playing inventory, payments and fulfillment.

use contracts::common::{Address, Allocation};
use contracts::fulfillment::{FulfillmentAmendRefused, FulfillmentAmended};
use contracts::inventory::{ReservationAmendRefused, ReservationAmended, ShortLine};
use contracts::orders::order_update_service_client::OrderUpdateServiceClient;
use contracts::orders::review_service_client::ReviewServiceClient;
use contracts::orders::{
    ApproveOrderRequest, FulfillmentAmendRequested, GetOrderTimelineRequest, GetOrderUpdateRequest,
    LineChange, ListOrderUpdatesRequest, NewOrderLine, OrderContact, OrderStatus, OrderUpdate,
    OrderUpdateRecord, OrderUpdateState, OrderUpdated, PaymentAmendRequested, PaymentRequested,
    PreviewOrderUpdateRequest, PreviewOrderUpdateResponse, ReservationAmendRequested,
    ReservationReleaseRequested, ReservationRequested, UpdateOrderRequest, UpdateOrderResponse,
};
use contracts::payments::PaymentAmended;
use prost::Message;
use tonic::transport::Channel as GrpcChannel;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, WAREHOUSE, eur, fulfillment_id, money, valid_request};

async fn client(app: &TestApp) -> OrderUpdateServiceClient<GrpcChannel> {
    OrderUpdateServiceClient::new(app.orders.channel().await)
}

async fn preview(
    app: &TestApp,
    order_id: &str,
    update: OrderUpdate,
) -> Result<PreviewOrderUpdateResponse, Status> {
    client(app)
        .await
        .preview_order_update(PreviewOrderUpdateRequest {
            order_id: order_id.into(),
            update: Some(update),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn update(
    app: &TestApp,
    request_id: &str,
    order_id: &str,
    update: OrderUpdate,
    expected_version: Option<i64>,
) -> Result<UpdateOrderResponse, Status> {
    client(app)
        .await
        .update_order(UpdateOrderRequest {
            request_id: request_id.into(),
            order_id: order_id.into(),
            update: Some(update),
            reason: "customer called".into(),
            expected_version,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn outbox<E: Message + Default>(app: &TestApp, subject: &str) -> Vec<E> {
    let payloads: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT payload FROM oc_outbox WHERE subject = $1 ORDER BY seq")
            .bind(subject)
            .fetch_all(&app.orders.pool)
            .await
            .unwrap();
    payloads
        .iter()
        .map(|p| E::decode(p.as_slice()).unwrap())
        .collect()
}

fn fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect()
}

/// L1 down from 2 to 1 TEA-001, L2 (CUP-002) cancelled, a new line of 3 × SPOON-003 at 2.50.
fn line_edit() -> OrderUpdate {
    OrderUpdate {
        line_changes: vec![
            LineChange {
                line_id: "L1".into(),
                quantity: 1,
            },
            LineChange {
                line_id: "L2".into(),
                quantity: 0,
            },
        ],
        add_lines: vec![NewOrderLine {
            sku: "SPOON-003".into(),
            quantity: 3,
            unit_price: Some(eur(250)),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn lines_of_a_held_order_change_after_a_preview_and_its_stock_and_payment_follow() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("upd-held")).await;
    app.assess_risk(&order, 90, &["VELOCITY"]).await;
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::OnHold);

    // 33.99 → 12.50 + 7.50 = 20.00: 13.99 back; one TEA and one CUP released, 3 spoons taken.
    let p = preview(&app, &order.id, line_edit()).await.unwrap();
    assert_eq!(p.version, 0);
    assert_eq!(p.total_before, Some(eur(3399)));
    assert_eq!(p.total_after, Some(eur(2000)));
    assert_eq!(p.amount_to_refund, Some(eur(1399)));
    assert_eq!(p.amount_to_charge, Some(eur(0)));
    let moves: Vec<(&str, i32)> = p
        .stock_changes
        .iter()
        .map(|s| (s.line_id.as_str(), s.quantity))
        .collect();
    assert_eq!(moves, [("L1", -1), ("L2", -1), ("L3", 3)]);
    let lines: Vec<(&str, i32)> = p
        .order
        .as_ref()
        .unwrap()
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), l.quantity))
        .collect();
    assert_eq!(lines, [("L1", 1), ("L3", 3)]);
    // A preview changes nothing.
    assert_eq!(app.order(&order.id).await.total, Some(eur(3399)));

    let done = update(&app, "upd-1", &order.id, line_edit(), Some(p.version))
        .await
        .unwrap();
    let updated = done.order.clone().unwrap();
    assert_eq!(updated.version, 1);
    assert_eq!(updated.total, Some(eur(2000)));
    assert_eq!(money(&updated.lines[1].charged).1, 750);
    assert_eq!(done.amount_to_refund, Some(eur(1399)));
    // The same request again is the same answer; the same id for another update is refused.
    let again = update(&app, "upd-1", &order.id, line_edit(), Some(p.version))
        .await
        .unwrap();
    assert_eq!(again.order.unwrap().version, 1);
    let mut other = line_edit();
    other.line_changes[0].quantity = 2;
    let err = update(&app, "upd-1", &order.id, other.clone(), Some(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    // A preview made before the update is stale now.
    let err = update(&app, "upd-2", &order.id, other, Some(p.version))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("version 1"), "{}", err.message());

    // Who and why are on the timeline.
    let timeline = app
        .client()
        .await
        .get_order_timeline(GetOrderTimelineRequest {
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let entry = timeline
        .iter()
        .find(|e| e.kind == "orders.order.updated")
        .expect("the update on the timeline");
    assert_eq!(entry.reason, "customer called");
    assert!(!entry.actor_id.is_empty());
    assert!(entry.summary.contains("L2 cancelled"), "{}", entry.summary);
    assert!(entry.summary.contains("L3 added"), "{}", entry.summary);

    // Approved, the order reserves its new lines and asks for its new total.
    ReviewServiceClient::new(app.orders.channel().await)
        .approve_order(ApproveOrderRequest {
            order_id: order.id.clone(),
            reviewer_id: "rev-anna".into(),
            reason: "checked".into(),
        })
        .await
        .unwrap();
    let reservations: Vec<ReservationRequested> =
        outbox(&app, "orders.reservation.requested").await;
    let reserved: Vec<(&str, &str, i32)> = reservations[0]
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), l.sku.as_str(), l.quantity))
        .collect();
    assert_eq!(reserved, [("L1", "TEA-001", 1), ("L3", "SPOON-003", 3)]);
    let order = app.order(&order.id).await;
    app.reserve_stock(&order).await;
    let payments: Vec<PaymentRequested> = outbox(&app, "orders.payment.requested").await;
    assert_eq!(payments[0].amount, Some(eur(2000)));
}

/// GetOrderUpdate.
async fn record(app: &TestApp, update_id: &str) -> OrderUpdateRecord {
    client(app)
        .await
        .get_order_update(GetOrderUpdateRequest {
            update_id: update_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .update
        .unwrap()
}

fn units(list: &[(&str, &str, i32)]) -> Vec<Allocation> {
    list.iter()
        .map(|(line, sku, quantity)| Allocation {
            line_id: (*line).into(),
            sku: (*sku).into(),
            warehouse_id: WAREHOUSE.into(),
            quantity: *quantity,
            bins: Vec::new(),
        })
        .collect()
}

fn held(allocations: &[Allocation]) -> Vec<(String, i32)> {
    let mut list: Vec<(String, i32)> = allocations
        .iter()
        .map(|a| (a.line_id.clone(), a.quantity))
        .collect();
    list.sort();
    list
}

#[tokio::test]
async fn a_confirmed_order_changes_its_lines_once_inventory_and_fulfillment_agreed() {
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("upd-confirmed")).await;
    app.fulfillment_created(&order).await;
    // A new contact: fulfillment keeps a copy (packing slips, pickup), so it is asked first.
    let contact = OrderUpdate {
        contact: Some(OrderContact {
            name: "Mei Lin-Park".into(),
            email: "mei.park@example.com".into(),
            phone: "+49 30 7654321".into(),
        }),
        ..Default::default()
    };
    let done = update(&app, "upd-contact", &order.id, contact, None)
        .await
        .unwrap();
    assert_eq!(done.state(), OrderUpdateState::InProgress);
    let asked: Vec<FulfillmentAmendRequested> =
        outbox(&app, "orders.fulfillment.amend_requested").await;
    assert_eq!(
        asked[0].customer.as_ref().unwrap().email,
        "mei.park@example.com"
    );
    assert_eq!(
        held(&asked[0].allocations),
        [("L1".into(), 2), ("L2".into(), 1)]
    );
    app.publish(
        "fulfillment",
        &FulfillmentAmended {
            order_id: order.id.clone(),
            update_id: done.update_id.clone(),
            fulfillment_ids: vec![fulfillment_id(&order)],
            amended_at: None,
        },
    )
    .await;
    assert_eq!(
        record(&app, &done.update_id).await.state(),
        OrderUpdateState::Applied
    );
    assert_eq!(
        app.order(&order.id).await.customer.unwrap().email,
        "mei.park@example.com"
    );
    assert_eq!(outbox_count::<ReservationReleaseRequested>(&app).await, 0);
    assert_eq!(outbox_count::<PaymentAmendRequested>(&app).await, 0);

    // L1 2 → 1, L2 cancelled, 3 × SPOON-003 added: 33.99 → 20.00.
    let started = update(&app, "upd-lines", &order.id, line_edit(), None)
        .await
        .unwrap();
    assert_eq!(started.state(), OrderUpdateState::InProgress);
    assert_eq!(started.amount_to_refund, Some(eur(1399)));
    assert_eq!(
        started.order.unwrap().total,
        Some(eur(3399)),
        "not applied yet"
    );
    let amend: Vec<ReservationAmendRequested> =
        outbox(&app, "orders.reservation.amend_requested").await;
    assert_eq!(amend.len(), 1);
    assert_eq!(amend[0].update_id, started.update_id);
    let asked: Vec<(&str, &str, i32)> = amend[0]
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), l.sku.as_str(), l.quantity))
        .collect();
    assert_eq!(asked, [("L3", "SPOON-003", 3)]);
    // One update at a time.
    let busy = update(&app, "upd-busy", &order.id, line_edit(), None)
        .await
        .unwrap_err();
    assert_eq!(busy.code(), Code::FailedPrecondition, "{busy:?}");
    assert!(
        busy.message().contains("still being carried out"),
        "{}",
        busy.message()
    );

    app.publish(
        "inventory",
        &ReservationAmended {
            reservation_id: amend[0].reservation_id.clone(),
            order_id: order.id.clone(),
            update_id: started.update_id.clone(),
            allocations: units(&[("L3", "SPOON-003", 3)]),
            amended_at: None,
        },
    )
    .await;
    // The total goes down: no payment step before fulfillment.
    assert_eq!(outbox_count::<PaymentAmendRequested>(&app).await, 0);
    let asked: Vec<FulfillmentAmendRequested> =
        outbox(&app, "orders.fulfillment.amend_requested").await;
    assert_eq!(asked.len(), 2);
    let asked = &asked[1..];
    assert_eq!(
        held(&asked[0].allocations),
        [("L1".into(), 1), ("L3".into(), 3)]
    );
    let lines: Vec<(&str, i32)> = asked[0]
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), l.quantity))
        .collect();
    assert_eq!(lines, [("L1", 1), ("L3", 3)]);
    assert_eq!(
        asked[0].customer.as_ref().unwrap().email,
        "mei.park@example.com"
    );
    assert_eq!(
        record(&app, &started.update_id).await.state(),
        OrderUpdateState::InProgress
    );

    let amended = FulfillmentAmended {
        order_id: order.id.clone(),
        update_id: started.update_id.clone(),
        fulfillment_ids: vec![fulfillment_id(&order)],
        amended_at: None,
    };
    app.publish("fulfillment", &amended).await;
    let after = app.order(&order.id).await;
    assert_eq!(after.total, Some(eur(2000)));
    let lines: Vec<(&str, i32)> = after
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), l.quantity))
        .collect();
    assert_eq!(lines, [("L1", 1), ("L3", 3)]);
    assert_eq!(after.version, 2, "contact, then lines");
    let applied = record(&app, &started.update_id).await;
    assert_eq!(applied.state(), OrderUpdateState::Applied);
    assert!(applied.finished_at.is_some());
    // What the order no longer needs goes back: exactly the units released, the difference
    // no longer authorized.
    let released: Vec<ReservationReleaseRequested> =
        outbox(&app, "orders.reservation.release_requested").await;
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].update_id, started.update_id);
    assert!(released[0].lines.is_empty());
    assert_eq!(
        held(&released[0].allocations),
        [("L1".into(), 1), ("L2".into(), 1)]
    );
    let payment: Vec<PaymentAmendRequested> = outbox(&app, "orders.payment.amend_requested").await;
    assert_eq!(payment.len(), 1);
    assert_eq!(payment[0].amount, Some(eur(2000)));
    assert_eq!(payment[0].previous_amount, Some(eur(3399)));
    assert!(!payment[0].compensation);
    let updated: Vec<OrderUpdated> = outbox(&app, "orders.order.updated").await;
    assert_eq!(updated.len(), 2, "the contact change and the lines");
    assert!(updated[1].lines_changed && !updated[1].address_changed);
    assert_eq!(updated[1].total_before, Some(eur(3399)));
    assert_eq!(updated[1].total, Some(eur(2000)));
    assert_eq!(updated[1].version, 2);

    // The same answer again (another event id) changes nothing.
    app.publish("fulfillment", &amended).await;
    assert_eq!(outbox_count::<ReservationReleaseRequested>(&app).await, 1);
    assert_eq!(app.order(&order.id).await.version, 2);
    let kinds = timeline_kinds(&app, &order.id).await;
    for kind in ["orders.update.requested", "orders.update.applied"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let listed = client(&app)
        .await
        .list_order_updates(ListOrderUpdatesRequest {
            order_id: order.order_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .updates;
    let states: Vec<OrderUpdateState> = listed.iter().map(|u| u.state()).collect();
    assert_eq!(
        states,
        [OrderUpdateState::Applied, OrderUpdateState::Applied]
    );
}

#[tokio::test]
async fn a_refused_update_puts_back_what_the_earlier_steps_did_and_leaves_the_order_alone() {
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("upd-refused")).await;
    app.fulfillment_created(&order).await;
    let more = OrderUpdate {
        line_changes: vec![LineChange {
            line_id: "L1".into(),
            quantity: 4,
        }],
        ..Default::default()
    };
    // Not enough stock: refused by inventory, nothing to put back.
    let short = update(&app, "upd-short", &order.id, more.clone(), None)
        .await
        .unwrap();
    app.publish(
        "inventory",
        &ReservationAmendRefused {
            reservation_id: app.reservation_id(&order.id).await,
            order_id: order.id.clone(),
            update_id: short.update_id.clone(),
            short_lines: vec![ShortLine {
                line_id: "L1".into(),
                sku: "TEA-001".into(),
                requested_quantity: 2,
                available_quantity: 1,
            }],
            reason: "not enough stock".into(),
            refused_at: None,
        },
    )
    .await;
    let refused = record(&app, &short.update_id).await;
    assert_eq!(refused.state(), OrderUpdateState::Refused);
    assert!(
        refused.refused_reason.contains("inventory refused")
            && refused.refused_reason.contains("2 wanted, 1 available"),
        "{}",
        refused.refused_reason
    );
    assert_eq!(outbox_count::<ReservationReleaseRequested>(&app).await, 0);

    // Stock and payment agree, fulfillment has started picking: both are put back.
    let late = update(&app, "upd-late", &order.id, more, None)
        .await
        .unwrap();
    assert_eq!(late.amount_to_charge, Some(eur(2500)));
    app.publish(
        "inventory",
        &ReservationAmended {
            reservation_id: app.reservation_id(&order.id).await,
            order_id: order.id.clone(),
            update_id: late.update_id.clone(),
            allocations: units(&[("L1", "TEA-001", 2)]),
            amended_at: None,
        },
    )
    .await;
    let asked: Vec<PaymentAmendRequested> = outbox(&app, "orders.payment.amend_requested").await;
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].amount, Some(eur(5899)));
    assert_eq!(outbox_count::<FulfillmentAmendRequested>(&app).await, 0);
    app.publish(
        "payments",
        &PaymentAmended {
            payment_id: asked[0].payment_id.clone(),
            order_id: order.id.clone(),
            update_id: late.update_id.clone(),
            amount: Some(eur(5899)),
            previous_amount: Some(eur(3399)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(outbox_count::<FulfillmentAmendRequested>(&app).await, 1);
    app.publish(
        "fulfillment",
        &FulfillmentAmendRefused {
            order_id: order.id.clone(),
            update_id: late.update_id.clone(),
            reason: "picking has started".into(),
            refused_at: None,
        },
    )
    .await;
    let refused = record(&app, &late.update_id).await;
    assert_eq!(refused.state(), OrderUpdateState::Refused);
    assert_eq!(
        refused.refused_reason,
        "fulfillment refused: picking has started"
    );
    let released: Vec<ReservationReleaseRequested> =
        outbox(&app, "orders.reservation.release_requested").await;
    assert_eq!(released.len(), 1);
    assert_eq!(held(&released[0].allocations), [("L1".into(), 2)]);
    let payment: Vec<PaymentAmendRequested> = outbox(&app, "orders.payment.amend_requested").await;
    assert_eq!(payment.len(), 2);
    assert!(payment[1].compensation);
    assert_eq!(payment[1].amount, Some(eur(3399)));
    let after = app.order(&order.id).await;
    assert_eq!(after.total, Some(eur(3399)));
    assert_eq!(after.version, 0);
    assert_eq!(outbox_count::<OrderUpdated>(&app).await, 0);
    // The compensation's answer changes nothing more.
    app.publish(
        "payments",
        &PaymentAmended {
            payment_id: asked[0].payment_id.clone(),
            order_id: order.id.clone(),
            update_id: late.update_id.clone(),
            amount: Some(eur(3399)),
            previous_amount: Some(eur(5899)),
            compensation: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(outbox_count::<PaymentAmendRequested>(&app).await, 2);
    assert_eq!(
        record(&app, &late.update_id).await.state(),
        OrderUpdateState::Refused
    );
}

async fn outbox_count<E: contracts::Event>(app: &TestApp) -> i64 {
    app.outbox_count(E::SUBJECT).await
}

async fn timeline_kinds(app: &TestApp, order_id: &str) -> Vec<String> {
    app.client()
        .await
        .get_order_timeline(GetOrderTimelineRequest {
            order_id: order_id.into(),
            page_size: 200,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[tokio::test]
async fn an_address_change_before_stock_is_applied_and_a_bad_update_names_its_fields() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("upd-address")).await;
    let address = OrderUpdate {
        shipping_address: Some(Address {
            recipient: "Mei Lin".into(),
            line1: "Karl-Marx-Allee 2".into(),
            city: "Berlin".into(),
            postal_code: "10243".into(),
            country_code: "DE".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let done = update(&app, "upd-addr", &order.id, address, None)
        .await
        .unwrap();
    let o = done.order.unwrap();
    assert_eq!(o.shipping_address.unwrap().line1, "Karl-Marx-Allee 2");
    assert_eq!(o.total, Some(eur(3399)));

    let err = client(&app)
        .await
        .update_order(UpdateOrderRequest {
            request_id: String::new(),
            order_id: order.id.clone(),
            update: Some(OrderUpdate {
                line_changes: vec![LineChange {
                    line_id: "L9".into(),
                    quantity: 1,
                }],
                add_lines: vec![NewOrderLine {
                    sku: "bad sku".into(),
                    quantity: 0,
                    unit_price: Some(eur(100)),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            reason: String::new(),
            expected_version: None,
        })
        .await
        .unwrap_err();
    let f = fields(&err);
    for field in [
        "request_id",
        "reason",
        "update.add_lines[0].sku",
        "update.add_lines[0].quantity",
    ] {
        assert!(f.contains(&field.to_owned()), "{field} missing from {f:?}");
    }
    let err = preview(&app, &order.id, line_edit_unknown())
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["update.line_changes[0].line_id"]);
    let err = preview(&app, &order.id, OrderUpdate::default())
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["update"]);
}

fn line_edit_unknown() -> OrderUpdate {
    OrderUpdate {
        line_changes: vec![LineChange {
            line_id: "L9".into(),
            quantity: 1,
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn once_fulfillment_took_an_update_a_parcel_leaving_meanwhile_does_not_undo_it() {
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("upd-pivot")).await;
    app.fulfillment_created(&order).await;
    let fewer = OrderUpdate {
        line_changes: vec![LineChange {
            line_id: "L2".into(),
            quantity: 0,
        }],
        ..Default::default()
    };
    let started = update(&app, "upd-pivot-1", &order.id, fewer, None)
        .await
        .unwrap();
    // Only fulfillment is asked (no units added, the total goes down).
    assert_eq!(outbox_count::<ReservationAmendRequested>(&app).await, 0);
    assert_eq!(outbox_count::<FulfillmentAmendRequested>(&app).await, 1);
    // The warehouse amended, then handed the tea over before orders heard of the amendment.
    app.hand_over(&order, "shp-pivot", &[("L1", 2)]).await;
    app.publish(
        "fulfillment",
        &FulfillmentAmended {
            order_id: order.id.clone(),
            update_id: started.update_id.clone(),
            fulfillment_ids: vec![fulfillment_id(&order)],
            amended_at: None,
        },
    )
    .await;
    assert_eq!(
        record(&app, &started.update_id).await.state(),
        OrderUpdateState::Applied
    );
    let after = app.order(&order.id).await;
    let lines: Vec<&str> = after.lines.iter().map(|l| l.line_id.as_str()).collect();
    assert_eq!(lines, ["L1"]);
    assert_eq!(after.total, Some(eur(2500)));
}

#[tokio::test]
async fn a_request_that_gets_no_answer_is_asked_again_and_the_first_answer_moves_the_update_on() {
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("upd-retry")).await;
    app.fulfillment_created(&order).await;
    let more = OrderUpdate {
        line_changes: vec![LineChange {
            line_id: "L1".into(),
            quantity: 3,
        }],
        ..Default::default()
    };
    let started = update(&app, "upd-retry-1", &order.id, more, None)
        .await
        .unwrap();
    assert_eq!(outbox_count::<ReservationAmendRequested>(&app).await, 1);
    // The request was lost on its way (say, dead-lettered): its retry timer comes due.
    sqlx::query(
        "UPDATE oc_timers SET fire_at = now() - interval '1 second'
         WHERE kind = 'orders.update_retry' AND fired_at IS NULL",
    )
    .execute(&app.orders.pool)
    .await
    .unwrap();
    testkit::eventually("the request to be sent again", || async {
        (outbox_count::<ReservationAmendRequested>(&app).await == 2).then_some(())
    })
    .await;
    let asked: Vec<ReservationAmendRequested> =
        outbox(&app, "orders.reservation.amend_requested").await;
    // The same request again (only its time differs).
    assert_eq!(
        asked[0],
        ReservationAmendRequested {
            requested_at: asked[0].requested_at,
            ..asked[1].clone()
        }
    );
    // Inventory answers (the same answer to both); the update moves on once.
    let answer = ReservationAmended {
        reservation_id: asked[0].reservation_id.clone(),
        order_id: order.id.clone(),
        update_id: started.update_id.clone(),
        allocations: units(&[("L1", "TEA-001", 1)]),
        amended_at: None,
    };
    app.publish("inventory", &answer).await;
    app.publish("inventory", &answer).await;
    assert_eq!(outbox_count::<PaymentAmendRequested>(&app).await, 1);
    assert_eq!(
        record(&app, &started.update_id).await.state(),
        OrderUpdateState::InProgress
    );
    // The first retry timer, due again, is moot: the update is at the payment step now.
    sqlx::query(
        "UPDATE oc_timers SET fire_at = now() - interval '1 second', fired_at = NULL
         WHERE kind = 'orders.update_retry' AND key LIKE '%:1'",
    )
    .execute(&app.orders.pool)
    .await
    .unwrap();
    testkit::eventually("the stale timer to fire", || async {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM oc_timers WHERE kind = 'orders.update_retry'
             AND key LIKE '%:1' AND fired_at IS NULL",
        )
        .fetch_one(&app.orders.pool)
        .await
        .unwrap();
        (pending == 0).then_some(())
    })
    .await;
    assert_eq!(outbox_count::<ReservationAmendRequested>(&app).await, 2);
    assert_eq!(outbox_count::<PaymentAmendRequested>(&app).await, 1);
}
