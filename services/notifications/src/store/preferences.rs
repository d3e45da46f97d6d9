//! Customers' preferences, one row per customer; a customer without a row has the defaults.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::domain::preferences::{Preferences, QuietHours};
use crate::domain::{Channel, Topic};

#[derive(Debug, Serialize, Deserialize)]
struct TopicChannels {
    topic: String,
    channels: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    customer_id: String,
    email_enabled: bool,
    sms_enabled: bool,
    push_enabled: bool,
    email: String,
    phone: String,
    push_token: String,
    muted_topics: Vec<String>,
    topic_channels: Json<Vec<TopicChannels>>,
    locale: String,
    quiet_start_minute: Option<i32>,
    quiet_end_minute: Option<i32>,
    quiet_utc_offset_minutes: Option<i32>,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn into_domain(self) -> Preferences {
        let topic_channels: BTreeMap<Topic, BTreeSet<Channel>> = self
            .topic_channels
            .0
            .into_iter()
            .filter_map(|tc| {
                let topic = Topic::parse(&tc.topic)?;
                let channels = tc
                    .channels
                    .iter()
                    .filter_map(|c| Channel::parse(c))
                    .collect();
                Some((topic, channels))
            })
            .collect();
        let quiet_hours = match (
            self.quiet_start_minute,
            self.quiet_end_minute,
            self.quiet_utc_offset_minutes,
        ) {
            (Some(start), Some(end), Some(offset)) => QuietHours::new(start, end, offset).ok(),
            _ => None,
        };
        Preferences {
            customer_id: self.customer_id,
            email_enabled: self.email_enabled,
            sms_enabled: self.sms_enabled,
            push_enabled: self.push_enabled,
            email: self.email,
            phone: self.phone,
            push_token: self.push_token,
            muted_topics: self
                .muted_topics
                .iter()
                .filter_map(|t| Topic::parse(t))
                .collect(),
            topic_channels,
            locale: self.locale,
            quiet_hours,
            updated_at: Some(self.updated_at),
        }
    }
}

const COLUMNS: &str = "customer_id, email_enabled, sms_enabled, push_enabled, email, phone,
    push_token, muted_topics, topic_channels, locale, quiet_start_minute, quiet_end_minute,
    quiet_utc_offset_minutes, updated_at";

pub async fn get(
    conn: &mut PgConnection,
    customer_id: &str,
) -> Result<Option<Preferences>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM preferences WHERE customer_id = $1"
    ))
    .bind(customer_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Row::into_domain))
}

/// Replaces the customer's preferences; returns them as stored.
pub async fn put(
    conn: &mut PgConnection,
    prefs: &Preferences,
    now: DateTime<Utc>,
) -> Result<Preferences, sqlx::Error> {
    let muted: Vec<String> = prefs
        .muted_topics
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    let topic_channels: Vec<TopicChannels> = prefs
        .topic_channels
        .iter()
        .map(|(topic, channels)| TopicChannels {
            topic: topic.as_str().to_owned(),
            channels: channels.iter().map(|c| c.as_str().to_owned()).collect(),
        })
        .collect();
    let quiet = prefs.quiet_hours;
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO preferences ({COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (customer_id) DO UPDATE SET
             email_enabled = EXCLUDED.email_enabled, sms_enabled = EXCLUDED.sms_enabled,
             push_enabled = EXCLUDED.push_enabled, email = EXCLUDED.email,
             phone = EXCLUDED.phone, push_token = EXCLUDED.push_token,
             muted_topics = EXCLUDED.muted_topics, topic_channels = EXCLUDED.topic_channels,
             locale = EXCLUDED.locale, quiet_start_minute = EXCLUDED.quiet_start_minute,
             quiet_end_minute = EXCLUDED.quiet_end_minute,
             quiet_utc_offset_minutes = EXCLUDED.quiet_utc_offset_minutes,
             updated_at = EXCLUDED.updated_at
         RETURNING {COLUMNS}"
    ))
    .bind(&prefs.customer_id)
    .bind(prefs.email_enabled)
    .bind(prefs.sms_enabled)
    .bind(prefs.push_enabled)
    .bind(&prefs.email)
    .bind(&prefs.phone)
    .bind(&prefs.push_token)
    .bind(&muted)
    .bind(Json(&topic_channels))
    .bind(&prefs.locale)
    .bind(quiet.map(|q| q.start_minute()))
    .bind(quiet.map(|q| q.end_minute()))
    .bind(quiet.map(|q| q.utc_offset_minutes()))
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(row.into_domain())
}
