use contracts::feedback::feedback_service_client::FeedbackServiceClient;
use contracts::feedback::{
    GetRatingSummaryRequest, ListReviewsRequest, ModerateReviewRequest, ModerationDecision,
    ReplyToReviewRequest, Review, ReviewFlag, ReviewPublished, ReviewStatus, SubmitReviewRequest,
};
use contracts::orders::OrderDelivered;
use tonic::Code;
use tonic::transport::Channel;

type Client = FeedbackServiceClient<Channel>;

use crate::helpers::{QUIET, TestApp, bad_fields, delivered, request_id};

fn review(order: &OrderDelivered, sku: &str, rating: i32, body: &str) -> SubmitReviewRequest {
    SubmitReviewRequest {
        request_id: request_id(),
        order_id: order.order_id.clone(),
        customer_id: order.customer.as_ref().unwrap().id.clone(),
        sku: sku.into(),
        rating,
        title: "My review".into(),
        body: body.into(),
        display_name: "Mei L.".into(),
    }
}

fn moderate(review: &Review, decision: ModerationDecision, note: &str) -> ModerateReviewRequest {
    ModerateReviewRequest {
        review_id: review.id.clone(),
        decision: decision.into(),
        moderator_id: "mod-1".into(),
        note: note.into(),
    }
}

async fn published_reviews(client: &mut Client, sku: &str) -> Vec<Review> {
    client
        .list_reviews(ListReviewsRequest {
            sku: sku.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reviews
}

/// Delivers `skus` to `customer` and waits until feedback knows.
async fn deliver(app: &TestApp, customer: &str, skus: &[&str]) -> OrderDelivered {
    let order = delivered(customer, skus);
    app.publish(&order).await;
    app.wait_delivered(&order.order_id).await;
    order
}

#[tokio::test]
async fn only_a_customer_who_received_the_sku_may_review_it() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let order = deliver(&app, "cust-1", &["TEA-001"]).await;

    let other_sku = client
        .submit_review(review(&order, "CUP-002", 5, "Nice"))
        .await
        .unwrap_err();
    assert_eq!(other_sku.code(), Code::FailedPrecondition);
    let mut not_theirs = review(&order, "TEA-001", 5, "Nice");
    not_theirs.customer_id = "cust-2".into();
    assert_eq!(
        client.submit_review(not_theirs).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    let mut unknown_order = review(&order, "TEA-001", 5, "Nice");
    unknown_order.order_id = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        client
            .submit_review(unknown_order)
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );

    let request = review(&order, "TEA-001", 5, "Fragrant and fresh");
    let pending = client
        .submit_review(request.clone())
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    assert_eq!(pending.status(), ReviewStatus::Pending);
    assert!(pending.flags.is_empty());
    // A retry returns the same review; a second review of the same SKU is refused.
    let replay = client
        .submit_review(request.clone())
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    assert_eq!(replay.id, pending.id);
    let mut changed = request;
    changed.rating = 1;
    assert_eq!(
        client.submit_review(changed).await.unwrap_err().code(),
        Code::AlreadyExists
    );
    assert_eq!(
        client
            .submit_review(review(&order, "TEA-001", 3, "again"))
            .await
            .unwrap_err()
            .code(),
        Code::AlreadyExists
    );
}

#[tokio::test]
async fn blocked_words_and_links_are_flagged_for_the_moderator() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let order = deliver(&app, "cust-1", &["TEA-001", "CUP-002", "POT-003"]).await;

    let flagged = |r: &Review| -> Vec<ReviewFlag> { r.flags().collect() };
    let scam = client
        .submit_review(review(&order, "TEA-001", 1, "What a SCAM, idiots."))
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    assert_eq!(flagged(&scam), [ReviewFlag::BlockedWord]);
    let link = client
        .submit_review(review(
            &order,
            "CUP-002",
            5,
            "Cheaper at www.cup-deals.net!",
        ))
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    assert_eq!(flagged(&link), [ReviewFlag::Link]);
    let clean = client
        .submit_review(review(&order, "POT-003", 4, "Pours well."))
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    assert!(clean.flags.is_empty());

    let queue = client
        .list_reviews(ListReviewsRequest {
            statuses: vec![ReviewStatus::Pending.into()],
            flagged_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reviews;
    let mut ids: Vec<_> = queue.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    let mut expected = vec![scam.id, link.id];
    expected.sort();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn a_moderator_publishes_or_rejects_and_only_published_reviews_are_listed() {
    let app = TestApp::start().await;
    let mut published = app.env.tap("feedback.review.published").await;
    let mut client = app.client().await;
    let a = deliver(&app, "cust-a", &["TEA-001"]).await;
    let b = deliver(&app, "cust-b", &["TEA-001"]).await;
    let good = client
        .submit_review(review(&a, "TEA-001", 5, "Lovely"))
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    let bad = client
        .submit_review(review(&b, "TEA-001", 1, "Meh"))
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();

    assert!(
        published_reviews(&mut client, "TEA-001").await.is_empty(),
        "nothing published yet"
    );

    let reject_without_reason = client
        .moderate_review(moderate(&bad, ModerationDecision::Reject, ""))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&reject_without_reason), ["note"]);
    let rejected = client
        .moderate_review(moderate(
            &bad,
            ModerationDecision::Reject,
            "Not about the product",
        ))
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    assert_eq!(rejected.status(), ReviewStatus::Rejected);
    assert_eq!(rejected.moderation_note, "Not about the product");

    let live = client
        .moderate_review(moderate(&good, ModerationDecision::Publish, ""))
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    assert_eq!(live.status(), ReviewStatus::Published);
    assert_eq!(live.moderated_by, "mod-1");
    let event: ReviewPublished = published.next().await;
    assert_eq!(event.review_id, good.id);
    assert_eq!(event.rating, 5);

    // Idempotent by state; reversing is refused; publishing again publishes nothing.
    client
        .moderate_review(moderate(&good, ModerationDecision::Publish, ""))
        .await
        .unwrap();
    assert_eq!(
        client
            .moderate_review(moderate(&good, ModerationDecision::Reject, "oops"))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    assert!(published.next_within(QUIET).await.is_none());

    let reviews = published_reviews(&mut client, "TEA-001").await;
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].id, good.id);

    // A rejected review may be written again.
    client
        .submit_review(review(&b, "TEA-001", 2, "Second try"))
        .await
        .unwrap();
}

#[tokio::test]
async fn staff_reply_to_published_reviews_and_the_summary_counts_their_stars() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let mut ids = Vec::new();
    for (customer, rating) in [("c-1", 5), ("c-2", 4), ("c-3", 4), ("c-4", 1)] {
        let order = deliver(&app, customer, &["TEA-001"]).await;
        let r = client
            .submit_review(review(&order, "TEA-001", rating, "…"))
            .await
            .unwrap()
            .into_inner()
            .review
            .unwrap();
        if rating > 1 {
            client
                .moderate_review(moderate(&r, ModerationDecision::Publish, ""))
                .await
                .unwrap();
        }
        ids.push(r);
    }

    let pending = &ids[3];
    let early = client
        .reply_to_review(ReplyToReviewRequest {
            request_id: request_id(),
            review_id: pending.id.clone(),
            author_id: String::new(),
            body: "Sorry to hear".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    let reply = ReplyToReviewRequest {
        request_id: request_id(),
        review_id: ids[0].id.clone(),
        author_id: String::new(),
        body: "Thank you!".into(),
    };
    let answered = client
        .reply_to_review(reply.clone())
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    assert_eq!(answered.replies.len(), 1);
    assert_eq!(answered.replies[0].body, "Thank you!");
    client.reply_to_review(reply).await.unwrap();
    assert_eq!(app.count("SELECT count(*) FROM review_replies").await, 1);

    let summary = client
        .get_rating_summary(GetRatingSummaryRequest {
            sku: "TEA-001".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!(summary.review_count, 3);
    assert!((summary.average_rating - 13.0 / 3.0).abs() < 1e-9);
    let counts: Vec<_> = summary.counts.iter().map(|c| (c.rating, c.count)).collect();
    assert_eq!(counts, [(1, 0), (2, 0), (3, 0), (4, 2), (5, 1)]);

    // Paged, newest first, published only.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_reviews(ListReviewsRequest {
                sku: "TEA-001".into(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.reviews.into_iter().map(|r| r.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected: Vec<_> = ids[..3].iter().rev().map(|r| r.id.clone()).collect();
    assert_eq!(seen, expected);
    let four_up = client
        .list_reviews(ListReviewsRequest {
            sku: "TEA-001".into(),
            min_rating: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reviews;
    assert_eq!(four_up.len(), 1);
}

#[tokio::test]
async fn invalid_review_requests_name_every_bad_field() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let err = client
        .submit_review(SubmitReviewRequest {
            request_id: String::new(),
            order_id: "x".into(),
            customer_id: "c-1".into(),
            sku: String::new(),
            rating: 0,
            title: "t".repeat(201),
            body: String::new(),
            display_name: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["request_id", "order_id", "sku", "rating", "title"]
    );
    let err = client
        .moderate_review(ModerateReviewRequest {
            review_id: String::new(),
            decision: 0,
            moderator_id: String::new(),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["review_id", "decision"]);
    let err = client
        .list_reviews(ListReviewsRequest {
            page_size: -1,
            page_token: "garbage".into(),
            statuses: vec![42],
            min_rating: 6,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["page_size", "page_token", "statuses[0]", "min_rating"]
    );
    let err = client
        .reply_to_review(ReplyToReviewRequest::default())
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["request_id", "review_id", "body"]);
    let err = client
        .get_rating_summary(GetRatingSummaryRequest::default())
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["sku"]);
    let missing = client
        .moderate_review(ModerateReviewRequest {
            review_id: uuid::Uuid::new_v4().to_string(),
            decision: ModerationDecision::Publish.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}
