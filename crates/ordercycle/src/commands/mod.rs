//! Operator commands: thin gRPC clients printing tables (or one JSON object per row with
//! `--json`). A failed call ends the command with one line naming the call and the gRPC code.

mod analytics;
mod dlq;
mod ops;
mod orders;

use clap::Subcommand;
use contracts::common::Money;
use serde_json::Value;

use crate::clients::{Clients, Target};
use crate::output;

pub use analytics::{AnalyticsCmd, ReportArgs};
pub use dlq::DlqCmd;
pub use ops::{CasesCmd, FulfilCmd, ShipCmd, StockCmd};
pub use orders::{OrdersCmd, ReturnsCmd, ReviewCmd};

#[derive(Subcommand, Debug)]
pub enum Operator {
    /// Orders: place, get, list, cancel, timeline.
    #[command(subcommand)]
    Orders(OrdersCmd),
    /// The review queue of held orders: list, approve, reject.
    #[command(subcommand)]
    Review(ReviewCmd),
    /// Stock: receive, show (availability per warehouse), low (below reorder point).
    #[command(subcommand)]
    Stock(StockCmd),
    /// Warehouse work: wave, pick, pack, label, handover.
    #[command(subcommand)]
    Fulfil(FulfilCmd),
    /// Shipments: track (once), watch (live until delivered).
    #[command(subcommand)]
    Ship(ShipCmd),
    /// Returns (RMA): request, approve, inspect (receive + inspect at the warehouse).
    #[command(subcommand)]
    Returns(ReturnsCmd),
    /// Support cases: list, resolve.
    #[command(subcommand)]
    Cases(CasesCmd),
    /// KPI report from analytics (orders, cycle times, fulfillment); with `--out`, the visual
    /// HTML report for a range, written to a file.
    Report(ReportArgs),
    /// Analytics maintenance: rebuild the read models from the kept events.
    #[command(subcommand)]
    Analytics(AnalyticsCmd),
    /// Dead letters (poison events): list, show, replay after a fix.
    #[command(subcommand)]
    Dlq(DlqCmd),
}

pub async fn run(target: &Target, json: bool, cmd: Operator) -> anyhow::Result<()> {
    let out = Out { json };
    // Lazy channels: nothing connects until a command calls.
    let c = Clients::new(target)?;
    match cmd {
        Operator::Orders(cmd) => orders::orders(&c, &out, cmd).await,
        Operator::Review(cmd) => orders::review(&c, &out, cmd).await,
        Operator::Returns(cmd) => orders::returns(&c, &out, cmd).await,
        Operator::Stock(cmd) => ops::stock(&c, &out, cmd).await,
        Operator::Fulfil(cmd) => ops::fulfil(&c, &out, cmd).await,
        Operator::Ship(cmd) => ops::ship(&c, &out, cmd).await,
        Operator::Cases(cmd) => ops::cases(&c, &out, cmd).await,
        Operator::Report(args) => match &args.out {
            Some(path) => analytics::report_file(&out, &args, path).await,
            None if args.from.is_some() || args.to.is_some() || args.currency.is_some() => {
                anyhow::bail!("--from, --to and --currency shape the HTML report: add --out FILE")
            }
            None => report(&c, &out).await,
        },
        Operator::Analytics(cmd) => analytics::analytics(&out, cmd).await,
        Operator::Dlq(cmd) => dlq::dlq(&out, cmd).await,
    }
}

/// Rows for a table, or JSON objects with the same keys.
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `rows` (each a list of key/value pairs) as a table or as JSON lines.
    pub fn rows(&self, headers: &[&str], rows: Vec<Vec<(&str, Value)>>) {
        if self.json {
            for row in rows {
                let object: serde_json::Map<String, Value> =
                    row.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                output::json(&Value::Object(object));
            }
            return;
        }
        let cells: Vec<Vec<String>> = rows
            .into_iter()
            .map(|row| row.into_iter().map(|(_, v)| cell(&v)).collect())
            .collect();
        output::table(headers, &cells);
    }

    /// A one-line confirmation for people; nothing extra in JSON mode.
    pub fn note(&self, message: &str) {
        if !self.json {
            output::note(message);
        }
    }
}

pub fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// `EUR 12.50`.
pub fn money(m: Option<&Money>) -> String {
    match m {
        None => "-".to_owned(),
        Some(m) => {
            let sign = if m.amount_minor < 0 { "-" } else { "" };
            let abs = m.amount_minor.unsigned_abs();
            format!("{} {sign}{}.{:02}", m.currency_code, abs / 100, abs % 100)
        }
    }
}

/// A timestamp in UTC, to the second.
pub fn when(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(contracts::time::from_timestamp).map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

/// An enum name without its type prefix: `ORDER_STATUS_COMPLETED` → `COMPLETED`.
pub fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_owned()
}

/// A protobuf duration as a person reads it (`3h 12m`, `42s`).
pub fn duration(d: Option<&prost_types::Duration>) -> String {
    let Some(d) = d else {
        return "-".to_owned();
    };
    let secs = d.seconds;
    if secs >= 86_400 {
        format!("{}d {}h", secs / 86_400, (secs % 86_400) / 3600)
    } else if secs >= 3600 {
        format!("{}h {}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m {}s", secs / 60, secs % 60)
    } else {
        format!("{}.{:01}s", secs, d.nanos / 100_000_000)
    }
}

/// `a:b:c` → parts, with a clear error.
pub fn parts<'a>(raw: &'a str, what: &str, n: usize) -> anyhow::Result<Vec<&'a str>> {
    let parts: Vec<&str> = raw.split(':').collect();
    if parts.len() != n || parts.iter().any(|p| p.is_empty()) {
        anyhow::bail!("`{raw}`: expected {what}");
    }
    Ok(parts)
}

pub fn number(raw: &str, what: &str) -> anyhow::Result<i32> {
    raw.parse()
        .map_err(|_| anyhow::anyhow!("`{raw}` is not a whole number ({what})"))
}

/// The KPI summary (also the end of the demo).
pub async fn report(c: &Clients, out: &Out) -> anyhow::Result<()> {
    use crate::clients::Rpc as _;
    use contracts::analytics::{
        GetCycleTimesRequest, GetFulfillmentKpisRequest, GetOrderKpisRequest,
    };
    use serde_json::json;

    let k = c
        .analytics
        .clone()
        .get_order_kpis(GetOrderKpisRequest::default())
        .await
        .rpc("analytics GetOrderKpis")?;
    out.note("Orders (all time):");
    out.rows(
        &[
            "orders",
            "delivered",
            "cancelled",
            "shortages",
            "held",
            "approved",
            "rejected",
            "perfect",
            "customers",
        ],
        vec![vec![
            ("orders", json!(k.order_count)),
            ("delivered", json!(k.delivered_count)),
            ("cancelled", json!(k.cancelled_count)),
            ("shortages", json!(k.shortage_count)),
            ("held", json!(k.held_count)),
            ("approved", json!(k.approved_count)),
            ("rejected", json!(k.rejected_count)),
            (
                "perfect_order_rate",
                json!(format!("{:.0}%", k.perfect_order_rate * 100.0)),
            ),
            ("customers", json!(k.customer_count)),
        ]],
    );
    let t = c
        .analytics
        .clone()
        .get_cycle_times(GetCycleTimesRequest::default())
        .await
        .rpc("analytics GetCycleTimes")?;
    out.note("\nCycle times (service clock):");
    out.rows(
        &["stage", "orders", "p50", "p90", "max"],
        t.stages
            .iter()
            .map(|s| {
                vec![
                    (
                        "stage",
                        json!(short(s.stage().as_str_name(), "CYCLE_STAGE_").to_lowercase()),
                    ),
                    ("orders", json!(s.sample_count)),
                    ("p50", json!(duration(s.p50.as_ref()))),
                    ("p90", json!(duration(s.p90.as_ref()))),
                    ("max", json!(duration(s.max.as_ref()))),
                ]
            })
            .collect(),
    );
    match c
        .analytics
        .clone()
        .get_fulfillment_kpis(GetFulfillmentKpisRequest::default())
        .await
        .rpc("analytics GetFulfillmentKpis")
    {
        Ok(f) => {
            out.note("\nFulfillment per warehouse:");
            out.rows(
                &[
                    "warehouse",
                    "fulfillments",
                    "units picked",
                    "parcels",
                    "handed over",
                    "dispatch p50",
                    "pickups",
                    "delivered",
                    "failed attempts",
                    "first-attempt rate",
                ],
                f.warehouses
                    .iter()
                    .chain(f.overall.iter())
                    .map(|w| {
                        vec![
                            (
                                "warehouse",
                                json!(if w.warehouse_id.is_empty() {
                                    "(all)"
                                } else {
                                    w.warehouse_id.as_str()
                                }),
                            ),
                            ("fulfillments", json!(w.fulfillments_created)),
                            ("units_picked", json!(w.units_picked)),
                            ("parcels_packed", json!(w.parcels_packed)),
                            ("parcels_handed_over", json!(w.parcels_handed_over)),
                            (
                                "dispatch_p50",
                                json!(duration(w.dispatch_time_p50.as_ref())),
                            ),
                            ("pickups_collected", json!(w.pickups_collected)),
                            ("shipments_delivered", json!(w.shipments_delivered)),
                            ("delivery_failures", json!(w.delivery_failures)),
                            (
                                "first_attempt_rate",
                                json!(format!("{:.0}%", w.first_attempt_delivery_rate * 100.0)),
                            ),
                        ]
                    })
                    .collect(),
            );
        }
        Err(err) => out.note(&format!("(fulfillment KPIs unavailable: {err:#})")),
    }
    Ok(())
}
