//! The visual report on the admin HTTP server: `/report.svg` (every chart stacked in one SVG)
//! and `/report.html` (the charts inline, the headline KPIs and findings for step 15: the
//! slowest stage, the SKUs returned most, the channel cancelled most, the SKUs running low).
//! Both take `?from=…&to=…` (RFC 3339; default the last `OC_ANALYTICS_REPORT_DAYS` days) and
//! `currency=…`, and are drawn from the same answers as the gRPC API.

pub mod svg;

use std::fmt::Write as _;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use contracts::analytics::*;
use contracts::common::{Channel, ReturnReason};

use crate::domain::{Range, Stage};
use crate::grpc::{AnalyticsApi, convert};
use crate::store::kpis;
use svg::{Bar, bar_chart, escape};

pub fn routes(api: AnalyticsApi) -> Router {
    Router::new()
        .route("/report.svg", get(report_svg))
        .route("/report.html", get(report_html))
        .with_state(api)
}

/// Everything the report shows.
pub struct Report {
    pub range: Range,
    pub currency: String,
    pub charts: Vec<String>,
    pub kpis: GetOrderKpisResponse,
    pub findings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    BadQuery(String),
    #[error(transparent)]
    Store(#[from] crate::error::Error),
}

impl IntoResponse for ReportError {
    fn into_response(self) -> Response {
        match self {
            Self::BadQuery(msg) => (StatusCode::BAD_REQUEST, msg).into_response(),
            Self::Store(err) => {
                let status = tonic::Status::from(err);
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    status.message().to_owned(),
                )
                    .into_response()
            }
        }
    }
}

async fn report_svg(
    State(api): State<AnalyticsApi>,
    RawQuery(query): RawQuery,
) -> Result<Response, ReportError> {
    let report = build(&api, query.as_deref()).await?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml")],
        stack(&report.charts),
    )
        .into_response())
}

async fn report_html(
    State(api): State<AnalyticsApi>,
    RawQuery(query): RawQuery,
) -> Result<Response, ReportError> {
    let report = build(&api, query.as_deref()).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html(&report),
    )
        .into_response())
}

fn parse_query(api: &AnalyticsApi, query: Option<&str>) -> Result<(Range, String), ReportError> {
    let mut from = None;
    let mut to = None;
    let mut currency = api.config.reporting_currency.clone();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = value
            .replace("%3A", ":")
            .replace("%3a", ":")
            .replace("%2B", "+")
            .replace("%2b", "+");
        let time = |v: &str| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ReportError::BadQuery(format!("{key}: not an RFC 3339 time")))
        };
        match key {
            "from" => from = Some(time(&value)?),
            "to" => to = Some(time(&value)?),
            "currency" if crate::domain::is_currency_code(&value) => currency = value,
            "currency" => {
                return Err(ReportError::BadQuery(
                    "currency: not an ISO 4217 code".into(),
                ));
            }
            other => return Err(ReportError::BadQuery(format!("unknown parameter {other}"))),
        }
    }
    let to = to.unwrap_or_else(|| api.clock.now());
    let from = from.unwrap_or(to - api.config.report_range);
    let range = Range::new(from, to).map_err(|e| ReportError::BadQuery(e.to_string()))?;
    Ok((range, currency))
}

fn time_range(range: &Range) -> Option<TimeRange> {
    Some(TimeRange {
        start: convert::timestamp(range.start),
        end: convert::timestamp(range.end),
    })
}

/// Minor units as a decimal amount (two decimals; currencies without minor units as is).
pub fn money_text(minor: i64, currency: &str) -> String {
    if matches!(currency, "JPY" | "KRW" | "CLP" | "ISK" | "VND") {
        return format!("{minor} {currency}");
    }
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
}

/// Seconds as the largest sensible unit.
pub fn duration_text(seconds: f64) -> String {
    match seconds {
        s if s >= 86_400.0 => format!("{:.1} d", s / 86_400.0),
        s if s >= 3_600.0 => format!("{:.1} h", s / 3_600.0),
        s if s >= 60.0 => format!("{:.1} min", s / 60.0),
        s => format!("{s:.0} s"),
    }
}

fn seconds(d: Option<&prost_types::Duration>) -> f64 {
    d.map_or(0.0, |d| d.seconds as f64 + f64::from(d.nanos) / 1e9)
}

fn channel_label(channel: i32) -> String {
    Channel::try_from(channel).map_or_else(
        |_| channel.to_string(),
        |c| {
            c.as_str_name()
                .trim_start_matches("CHANNEL_")
                .to_lowercase()
        },
    )
}

/// Gathers the figures and draws the charts.
pub async fn build(api: &AnalyticsApi, query: Option<&str>) -> Result<Report, ReportError> {
    let (range, currency) = parse_query(api, query)?;
    let tr = time_range(&range);
    let mix = api
        .channel_mix(&GetChannelMixRequest {
            range: tr,
            currency_code: currency.clone(),
            ..Default::default()
        })
        .await?;
    let trend = api
        .sales_trends(&GetSalesTrendsRequest {
            range: tr,
            granularity: Granularity::Day as i32,
            currency_code: currency.clone(),
            ..Default::default()
        })
        .await?;
    let cycle = api
        .cycle_times(&GetCycleTimesRequest {
            range: tr,
            ..Default::default()
        })
        .await?;
    let returns = api
        .return_stats(&GetReturnStatsRequest {
            range: tr,
            currency_code: currency.clone(),
            sku: String::new(),
            top_sku_count: 5,
        })
        .await?;
    let feedback = api
        .feedback_summary(&GetFeedbackSummaryRequest {
            range: tr,
            sku: String::new(),
        })
        .await?;
    let order_kpis = api
        .order_kpis(&GetOrderKpisRequest {
            range: tr,
            channel: 0,
        })
        .await?;
    let funnel = kpis::funnel(&api.pool, &range)
        .await
        .map_err(crate::error::Error::from)?;
    let low = kpis::stock_lows(&api.pool, &range, 5)
        .await
        .map_err(crate::error::Error::from)?;

    let revenue_of = |m: Option<&contracts::common::Money>| m.map_or(0, |m| m.amount_minor);
    let mut charts = Vec::new();
    charts.push(bar_chart(
        "revenue-by-channel",
        &format!("Revenue by channel ({currency})"),
        &mix.entries
            .iter()
            .map(|e| {
                let minor = revenue_of(e.revenue.as_ref());
                Bar::new(
                    channel_label(e.channel),
                    minor as f64,
                    money_text(minor, &currency),
                )
            })
            .collect::<Vec<_>>(),
    ));
    charts.push(bar_chart(
        "revenue-by-day",
        &format!("Gross sales per day ({currency})"),
        &trend
            .buckets
            .iter()
            .map(|b| {
                let day = b
                    .bucket_start
                    .as_ref()
                    .and_then(contracts::time::from_timestamp)
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_default();
                let minor = revenue_of(b.gross_sales.as_ref());
                Bar::new(day, minor as f64, money_text(minor, &currency))
            })
            .collect::<Vec<_>>(),
    ));
    charts.push(bar_chart(
        "cycle-times",
        "Cycle time per stage (median)",
        &cycle
            .stages
            .iter()
            .filter_map(|s| {
                let stage = Stage::from_code(s.stage)?;
                let p50 = seconds(s.p50.as_ref());
                Some(Bar::new(
                    stage.label(),
                    p50,
                    format!(
                        "{} (p90 {})",
                        duration_text(p50),
                        duration_text(seconds(s.p90.as_ref()))
                    ),
                ))
            })
            .collect::<Vec<_>>(),
    ));
    let steps = [
        "placed",
        "confirmed",
        "dispatched",
        "delivered",
        "accepted",
        "completed",
    ];
    charts.push(bar_chart(
        "funnel",
        "Orders from placed to completed",
        &steps
            .iter()
            .zip(funnel)
            .map(|(step, count)| Bar::new(*step, count as f64, count.to_string()))
            .collect::<Vec<_>>(),
    ));
    charts.push(bar_chart(
        "return-reasons",
        "Returned units by reason",
        &returns
            .by_reason
            .iter()
            .map(|r| {
                let label = ReturnReason::try_from(r.reason).map_or_else(
                    |_| r.reason.to_string(),
                    |x| {
                        x.as_str_name()
                            .trim_start_matches("RETURN_REASON_")
                            .replace('_', " ")
                            .to_lowercase()
                    },
                );
                Bar::new(label, r.units as f64, r.units.to_string())
            })
            .collect::<Vec<_>>(),
    ));
    charts.push(bar_chart(
        "customer-voice",
        &format!(
            "Survey answers: CSAT {:.2}, NPS {:.1}",
            feedback.average_csat, feedback.nps
        ),
        &[
            Bar::new(
                "promoters",
                feedback.promoters as f64,
                feedback.promoters.to_string(),
            ),
            Bar::new(
                "passives",
                feedback.passives as f64,
                feedback.passives.to_string(),
            ),
            Bar::new(
                "detractors",
                feedback.detractors as f64,
                feedback.detractors.to_string(),
            ),
        ],
    ));

    let mut findings = Vec::new();
    if let Some(slowest) = cycle
        .stages
        .iter()
        .filter(|s| Stage::from_code(s.stage).is_some_and(Stage::is_sequential))
        .max_by(|a, b| seconds(a.p50.as_ref()).total_cmp(&seconds(b.p50.as_ref())))
        && let Some(stage) = Stage::from_code(slowest.stage)
    {
        findings.push(format!(
            "Slowest stage: {} (median {}, p90 {}, {} samples).",
            stage.label(),
            duration_text(seconds(slowest.p50.as_ref())),
            duration_text(seconds(slowest.p90.as_ref())),
            slowest.sample_count
        ));
    }
    if !returns.top_skus.is_empty() {
        let skus: Vec<String> = returns
            .top_skus
            .iter()
            .take(3)
            .map(|s| {
                format!(
                    "{} ({} returned of {} delivered)",
                    s.sku, s.units_returned, s.units_delivered
                )
            })
            .collect();
        findings.push(format!("SKUs returned most: {}.", skus.join(", ")));
    }
    if let Some(worst) = mix
        .entries
        .iter()
        .filter(|e| e.cancellation_rate > 0.0)
        .max_by(|a, b| a.cancellation_rate.total_cmp(&b.cancellation_rate))
    {
        findings.push(format!(
            "Channel with the most cancellations: {} ({:.1}% of its {} orders).",
            channel_label(worst.channel),
            worst.cancellation_rate * 100.0,
            worst.order_count
        ));
    }
    if !low.is_empty() {
        let skus: Vec<String> = low
            .iter()
            .map(|(sku, warehouses, _, available)| {
                format!("{sku} ({available} left, {warehouses} warehouse(s))")
            })
            .collect();
        findings.push(format!(
            "SKUs at or below their reorder point, likely to run out: {}.",
            skus.join(", ")
        ));
    }
    if findings.is_empty() {
        findings.push("No orders in this range yet.".into());
    }
    Ok(Report {
        range,
        currency,
        charts,
        kpis: order_kpis,
        findings,
    })
}

/// Every chart in one SVG document, one under the other.
pub fn stack(charts: &[String]) -> String {
    let mut y = 0.0;
    let mut body = String::new();
    for chart in charts {
        let height = chart
            .split("height=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|h| h.parse::<f64>().ok())
            .unwrap_or(0.0);
        // A nested <svg> keeps its own coordinates; `y` places it.
        let _ = write!(
            body,
            "{}",
            chart.replacen("<svg ", &format!("<svg y=\"{y}\" "), 1)
        );
        y += height + 16.0;
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="640" height="{y}" viewBox="0 0 640 {y}"><title>ordercycle report</title>{body}</svg>"#
    )
}

/// The self-contained HTML page of `report` (what `ordercycle report --out` would write).
pub fn html(report: &Report) -> String {
    let k = &report.kpis;
    let pct = |r: f64| format!("{:.1}%", r * 100.0);
    let rows = [
        ("Orders placed", k.order_count.to_string()),
        ("Perfect-order rate", pct(k.perfect_order_rate)),
        ("Cancellation rate", pct(k.cancellation_rate)),
        ("Shortage rate", pct(k.shortage_rate)),
        ("Review-hold rate", pct(k.hold_rate)),
        ("Payment decline rate", pct(k.decline_rate)),
        ("Repeat-customer rate", pct(k.repeat_customer_rate)),
    ];
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ordercycle report</title>\
         <style>body{{font-family:sans-serif;max-width:700px;margin:2em auto;color:#222}}\
         td{{padding:2px 12px}}figure{{margin:1.5em 0}}</style></head><body>\
         <h1>ordercycle report</h1><p>{} to {} &middot; money in {}</p><h2>Headline figures</h2><table>",
        report.range.start.to_rfc3339(),
        report.range.end.to_rfc3339(),
        escape(&report.currency)
    );
    for (name, value) in rows {
        let _ = write!(
            out,
            "<tr><td>{name}</td><td data-kpi=\"{name}\">{value}</td></tr>"
        );
    }
    out.push_str("</table><h2>Findings</h2><ul>");
    for finding in &report.findings {
        let _ = write!(out, "<li>{}</li>", escape(finding));
    }
    out.push_str("</ul><h2>Charts</h2>");
    for chart in &report.charts {
        let _ = write!(out, "<figure>{chart}</figure>");
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_durations_read_like_a_person_writes_them() {
        assert_eq!(money_text(123_456, "EUR"), "1234.56 EUR");
        assert_eq!(money_text(-5, "EUR"), "-0.05 EUR");
        assert_eq!(money_text(500, "JPY"), "500 JPY");
        assert_eq!(duration_text(7_200.0), "2.0 h");
        assert_eq!(duration_text(30.0), "30 s");
    }

    #[test]
    fn stacked_charts_are_placed_one_under_another() {
        let a = bar_chart("a", "A", &[Bar::new("x", 1.0, "1")]);
        let b = bar_chart("b", "B", &[]);
        let all = stack(&[a, b]);
        assert!(all.contains(r#"<svg y="0" "#));
        assert!(all.contains(r#"<svg y="84" "#), "{all}");
    }
}
