//! CustomerDataErased: the contact kept for a delivered order and what the customer typed into
//! reviews and cases are pseudonymised, once, however often the erasure arrives.

use contracts::feedback::{CaseKind, CasePriority, OpenCaseRequest, SubmitReviewRequest};

use crate::helpers::{TestApp, delivered};

#[tokio::test]
async fn an_erasure_pseudonymises_contacts_and_free_text_once_and_keeps_the_ratings() {
    let app = TestApp::start().await;
    let order = delivered("cust-privacy", &["TEA-001"]);
    app.publish(&order).await;
    app.wait_delivered(&order.order_id).await;
    let mut client = app.client().await;
    client
        .submit_review(SubmitReviewRequest {
            request_id: "privacy-review".into(),
            order_id: order.order_id.clone(),
            customer_id: "cust-privacy".into(),
            sku: "TEA-001".into(),
            rating: 4,
            title: "Fine".into(),
            body: "Ask Mei Lin: mei@example.com".into(),
            display_name: "Mei Lin".into(),
        })
        .await
        .unwrap();
    client
        .open_case(OpenCaseRequest {
            request_id: "privacy-case".into(),
            order_id: order.order_id.clone(),
            customer_id: "cust-privacy".into(),
            kind: CaseKind::Inquiry.into(),
            problem_kind: 0,
            subject: "Invoice".into(),
            description: "Send it to mei@example.com please".into(),
            priority: CasePriority::Normal.into(),
            lines: vec![],
        })
        .await
        .unwrap();
    let needles = ["mei@example.com", "Mei Lin"];
    assert!(
        !testkit::privacy::traces(&app.feedback.pool, &needles)
            .await
            .is_empty()
    );

    let erasure = testkit::privacy::erasure(&[&order.order_id], "cust-privacy");
    app.publish(&erasure).await;
    let rows = testkit::privacy::applied(&app.feedback.pool, &erasure.erasure_id).await;
    assert!(rows >= 3, "known order, review and case rewritten: {rows}");
    // The same erasure again (another event id): nothing more to do, nothing recorded twice.
    app.publish(&erasure).await;
    app.publish(&testkit::privacy::erasure(&[], "someone-else"))
        .await;
    testkit::eventually("the later erasures to be applied", || async {
        (app.count("SELECT count(*) FROM oc_erasures").await == 2).then_some(())
    })
    .await;

    assert_eq!(
        testkit::privacy::traces(&app.feedback.pool, &needles).await,
        Vec::<String>::new()
    );
    assert_eq!(
        app.count("SELECT count(*) FROM reviews WHERE rating = 4 AND display_name LIKE 'erased-%'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM cases").await, 1);
}
