//! `orders.order.placed` → score the order's risk (history, velocity, addresses and the block
//! lists) and publish `payments.risk.assessed`.

use contracts::orders::OrderPlaced;
use contracts::payments::{RiskAssessed, RiskReason};
use contracts::time::{from_timestamp, to_timestamp};
use messaging::{Envelope, Handler, HandlerError, Outbox};
use runtime::pan::fingerprint;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::blocklist::{Kind, Subject};
use crate::domain::risk::{OrderFacts, RiskRules};
use crate::store;
use crate::store::risk::Signals;

pub struct AssessRisk {
    pub rules: RiskRules,
    pub outbox: Outbox,
    pub clock: runtime::Clock,
    pub metrics: crate::metrics::PaymentMetrics,
}

impl Handler<OrderPlaced> for AssessRisk {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<OrderPlaced>,
    ) -> Result<(), HandlerError> {
        let placed = &envelope.event;
        let order_id = Uuid::parse_str(&placed.order_id).map_err(|_| {
            HandlerError::permanent(format!("order_id {:?} is not a UUID", placed.order_id))
        })?;
        let customer_id = placed
            .customer
            .as_ref()
            .map(|c| c.id.clone())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| HandlerError::permanent("the order has no customer id"))?;
        let placed_at = placed
            .placed_at
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or(envelope.time);
        let subject = subject(placed, &customer_id);
        let candidates = subject.candidates();
        let keys = |kind: Kind| -> Vec<String> {
            candidates
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, v)| fingerprint(v))
                .collect()
        };
        let signals = Signals {
            customer_id: customer_id.clone(),
            // Only a well-formed fingerprint is kept: whatever else a producer put there (a raw
            // token by mistake) is neither stored nor counted.
            token_fingerprint: candidates
                .iter()
                .find(|(k, _)| *k == Kind::PaymentToken)
                .map(|(_, v)| v.clone()),
            address_keys: keys(Kind::Address),
            phone_keys: keys(Kind::Phone),
        };
        let total = placed.total.clone().unwrap_or_default();
        let (velocity, past) = store::risk::history(
            tx,
            &signals,
            order_id,
            placed_at,
            &total.currency_code,
            self.rules.count_cap(),
        )
        .await?;
        let blocklisted = blocked(tx, &candidates, self.clock.now()).await?;
        let stored_total = (total.amount_minor, total.currency_code.clone());
        let facts = OrderFacts {
            total_minor: total.amount_minor,
            currency: total.currency_code,
            largest_line_quantity: placed.lines.iter().map(|l| l.quantity).max().unwrap_or(0),
            shipping_country: placed
                .shipping_address
                .as_ref()
                .map(|a| a.country_code.clone()),
            billing_country: placed
                .billing_address
                .as_ref()
                .map(|a| a.country_code.clone()),
            velocity,
            previous_orders: past.orders,
            usual_total_minor: past.usual_total_minor,
            blocklisted,
        };
        let assessment = self.rules.assess(&facts);
        let now = self.clock.now();
        if !store::risk::insert(
            tx,
            order_id,
            &signals,
            (stored_total.0, &stored_total.1),
            &assessment,
            placed_at,
            now,
        )
        .await?
        {
            // Assessed under another event id (a replay): the first assessment stands.
            return Ok(());
        }
        let event = RiskAssessed {
            order_id: placed.order_id.clone(),
            score: assessment.score,
            reasons: assessment
                .reasons
                .iter()
                .map(|r| RiskReason {
                    code: r.code.clone(),
                    description: r.description.clone(),
                    points: r.points,
                })
                .collect(),
            assessed_at: Some(to_timestamp(now)),
        };
        self.outbox.append(tx, &event).await?;
        self.metrics.risk_assessed(assessment.score);
        tracing::info!(order_id = %order_id, score = assessment.score, "risk assessed");
        Ok(())
    }
}

/// The details of the order that block lists and velocity rules look at.
fn subject(placed: &OrderPlaced, customer_id: &str) -> Subject {
    let mut subject = Subject {
        customer_id: customer_id.to_owned(),
        token_fingerprint: placed.payment_token_fingerprint.clone(),
        ..Subject::default()
    };
    if let Some(c) = &placed.customer {
        subject.email = c.email.clone();
        subject.phones.push(c.phone.clone());
    }
    for address in [&placed.shipping_address, &placed.billing_address]
        .into_iter()
        .flatten()
    {
        subject.phones.push(address.phone.clone());
        subject.countries.push(address.country_code.clone());
        if !address.postal_code.trim().is_empty() {
            subject
                .postal_codes
                .push((address.country_code.clone(), address.postal_code.clone()));
            subject.addresses.push((
                address.country_code.clone(),
                address.postal_code.clone(),
                address.line1.clone(),
            ));
        }
    }
    subject
}

/// The block-list entries in force that match one of the order's (kind, value) candidates:
/// (kind, the entry's reason).
async fn blocked(
    tx: &mut PgConnection,
    candidates: &[(Kind, String)],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(Kind, String)>, sqlx::Error> {
    let candidates: Vec<(String, String)> = candidates
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
        .collect();
    let entries = store::blocklist::matching(tx, &candidates, now).await?;
    Ok(entries
        .into_iter()
        .filter_map(|e| Kind::parse(&e.kind).map(|k| (k, e.reason)))
        .collect())
}
