//! The `surveys` table.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{StoreError, parse_text};
use crate::domain::survey::{Answer, Csat, Nps, Survey, SurveyStatus, SurveyTag};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    order_id: Uuid,
    order_number: String,
    customer_id: String,
    status: String,
    csat_score: Option<i32>,
    nps_score: Option<i32>,
    comment: String,
    tags: Vec<String>,
    delivered_at: DateTime<Utc>,
    invite_at: DateTime<Utc>,
    invited_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    submitted_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, order_id, order_number, customer_id, status, csat_score, nps_score,
    comment, tags, delivered_at, invite_at, invited_at, expires_at, submitted_at";

impl TryFrom<Row> for Survey {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        let what = format!("survey {}", row.id);
        let answer = match row.csat_score {
            None => None,
            Some(csat) => {
                let tags = row
                    .tags
                    .iter()
                    .map(|t| parse_text(&what, t, SurveyTag::parse))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(Answer::new(
                    Csat::new(csat).ok_or_else(|| StoreError::corrupt(&what, "csat"))?,
                    match row.nps_score {
                        None => None,
                        Some(n) => {
                            Some(Nps::new(n).ok_or_else(|| StoreError::corrupt(&what, "nps"))?)
                        }
                    },
                    row.comment,
                    tags,
                ))
            }
        };
        Ok(Self {
            id: row.id,
            order_id: row.order_id,
            order_number: row.order_number,
            customer_id: row.customer_id,
            status: parse_text(&what, &row.status, SurveyStatus::parse)?,
            answer,
            delivered_at: row.delivered_at,
            invite_at: row.invite_at,
            invited_at: row.invited_at,
            expires_at: row.expires_at,
            submitted_at: row.submitted_at,
        })
    }
}

/// Inserts a scheduled survey unless its order has one; true if inserted.
pub async fn insert_if_new(conn: &mut PgConnection, survey: &Survey) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO surveys (id, order_id, order_number, customer_id, status, delivered_at, invite_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(survey.id)
    .bind(survey.order_id)
    .bind(&survey.order_number)
    .bind(&survey.customer_id)
    .bind(survey.status.as_str())
    .bind(survey.delivered_at)
    .bind(survey.invite_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<Survey>, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM surveys WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(Survey::try_from).transpose()
}

/// The survey, locked until the end of the transaction.
pub async fn get_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Survey>, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM surveys WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Survey::try_from).transpose()
}

pub async fn get_by_order(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<Survey>, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM surveys WHERE order_id = $1"
    ))
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    row.map(Survey::try_from).transpose()
}

/// Writes the survey's mutable state.
pub async fn save(conn: &mut PgConnection, survey: &Survey) -> Result<(), sqlx::Error> {
    let answer = survey.answer.as_ref();
    sqlx::query(
        "UPDATE surveys SET status = $2, csat_score = $3, nps_score = $4, comment = $5, tags = $6,
             invited_at = $7, expires_at = $8, submitted_at = $9
         WHERE id = $1",
    )
    .bind(survey.id)
    .bind(survey.status.as_str())
    .bind(answer.map(|a| a.csat.get()))
    .bind(answer.and_then(|a| a.nps).map(Nps::get))
    .bind(answer.map(|a| a.comment.as_str()).unwrap_or_default())
    .bind(
        answer
            .map(|a| a.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>())
            .unwrap_or_default(),
    )
    .bind(survey.invited_at)
    .bind(survey.expires_at)
    .bind(survey.submitted_at)
    .execute(conn)
    .await?;
    Ok(())
}
