//! The report on the admin HTTP server: well-formed SVG and HTML whose bars carry the known
//! numbers of the scenario week.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::TestApp;
use crate::scenario;

/// A plain HTTP/1.1 GET; (status, content type, body).
async fn get(app: &TestApp, path: &str) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(app.analytics.http_addr)
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// Checks that every tag is closed in order (the XML well-formedness that matters here).
fn assert_balanced(doc: &str) {
    let mut open: Vec<String> = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') || tag.ends_with('/') {
            continue;
        }
        let name = tag.split_whitespace().next().unwrap().to_owned();
        if let Some(closing) = name.strip_prefix('/') {
            assert_eq!(
                open.pop().as_deref(),
                Some(closing),
                "mismatched </{closing}>"
            );
        } else if !matches!(name.as_str(), "meta" | "br") {
            open.push(name);
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
}

fn bar(doc: &str, label: &str) -> String {
    let needle = format!("data-label=\"{label}\" data-value=\"");
    let at = doc
        .find(&needle)
        .unwrap_or_else(|| panic!("no bar {label}"))
        + needle.len();
    doc[at..].split('"').next().unwrap().to_owned()
}

fn chart<'a>(doc: &'a str, id: &str) -> &'a str {
    let at = doc
        .find(&format!("data-chart=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let end = doc[at..].find("</svg>").unwrap() + at;
    &doc[at..end]
}

#[tokio::test]
async fn the_report_draws_the_known_numbers() {
    let app = TestApp::start().await;
    scenario::play(&app).await;
    let query = "from=2026-03-02T00:00:00Z&to=2026-03-09T00:00:00Z";

    let (status, content_type, svg) = get(&app, &format!("/report.svg?{query}")).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "image/svg+xml");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_balanced(&svg);
    let revenue = chart(&svg, "revenue-by-channel");
    assert_eq!(bar(revenue, "web"), "5500");
    assert_eq!(bar(revenue, "mobile_app"), "5000");
    assert_eq!(bar(revenue, "phone"), "1250");
    assert!(revenue.contains(">55.00 EUR<"));
    let funnel = chart(&svg, "funnel");
    assert_eq!(
        [
            "placed",
            "confirmed",
            "dispatched",
            "delivered",
            "accepted",
            "completed"
        ]
        .map(|s| bar(funnel, s)),
        ["5", "3", "2", "2", "1", "1"]
    );
    assert_eq!(
        bar(chart(&svg, "cycle-times"), "placed → confirmed"),
        "3600"
    );
    assert_eq!(bar(chart(&svg, "return-reasons"), "wrong size"), "2");
    let voice = chart(&svg, "customer-voice");
    assert!(voice.contains("CSAT 3.00, NPS 0.0"));
    assert_eq!(
        (bar(voice, "promoters"), bar(voice, "detractors")),
        ("1".into(), "1".into())
    );
    let days = chart(&svg, "revenue-by-day");
    assert_eq!(
        (
            bar(days, "2026-03-02"),
            bar(days, "2026-03-03"),
            bar(days, "2026-03-08")
        ),
        ("9500".into(), "2250".into(), "0".into())
    );

    let (status, content_type, html) = get(&app, &format!("/report.html?{query}")).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_balanced(html.trim_start_matches("<!DOCTYPE html>"));
    assert!(html.contains("data-kpi=\"Perfect-order rate\">50.0%"));
    assert!(
        html.contains(
            "Slowest stage: handed over → delivered (median 1.4 d, p90 1.8 d, 2 samples)"
        ),
        "{html}"
    );
    assert!(html.contains("SKUs returned most: TEA (2 returned of 6 delivered)"));
    assert!(html.contains("Channel with the most cancellations: phone (100.0% of its 1 orders)"));
    assert!(html.contains("TEA (0 left, 1 warehouse(s))"));

    let (status, _, body) = get(&app, "/report.svg?from=yesterday").await;
    assert_eq!(status, 400);
    assert!(body.contains("from"));
}
