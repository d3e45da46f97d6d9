//! The RMA's transitions: decisions (by policy or a person), receipt, inspection, restock,
//! refund and exchange. Each runs in the caller's transaction, writes its events to the outbox,
//! notes who did what and why on the order's timeline, and refreshes the order's return
//! summary. The order's own status (the saga) is never touched.

use chrono::{DateTime, Utc};
use contracts::Event;
use contracts::common::{self, Allocation as AllocationPb};
use contracts::fulfillment::ParcelHandedOver;
use contracts::orders as pb;
use contracts::time::to_timestamp;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::convert::{address_pb, customer_pb, mode_parts, parcel_lines};
use crate::domain::returns::{self, Grades, LineCharge, outcome, status};
use crate::domain::{Currency, Fulfillment, Money, Order, PaymentMethod};
use crate::store::orders::StoreError;
use crate::store::returns::{Inspected, LineRow, ReturnRow, Rma};
use crate::store::{self, timeline};
use crate::workflow::{Who, Workflow, WorkflowError};

/// The return policy engine acting on its own.
pub fn policy() -> Who {
    Who {
        id: "return-policy".to_owned(),
        kind: "system",
    }
}

fn money(currency: &str, minor: i64) -> common::Money {
    common::Money {
        currency_code: currency.to_owned(),
        amount_minor: minor,
    }
}

fn ts(t: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    t.map(to_timestamp)
}

fn enum_value<T: Into<i32>>(parsed: Option<T>) -> i32 {
    parsed.map_or(0, Into::into)
}

/// The ReturnLines of an RMA as the API and events show them.
pub fn lines_pb(rma: &Rma) -> Vec<pb::ReturnLine> {
    rma.lines
        .iter()
        .map(|l| pb::ReturnLine {
            line_id: l.line_id.clone(),
            sku: l.sku.clone(),
            quantity: l.quantity,
            reason: enum_value(common::ReturnReason::from_str_name(&format!(
                "RETURN_REASON_{}",
                l.reason
            ))),
            note: l.note.clone(),
            received_quantity: l.received_quantity,
            resellable_quantity: l.resellable_quantity,
            refund_amount: l.refund_minor.map(|m| money(&rma.row.currency, m)),
        })
        .collect()
}

fn exchange_pb(rma: &Rma) -> Vec<pb::ExchangeLine> {
    rma.row
        .exchange_lines
        .0
        .iter()
        .map(|l| pb::ExchangeLine {
            line_id: l.line_id.clone(),
            sku: l.sku.clone(),
            quantity: l.quantity,
        })
        .collect()
}

/// The RMA as the API shows it.
pub fn rma_pb(rma: &Rma) -> pb::Return {
    let r = &rma.row;
    pb::Return {
        id: r.id.to_string(),
        rma_number: r.rma_number.clone(),
        order_id: r.order_id.to_string(),
        order_number: r.order_number.clone(),
        customer_id: r.customer_id.clone(),
        status: enum_value(pb::ReturnStatus::from_str_name(&format!(
            "RETURN_STATUS_{}",
            r.status
        ))),
        resolution: enum_value(pb::ReturnResolution::from_str_name(&format!(
            "RETURN_RESOLUTION_{}",
            r.resolution
        ))),
        lines: lines_pb(rma),
        exchange_lines: exchange_pb(rma),
        refund_total: r.refund_total_minor.map(|m| money(&r.currency, m)),
        customer_note: r.customer_note.clone(),
        pickup_address: r.pickup_address.as_ref().map(|a| address_pb(&a.0)),
        return_warehouse_id: r.return_warehouse_id.clone(),
        return_shipment_id: r.return_shipment_id.clone(),
        return_tracking_number: r.return_tracking_number.clone(),
        decided_by: r.decided_by.clone(),
        decision_reason: r.decision_reason.clone(),
        requested_at: Some(to_timestamp(r.requested_at)),
        decided_at: ts(r.decided_at),
        received_at: ts(r.received_at),
        inspected_at: ts(r.inspected_at),
        closed_at: ts(r.closed_at),
        outcome: r.outcome.as_deref().map_or(0, |o| {
            enum_value(pb::ReturnOutcome::from_str_name(&format!(
                "RETURN_OUTCOME_{o}"
            )))
        }),
    }
}

/// What one RMA transition needs: the clock reading, who acted and why, the fact's event id.
pub struct Act<'a> {
    pub who: &'a Who,
    pub reason: Option<&'a str>,
    pub event_id: Option<Uuid>,
    pub now: DateTime<Utc>,
}

impl Workflow {
    /// Notes an RMA step on the order's timeline.
    pub async fn rma_note(
        &self,
        tx: &mut PgConnection,
        rma: &Rma,
        kind: &str,
        summary: String,
        act: &Act<'_>,
        event_id: Option<Uuid>,
    ) -> Result<(), sqlx::Error> {
        timeline::append(
            tx,
            timeline::Entry {
                order_id: rma.row.order_id,
                occurred_at: act.now,
                kind,
                summary: format!("{}: {summary}", rma.row.rma_number),
                actor_id: &act.who.id,
                actor_type: act.who.kind,
                reason: act.reason,
                status_before: None,
                status_after: None,
                event_id: event_id.or(act.event_id),
            },
        )
        .await
    }

    /// Writes an RMA's event to the outbox and notes it on the timeline.
    async fn rma_emit<E: Event>(
        &self,
        tx: &mut PgConnection,
        rma: &Rma,
        event: &E,
        summary: String,
        act: &Act<'_>,
    ) -> Result<(), sqlx::Error> {
        let id = self.outbox.append(tx, event).await?;
        self.rma_note(tx, rma, E::SUBJECT, summary, act, Some(id))
            .await
    }

    async fn order_of(&self, tx: &mut PgConnection, rma: &Rma) -> Result<Order, WorkflowError> {
        store::orders::get(tx, rma.row.order_id)
            .await?
            .ok_or(WorkflowError::UnknownOrder(rma.row.order_id))
    }

    async fn reread(&self, tx: &mut PgConnection, id: Uuid) -> Result<Rma, WorkflowError> {
        store::returns::get(tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(id, "RMA vanished".into()).into())
    }

    /// A new RMA was recorded: tell the observers.
    pub async fn rma_requested(
        &self,
        tx: &mut PgConnection,
        rma: &Rma,
        act: &Act<'_>,
    ) -> Result<(), WorkflowError> {
        let order = self.order_of(tx, rma).await?;
        let event = pb::ReturnRequested {
            return_id: rma.row.id.to_string(),
            rma_number: rma.row.rma_number.clone(),
            order_id: order.id.to_string(),
            order_number: order.number.clone(),
            customer: Some(customer_pb(&order.customer)),
            resolution: rma_pb(rma).resolution,
            lines: lines_pb(rma),
            exchange_lines: exchange_pb(rma),
            requested_at: Some(to_timestamp(act.now)),
        };
        let units: i32 = rma.lines.iter().map(|l| l.quantity).sum();
        self.rma_emit(
            tx,
            rma,
            &event,
            format!(
                "return of {units} unit(s) requested for {}",
                rma.row.resolution.to_lowercase()
            ),
            act,
        )
        .await?;
        store::returns::refresh_order_status(tx, order.id).await?;
        self.metrics.returns_requested();
        Ok(())
    }

    /// Approves a REQUESTED RMA: shipping is asked for the return label and shipment.
    pub async fn rma_approve(
        &self,
        tx: &mut PgConnection,
        rma: &Rma,
        warehouse_id: &str,
        act: &Act<'_>,
    ) -> Result<Rma, WorkflowError> {
        let order = self.order_of(tx, rma).await?;
        let warehouse = if warehouse_id.is_empty() {
            shipped_from(tx, &order).await?
        } else {
            warehouse_id.to_owned()
        };
        let reason = act.reason.unwrap_or_default();
        store::returns::set_decision(
            tx,
            rma.row.id,
            status::APPROVED,
            &act.who.id,
            reason,
            &warehouse,
            act.now,
        )
        .await?;
        let rma = self.reread(tx, rma.row.id).await?;
        let ts = Some(to_timestamp(act.now));
        let approved = pb::ReturnApproved {
            return_id: rma.row.id.to_string(),
            rma_number: rma.row.rma_number.clone(),
            order_id: order.id.to_string(),
            customer: Some(customer_pb(&order.customer)),
            lines: lines_pb(&rma),
            return_warehouse_id: warehouse.clone(),
            approved_by: act.who.id.clone(),
            reason: reason.to_owned(),
            approved_at: ts,
        };
        self.rma_emit(
            tx,
            &rma,
            &approved,
            format!(
                "return approved by {} (return shipping paid by the {})",
                act.who.id,
                rma.row.shipping_paid_by.to_lowercase()
            ),
            act,
        )
        .await?;
        let pickup = rma
            .row
            .pickup_address
            .as_ref()
            .map(|a| address_pb(&a.0))
            .or_else(|| mode_parts(&order).2)
            .or_else(|| order.billing_address.as_ref().map(address_pb));
        let shipment = pb::ReturnShipmentRequested {
            return_id: rma.row.id.to_string(),
            rma_number: rma.row.rma_number.clone(),
            order_id: order.id.to_string(),
            customer: Some(customer_pb(&order.customer)),
            pickup_address: pickup,
            return_warehouse_id: warehouse.clone(),
            lines: rma
                .lines
                .iter()
                .map(|l| pb::ReservationLine {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                })
                .collect(),
            requested_at: ts,
        };
        self.rma_emit(
            tx,
            &rma,
            &shipment,
            format!("return shipment to {warehouse} requested"),
            act,
        )
        .await?;
        store::returns::refresh_order_status(tx, order.id).await?;
        Ok(rma)
    }

    /// Rejects a REQUESTED RMA, with the reason the customer is told.
    pub async fn rma_reject(
        &self,
        tx: &mut PgConnection,
        rma: &Rma,
        act: &Act<'_>,
    ) -> Result<Rma, WorkflowError> {
        let order = self.order_of(tx, rma).await?;
        let reason = act.reason.unwrap_or_default();
        store::returns::set_decision(
            tx,
            rma.row.id,
            status::REJECTED,
            &act.who.id,
            reason,
            "",
            act.now,
        )
        .await?;
        let rma = self.reread(tx, rma.row.id).await?;
        let event = pb::ReturnRejected {
            return_id: rma.row.id.to_string(),
            rma_number: rma.row.rma_number.clone(),
            order_id: order.id.to_string(),
            customer: Some(customer_pb(&order.customer)),
            rejected_by: act.who.id.clone(),
            reason: reason.to_owned(),
            rejected_at: Some(to_timestamp(act.now)),
        };
        self.rma_emit(
            tx,
            &rma,
            &event,
            format!("return rejected by {}: {reason}", act.who.id),
            act,
        )
        .await?;
        store::returns::refresh_order_status(tx, order.id).await?;
        Ok(rma)
    }

    /// The parcel arrived at the warehouse. Applies once, and only to an approved RMA.
    pub async fn rma_received(
        &self,
        tx: &mut PgConnection,
        rma: &Rma,
        warehouse_id: &str,
        act: &Act<'_>,
    ) -> Result<bool, WorkflowError> {
        if rma.row.status != status::APPROVED {
            return Ok(false);
        }
        store::returns::set_received(tx, rma.row.id, warehouse_id, act.now).await?;
        self.rma_note(
            tx,
            rma,
            "fulfillment.return.received",
            format!(
                "returned parcel received at {}",
                if warehouse_id.is_empty() {
                    &rma.row.return_warehouse_id
                } else {
                    warehouse_id
                }
            ),
            act,
            None,
        )
        .await?;
        store::returns::refresh_order_status(tx, rma.row.order_id).await?;
        Ok(true)
    }

    /// The warehouse graded the returned units: resellable ones are restocked, then the RMA is
    /// refunded by policy or its replacements are reserved. Applies once, to an approved or
    /// received RMA; `graded` is (line id, grades) as fulfillment reported them.
    pub async fn rma_inspected(
        &self,
        tx: &mut PgConnection,
        rma: &Rma,
        warehouse_id: &str,
        graded: &[(String, Grades)],
        act: &Act<'_>,
    ) -> Result<bool, WorkflowError> {
        if rma.row.status != status::APPROVED && rma.row.status != status::RECEIVED {
            return Ok(false);
        }
        // A repair is shipped like an exchange for the same SKU.
        let exchange = matches!(rma.row.resolution.as_str(), "EXCHANGE" | "REPAIR");
        let policy = &self.config.returns;
        // Each returned line is refunded what it was charged (discounts and tax included),
        // its units following those that earlier returns of the line were refunded for.
        let order = store::orders::get(tx, rma.row.order_id)
            .await?
            .ok_or(WorkflowError::UnknownOrder(rma.row.order_id))?;
        let before = store::returns::valued_before(tx, rma.row.order_id, rma.row.id).await?;
        let mut inspected = Vec::new();
        for line in &rma.lines {
            let mut g = graded.iter().filter(|(id, _)| *id == line.line_id).fold(
                Grades::default(),
                |mut sum, (_, g)| {
                    sum.resellable += g.resellable;
                    sum.damaged += g.damaged;
                    sum.defective += g.defective;
                    sum.wrong_item += g.wrong_item;
                    sum.missing += g.missing;
                    sum
                },
            );
            // Never more graded than announced: extra units are not ours to count; units the
            // warehouse did not grade are missing.
            clamp(&mut g, line.quantity);
            let charge = order
                .lines
                .iter()
                .find(|l| l.line_id == line.line_id)
                .map_or(
                    LineCharge {
                        charged: line
                            .unit_price_minor
                            .saturating_mul(i64::from(line.quantity)),
                        quantity: line.quantity,
                    },
                    |l| LineCharge {
                        charged: l.priced.charged,
                        quantity: l.quantity,
                    },
                );
            let from = before
                .iter()
                .find(|(id, _)| *id == line.line_id)
                .map_or(0, |(_, units)| i32::try_from(*units).unwrap_or(i32::MAX));
            let refund = returns::line_refund(policy, charge, from, &line.reason, &g);
            inspected.push((line.line_id.as_str(), g, refund));
        }
        let warehouse = if warehouse_id.is_empty() {
            rma.row.return_warehouse_id.clone()
        } else {
            warehouse_id.to_owned()
        };
        let rows: Vec<Inspected<'_>> = inspected
            .iter()
            .map(|(line_id, grades, refund)| Inspected {
                line_id,
                grades: *grades,
                refund_minor: *refund,
            })
            .collect();
        store::returns::set_inspected(tx, rma.row.id, &warehouse, &rows, act.now).await?;
        let rma = self.reread(tx, rma.row.id).await?;
        let summary: Vec<String> = inspected
            .iter()
            .map(|(id, g, _)| {
                format!(
                    "{id}: {} resellable, {} damaged, {} defective, {} wrong, {} missing",
                    g.resellable, g.damaged, g.defective, g.wrong_item, g.missing
                )
            })
            .collect();
        self.rma_note(
            tx,
            &rma,
            "fulfillment.return.inspected",
            format!("inspected: {}", summary.join("; ")),
            act,
            None,
        )
        .await?;

        let restock: Vec<pb::RestockLine> = rma
            .lines
            .iter()
            .filter(|l| l.resellable_quantity > 0)
            .map(|l| pb::RestockLine {
                sku: l.sku.clone(),
                quantity: l.resellable_quantity,
                bin: String::new(),
            })
            .collect();
        if !restock.is_empty() {
            let units: i32 = restock.iter().map(|l| l.quantity).sum();
            let event = pb::RestockRequested {
                return_id: rma.row.id.to_string(),
                order_id: rma.row.order_id.to_string(),
                warehouse_id: warehouse.clone(),
                lines: restock,
                requested_at: Some(to_timestamp(act.now)),
            };
            self.rma_emit(
                tx,
                &rma,
                &event,
                format!("restock of {units} resellable unit(s) in {warehouse} requested"),
                act,
            )
            .await?;
        }

        if exchange {
            self.rma_request_exchange(tx, &rma, act).await?;
        } else {
            let total: i64 = inspected.iter().map(|(_, _, r)| *r).sum();
            self.rma_refund_and_close(tx, &rma, total, act).await?;
        }
        store::returns::refresh_order_status(tx, rma.row.order_id).await?;
        Ok(true)
    }

    /// Asks payments for the refund (never more than captured and not yet refunded) and
    /// closes the RMA.
    async fn rma_refund_and_close(
        &self,
        tx: &mut PgConnection,
        rma: &Rma,
        lines_total: i64,
        act: &Act<'_>,
    ) -> Result<(), WorkflowError> {
        let order = self.order_of(tx, rma).await?;
        let policy = &self.config.returns;
        let mut total = lines_total;
        let mut why = Vec::new();
        if rma.row.shipping_paid_by == "CUSTOMER" && policy.shipping_fee_minor > 0 && total > 0 {
            let fee = policy.shipping_fee_minor.min(total);
            total -= fee;
            why.push(format!("return shipping {fee} paid by the customer"));
        }
        let saga = store::saga::read(tx, order.id)
            .await?
            .ok_or(WorkflowError::UnknownOrder(order.id))?;
        if order.status == crate::domain::OrderStatus::Cancelled && total > 0 {
            // A parcel returned to sender: the order's cancellation refunded what was captured.
            why.push("already refunded when the order was cancelled".to_owned());
            total = 0;
        }
        let captured = saga
            .captured_minor
            .max(if saga.settled { order.total.minor } else { 0 });
        let already = saga
            .refunded_minor
            .max(store::returns::refunds_requested(tx, order.id).await?);
        let refundable = (captured - already).max(0);
        if total > refundable {
            why.push(format!(
                "capped at {refundable}: captured {captured}, refunded {already}"
            ));
            total = refundable;
        }
        let currency = rma.row.currency.clone();
        let closing = if total > 0 {
            let event = pb::PaymentRefundRequested {
                order_id: order.id.to_string(),
                payment_id: saga.payment_id.clone().unwrap_or_default(),
                amount: Some(money(&currency, total)),
                reason: pb::RefundReason::Return.into(),
                return_id: rma.row.id.to_string(),
                requested_by: act.who.id.clone(),
                note: format!("return {}", rma.row.rma_number),
                requested_at: Some(to_timestamp(act.now)),
                ..Default::default()
            };
            let amount = Currency::parse(&currency).map_or_else(
                || format!("{total} {currency}"),
                |c| Money::new(c, total).to_string(),
            );
            let detail = if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join("; "))
            };
            self.rma_emit(
                tx,
                rma,
                &event,
                format!("refund of {amount} requested by policy{detail}"),
                act,
            )
            .await?;
            // The credit note names the returned lines, weighted by their refunds by policy
            // (fees and caps shared across them).
            let refund = crate::invoices::Refund {
                key: format!("return:{}", rma.row.id),
                reason: format!("return {}", rma.row.rma_number),
                lines: crate::invoices::Refunded::Valued(
                    rma.lines
                        .iter()
                        .map(|l| {
                            let value = l.refund_minor.unwrap_or_else(|| {
                                l.unit_price_minor.saturating_mul(i64::from(l.quantity))
                            });
                            (l.line_id.clone(), l.quantity, value)
                        })
                        .collect(),
                ),
                amount: Some(total),
            };
            crate::invoices::credit(tx, order.id, &refund, act.now).await?;
            outcome::REFUNDED
        } else {
            outcome::NO_REFUND
        };
        self.rma_close(tx, rma, closing, Some(total).filter(|t| *t > 0), act)
            .await
    }

    async fn rma_close(
        &self,
        tx: &mut PgConnection,
        rma: &Rma,
        how: &str,
        refund_total: Option<i64>,
        act: &Act<'_>,
    ) -> Result<(), WorkflowError> {
        let order = self.order_of(tx, rma).await?;
        store::returns::close(tx, rma, how, refund_total, act.now).await?;
        let rma = self.reread(tx, rma.row.id).await?;
        let event = pb::ReturnClosed {
            return_id: rma.row.id.to_string(),
            rma_number: rma.row.rma_number.clone(),
            order_id: order.id.to_string(),
            customer: Some(customer_pb(&order.customer)),
            outcome: rma_pb(&rma).outcome,
            lines: lines_pb(&rma),
            refund_total: refund_total.map(|m| money(&rma.row.currency, m)),
            closed_at: Some(to_timestamp(act.now)),
        };
        self.rma_emit(
            tx,
            &rma,
            &event,
            format!("return closed: {}", how.to_lowercase().replace('_', " ")),
            act,
        )
        .await?;
        store::returns::refresh_order_status(tx, order.id).await?;
        Ok(())
    }

    /// Reserves the replacements of an exchange for the units that came back (wrong items and
    /// missing units are not replaced); nothing to replace closes the RMA without refund.
    async fn rma_request_exchange(
        &self,
        tx: &mut PgConnection,
        rma: &Rma,
        act: &Act<'_>,
    ) -> Result<(), WorkflowError> {
        let order = self.order_of(tx, rma).await?;
        let lines: Vec<pb::ReservationLine> = rma
            .row
            .exchange_lines
            .0
            .iter()
            .filter_map(|x| {
                let back = rma.lines.iter().find(|l| l.line_id == x.line_id)?;
                let g = back.grades.0;
                let units = x.quantity.min(g.resellable + g.damaged + g.defective);
                (units > 0).then(|| pb::ReservationLine {
                    line_id: x.line_id.clone(),
                    sku: x.sku.clone(),
                    quantity: units,
                })
            })
            .collect();
        if lines.is_empty() {
            return self.rma_close(tx, rma, outcome::NO_REFUND, None, act).await;
        }
        let reservation_id = Uuid::now_v7();
        store::returns::set_exchange_reservation(tx, rma.row.id, reservation_id).await?;
        let ttl = self.config.reservation_ttl;
        let (mode, pickup_store_id, _) = mode_parts(&order);
        let (country, region) = match &order.fulfillment {
            Fulfillment::Ship { address } => (address.country_code.clone(), address.region.clone()),
            Fulfillment::StorePickup { .. } => (String::new(), String::new()),
        };
        let units: i32 = lines.iter().map(|l| l.quantity).sum();
        let event = pb::ReservationRequested {
            reservation_id: reservation_id.to_string(),
            order_id: order.id.to_string(),
            order_number: order.number.clone(),
            lines,
            fulfillment_mode: mode.into(),
            pickup_store_id,
            ship_to_country_code: country,
            ship_to_region: region,
            allow_split: true,
            ttl: prost_types::Duration::try_from(ttl).ok(),
            expires_at: Some(to_timestamp(
                act.now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(4)),
            )),
            requested_at: Some(to_timestamp(act.now)),
        };
        self.rma_emit(
            tx,
            rma,
            &event,
            format!("stock for {units} replacement unit(s) requested"),
            act,
        )
        .await?;
        Ok(())
    }

    /// Inventory reserved an exchange's replacements: make them firm, ship them at no charge
    /// (`exchange_return_id`), close the RMA as exchanged.
    pub async fn rma_exchange_reserved(
        &self,
        tx: &mut PgConnection,
        rma_id: Uuid,
        allocations: &[AllocationPb],
        act: &Act<'_>,
    ) -> Result<(), WorkflowError> {
        let Some(rma) = store::returns::lock(tx, rma_id).await? else {
            return Ok(());
        };
        if rma.row.status != status::INSPECTED {
            return Ok(());
        }
        let order = self.order_of(tx, &rma).await?;
        let reservation_id = rma
            .row
            .exchange_reservation_id
            .map(|id| id.to_string())
            .unwrap_or_default();
        let ts = Some(to_timestamp(act.now));
        let confirm = pb::ReservationConfirmRequested {
            order_id: order.id.to_string(),
            reservation_id: reservation_id.clone(),
            requested_at: ts,
        };
        self.rma_emit(
            tx,
            &rma,
            &confirm,
            "replacement stock made firm".into(),
            act,
        )
        .await?;
        let (mode, pickup_store_id, shipping_address) = mode_parts(&order);
        let currency = order.total.currency.as_str().to_owned();
        let lines = rma
            .row
            .exchange_lines
            .0
            .iter()
            .filter_map(|x| {
                let quantity: i32 = allocations
                    .iter()
                    .filter(|a| a.line_id == x.line_id)
                    .map(|a| a.quantity)
                    .sum();
                let original = order.lines.iter().find(|l| l.line_id == x.line_id)?;
                (quantity > 0).then(|| pb::OrderLine {
                    line_id: x.line_id.clone(),
                    sku: x.sku.clone(),
                    name: if x.sku == original.sku {
                        original.name.clone()
                    } else {
                        String::new()
                    },
                    quantity,
                    unit_price: Some(money(&currency, 0)),
                    line_total: Some(money(&currency, 0)),
                    ..Default::default()
                })
            })
            .collect();
        let event = pb::FulfillmentRequested {
            order_id: order.id.to_string(),
            order_number: order.number.clone(),
            customer: Some(customer_pb(&order.customer)),
            fulfillment_mode: mode.into(),
            pickup_store_id,
            shipping_address,
            lines,
            allocations: allocations.to_vec(),
            reservation_id,
            collect_cash_on_delivery: false,
            reship_case_id: String::new(),
            exchange_return_id: rma.row.id.to_string(),
            requested_at: ts,
        };
        self.rma_emit(
            tx,
            &rma,
            &event,
            "replacement shipment requested".into(),
            act,
        )
        .await?;
        let how = if rma.row.resolution == "REPAIR" {
            outcome::REPAIRED
        } else {
            outcome::EXCHANGED
        };
        self.rma_close(tx, &rma, how, None, act).await
    }

    /// The carrier is bringing an undelivered parcel back: an RMA of its units, approved by
    /// policy, that waits for the warehouse to receive and inspect them (no return label: the
    /// carrier's own shipment carries them). Once per shipment; returns false when there was
    /// nothing to open (a replay, a delivered parcel, a replacement).
    pub async fn rma_returned_to_sender(
        &self,
        tx: &mut PgConnection,
        order: &Order,
        shipment_id: &str,
        refused: bool,
        act: &Act<'_>,
    ) -> Result<bool, WorkflowError> {
        let Some(parcel) = store::shipments::mark_returning(tx, shipment_id, act.now).await? else {
            return Ok(false);
        };
        let reason = if refused && order.payment_method == PaymentMethod::CashOnDelivery {
            "CASH_ON_DELIVERY_REFUSED"
        } else {
            "UNDELIVERABLE"
        };
        let lines: Vec<LineRow> = parcel
            .lines
            .0
            .iter()
            .enumerate()
            .map(|(i, l)| LineRow {
                line_id: l.line_id.clone(),
                position: i as i32 + 1,
                sku: l.sku.clone(),
                quantity: l.quantity,
                reason: reason.to_owned(),
                note: String::new(),
                unit_price_minor: order
                    .lines
                    .iter()
                    .find(|ol| ol.line_id == l.line_id)
                    .map_or(0, |ol| ol.unit_price.minor),
                received_quantity: 0,
                resellable_quantity: 0,
                grades: sqlx::types::Json(Grades::default()),
                refund_minor: None,
            })
            .collect();
        let why = if refused {
            format!(
                "parcel {} refused at the door; the carrier returns it",
                parcel.tracking_number
            )
        } else {
            format!(
                "parcel {} undeliverable; the carrier returns it",
                parcel.tracking_number
            )
        };
        let sequence = store::returns::next_sequence(tx).await?;
        let rma = Rma {
            row: ReturnRow {
                id: Uuid::now_v7(),
                rma_number: returns::rma_number(act.now, sequence),
                order_id: order.id,
                order_number: order.number.clone(),
                request_id: format!("returned-to-sender:{shipment_id}"),
                request_hash: Vec::new(),
                customer_id: order.customer.id.clone(),
                status: status::APPROVED.to_owned(),
                resolution: "REFUND".to_owned(),
                exchange_lines: sqlx::types::Json(Vec::new()),
                customer_note: String::new(),
                pickup_address: None,
                return_warehouse_id: parcel.warehouse_id.clone(),
                return_shipment_id: shipment_id.to_owned(),
                return_tracking_number: parcel.tracking_number.clone(),
                shipping_paid_by: "MERCHANT".to_owned(),
                decided_by: act.who.id.clone(),
                decision_reason: why.clone(),
                currency: order.total.currency.as_str().to_owned(),
                refund_total_minor: None,
                outcome: None,
                exchange_reservation_id: None,
                requested_at: act.now,
                decided_at: Some(act.now),
                received_at: None,
                inspected_at: None,
                closed_at: None,
            },
            lines,
        };
        if !store::returns::insert(tx, &rma).await? {
            return Ok(false);
        }
        store::returns::set_shipment(tx, rma.row.id, shipment_id, &parcel.tracking_number).await?;
        self.rma_requested(tx, &rma, act).await?;
        self.rma_note(
            tx,
            &rma,
            "orders.return.approved",
            format!(
                "return {} opened and approved by policy: {why}",
                rma.row.rma_number
            ),
            act,
            None,
        )
        .await?;
        store::returns::refresh_order_status(tx, order.id).await?;
        Ok(true)
    }

    /// An exchange's or repair's replacement parcel left the warehouse: commit its stock from
    /// the replacement reservation (once per parcel).
    pub async fn rma_replacement_handed_over(
        &self,
        tx: &mut PgConnection,
        rma_id: Uuid,
        parcel: &ParcelHandedOver,
        act: &Act<'_>,
    ) -> Result<(), WorkflowError> {
        let Some(rma) = store::returns::get(tx, rma_id).await? else {
            return Err(
                StoreError::Corrupt(rma_id, "replacement of an unknown return".into()).into(),
            );
        };
        let fresh = store::shipments::record_handover(
            tx,
            rma.row.order_id,
            &store::shipments::Handover {
                shipment_id: &parcel.shipment_id,
                fulfillment_id: &parcel.fulfillment_id,
                parcel_id: &parcel.parcel_id,
                warehouse_id: &parcel.warehouse_id,
                carrier: &parcel.carrier,
                tracking_number: &parcel.tracking_number,
                at: act.now,
                lines: &parcel_lines(parcel),
                replacement: true,
            },
        )
        .await?;
        if !fresh {
            return Ok(());
        }
        let reservation_id = if parcel.reservation_id.is_empty() {
            rma.row
                .exchange_reservation_id
                .map(|id| id.to_string())
                .unwrap_or_default()
        } else {
            parcel.reservation_id.clone()
        };
        let commit = pb::ReservationCommitRequested {
            order_id: rma.row.order_id.to_string(),
            reservation_id,
            fulfillment_id: parcel.fulfillment_id.clone(),
            parcel_id: parcel.parcel_id.clone(),
            allocations: parcel
                .lines
                .iter()
                .map(|l| AllocationPb {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    warehouse_id: parcel.warehouse_id.clone(),
                    quantity: l.quantity,
                    bins: Vec::new(),
                })
                .collect(),
            requested_at: Some(to_timestamp(act.now)),
        };
        let units: i32 = parcel.lines.iter().map(|l| l.quantity).sum();
        self.rma_emit(
            tx,
            &rma,
            &commit,
            format!(
                "replacement parcel of {units} unit(s) handed to {} ({}); its stock committed",
                parcel.carrier, parcel.tracking_number
            ),
            act,
        )
        .await?;
        Ok(())
    }

    /// Inventory could not reserve an exchange's replacements: refund the returned units by
    /// policy instead.
    pub async fn rma_exchange_short(
        &self,
        tx: &mut PgConnection,
        rma_id: Uuid,
        act: &Act<'_>,
    ) -> Result<(), WorkflowError> {
        let Some(rma) = store::returns::lock(tx, rma_id).await? else {
            return Ok(());
        };
        if rma.row.status != status::INSPECTED {
            return Ok(());
        }
        // The refunds were valued at inspection.
        let total: i64 = rma.lines.iter().filter_map(|l| l.refund_minor).sum();
        self.rma_note(
            tx,
            &rma,
            "orders.return.exchange_failed",
            "no stock for the replacements: refunding instead".into(),
            act,
            None,
        )
        .await?;
        self.rma_refund_and_close(tx, &rma, total, act).await?;
        store::returns::refresh_order_status(tx, rma.row.order_id).await?;
        Ok(())
    }
}

/// Never more units graded than announced for a line; units not graded count as missing.
fn clamp(g: &mut Grades, announced: i32) {
    let mut left = announced.max(0);
    for units in [
        &mut g.resellable,
        &mut g.defective,
        &mut g.damaged,
        &mut g.wrong_item,
        &mut g.missing,
    ] {
        *units = (*units).clamp(0, left);
        left -= *units;
    }
    g.missing += left;
}

/// The warehouse the order's goods left from (its first parcel, or its reservation).
pub async fn shipped_from(tx: &mut PgConnection, order: &Order) -> Result<String, WorkflowError> {
    let shipments = store::shipments::list(tx, order.id).await?;
    if let Some(w) = shipments
        .iter()
        .map(|s| s.warehouse_id.clone())
        .find(|w| !w.is_empty())
    {
        return Ok(w);
    }
    let saga = store::saga::read(tx, order.id).await?;
    Ok(saga
        .and_then(|s| s.allocations.0.first().map(|a| a.warehouse_id.clone()))
        .unwrap_or_default())
}
