//! The orders service's durable timers: review deadlines, auto-acceptance windows, and an
//! order update's request asked again when no answer came.

use messaging::{Bus, HandlerError, Timer, TimerHandler};
use runtime::Host;
use sqlx::PgConnection;

use super::order_id;
use crate::domain::saga::Input;
use crate::workflow::{AUTO_ACCEPT, Facts, REVIEW_DEADLINE, Who, Workflow, WorkflowError};

struct ReviewDeadline(Workflow);

impl TimerHandler for ReviewDeadline {
    async fn fire(&self, tx: &mut PgConnection, timer: &Timer) -> Result<(), HandlerError> {
        let facts = Facts::by(Who::system()).because("no review decision before the deadline");
        match self
            .0
            .apply(
                tx,
                order_id(&timer.key)?,
                Input::Reject { by_deadline: true },
                &facts,
            )
            .await
        {
            // Decided meanwhile: the deadline no longer matters.
            Ok(_) | Err(WorkflowError::NotAllowed(_)) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }
}

struct AutoAccept(Workflow);

impl TimerHandler for AutoAccept {
    async fn fire(&self, tx: &mut PgConnection, timer: &Timer) -> Result<(), HandlerError> {
        let facts = Facts::by(Who::system()).because("acceptance window passed");
        self.0
            .apply(tx, order_id(&timer.key)?, Input::AutoAccept, &facts)
            .await?;
        Ok(())
    }
}

struct UpdateRetry(Workflow);

impl TimerHandler for UpdateRetry {
    async fn fire(&self, tx: &mut PgConnection, timer: &Timer) -> Result<(), HandlerError> {
        crate::update_saga::retry(tx, &self.0, &timer.payload).await?;
        Ok(())
    }
}

pub fn start(bus: &Bus, host: &mut Host, wf: &Workflow) {
    bus.timers(
        host,
        crate::update_saga::UPDATE_RETRY,
        UpdateRetry(wf.clone()),
    );
    bus.timers(host, REVIEW_DEADLINE, ReviewDeadline(wf.clone()));
    bus.timers(host, AUTO_ACCEPT, AutoAccept(wf.clone()));
}
