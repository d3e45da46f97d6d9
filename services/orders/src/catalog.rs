//! Order lines against the catalog orders keeps from inventory's `item.upserted` (DESIGN step
//! 2): every SKU known and for sale, every price the catalog's — or, with the check off
//! (`OC_ORDERS_CATALOG_CHECK=false`), only the catalog's facts taken where it has them. The
//! lines take the catalog's name, tax category and unit weight either way. PlaceOrder, quotes and
//! lines added by an order update all come here.

use runtime::grpc::FieldViolations;
use sqlx::PgConnection;

use crate::domain::{Currency, NewLine};
use crate::error::Error;
use crate::store;

/// Checks (`checked`) or fills `lines` from the catalog; violations are named
/// `<field>[i].sku` / `<field>[i].unit_price`.
pub async fn apply(
    conn: &mut PgConnection,
    lines: &mut [NewLine],
    checked: bool,
    field: &str,
) -> Result<(), Error> {
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let items = store::catalog::get_many(conn, &skus).await?;
    let mut v = FieldViolations::new();
    for (i, line) in lines.iter_mut().enumerate() {
        let Some(item) = items.iter().find(|it| it.sku == line.sku.as_str()) else {
            if checked {
                v.add(
                    format!("{field}[{i}].sku"),
                    format!("{} is not in the catalog", line.sku.as_str()),
                );
            }
            continue;
        };
        if checked {
            if !item.active {
                v.add(
                    format!("{field}[{i}].sku"),
                    format!("{} is not for sale", item.sku),
                );
                continue;
            }
            if Currency::parse(&item.currency) != Some(line.unit_price.currency)
                || item.unit_price_minor != line.unit_price.minor
            {
                v.add(
                    format!("{field}[{i}].unit_price"),
                    format!(
                        "must equal the catalog price {} {}",
                        item.unit_price_minor, item.currency
                    ),
                );
                continue;
            }
            line.name.clone_from(&item.name);
        }
        // The request's own category and weight stand only where the catalog has none.
        if !item.category.is_empty() {
            line.category.clone_from(&item.category);
        }
        if item.weight_grams > 0 {
            line.weight_grams = u32::try_from(item.weight_grams).unwrap_or(0);
        }
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(v))
    }
}
