//! `orders.order.delivered` → remember what the customer received (review eligibility) and,
//! the first time only, schedule the order's survey invitation `survey_delay` after delivery.

use std::time::Duration;

use contracts::orders::OrderDelivered;
use contracts::time::from_timestamp;
use messaging::{Envelope, Handler, HandlerError, timers};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{order_id, required};
use crate::domain::survey::Survey;
use crate::store::{
    self,
    orders::{Contact, DeliveredLine, Delivery},
};
use crate::timers::SURVEY_INVITATION;

pub struct RecordDelivery {
    pub survey_delay: Duration,
}

impl Handler<OrderDelivered> for RecordDelivery {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<OrderDelivered>,
    ) -> Result<(), HandlerError> {
        let delivered = &envelope.event;
        let order_id = order_id(&delivered.order_id)?;
        let customer = delivered.customer.clone().unwrap_or_default();
        let customer_id = required("customer id", &customer.id)?.to_owned();
        let delivered_at = delivered
            .delivered_at
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or(envelope.time);
        let delivery = Delivery {
            order_id,
            order_number: delivered.order_number.clone(),
            customer_id: customer_id.clone(),
            contact: Contact {
                id: customer.id,
                name: customer.name,
                email: customer.email,
                phone: customer.phone,
            },
            delivered_at,
            lines: delivered
                .lines
                .iter()
                .map(|line| DeliveredLine {
                    line_id: line.line_id.clone(),
                    sku: line.sku.clone(),
                    // What reached the customer: shipped units when orders counted them,
                    // else what was ordered and not cancelled.
                    quantity: if line.shipped_quantity > 0 {
                        line.shipped_quantity
                    } else {
                        line.quantity - line.cancelled_quantity
                    },
                })
                .collect(),
        };
        store::orders::record_delivery(tx, &delivery).await?;

        let survey = Survey::schedule(
            Uuid::now_v7(),
            order_id,
            delivered.order_number.clone(),
            customer_id,
            delivered_at,
            self.survey_delay,
        );
        // One survey per order, whatever the number of delivered events.
        if store::surveys::insert_if_new(tx, &survey).await? {
            timers::schedule(
                tx,
                SURVEY_INVITATION,
                &survey.id.to_string(),
                survey.invite_at,
                &serde_json::json!({ "order_id": order_id }),
            )
            .await?;
            tracing::info!(order_id = %order_id, survey_id = %survey.id, invite_at = %survey.invite_at, "survey scheduled");
        }
        Ok(())
    }
}
