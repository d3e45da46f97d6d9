//! The `reviews` and `review_replies` tables.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{StoreError, parse_text};
use crate::domain::review::{Rating, Reply, Review, ReviewFlag, ReviewStatus};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    sku: String,
    order_id: Uuid,
    customer_id: String,
    display_name: String,
    rating: i32,
    title: String,
    body: String,
    status: String,
    flags: Vec<String>,
    moderation_note: String,
    moderated_by: String,
    moderated_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct ReplyRow {
    id: Uuid,
    review_id: Uuid,
    author_id: String,
    body: String,
    created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, sku, order_id, customer_id, display_name, rating, title, body, status,
    flags, moderation_note, moderated_by, moderated_at, created_at, published_at";

impl TryFrom<Row> for Review {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        let what = format!("review {}", row.id);
        Ok(Self {
            id: row.id,
            sku: row.sku,
            order_id: row.order_id,
            customer_id: row.customer_id,
            display_name: row.display_name,
            rating: Rating::new(row.rating)
                .ok_or_else(|| StoreError::corrupt(&what, "rating out of range"))?,
            title: row.title,
            body: row.body,
            status: parse_text(&what, &row.status, ReviewStatus::parse)?,
            flags: row
                .flags
                .iter()
                .map(|f| parse_text(&what, f, ReviewFlag::parse))
                .collect::<Result<_, _>>()?,
            moderation_note: row.moderation_note,
            moderated_by: row.moderated_by,
            moderated_at: row.moderated_at,
            replies: Vec::new(),
            created_at: row.created_at,
            published_at: row.published_at,
        })
    }
}

/// Inserts a new review; false if the customer already has a live review of this SKU.
pub async fn insert(conn: &mut PgConnection, review: &Review) -> Result<bool, sqlx::Error> {
    // No conflict target: the one that can fire is the partial unique index on
    // (customer_id, sku) of live reviews.
    let done = sqlx::query(
        "INSERT INTO reviews (id, sku, order_id, customer_id, display_name, rating, title, body,
             status, flags, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
    )
    .bind(review.id)
    .bind(&review.sku)
    .bind(review.order_id)
    .bind(&review.customer_id)
    .bind(&review.display_name)
    .bind(review.rating.get())
    .bind(&review.title)
    .bind(&review.body)
    .bind(review.status.as_str())
    .bind(review.flags.iter().map(|f| f.as_str()).collect::<Vec<_>>())
    .bind(review.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn load(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Option<Review>, StoreError> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM reviews WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut review = Review::try_from(row)?;
    review.replies = replies(conn, &[id]).await?.remove(&id).unwrap_or_default();
    Ok(Some(review))
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<Review>, StoreError> {
    load(conn, id, false).await
}

/// The review, locked until the end of the transaction.
pub async fn get_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Review>, StoreError> {
    load(conn, id, true).await
}

/// Writes the moderation state.
pub async fn save(conn: &mut PgConnection, review: &Review) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reviews SET status = $2, moderation_note = $3, moderated_by = $4,
             moderated_at = $5, published_at = $6
         WHERE id = $1",
    )
    .bind(review.id)
    .bind(review.status.as_str())
    .bind(&review.moderation_note)
    .bind(&review.moderated_by)
    .bind(review.moderated_at)
    .bind(review.published_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn add_reply(
    conn: &mut PgConnection,
    review_id: Uuid,
    reply: &Reply,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO review_replies (id, review_id, author_id, body, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(reply.id)
    .bind(review_id)
    .bind(&reply.author_id)
    .bind(&reply.body)
    .bind(reply.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn replies(
    conn: &mut PgConnection,
    review_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Reply>>, sqlx::Error> {
    let rows: Vec<ReplyRow> = sqlx::query_as(
        "SELECT id, review_id, author_id, body, created_at FROM review_replies
         WHERE review_id = ANY($1) ORDER BY created_at, id",
    )
    .bind(review_ids)
    .fetch_all(conn)
    .await?;
    let mut by_review: HashMap<Uuid, Vec<Reply>> = HashMap::new();
    for row in rows {
        by_review.entry(row.review_id).or_default().push(Reply {
            id: row.id,
            author_id: row.author_id,
            body: row.body,
            created_at: row.created_at,
        });
    }
    Ok(by_review)
}

/// Which reviews a listing wants.
#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    pub sku: Option<String>,
    pub customer_id: Option<String>,
    /// Never empty: the caller decides the default.
    pub statuses: Vec<ReviewStatus>,
    pub min_rating: i32,
    pub flagged_only: bool,
}

/// Where the previous page ended (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Up to `limit` reviews after `after`, newest first, with their replies.
pub async fn list(
    conn: &mut PgConnection,
    filter: &ReviewFilter,
    after: Option<ReviewCursor>,
    limit: i64,
) -> Result<Vec<Review>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM reviews
         WHERE ($1::text IS NULL OR sku = $1) AND ($2::text IS NULL OR customer_id = $2)
           AND status = ANY($3) AND rating >= $4 AND (NOT $5 OR cardinality(flags) > 0)
           AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7::uuid))
         ORDER BY created_at DESC, id DESC LIMIT $8"
    ))
    .bind(filter.sku.as_deref())
    .bind(filter.customer_id.as_deref())
    .bind(
        filter
            .statuses
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(filter.min_rating)
    .bind(filter.flagged_only)
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut reviews = rows
        .into_iter()
        .map(Review::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<Uuid> = reviews.iter().map(|r| r.id).collect();
    let mut replies = replies(conn, &ids).await?;
    for review in &mut reviews {
        review.replies = replies.remove(&review.id).unwrap_or_default();
    }
    Ok(reviews)
}

/// Published reviews of `sku` per star rating: `counts[0]` is one star.
pub async fn rating_counts(conn: &mut PgConnection, sku: &str) -> Result<[i64; 5], sqlx::Error> {
    let rows: Vec<(i32, i64)> = sqlx::query_as(
        "SELECT rating, count(*) FROM reviews WHERE sku = $1 AND status = 'PUBLISHED'
         GROUP BY rating",
    )
    .bind(sku)
    .fetch_all(conn)
    .await?;
    let mut counts = [0; 5];
    for (rating, count) in rows {
        if let Some(slot) = usize::try_from(rating - 1)
            .ok()
            .and_then(|i| counts.get_mut(i))
        {
            *slot = count;
        }
    }
    Ok(counts)
}
