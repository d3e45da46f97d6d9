//! SubmitReview, ModerateReview, ListReviews, ReplyToReview, GetRatingSummary.

use contracts::feedback::{
    ListReviewsRequest, ModerateReviewRequest, ModerationDecision, RatingCount, RatingSummary,
    ReplyToReviewRequest, SubmitReviewRequest,
};
use runtime::grpc::FieldViolations;
use runtime::{Actor, Role};
use uuid::Uuid;

use super::convert::{self, MAX_ID_CHARS, MAX_SKU_CHARS, text};
use super::{FeedbackApi, request_hash};
use crate::domain::review::{
    Decision, MAX_BODY_CHARS, MAX_REPLY_CHARS, MAX_TITLE_CHARS, Moderated, NewReview, Rating,
    Reply, Review, ReviewStatus,
};
use crate::error::Error;
use crate::outgoing;
use crate::store::reviews::{ReviewCursor, ReviewFilter};
use crate::store::{self, request_ids::Claim};

const SUBMIT: &str = "SubmitReview";
const REPLY: &str = "ReplyToReview";
const MAX_NOTE_CHARS: usize = 2000;
const MAX_DISPLAY_NAME_CHARS: usize = 100;

fn new_review(
    actor: &Actor,
    r: &SubmitReviewRequest,
) -> Result<(String, NewReview), FieldViolations> {
    let mut v = FieldViolations::new();
    let request_id = text(&mut v, "request_id", &r.request_id, true, MAX_ID_CHARS);
    let order_id = convert::uuid(&mut v, "order_id", &r.order_id, true);
    let customer_id = convert::customer_for(&mut v, actor, "customer_id", &r.customer_id);
    let sku = text(&mut v, "sku", &r.sku, true, MAX_SKU_CHARS);
    let rating = Rating::new(r.rating);
    if rating.is_none() {
        v.add("rating", "must be 1 to 5");
    }
    let title = text(&mut v, "title", &r.title, false, MAX_TITLE_CHARS);
    let body = text(&mut v, "body", &r.body, false, MAX_BODY_CHARS);
    let display_name = text(
        &mut v,
        "display_name",
        &r.display_name,
        false,
        MAX_DISPLAY_NAME_CHARS,
    );
    match (order_id, rating) {
        (Some(order_id), Some(rating)) if v.is_empty() => Ok((
            request_id,
            NewReview {
                order_id,
                customer_id,
                sku,
                rating,
                title,
                body,
                display_name,
            },
        )),
        _ => Err(v),
    }
}

impl FeedbackApi {
    pub(super) async fn review_submit(
        &self,
        actor: &Actor,
        request: SubmitReviewRequest,
    ) -> Result<Review, Error> {
        let hash = request_hash(actor, &request);
        let (request_id, new) = new_review(actor, &request)?;
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        match store::request_ids::claim(&mut tx, SUBMIT, &request_id, &hash, now).await? {
            Claim::Conflict => {
                return Err(Error::AlreadyExists(format!(
                    "request_id {request_id} was already used for a different request"
                )));
            }
            Claim::Replay(id) => return self.review_by_id(&mut tx, id).await,
            Claim::New => {}
        }
        if !store::orders::received_sku(&mut tx, new.order_id, &new.customer_id, &new.sku).await? {
            return Err(Error::FailedPrecondition(format!(
                "customer {} has no delivered order {} containing SKU {}: only customers who \
                 received a product may review it",
                new.customer_id, new.order_id, new.sku
            )));
        }
        let review = Review::submit(new, Uuid::now_v7(), &self.config.moderation, now);
        if !store::reviews::insert(&mut tx, &review).await? {
            return Err(Error::AlreadyExists(format!(
                "customer {} has already reviewed SKU {}",
                review.customer_id, review.sku
            )));
        }
        store::request_ids::complete(&mut tx, SUBMIT, &request_id, review.id).await?;
        tx.commit().await?;
        tracing::info!(review_id = %review.id, sku = %review.sku, flags = review.flags.len(), "review submitted");
        Ok(review)
    }

    async fn review_by_id(
        &self,
        conn: &mut sqlx::PgConnection,
        id: Option<Uuid>,
    ) -> Result<Review, Error> {
        let id = id.ok_or_else(|| Error::NotFound("review".into()))?;
        store::reviews::get(conn, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("review {id}")))
    }

    pub(super) async fn review_moderate(
        &self,
        actor: &Actor,
        request: &ModerateReviewRequest,
    ) -> Result<Review, Error> {
        let mut v = FieldViolations::new();
        let review_id = convert::uuid(&mut v, "review_id", &request.review_id, true);
        let moderator = convert::acting_as(&mut v, actor, "moderator_id", &request.moderator_id);
        let note = text(&mut v, "note", &request.note, false, MAX_NOTE_CHARS);
        let decision = match ModerationDecision::try_from(request.decision) {
            Ok(ModerationDecision::Publish) => Some(Decision::Publish { note }),
            Ok(ModerationDecision::Reject) if note.is_empty() => {
                v.add("note", "is required to reject a review: say why");
                None
            }
            Ok(ModerationDecision::Reject) => Some(Decision::Reject { reason: note }),
            Ok(ModerationDecision::Unspecified) | Err(_) => {
                v.add("decision", "must be MODERATION_DECISION_PUBLISH or _REJECT");
                None
            }
        };
        let (Some(review_id), Some(decision)) = (review_id, decision) else {
            return Err(v.into());
        };
        if !v.is_empty() {
            return Err(v.into());
        }
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let mut review = store::reviews::get_for_update(&mut tx, review_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("review {review_id}")))?;
        match review.moderate(decision, &moderator, now)? {
            Moderated::Unchanged => return Ok(review),
            Moderated::Published => {
                store::reviews::save(&mut tx, &review).await?;
                self.outbox
                    .append(&mut tx, &outgoing::review_published(&review))
                    .await?;
            }
            Moderated::Rejected => store::reviews::save(&mut tx, &review).await?,
        }
        self.outbox.commit(tx).await?;
        tracing::info!(review_id = %review.id, status = review.status.as_str(), "review moderated");
        Ok(review)
    }

    pub(super) async fn review_list(
        &self,
        actor: &Actor,
        request: &ListReviewsRequest,
    ) -> Result<(Vec<Review>, String), Error> {
        let mut v = FieldViolations::new();
        let limit = convert::page_size(&mut v, request.page_size);
        let after = convert::review_cursor(&mut v, &request.page_token);
        let sku = text(&mut v, "sku", &request.sku, false, MAX_SKU_CHARS);
        let customer_id = text(
            &mut v,
            "customer_id",
            &request.customer_id,
            false,
            MAX_ID_CHARS,
        );
        let mut statuses = Vec::new();
        for (i, raw) in request.statuses.iter().enumerate() {
            match convert::review_status_in(*raw) {
                Some(status) => statuses.push(status),
                None => v.add(format!("statuses[{i}]"), "must be a known ReviewStatus"),
            }
        }
        if !(0..=5).contains(&request.min_rating) {
            v.add("min_rating", "must be 0 (any) to 5");
        }
        if !v.is_empty() {
            return Err(v.into());
        }
        if statuses.is_empty() {
            statuses.push(ReviewStatus::Published);
        }
        // Published reviews are public. Unpublished ones are for staff, and for their author
        // when listing their own.
        let own = actor.has(Role::Customer) && !customer_id.is_empty() && customer_id == actor.id;
        if !actor.is_staff() {
            if request.flagged_only {
                return Err(Error::PermissionDenied(
                    "only staff may list flagged reviews".into(),
                ));
            }
            if !own && statuses.iter().any(|s| *s != ReviewStatus::Published) {
                return Err(Error::PermissionDenied(
                    "only staff may list unpublished reviews of others".into(),
                ));
            }
        }
        let filter = ReviewFilter {
            sku: (!sku.is_empty()).then_some(sku),
            customer_id: (!customer_id.is_empty()).then_some(customer_id),
            statuses,
            min_rating: request.min_rating,
            flagged_only: request.flagged_only,
        };
        let mut conn = self.pool.acquire().await?;
        let mut reviews = store::reviews::list(&mut conn, &filter, after, limit + 1).await?;
        let next = if reviews.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
            reviews.truncate(reviews.len() - 1);
            reviews
                .last()
                .map(|r| {
                    convert::review_token(ReviewCursor {
                        created_at: r.created_at,
                        id: r.id,
                    })
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok((reviews, next))
    }

    pub(super) async fn review_reply(
        &self,
        actor: &Actor,
        request: ReplyToReviewRequest,
    ) -> Result<Review, Error> {
        let hash = request_hash(actor, &request);
        let mut v = FieldViolations::new();
        let request_id = text(
            &mut v,
            "request_id",
            &request.request_id,
            true,
            MAX_ID_CHARS,
        );
        let review_id = convert::uuid(&mut v, "review_id", &request.review_id, true);
        let author_id = convert::acting_as(&mut v, actor, "author_id", &request.author_id);
        let body = text(&mut v, "body", &request.body, true, MAX_REPLY_CHARS);
        let Some(review_id) = review_id.filter(|_| v.is_empty()) else {
            return Err(v.into());
        };
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        match store::request_ids::claim(&mut tx, REPLY, &request_id, &hash, now).await? {
            Claim::Conflict => {
                return Err(Error::AlreadyExists(format!(
                    "request_id {request_id} was already used for a different request"
                )));
            }
            Claim::Replay(_) => return self.review_by_id(&mut tx, Some(review_id)).await,
            Claim::New => {}
        }
        let mut review = store::reviews::get_for_update(&mut tx, review_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("review {review_id}")))?;
        review.check_replyable()?;
        let reply = Reply {
            id: Uuid::now_v7(),
            author_id,
            body,
            created_at: now,
        };
        store::reviews::add_reply(&mut tx, review.id, &reply).await?;
        store::request_ids::complete(&mut tx, REPLY, &request_id, reply.id).await?;
        tx.commit().await?;
        review.replies.push(reply);
        Ok(review)
    }

    pub(super) async fn rating_summary(&self, sku: &str) -> Result<RatingSummary, Error> {
        let mut v = FieldViolations::new();
        let sku = text(&mut v, "sku", sku, true, MAX_SKU_CHARS);
        if !v.is_empty() {
            return Err(v.into());
        }
        let mut conn = self.pool.acquire().await?;
        let counts = store::reviews::rating_counts(&mut conn, &sku).await?;
        let review_count: i64 = counts.iter().sum();
        let stars: i64 = counts
            .iter()
            .zip(1i64..)
            .map(|(count, rating)| count * rating)
            .sum();
        // Counts stay far below 2^52, so the conversion to f64 is exact.
        let average_rating = if review_count == 0 {
            0.0
        } else {
            stars as f64 / review_count as f64
        };
        Ok(RatingSummary {
            sku,
            review_count,
            average_rating,
            counts: counts
                .iter()
                .zip(1..)
                .map(|(count, rating)| RatingCount {
                    rating,
                    count: *count,
                })
                .collect(),
        })
    }
}
