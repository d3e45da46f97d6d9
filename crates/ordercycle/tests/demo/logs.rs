//! Personal data never reaches the logs: the eight `ordercycle serve` processes log JSON at
//! debug level into this test while the demo's card order (the customer's name, e-mail and
//! phone, a street address) runs through orders, payments (risk scoring reads the contact data),
//! notifications (which e-mails and texts the customer) and on to completion. Their whole
//! output must contain none of it, and must be JSON lines that carry the order's id.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::processes::Processes;

/// The demo's customer (`crates/ordercycle/src/demo/flow.rs`); the e-mail is
/// `demo-<run>-<scenario>@example.com`.
const NAME: &str = "mei lin";
const PHONE_DIGITS: &str = "1234567";
const STREET: &str = "unter den linden";
const E_MAIL_DOMAIN: &str = "@example.com";

#[tokio::test]
async fn no_name_e_mail_phone_or_address_reaches_the_json_logs_of_any_service() {
    let output = Arc::new(Mutex::new(String::new()));
    let sms_gateway = accepting_gateway().await;
    let platform = Processes::start_capturing(
        vec![
            ("OC_LOG_FORMAT", "json".to_owned()),
            // Texts go through a gateway that accepts them; e-mails to a port where no one
            // listens, so the failure and retry paths log too.
            (
                "OC_NOTIFICATIONS_SMS_URL",
                format!("http://{sms_gateway}/sms"),
            ),
            (
                "OC_NOTIFICATIONS_SMTP_URL",
                format!("smtp://{}", closed_port()),
            ),
            // Debug, so that what operators turn on when they investigate is checked too;
            // the HTTP/2 and NATS client internals say nothing about orders.
            (
                "RUST_LOG",
                "debug,h2=info,hyper=info,tower=info,async_nats=info".to_owned(),
            ),
        ],
        Some(output.clone()),
    )
    .await;
    let result = platform.demo("card_ship").await;
    assert_eq!(result["final_status"], "ORDER_STATUS_COMPLETED", "{result}");
    let order_id = result["order_id"].as_str().unwrap().to_owned();
    // The customer has been texted (received, confirmed, shipped, delivered…).
    testkit::eventually("notifications to log a sent message", || {
        let text = output.lock().unwrap().clone();
        async move { text.contains("notification sent").then_some(()) }
    })
    .await;
    drop(platform);

    let text = output.lock().unwrap().clone();
    let lower = text.to_lowercase();
    for (what, value) in [
        ("name", NAME),
        ("phone number", PHONE_DIGITS),
        ("street", STREET),
        ("e-mail address", E_MAIL_DOMAIN),
    ] {
        let found: Vec<&str> = text
            .lines()
            .filter(|line| line.to_lowercase().contains(value))
            .take(5)
            .collect();
        assert!(
            !lower.contains(value),
            "the customer's {what} ({value}) is in the logs:\n{}",
            found.join("\n")
        );
    }

    // The check means something only if the logs are there, JSON, and about this order.
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"))
        })
        .collect();
    let of_order = lines.iter().filter(|l| l["order_id"] == order_id.as_str());
    let targets: std::collections::BTreeSet<&str> = of_order
        .filter_map(|l| l["target"].as_str())
        .map(|t| t.split("::").next().unwrap_or(t))
        .collect();
    for service in ["orders", "payments", "notifications"] {
        assert!(
            targets.contains(service),
            "no log line of {service} carries order_id {order_id}; targets: {targets:?}"
        );
    }
    assert!(lines.iter().any(|l| l["trace_id"].is_string()));
}

/// An HTTP endpoint that answers every request with 200 OK, as an SMS gateway that took the text.
async fn accepting_gateway() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Read the head, then as much body as it announces, before answering.
                loop {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_lowercase();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let length = text[..head_end]
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if request.len() >= head_end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    addr
}

/// A loopback address where nothing listens.
fn closed_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
}
