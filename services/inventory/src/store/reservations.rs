//! The `reservations`, `reservation_lines`, `reservation_allocations`, `reservation_commits`
//! and `restocks` tables.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::allocation::{Allocation, Demand, Short};
use crate::domain::reservation::{Held, Reservation, ReservationStatus};

/// The header of a reservation being created.
pub struct NewReservation<'a> {
    pub id: &'a str,
    pub order_id: &'a str,
    pub order_number: &'a str,
    pub status: ReservationStatus,
    pub fulfillment_mode: &'a str,
    pub pickup_store_id: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates the reservation unless its id exists; false when it did (the request changes
/// nothing). A concurrent creator of the same id makes this wait for its commit.
pub async fn claim(
    conn: &mut PgConnection,
    r: &NewReservation<'_>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO reservations (id, order_id, order_number, status, fulfillment_mode,
             pickup_store_id, expires_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (id) DO NOTHING",
    )
    .bind(r.id)
    .bind(r.order_id)
    .bind(r.order_number)
    .bind(r.status.as_str())
    .bind(r.fulfillment_mode)
    .bind(r.pickup_store_id)
    .bind(r.expires_at)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_status(
    conn: &mut PgConnection,
    id: &str,
    status: ReservationStatus,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reservations SET status = $2, expires_at = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(expires_at)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores the requested lines; `shorts` marks those a shortage could not fill.
pub async fn insert_lines(
    conn: &mut PgConnection,
    id: &str,
    lines: &[Demand],
    shorts: &[Short],
) -> Result<(), sqlx::Error> {
    let positions: Vec<i32> = (1..=lines.len() as i32).collect();
    let line_ids: Vec<&str> = lines.iter().map(|l| l.line_id.as_str()).collect();
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    let short: Vec<Option<i32>> = lines
        .iter()
        .map(|l| {
            shorts
                .iter()
                .find(|s| s.line_id == l.line_id)
                .map(|s| s.available)
        })
        .collect();
    sqlx::query(
        "INSERT INTO reservation_lines (reservation_id, position, line_id, sku, quantity,
             short_available)
         SELECT $1, * FROM UNNEST($2::int[], $3::text[], $4::text[], $5::int[], $6::int[])",
    )
    .bind(id)
    .bind(&positions)
    .bind(&line_ids)
    .bind(&skus)
    .bind(&quantities)
    .bind(&short)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds an amendment's units to the reservation's lines: a line it has grows, a new line comes
/// after the others.
pub async fn add_lines(
    conn: &mut PgConnection,
    id: &str,
    lines: &[Demand],
) -> Result<(), sqlx::Error> {
    let line_ids: Vec<&str> = lines.iter().map(|l| l.line_id.as_str()).collect();
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    sqlx::query(
        "INSERT INTO reservation_lines (reservation_id, position, line_id, sku, quantity)
         SELECT $1,
                (SELECT coalesce(max(position), 0) FROM reservation_lines
                 WHERE reservation_id = $1) + n::int,
                line_id, sku, quantity
         FROM UNNEST($2::text[], $3::text[], $4::int[]) WITH ORDINALITY
              AS t(line_id, sku, quantity, n)
         ON CONFLICT (reservation_id, line_id)
         DO UPDATE SET quantity = reservation_lines.quantity + EXCLUDED.quantity",
    )
    .bind(id)
    .bind(&line_ids)
    .bind(&skus)
    .bind(&quantities)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds held units, merging them into the row of the same line, warehouse and bin when there is
/// one (an amendment may add to a line already held there). `allocations` name each
/// (line, warehouse, bin) once.
pub async fn add_allocations(
    conn: &mut PgConnection,
    id: &str,
    allocations: &[Allocation],
) -> Result<(), sqlx::Error> {
    let rows: Vec<(&Allocation, &crate::domain::allocation::BinPick)> = allocations
        .iter()
        .flat_map(|a| a.bins.iter().map(move |b| (a, b)))
        .collect();
    let line_ids: Vec<&str> = rows.iter().map(|(a, _)| a.line_id.as_str()).collect();
    let skus: Vec<&str> = rows.iter().map(|(a, _)| a.sku.as_str()).collect();
    let warehouses: Vec<&str> = rows.iter().map(|(a, _)| a.warehouse_id.as_str()).collect();
    let bins: Vec<&str> = rows.iter().map(|(_, b)| b.bin.as_str()).collect();
    let sequences: Vec<i32> = rows.iter().map(|(_, b)| b.pick_sequence).collect();
    let quantities: Vec<i32> = rows.iter().map(|(_, b)| b.quantity).collect();
    sqlx::query(
        "INSERT INTO reservation_allocations (reservation_id, line_id, sku, warehouse_id, bin,
             pick_sequence, quantity)
         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::int[],
             $7::int[])
         ON CONFLICT (reservation_id, line_id, warehouse_id, bin)
         DO UPDATE SET quantity = reservation_allocations.quantity + EXCLUDED.quantity",
    )
    .bind(id)
    .bind(&line_ids)
    .bind(&skus)
    .bind(&warehouses)
    .bind(&bins)
    .bind(&sequences)
    .bind(&quantities)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ReservationRow {
    id: String,
    order_id: String,
    order_number: String,
    status: String,
    fulfillment_mode: String,
    pickup_store_id: String,
    expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct HeldRow {
    line_id: String,
    sku: String,
    warehouse_id: String,
    bin: String,
    pick_sequence: i32,
    quantity: i32,
    committed: i32,
    released: i32,
}

const COLUMNS: &str = "id, order_id, order_number, status, fulfillment_mode, pickup_store_id,
    expires_at, created_at, updated_at";

async fn with_allocations(
    conn: &mut PgConnection,
    row: Option<ReservationRow>,
) -> Result<Option<Reservation>, StoreError> {
    let Some(row) = row else {
        return Ok(None);
    };
    let held: Vec<HeldRow> = sqlx::query_as(
        "SELECT a.line_id, a.sku, a.warehouse_id, a.bin, a.pick_sequence, a.quantity,
                a.committed, a.released
         FROM reservation_allocations a
         LEFT JOIN reservation_lines l
           ON l.reservation_id = a.reservation_id AND l.line_id = a.line_id
         WHERE a.reservation_id = $1
         ORDER BY l.position, a.warehouse_id, a.pick_sequence, a.bin",
    )
    .bind(&row.id)
    .fetch_all(conn)
    .await?;
    Ok(Some(Reservation {
        status: ReservationStatus::parse(&row.status)?,
        id: row.id,
        order_id: row.order_id,
        order_number: row.order_number,
        fulfillment_mode: row.fulfillment_mode,
        pickup_store_id: row.pickup_store_id,
        expires_at: row.expires_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        allocations: held
            .into_iter()
            .map(|h| Held {
                line_id: h.line_id,
                sku: h.sku,
                warehouse_id: h.warehouse_id,
                bin: h.bin,
                pick_sequence: h.pick_sequence,
                quantity: h.quantity,
                committed: h.committed,
                released: h.released,
            })
            .collect(),
    }))
}

pub async fn get(conn: &mut PgConnection, id: &str) -> Result<Option<Reservation>, StoreError> {
    let row = sqlx::query_as(&format!("SELECT {COLUMNS} FROM reservations WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    with_allocations(conn, row).await
}

/// The reservation, locked until the transaction ends: every event about one reservation is
/// applied one at a time.
pub async fn lock(conn: &mut PgConnection, id: &str) -> Result<Option<Reservation>, StoreError> {
    let row = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM reservations WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    with_allocations(conn, row).await
}

/// The order's first reservation.
pub async fn first_of_order(
    conn: &mut PgConnection,
    order_id: &str,
) -> Result<Option<Reservation>, StoreError> {
    let row = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM reservations WHERE order_id = $1 ORDER BY created_at, id LIMIT 1"
    ))
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    with_allocations(conn, row).await
}

/// Adds to what became of one allocation's units.
pub async fn settle(
    conn: &mut PgConnection,
    id: &str,
    held: &Held,
    committed: i32,
    released: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reservation_allocations SET committed = committed + $5, released = released + $6
         WHERE reservation_id = $1 AND line_id = $2 AND warehouse_id = $3 AND bin = $4",
    )
    .bind(id)
    .bind(&held.line_id)
    .bind(&held.warehouse_id)
    .bind(&held.bin)
    .bind(committed)
    .bind(released)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a commit by its natural key; false if that hand-over was committed already.
pub async fn record_commit(
    conn: &mut PgConnection,
    id: &str,
    fulfillment_id: &str,
    parcel_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO reservation_commits (reservation_id, fulfillment_id, parcel_id, committed_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(fulfillment_id)
    .bind(parcel_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a restock by its return; false if that return was restocked already.
pub async fn record_restock(
    conn: &mut PgConnection,
    return_id: &str,
    order_id: &str,
    warehouse_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO restocks (return_id, order_id, warehouse_id, restocked_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(return_id)
    .bind(order_id)
    .bind(warehouse_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
