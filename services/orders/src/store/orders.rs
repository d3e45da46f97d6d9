//! The `orders` and `order_lines` tables.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::saga::SagaRow;
use crate::domain::pricing::{Adjustment, Breakdown, TaxMode};
use crate::domain::{
    Address, Channel, Currency, Customer, Fulfillment, LinePrice, Money, NewOrder, Order,
    OrderLine, OrderNumber, OrderStatus, PaymentMethod,
};

/// What inserting a new order found.
pub enum Inserted {
    New(Order),
    /// An order with this request_id exists already.
    Existing {
        order: Order,
        request_hash: Vec<u8>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // Not transparent: the sqlx error stays in the source chain, where the gRPC mapping looks
    // for a value the database refused.
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("stored order {0} is unreadable: {1}")]
    Corrupt(Uuid, String),
}

/// The order placed with `request_id`, and the hash of the request that placed it.
pub async fn by_request_id(
    conn: &mut PgConnection,
    request_id: &str,
) -> Result<Option<(Order, Vec<u8>)>, StoreError> {
    let found: Option<(Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT id, request_hash FROM orders WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((id, hash)) = found else {
        return Ok(None);
    };
    let order = get(conn, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(id, "vanished".into()))?;
    Ok(Some((order, hash)))
}

/// Inserts `order` unless its request_id is already taken, in which case the earlier order is
/// returned with the hash of the request that made it.
pub async fn insert(
    conn: &mut PgConnection,
    order: &NewOrder,
    request_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Inserted, StoreError> {
    let id = Uuid::now_v7();
    let sequence: i64 = sqlx::query_scalar("SELECT nextval('order_number_seq')")
        .fetch_one(&mut *conn)
        .await?;
    let number = OrderNumber::new(now, sequence);
    let (mode, pickup, shipping) = match &order.fulfillment {
        Fulfillment::Ship { address } => ("SHIP", None, Some(Json(address))),
        Fulfillment::StorePickup { store_id } => ("STORE_PICKUP", Some(store_id.as_str()), None),
    };
    let inserted = sqlx::query(
        "INSERT INTO orders (id, order_number, request_id, request_hash, status, customer_id,
             customer, channel, fulfillment_mode, pickup_store_id, shipping_address,
             billing_address, payment_method, installment_count, payment_token, currency,
             total_minor, created_at, updated_at, channel_ref, subtotal_minor, shipping_minor,
             discount_minor, tax_minor, included_tax_minor, tax_inclusive,
             shipping_service_level, adjustments, status_since)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $18)
         ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(id)
    .bind(number.as_str())
    .bind(&order.request_id)
    .bind(request_hash)
    .bind(OrderStatus::Pending.as_str())
    .bind(&order.customer.id)
    .bind(Json(&order.customer))
    .bind(order.channel.as_str())
    .bind(mode)
    .bind(pickup)
    .bind(shipping)
    .bind(order.billing_address.as_ref().map(Json))
    .bind(order.payment.method.as_str())
    .bind(i32::from(order.payment.installments))
    .bind(order.payment.token.as_deref())
    .bind(order.total.currency.as_str())
    .bind(order.total.minor)
    .bind(now)
    .bind(&order.channel_ref)
    .bind(order.breakdown.subtotal)
    .bind(order.breakdown.shipping)
    .bind(order.breakdown.discount)
    .bind(order.breakdown.tax)
    .bind(order.breakdown.included_tax)
    .bind(order.breakdown.tax_mode == TaxMode::Inclusive)
    .bind(&order.breakdown.service_level)
    .bind(Json(&order.breakdown.adjustments))
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        let (existing_id, request_hash): (Uuid, Vec<u8>) =
            sqlx::query_as("SELECT id, request_hash FROM orders WHERE request_id = $1")
                .bind(&order.request_id)
                .fetch_one(&mut *conn)
                .await?;
        let order = get(conn, existing_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(existing_id, "vanished".into()))?;
        return Ok(Inserted::Existing {
            order,
            request_hash,
        });
    }

    let line_ids: Vec<String> = (1..=order.lines.len()).map(|i| format!("L{i}")).collect();
    let positions: Vec<i32> = (1..=order.lines.len() as i32).collect();
    let skus: Vec<&str> = order.lines.iter().map(|l| l.sku.as_str()).collect();
    let quantities: Vec<i32> = order
        .lines
        .iter()
        .map(|l| l.quantity.get() as i32)
        .collect();
    let prices: Vec<i64> = order.lines.iter().map(|l| l.unit_price.minor).collect();
    let names: Vec<&str> = order.lines.iter().map(|l| l.name.as_str()).collect();
    let discounts: Vec<i64> = order.lines.iter().map(|l| l.priced.discount).collect();
    let taxes: Vec<i64> = order.lines.iter().map(|l| l.priced.tax).collect();
    let charged: Vec<i64> = order.lines.iter().map(|l| l.priced.charged).collect();
    let categories: Vec<&str> = order.lines.iter().map(|l| l.category.as_str()).collect();
    let weights: Vec<i32> = order
        .lines
        .iter()
        .map(|l| i32::try_from(l.weight_grams).unwrap_or(i32::MAX))
        .collect();
    sqlx::query(
        "INSERT INTO order_lines (order_id, line_id, position, sku, quantity, unit_price_minor, name,
             discount_minor, tax_minor, charged_minor, category, weight_grams)
         SELECT $1, * FROM UNNEST($2::text[], $3::int[], $4::text[], $5::int[], $6::bigint[],
             $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::int[])",
    )
    .bind(id)
    .bind(&line_ids)
    .bind(&positions)
    .bind(&skus)
    .bind(&quantities)
    .bind(&prices)
    .bind(&names)
    .bind(&discounts)
    .bind(&taxes)
    .bind(&charged)
    .bind(&categories)
    .bind(&weights)
    .execute(&mut *conn)
    .await?;

    let lines = order
        .lines
        .iter()
        .zip(line_ids)
        .map(|(line, line_id)| OrderLine {
            line_id,
            sku: line.sku.as_str().to_owned(),
            name: line.name.clone(),
            quantity: line.quantity.get() as i32,
            unit_price: line.unit_price,
            shipped_quantity: 0,
            cancelled_quantity: 0,
            category: line.category.clone(),
            weight_grams: i32::try_from(line.weight_grams).unwrap_or(i32::MAX),
            priced: line.priced,
        })
        .collect();
    Ok(Inserted::New(Order {
        id,
        number: number.as_str().to_owned(),
        status: OrderStatus::Pending,
        customer: order.customer.clone(),
        channel: order.channel,
        channel_ref: order.channel_ref.clone(),
        fulfillment: order.fulfillment.clone(),
        billing_address: order.billing_address.clone(),
        payment_method: order.payment.method,
        installments: order.payment.installments,
        lines,
        total: order.total,
        breakdown: order.breakdown.clone(),
        created_at: now,
        updated_at: now,
    }))
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    order_number: String,
    status: String,
    customer: Json<Customer>,
    channel: String,
    channel_ref: String,
    fulfillment_mode: String,
    pickup_store_id: Option<String>,
    shipping_address: Option<Json<Address>>,
    billing_address: Option<Json<Address>>,
    payment_method: String,
    installment_count: i32,
    currency: String,
    total_minor: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    subtotal_minor: Option<i64>,
    shipping_minor: i64,
    discount_minor: i64,
    tax_minor: i64,
    included_tax_minor: i64,
    tax_inclusive: bool,
    shipping_service_level: String,
    adjustments: Json<Vec<Adjustment>>,
    /// The order's lines in their order, read in the same statement.
    lines: Json<Vec<LineRow>>,
}

#[derive(serde::Deserialize)]
struct LineRow {
    line_id: String,
    sku: String,
    name: String,
    quantity: i32,
    unit_price_minor: i64,
    shipped_quantity: i32,
    cancelled_quantity: i32,
    discount_minor: i64,
    tax_minor: i64,
    charged_minor: Option<i64>,
    category: String,
    weight_grams: i32,
}

const ORDER_COLUMNS: &str =
    "id, order_number, status, customer, channel, channel_ref, fulfillment_mode,
    pickup_store_id, shipping_address, billing_address, payment_method, installment_count,
    currency, total_minor, created_at, updated_at, subtotal_minor, shipping_minor, discount_minor,
    tax_minor, included_tax_minor, tax_inclusive, shipping_service_level, adjustments,
    (SELECT coalesce(json_agg(l ORDER BY l.position), '[]')
     FROM (SELECT position, line_id, sku, name, quantity, unit_price_minor, shipped_quantity,
               cancelled_quantity, discount_minor, tax_minor, charged_minor, category, weight_grams
           FROM order_lines WHERE order_id = orders.id) l) AS lines";

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<Order>, StoreError> {
    let row: Option<OrderRow> =
        sqlx::query_as(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    match row {
        Some(row) => from_row(row).map(Some),
        None => Ok(None),
    }
}

pub async fn get_by_number(
    conn: &mut PgConnection,
    number: &str,
) -> Result<Option<Order>, StoreError> {
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE order_number = $1"
    ))
    .bind(number)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => from_row(row).map(Some),
        None => Ok(None),
    }
}

#[derive(sqlx::FromRow)]
struct LockedRow {
    #[sqlx(flatten)]
    order: OrderRow,
    #[sqlx(flatten)]
    saga: SagaRow,
}

/// The order and its saga's columns under a row lock, in one statement: what a transition of
/// the saga reads.
pub async fn lock_with_saga(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<(Order, SagaRow)>, StoreError> {
    let row: Option<LockedRow> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS}, {} FROM orders WHERE id = $1 FOR UPDATE",
        super::saga::COLUMNS
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| Ok((from_row(row.order)?, row.saga)))
        .transpose()
}

fn from_row(row: OrderRow) -> Result<Order, StoreError> {
    let lines = row.lines.0;
    let corrupt = |what: &str| StoreError::Corrupt(row.id, what.to_owned());
    let currency = Currency::parse(&row.currency).ok_or_else(|| corrupt("currency"))?;
    let fulfillment = match (
        row.fulfillment_mode.as_str(),
        row.shipping_address,
        row.pickup_store_id,
    ) {
        ("SHIP", Some(Json(address)), _) => Fulfillment::Ship { address },
        ("STORE_PICKUP", _, Some(store_id)) => Fulfillment::StorePickup { store_id },
        _ => return Err(corrupt("fulfillment mode")),
    };
    let breakdown = match row.subtotal_minor {
        // Placed before totals existed: the plain sum of the lines.
        None => Breakdown::plain(row.total_minor),
        Some(subtotal) => Breakdown {
            subtotal,
            shipping: row.shipping_minor,
            discount: row.discount_minor,
            tax: row.tax_minor,
            included_tax: row.included_tax_minor,
            tax_mode: if row.tax_inclusive {
                TaxMode::Inclusive
            } else {
                TaxMode::Exclusive
            },
            service_level: row.shipping_service_level,
            total_weight_grams: lines
                .iter()
                .map(|l| i64::from(l.weight_grams) * i64::from(l.quantity))
                .sum(),
            adjustments: row.adjustments.0,
        },
    };
    Ok(Order {
        id: row.id,
        number: row.order_number,
        status: OrderStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
        customer: row.customer.0,
        channel: Channel::parse(&row.channel).ok_or_else(|| corrupt("channel"))?,
        channel_ref: row.channel_ref,
        fulfillment,
        billing_address: row.billing_address.map(|Json(a)| a),
        payment_method: PaymentMethod::parse(&row.payment_method)
            .ok_or_else(|| corrupt("payment method"))?,
        installments: u8::try_from(row.installment_count).unwrap_or(0),
        lines: lines
            .into_iter()
            .map(|l| OrderLine {
                priced: LinePrice {
                    discount: l.discount_minor,
                    tax: l.tax_minor,
                    charged: l.charged_minor.unwrap_or_else(|| {
                        l.unit_price_minor.saturating_mul(i64::from(l.quantity))
                    }),
                },
                line_id: l.line_id,
                sku: l.sku,
                name: l.name,
                quantity: l.quantity,
                unit_price: Money::new(currency, l.unit_price_minor),
                shipped_quantity: l.shipped_quantity,
                cancelled_quantity: l.cancelled_quantity,
                category: l.category,
                weight_grams: l.weight_grams,
            })
            .collect(),
        total: Money::new(currency, row.total_minor),
        breakdown,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Filters of ListOrders and the review queue; keyset paging on (created_at, id) descending.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub customer_id: Option<String>,
    pub statuses: Vec<String>,
    pub channel: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// Only held orders with a reason of this kind (`HighRiskScore`, …).
    pub hold_kind: Option<String>,
    /// The last (created_at, id) of the previous page.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn list_ids(
    conn: &mut PgConnection,
    f: &Filter,
) -> Result<Vec<(DateTime<Utc>, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT created_at, id FROM orders
         WHERE ($1::text IS NULL OR customer_id = $1)
           AND (cardinality($2::text[]) = 0 OR status = ANY($2))
           AND ($3::text IS NULL OR channel = $3)
           AND ($4::timestamptz IS NULL OR created_at >= $4)
           AND ($5::timestamptz IS NULL OR created_at < $5)
           AND ($6::text IS NULL OR hold_reasons @> jsonb_build_array(jsonb_build_object('kind', $6::text)))
           AND ($7::timestamptz IS NULL OR (created_at, id) < ($7, $8))
         ORDER BY created_at DESC, id DESC
         LIMIT $9",
    )
    .bind(&f.customer_id)
    .bind(&f.statuses)
    .bind(&f.channel)
    .bind(f.created_after)
    .bind(f.created_before)
    .bind(&f.hold_kind)
    .bind(f.after.map(|(t, _)| t))
    .bind(f.after.map(|(_, id)| id))
    .bind(f.limit)
    .fetch_all(conn)
    .await
}
