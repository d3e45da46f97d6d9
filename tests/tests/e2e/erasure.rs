//! Personal-data erasure across every service: an order with a distinctive name, e-mail, phone
//! and address runs the whole cycle (placed, shipped, delivered, notified, surveyed, reviewed, a
//! support case), `EraseCustomerData` is called, and once every service has recorded the erasure
//! in its `oc_erasures`, every text, JSON, text-array and bytea column of every table of every
//! service's database is scanned for those values: none is left. Totals, payments and stock are
//! the same as before.

use contracts::common::{Address, Customer};
use contracts::feedback::feedback_service_client::FeedbackServiceClient;
use contracts::feedback::{
    CaseKind, CasePriority, ModerateReviewRequest, ModerationDecision, OpenCaseRequest,
    SubmitReviewRequest, SubmitSurveyRequest,
};
use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::privacy_service_client::PrivacyServiceClient;
use contracts::orders::{
    EraseCustomerDataRequest, GetErasureRequest, GetOrderRequest, OrderStatus, OrderUpdate,
    OrderUpdateState, PlaceOrderRequest,
};

use crate::cycle::{
    SKU, available, notifications_of, order_in, order_request, payment_of, place, platform,
    ship_pending, stock,
};
use crate::paths::{accept, invited_survey};
use crate::platform::Platform;
use crate::updates::{finished, update};

const NAME: &str = "Zoe Quartzfield";
const EMAIL: &str = "zoe.quartz+erase@example.org";
const PHONE: &str = "+44 7700 900 123";
const PHONE_E164: &str = "+447700900123";
const STREET: &str = "17 Paradox Lane";
/// Where the customer moves to while the order is in the warehouse.
const NEW_STREET: &str = "23 Hollowmere Row";
const CUSTOMER: &str = "cust-erase";

fn distinctive(request_id: &str) -> PlaceOrderRequest {
    let mut request = order_request(request_id, 2, "tok_visa");
    request.customer = Some(Customer {
        id: CUSTOMER.into(),
        name: NAME.into(),
        email: EMAIL.into(),
        phone: PHONE.into(),
    });
    request.shipping_address = Some(Address {
        recipient: NAME.into(),
        line1: STREET.into(),
        line2: "Flat 4".into(),
        city: "Berlin".into(),
        region: "BE".into(),
        postal_code: "10117".into(),
        country_code: "DE".into(),
        phone: PHONE.into(),
    });
    request
}

async fn traces_everywhere(p: &Platform, needles: &[&str]) -> Vec<String> {
    let mut all = Vec::new();
    for service in &p.services {
        for t in testkit::privacy::traces(&service.pool, needles).await {
            all.push(format!("{}: {t}", service.name));
        }
    }
    all
}

#[tokio::test]
async fn an_erased_customer_leaves_no_trace_in_any_database_and_every_figure_stays() {
    let p = platform().await;
    stock(&p, 10).await;

    // The whole cycle: placed, shipped, delivered, accepted, completed.
    let order = place(&p, distinctive("erase-card")).await;
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    // The customer moves before the parcel leaves (an update after confirmation): the old
    // street stays in earlier events and copies, the new one spreads to fulfillment and
    // shipping — both must go.
    let mut moved = distinctive("erase-card").shipping_address.unwrap();
    moved.line1 = NEW_STREET.into();
    let moving = update(
        &p,
        "erase-move",
        &order.id,
        OrderUpdate {
            shipping_address: Some(moved),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        finished(&p, &moving.update_id).await.state(),
        OrderUpdateState::Applied
    );
    ship_pending(&p, &order.id, "erase").await;
    order_in(&p, &order.id, OrderStatus::Delivered).await;
    accept(&p, &order.id).await;
    let completed = order_in(&p, &order.id, OrderStatus::Completed).await;

    // The customer's voice, with their contact typed into free text.
    let survey = invited_survey(&p, &order.id).await;
    let mut feedback = FeedbackServiceClient::new(p.service("feedback").channel().await);
    feedback
        .submit_survey(SubmitSurveyRequest {
            request_id: "erase-survey".into(),
            survey_id: survey.id.clone(),
            csat_score: 5,
            nps_score: Some(10),
            comment: format!("Great. {NAME}, call me on {PHONE}"),
            tags: Vec::new(),
        })
        .await
        .unwrap();
    let review = feedback
        .submit_review(SubmitReviewRequest {
            request_id: "erase-review".into(),
            order_id: order.id.clone(),
            customer_id: CUSTOMER.into(),
            sku: SKU.into(),
            rating: 5,
            title: "Lovely tea".into(),
            body: format!("Questions? Write to {EMAIL}."),
            display_name: NAME.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    feedback
        .moderate_review(ModerateReviewRequest {
            review_id: review.id.clone(),
            decision: ModerationDecision::Publish.into(),
            moderator_id: "moderator-1".into(),
            note: String::new(),
        })
        .await
        .unwrap();
    feedback
        .open_case(OpenCaseRequest {
            request_id: "erase-case".into(),
            order_id: order.id.clone(),
            customer_id: CUSTOMER.into(),
            kind: CaseKind::Inquiry.into(),
            problem_kind: 0,
            subject: "Invoice address".into(),
            // Only values the service itself holds can be found in free text: feedback knows the
            // customer's name, e-mail and phone, not the street (messaging::privacy).
            description: format!("Please mail {EMAIL} or call {PHONE_E164}, {NAME}"),
            priority: CasePriority::Normal.into(),
            lines: vec![],
        })
        .await
        .unwrap();

    // Wait until the observers have it all: notifications sent for the order, analytics holding
    // the review's event.
    testkit::eventually("notifications for the order", || async {
        (!notifications_of(&p, &order.id).await.is_empty()).then_some(())
    })
    .await;
    let analytics = &p.service("analytics").pool;
    testkit::eventually("analytics to record the published review", || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM raw_events WHERE type_name = 'ordercycle.feedback.v1.ReviewPublished'",
        )
        .fetch_one(analytics)
        .await
        .ok()?;
        (n > 0).then_some(())
    })
    .await;

    let needles = [EMAIL, PHONE, PHONE_E164, NAME, STREET, NEW_STREET];
    let before = traces_everywhere(&p, &needles).await;
    for service in [
        "orders",
        "fulfillment",
        "shipping",
        "notifications",
        "feedback",
        "analytics",
    ] {
        assert!(
            before.iter().any(|t| t.starts_with(&format!("{service}:"))),
            "the scan finds the data in {service} before the erasure: {before:#?}"
        );
    }
    let stock_before = available(&p).await;
    let payment_before = payment_of(&p, &order.id).await;

    // The erasure, asked by e-mail in another case and by customer id.
    let mut privacy = PrivacyServiceClient::new(p.service("orders").channel().await);
    let request = EraseCustomerDataRequest {
        request_id: "erase-1".into(),
        customer_id: CUSTOMER.into(),
        email: EMAIL.to_uppercase(),
        phone: PHONE.into(),
        reason: "customer request, ticket 4711".into(),
    };
    let erasure = privacy
        .erase_customer_data(request.clone())
        .await
        .unwrap()
        .into_inner()
        .erasure
        .unwrap();
    assert_eq!(erasure.order_ids, vec![order.id.clone()]);
    assert!(erasure.email_fingerprint.starts_with("fp_"));
    // The same request again is the same erasure; the same id for another is refused.
    let again = privacy
        .erase_customer_data(request.clone())
        .await
        .unwrap()
        .into_inner()
        .erasure
        .unwrap();
    assert_eq!(again.id, erasure.id);
    let reused = privacy
        .erase_customer_data(EraseCustomerDataRequest {
            reason: "another".into(),
            ..request
        })
        .await
        .unwrap_err();
    assert_eq!(reused.code(), tonic::Code::AlreadyExists);
    let fetched = privacy
        .get_erasure(GetErasureRequest {
            id: "erase-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .erasure
        .unwrap();
    assert_eq!(fetched.id, erasure.id);

    // Every service reports the erasure done.
    let id = uuid::Uuid::parse_str(&erasure.id).unwrap();
    for service in &p.services {
        if service.name == "inventory" {
            continue; // holds no personal data, so does not subscribe
        }
        testkit::eventually(
            &format!("{} to apply the erasure", service.name),
            || async {
                let done: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM oc_erasures WHERE erasure_id = $1)",
                )
                .bind(id)
                .fetch_one(&service.pool)
                .await
                .ok()?;
                done.then_some(())
            },
        )
        .await;
    }

    let after = traces_everywhere(&p, &needles).await;
    assert!(after.is_empty(), "personal data left behind: {after:#?}");

    // Figures unchanged: the order, its money, the stock.
    let erased = OrderServiceClient::new(p.service("orders").channel().await)
        .get_order(GetOrderRequest {
            id: order.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(erased.status(), OrderStatus::Completed);
    assert_eq!(erased.total, completed.total);
    assert_eq!(erased.lines.len(), completed.lines.len());
    let customer = erased.customer.unwrap();
    assert_eq!(customer.id, CUSTOMER);
    assert!(customer.email.starts_with("erased+") && customer.email.ends_with("@invalid"));
    assert_eq!(available(&p).await, stock_before);
    let payment_after = payment_of(&p, &order.id).await;
    assert_eq!(
        payment_after.captured_amount,
        payment_before.captured_amount
    );
    assert_eq!(payment_after.status, payment_before.status);
}
