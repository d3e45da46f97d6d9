//! Personal-data erasure in tests: the event orders publishes, waiting until a service has
//! applied it, and a scan of every table of a database for values that must be gone.

use contracts::orders::{CustomerDataErased, ErasureTrigger};
use sqlx::PgPool;
use uuid::Uuid;

/// The `CustomerDataErased` orders would publish for `order_ids` of `customer_id`.
pub fn erasure(order_ids: &[&str], customer_id: &str) -> CustomerDataErased {
    CustomerDataErased {
        erasure_id: Uuid::now_v7().to_string(),
        trigger: ErasureTrigger::Request.into(),
        customer_id: customer_id.to_owned(),
        order_ids: order_ids.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

/// Waits until the database of `pool` records the erasure in `oc_erasures`; returns the rows
/// the service rewrote for it.
pub async fn applied(pool: &PgPool, erasure_id: &str) -> i64 {
    let id = Uuid::parse_str(erasure_id).expect("erasure id");
    crate::eventually(
        &format!("erasure {erasure_id} to be applied"),
        || async move {
            sqlx::query_scalar("SELECT rows FROM oc_erasures WHERE erasure_id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .ok()
                .flatten()
        },
    )
    .await
}

/// `table.column holds "needle" (n rows)` for every text, JSON, array or bytea column of every
/// table of `pool`'s database holding one of `needles` (case-insensitive; bytea byte for byte).
pub async fn traces(pool: &PgPool, needles: &[&str]) -> Vec<String> {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text
         FROM information_schema.columns c
         JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
           AND t.table_type = 'BASE TABLE'
           AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb',
                               'bytea', 'ARRAY', 'USER-DEFINED')",
    )
    .fetch_all(pool)
    .await
    .expect("catalog");
    let mut found = Vec::new();
    for (table, column, data_type) in columns {
        let probe = if data_type == "bytea" {
            format!("position(convert_to($1, 'UTF8') IN \"{column}\") > 0")
        } else {
            format!("strpos(lower(\"{column}\"::text), lower($1)) > 0")
        };
        for needle in needles {
            let hits: i64 =
                sqlx::query_scalar(&format!("SELECT count(*) FROM \"{table}\" WHERE {probe}"))
                    .bind(*needle)
                    .fetch_one(pool)
                    .await
                    .expect("scan");
            if hits > 0 {
                found.push(format!("{table}.{column} holds {needle:?} ({hits} rows)"));
            }
        }
    }
    found
}
