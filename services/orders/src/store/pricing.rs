//! The pricing tables (shipping rates, tax rates, channel tax modes, discount codes) and the
//! codes' redemptions.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShippingRateRow {
    pub country_code: String,
    pub region: String,
    pub service_level: String,
    pub currency: String,
    pub min_weight_grams: i64,
    pub fee_minor: i64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaxRateRow {
    pub country_code: String,
    pub region: String,
    pub category: String,
    pub rate_bps: i32,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelModeRow {
    pub channel: String,
    pub mode: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DiscountCodeRow {
    pub code: String,
    /// `PERCENTAGE` or `FIXED`.
    pub kind: String,
    pub percent_bps: Option<i32>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    /// `ORDER` or `LINE`.
    pub scope: String,
    pub sku: Option<String>,
    pub min_spend_minor: i64,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub max_uses: Option<i32>,
    pub max_uses_per_customer: Option<i32>,
    pub times_used: i32,
    pub disabled: bool,
    pub description: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn upsert_shipping_rate(
    conn: &mut PgConnection,
    r: &ShippingRateRow,
) -> Result<ShippingRateRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO shipping_rates (country_code, region, service_level, currency,
             min_weight_grams, fee_minor, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (country_code, region, service_level, currency, min_weight_grams)
         DO UPDATE SET fee_minor = EXCLUDED.fee_minor, updated_at = EXCLUDED.updated_at
         RETURNING country_code, region, service_level, currency, min_weight_grams, fee_minor,
             updated_at",
    )
    .bind(&r.country_code)
    .bind(&r.region)
    .bind(&r.service_level)
    .bind(&r.currency)
    .bind(r.min_weight_grams)
    .bind(r.fee_minor)
    .bind(r.updated_at)
    .fetch_one(conn)
    .await
}

/// Every bracket; of one service level and currency when both are given.
pub async fn shipping_rates(
    conn: &mut PgConnection,
    level_and_currency: Option<(&str, &str)>,
) -> Result<Vec<ShippingRateRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT country_code, region, service_level, currency, min_weight_grams, fee_minor,
             updated_at
         FROM shipping_rates
         WHERE ($1::text IS NULL OR (service_level = $1 AND currency = $2))
         ORDER BY country_code, region, service_level, currency, min_weight_grams",
    )
    .bind(level_and_currency.map(|(l, _)| l))
    .bind(level_and_currency.map(|(_, c)| c))
    .fetch_all(conn)
    .await
}

pub async fn upsert_tax_rate(
    conn: &mut PgConnection,
    r: &TaxRateRow,
) -> Result<TaxRateRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO tax_rates (country_code, region, category, rate_bps, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (country_code, region, category)
         DO UPDATE SET rate_bps = EXCLUDED.rate_bps, updated_at = EXCLUDED.updated_at
         RETURNING country_code, region, category, rate_bps, updated_at",
    )
    .bind(&r.country_code)
    .bind(&r.region)
    .bind(&r.category)
    .bind(r.rate_bps)
    .bind(r.updated_at)
    .fetch_one(conn)
    .await
}

/// Every tax rate; only those that can apply in `country` when given.
pub async fn tax_rates(
    conn: &mut PgConnection,
    country: Option<&str>,
) -> Result<Vec<TaxRateRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT country_code, region, category, rate_bps, updated_at FROM tax_rates
         WHERE $1::text IS NULL OR country_code IN ($1, '*')
         ORDER BY country_code, region, category",
    )
    .bind(country)
    .fetch_all(conn)
    .await
}

pub async fn set_channel_mode(
    conn: &mut PgConnection,
    channel: &str,
    mode: &str,
    now: DateTime<Utc>,
) -> Result<ChannelModeRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO channel_tax_modes (channel, mode, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (channel) DO UPDATE SET mode = EXCLUDED.mode, updated_at = EXCLUDED.updated_at
         RETURNING channel, mode, updated_at",
    )
    .bind(channel)
    .bind(mode)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn channel_modes(conn: &mut PgConnection) -> Result<Vec<ChannelModeRow>, sqlx::Error> {
    sqlx::query_as("SELECT channel, mode, updated_at FROM channel_tax_modes ORDER BY channel")
        .fetch_all(conn)
        .await
}

pub async fn channel_mode(
    conn: &mut PgConnection,
    channel: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT mode FROM channel_tax_modes WHERE channel = $1")
        .bind(channel)
        .fetch_optional(conn)
        .await
}

const CODE_COLUMNS: &str = "code, kind, percent_bps, amount_minor, currency, scope, sku,
    min_spend_minor, valid_from, valid_until, max_uses, max_uses_per_customer, times_used,
    disabled, description, updated_at";

/// Creates or replaces a code's rules; its usage count stays.
pub async fn upsert_code(
    conn: &mut PgConnection,
    c: &DiscountCodeRow,
) -> Result<DiscountCodeRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO discount_codes (code, kind, percent_bps, amount_minor, currency, scope, sku,
             min_spend_minor, valid_from, valid_until, max_uses, max_uses_per_customer, disabled,
             description, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
         ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind,
             percent_bps = EXCLUDED.percent_bps, amount_minor = EXCLUDED.amount_minor,
             currency = EXCLUDED.currency, scope = EXCLUDED.scope, sku = EXCLUDED.sku,
             min_spend_minor = EXCLUDED.min_spend_minor, valid_from = EXCLUDED.valid_from,
             valid_until = EXCLUDED.valid_until, max_uses = EXCLUDED.max_uses,
             max_uses_per_customer = EXCLUDED.max_uses_per_customer,
             disabled = EXCLUDED.disabled, description = EXCLUDED.description,
             updated_at = EXCLUDED.updated_at
         RETURNING {CODE_COLUMNS}"
    ))
    .bind(&c.code)
    .bind(&c.kind)
    .bind(c.percent_bps)
    .bind(c.amount_minor)
    .bind(&c.currency)
    .bind(&c.scope)
    .bind(&c.sku)
    .bind(c.min_spend_minor)
    .bind(c.valid_from)
    .bind(c.valid_until)
    .bind(c.max_uses)
    .bind(c.max_uses_per_customer)
    .bind(c.disabled)
    .bind(&c.description)
    .bind(c.updated_at)
    .fetch_one(conn)
    .await
}

/// One page of codes in code order, after `after`.
pub async fn list_codes(
    conn: &mut PgConnection,
    after: &str,
    limit: i64,
) -> Result<Vec<DiscountCodeRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CODE_COLUMNS} FROM discount_codes WHERE code > $1 ORDER BY code LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The codes named, locked until the transaction ends when `lock` (in code order, so two
/// orders naming the same codes never wait on each other in a cycle): an order that uses a code
/// holds it until it has committed its redemption, so the next one sees the new count.
pub async fn codes(
    conn: &mut PgConnection,
    codes: &[String],
    lock: bool,
) -> Result<Vec<DiscountCodeRow>, sqlx::Error> {
    let locking = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!(
        "SELECT {CODE_COLUMNS} FROM discount_codes WHERE code = ANY($1) ORDER BY code{locking}"
    ))
    .bind(codes)
    .fetch_all(conn)
    .await
}

/// How often this customer (by id, or by e-mail for the same person checking out as a guest)
/// has used each of `codes`.
pub async fn uses_by_customer(
    conn: &mut PgConnection,
    codes: &[String],
    customer_id: &str,
    email: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT code, count(*) FROM discount_redemptions
         WHERE code = ANY($1) AND (customer_id = $2 OR lower(customer_email) = lower($3))
         GROUP BY code",
    )
    .bind(codes)
    .bind(customer_id)
    .bind(email)
    .fetch_all(conn)
    .await
}

pub struct Redemption {
    pub code: String,
    pub amount_minor: i64,
}

/// Records that `order_id` used `redemptions`, in the order's own transaction.
pub async fn redeem(
    conn: &mut PgConnection,
    order_id: uuid::Uuid,
    customer_id: &str,
    email: &str,
    currency: &str,
    redemptions: &[Redemption],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if redemptions.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = redemptions.iter().map(|r| r.code.as_str()).collect();
    let amounts: Vec<i64> = redemptions.iter().map(|r| r.amount_minor).collect();
    sqlx::query(
        "INSERT INTO discount_redemptions (code, order_id, customer_id, customer_email, currency,
             amount_minor, redeemed_at)
         SELECT code, $2, $3, $4, $5, amount, $6
         FROM UNNEST($1::text[], $7::bigint[]) AS r (code, amount)",
    )
    .bind(&codes)
    .bind(order_id)
    .bind(customer_id)
    .bind(email)
    .bind(currency)
    .bind(now)
    .bind(&amounts)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE discount_codes SET times_used = times_used + 1 WHERE code = ANY($1)")
        .bind(&codes)
        .execute(conn)
        .await?;
    Ok(())
}
