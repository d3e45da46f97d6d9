//! Carrier webhooks: `POST /webhooks/carriers/{carrier}` on the admin HTTP server.
//!
//! The body is JSON in the carrier's own terms (its status codes, mapped by the rate table):
//!
//! ```json
//! { "event_id": "evt-81723",              // required: the carrier's id, the dedup key
//!   "tracking_number": "SP000000016DE",   // required
//!   "status_code": "ZU",                  // required: the carrier's code
//!   "occurred_at": "2026-12-01T10:15:00Z",// RFC 3339; absent means now
//!   "description": "…", "location": "…", "received_by": "…",
//!   "eta": "2026-12-02T18:00:00Z",
//!   "courier": { "name": "…", "phone": "+49…" },
//!   "cash_collected": { "currency_code": "EUR", "amount_minor": 1999 },
//!   "failure_reason": "recipient_absent", // overrides the code's own reason
//!   "next_attempt_at": "…" }
//! ```
//!
//! It must carry `X-Carrier-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact body bytes
//! with the carrier's secret (`OC_SHIPPING_WEBHOOK_SECRET_<CARRIER>`). A missing or wrong
//! signature gets 401 and changes nothing. Answers: 200 `{shipment_id, status, duplicate}`
//! (a repeated `event_id` is 200 with `duplicate: true`, so the carrier stops retrying),
//! 400 malformed body, 404 unknown carrier or tracking number, 422 an unknown status code or an
//! event the shipment cannot take, 500 (retry later) when the store fails.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::app::Shipping;
use crate::domain::tracking::TrackingUpdate;
use crate::domain::{Courier, FailureReason, Money, TrackingStatus};
use crate::ingest::{self, Incoming, IngestError, Target};

pub const SIGNATURE_HEADER: &str = "x-carrier-signature";

pub fn routes(shipping: Shipping) -> Router {
    Router::new()
        .route("/webhooks/carriers/{carrier}", post(receive))
        .with_state(shipping)
}

/// A carrier's event as its webhook body says it (before the rate table maps its code).
#[derive(Debug, Deserialize)]
pub struct CarrierEvent {
    pub event_id: String,
    pub tracking_number: String,
    pub status_code: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub received_by: String,
    #[serde(default)]
    pub eta: Option<DateTime<Utc>>,
    #[serde(default)]
    pub courier: Option<Courier>,
    #[serde(default)]
    pub cash_collected: Option<EventMoney>,
    #[serde(default)]
    pub failure_reason: Option<FailureReason>,
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
pub struct EventMoney {
    pub currency_code: String,
    pub amount_minor: i64,
}

/// Reads a webhook body: JSON with the required fields present and not blank, or why not.
/// Untrusted bytes from the internet: it must refuse anything, never panic (the `webhook`
/// fuzz target; its corpus is replayed by a test).
pub fn parse(body: &[u8]) -> Result<CarrierEvent, String> {
    let event: CarrierEvent =
        serde_json::from_slice(body).map_err(|e| format!("malformed body: {e}"))?;
    if event.event_id.trim().is_empty() || event.tracking_number.trim().is_empty() {
        return Err("event_id and tracking_number are required".to_owned());
    }
    Ok(event)
}

/// Whether `signature` (`sha256=<hex>` or bare hex) is the HMAC-SHA256 of `body` under
/// `secret`; compared in constant time.
pub fn verify(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let hex_part = signature.trim();
    let hex_part = hex_part.strip_prefix("sha256=").unwrap_or(hex_part);
    let Ok(expected) = hex::decode(hex_part) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The signature header value a carrier sends for `body` (for tests and tools).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    reply(status, serde_json::json!({ "error": message.into() }))
}

async fn receive(
    State(shipping): State<Shipping>,
    Path(carrier): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = shipping.config.webhook_secret(&carrier) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no carrier is called {carrier:?}"),
        );
    };
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !verify(secret, &body, signature) {
        tracing::warn!(carrier = %carrier, "webhook with a bad signature refused");
        return error(
            StatusCode::UNAUTHORIZED,
            "bad or missing X-Carrier-Signature",
        );
    }
    let payload = match parse(&body) {
        Ok(p) => p,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let Some(carrier_def) = shipping.config.rates.carrier(&carrier) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no carrier is called {carrier:?}"),
        );
    };
    let Some(mapping) = carrier_def.map_code(&payload.status_code) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{:?} is not a status code of {carrier}",
                payload.status_code
            ),
        );
    };
    if mapping.status == TrackingStatus::LabelCreated {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "label creation is not a carrier event",
        );
    }
    let now = shipping.clock.now();
    let failure_reason = (mapping.status == TrackingStatus::DeliveryFailed).then(|| {
        payload
            .failure_reason
            .or(mapping.failure_reason)
            .unwrap_or(FailureReason::Other)
    });
    let incoming = Incoming {
        carrier_event_id: Some(payload.event_id.trim().to_owned()),
        update: TrackingUpdate {
            status: mapping.status,
            carrier_status_code: payload.status_code.clone(),
            description: if payload.description.is_empty() {
                mapping.status.describe().to_owned()
            } else {
                payload.description
            },
            location: payload.location,
            occurred_at: payload.occurred_at.unwrap_or(now),
            eta: payload.eta,
            courier: payload.courier,
            cash_collected: payload.cash_collected.map(|m| Money {
                currency: m.currency_code,
                minor: m.amount_minor,
            }),
            failure_reason,
            next_attempt_at: payload.next_attempt_at,
            received_by: payload.received_by,
        },
    };
    let target = Target::CarrierTracking {
        carrier: carrier.clone(),
        number: payload.tracking_number.trim().to_owned(),
    };
    let result = async {
        let mut tx = shipping.pool.begin().await?;
        let recorded = ingest::record(
            &mut tx,
            &shipping.outbox,
            &shipping.config,
            &target,
            &incoming,
            now,
        )
        .await?;
        shipping.outbox.commit(tx).await?;
        Ok::<_, IngestError>(recorded)
    }
    .await;
    match result {
        Ok(recorded) => reply(
            StatusCode::OK,
            serde_json::json!({
                "shipment_id": recorded.shipment.id.to_string(),
                "status": recorded.shipment.status.as_str(),
                "duplicate": recorded.duplicate,
            }),
        ),
        Err(IngestError::NotFound(what)) => {
            error(StatusCode::NOT_FOUND, format!("no shipment {what}"))
        }
        Err(IngestError::Rejected(err)) => error(StatusCode::UNPROCESSABLE_ENTITY, err.to_string()),
        Err(IngestError::Store(err)) => {
            tracing::error!(error = %err, carrier = %carrier, "webhook could not be recorded");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "not recorded; retry later",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `webhook` fuzz target's corpus (`fuzz/corpus/webhook`), replayed on every run.
    #[test]
    fn webhook_corpus() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/webhook");
        let mut parsed = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let body = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            // Never a panic, whatever the bytes.
            let _ = verify(b"fuzz-secret", &body, &String::from_utf8_lossy(&body));
            if parse(&body).is_ok() {
                parsed.push(name);
            }
        }
        assert_eq!(
            parsed,
            ["valid-delivered.json"],
            "only the valid seed parses"
        );
    }

    #[test]
    fn a_signature_verifies_only_with_its_secret_and_body() {
        let body = br#"{"event_id":"e1"}"#;
        let signature = sign(b"secret", body);
        assert!(signature.starts_with("sha256="));
        assert!(verify(b"secret", body, &signature));
        assert!(verify(
            b"secret",
            body,
            signature.trim_start_matches("sha256=")
        ));
        assert!(!verify(b"other", body, &signature));
        assert!(!verify(b"secret", br#"{"event_id":"e2"}"#, &signature));
        assert!(!verify(b"secret", body, ""));
        assert!(!verify(b"secret", body, "sha256=zz"));
    }

    #[test]
    fn the_hmac_matches_rfc_4231_test_case_2() {
        // Key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
