//! When a survey's invitation is due: mark it invited (with its expiry) and publish
//! `feedback.survey.invited`, which notifications turns into a message to the customer.

use std::time::Duration;

use messaging::{HandlerError, Outbox, Timer, TimerHandler};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::outgoing;
use crate::store;

pub struct InviteToSurvey {
    pub outbox: Outbox,
    pub clock: runtime::Clock,
    pub valid_for: Duration,
}

impl TimerHandler for InviteToSurvey {
    async fn fire(&self, tx: &mut PgConnection, timer: &Timer) -> Result<(), HandlerError> {
        let survey_id = Uuid::parse_str(&timer.key).map_err(|_| {
            HandlerError::permanent(format!("timer key {:?} is not a survey id", timer.key))
        })?;
        let Some(mut survey) = store::surveys::get_for_update(tx, survey_id).await? else {
            return Err(HandlerError::permanent(format!(
                "survey {survey_id} does not exist"
            )));
        };
        if !survey.invite(self.clock.now(), self.valid_for) {
            // Invited already: a timer that fired again after a crash.
            return Ok(());
        }
        store::surveys::save(tx, &survey).await?;
        let (contact, skus) = store::orders::invitation_details(tx, survey.order_id).await?;
        self.outbox
            .append(tx, &outgoing::survey_invited(&survey, contact, skus))
            .await?;
        tracing::info!(survey_id = %survey.id, order_id = %survey.order_id, "survey invitation sent");
        Ok(())
    }
}
