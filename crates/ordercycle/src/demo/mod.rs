//! `ordercycle demo`: against a running platform, seeds a catalog, warehouses and stock, walks
//! one order per DESIGN §3a scenario (concurrently), prints each order's live progress and
//! timeline, and ends with a KPI summary. `--json`: one object per order on stdout.

mod flow;
mod scenarios;
mod seed;

use anyhow::bail;
use contracts::orders::{GetOrderTimelineRequest, ListOrdersRequest, OrderStatus};
use serde_json::json;
use tracing::Instrument as _;

use crate::clients::{Clients, Rpc as _, Target};
use crate::output;
use flow::{Flow, status_name};

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Only these scenarios (comma-separated); all by default.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
}

struct Outcome {
    scenario: &'static str,
    expected: OrderStatus,
    order_id: String,
    order_number: String,
    final_status: Option<OrderStatus>,
    return_status: String,
    error: Option<String>,
    /// The scenario's trace, when spans are recorded.
    trace_id: String,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.error.is_none() && self.final_status == Some(self.expected)
    }
}

/// `json`: one object per order on stdout; the live progress goes to stderr.
pub async fn run(target: &Target, json: bool, args: DemoArgs) -> anyhow::Result<bool> {
    let chosen: Vec<(&'static str, OrderStatus)> = if args.scenarios.is_empty() {
        scenarios::ALL.to_vec()
    } else {
        let mut chosen = Vec::new();
        for name in &args.scenarios {
            let Some(found) = scenarios::ALL.iter().find(|(n, _)| n == name) else {
                let all: Vec<_> = scenarios::ALL.iter().map(|(n, _)| *n).collect();
                bail!("unknown scenario `{name}`; one of: {}", all.join(", "));
            };
            chosen.push(*found);
        }
        chosen
    };
    let c = Clients::new(target)?;
    // Is anyone there?
    c.orders
        .clone()
        .list_orders(ListOrdersRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .rpc("orders ListOrders")
        .map_err(|err| {
            err.context(format!(
                "no platform answers at {} (start one with `OC_CLOCK_SCALE=3600 \
                 OC_PAYMENTS_INSTALLMENT_EVERY_SECS=3600 ordercycle up`, or point the demo at \
                 it with --target-host/--port-base/--orders-addr …)",
                target.addr("orders")
            ))
        })?;
    match std::env::var("OC_CLOCK_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        Some(scale) if scale >= 600.0 => {}
        _ => output::progress(
            json,
            "note: the demo expects the platform on a fast clock (`OC_CLOCK_SCALE=3600 \
             OC_PAYMENTS_INSTALLMENT_EVERY_SECS=3600 ordercycle up`); on a real clock deliveries \
             take hours and waits time out",
        ),
    }

    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    output::progress(json, &format!("demo run {run}: seeding inventory"));
    for line in seed::seed(&c, &run).await? {
        output::progress(json, &format!("  {line}"));
    }
    output::progress(
        json,
        &format!("walking {} orders concurrently:", chosen.len()),
    );

    let tasks = chosen.into_iter().map(|(scenario, expected)| {
        let c = c.clone();
        let run = run.clone();
        // One trace per scenario: every call it makes, and the saga each call sets off in the
        // services, hang under this span (exported when OTEL_EXPORTER_OTLP_ENDPOINT is set).
        let span = tracing::info_span!("demo.scenario", scenario, order_id = tracing::field::Empty);
        let trace_id = runtime::telemetry::trace_id(&span).unwrap_or_default();
        async move {
            let mut f = Flow::new(c, &run, scenario, json);
            let result = scenarios::run(&mut f).await;
            let mut outcome = Outcome {
                scenario,
                expected,
                order_id: String::new(),
                order_number: String::new(),
                final_status: None,
                return_status: String::new(),
                error: result.err().map(|e| format!("{e:#}")),
                trace_id,
            };
            if f.order.is_some()
                && let Ok(order) = f.get().await
            {
                outcome.order_id = order.id.clone();
                outcome.order_number = order.order_number.clone();
                outcome.final_status = Some(order.status());
                outcome.return_status = order.return_status().as_str_name().to_owned();
            }
            match &outcome.error {
                None if outcome.ok() => f.log(&format!("✔ done: {}", status_name(expected))),
                None => f.log(&format!(
                    "✘ ended {} but expected {}",
                    outcome.final_status.map_or("?", status_name),
                    status_name(expected)
                )),
                Some(err) => f.log(&format!("✘ FAILED: {err}")),
            }
            outcome
        }
        .instrument(span)
    });
    let outcomes = futures::future::join_all(tasks).await;

    if json {
        for o in &outcomes {
            output::json(&json!({
                "scenario": o.scenario,
                "order_number": o.order_number,
                "order_id": o.order_id,
                "trace_id": o.trace_id,
                "final_status": o.final_status.map_or("", status_name),
                "expected_status": status_name(o.expected),
                "return_status": o.return_status,
                "ok": o.ok(),
                "error": o.error,
            }));
        }
    } else {
        print_timelines(&c, &outcomes).await;
        print_summary(&outcomes);
        print_kpis(&c).await;
    }
    Ok(outcomes.iter().all(Outcome::ok))
}

async fn print_timelines(c: &Clients, outcomes: &[Outcome]) {
    for o in outcomes.iter().filter(|o| !o.order_id.is_empty()) {
        output::note(&format!("\n── {} · {} ──", o.scenario, o.order_number));
        let entries = c
            .orders
            .clone()
            .get_order_timeline(GetOrderTimelineRequest {
                order_id: o.order_id.clone(),
                page_size: 200,
                page_token: String::new(),
            })
            .await
            .rpc("orders GetOrderTimeline");
        match entries {
            Ok(t) => {
                for e in t.entries {
                    let at = e
                        .occurred_at
                        .as_ref()
                        .and_then(contracts::time::from_timestamp)
                        .map(|t| t.format("%m-%d %H:%M:%S").to_string())
                        .unwrap_or_default();
                    let actor = if e.actor_id.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", e.actor_id)
                    };
                    output::note(&format!("  {at}  {:<36} {}{actor}", e.kind, e.summary));
                }
            }
            Err(err) => output::note(&format!("  (timeline unavailable: {err:#})")),
        }
    }
}

fn print_summary(outcomes: &[Outcome]) {
    output::note("\nScenarios:");
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            vec![
                if o.ok() { "ok" } else { "FAILED" }.to_owned(),
                o.scenario.to_owned(),
                o.order_number.clone(),
                o.final_status.map_or("-", status_name).to_owned(),
                status_name(o.expected).to_owned(),
                o.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::table(
        &[
            "",
            "scenario",
            "order",
            "final status",
            "expected",
            "reason",
        ],
        &rows,
    );
    let ok = outcomes.iter().filter(|o| o.ok()).count();
    output::note(&format!(
        "{ok}/{} scenarios reached their state",
        outcomes.len()
    ));
}

async fn print_kpis(c: &Clients) {
    output::note("");
    if let Err(err) = crate::commands::report(c, &crate::commands::Out { json: false }).await {
        output::note(&format!("(KPIs unavailable: {err:#})"));
    }
}
