//! SLA deadlines of support cases: scheduled when a case opens, cancelled when met, moved when
//! a pause ends; when one fires unmet, the case is marked breached and
//! `feedback.sla.breached` is published (once per deadline).

use messaging::{HandlerError, Outbox, Timer, TimerHandler, timers};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{FIRST_RESPONSE_DUE, RESOLUTION_DUE};
use crate::domain::case::{Case, MessageEffects, SlaKind};
use crate::outgoing;
use crate::store::{self, cases::CaseKey};

fn payload() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// Both deadlines of a newly opened case.
pub async fn schedule_new(tx: &mut PgConnection, case: &Case) -> Result<(), sqlx::Error> {
    let key = case.id.to_string();
    timers::schedule(
        tx,
        FIRST_RESPONSE_DUE,
        &key,
        case.first_response_due_at,
        &payload(),
    )
    .await?;
    timers::schedule(tx, RESOLUTION_DUE, &key, case.resolve_due_at, &payload()).await
}

/// Follows a message's effect on the deadlines.
pub async fn follow_message(
    tx: &mut PgConnection,
    case: &Case,
    effects: MessageEffects,
) -> Result<(), sqlx::Error> {
    let key = case.id.to_string();
    if effects.first_response_met {
        timers::cancel(tx, FIRST_RESPONSE_DUE, &key).await?;
    }
    if effects.paused {
        timers::cancel(tx, RESOLUTION_DUE, &key).await?;
    }
    if effects.resumed && !case.resolution_breached {
        timers::schedule(tx, RESOLUTION_DUE, &key, case.resolve_due_at, &payload()).await?;
    }
    Ok(())
}

/// A resolved case owes nothing more.
pub async fn cancel_all(tx: &mut PgConnection, case: &Case) -> Result<(), sqlx::Error> {
    let key = case.id.to_string();
    timers::cancel(tx, FIRST_RESPONSE_DUE, &key).await?;
    timers::cancel(tx, RESOLUTION_DUE, &key).await?;
    Ok(())
}

/// Fires one kind of deadline.
pub struct SlaDeadline {
    pub sla: SlaKind,
    pub outbox: Outbox,
    pub clock: runtime::Clock,
}

impl TimerHandler for SlaDeadline {
    async fn fire(&self, tx: &mut PgConnection, timer: &Timer) -> Result<(), HandlerError> {
        let case_id = Uuid::parse_str(&timer.key).map_err(|_| {
            HandlerError::permanent(format!("timer key {:?} is not a case id", timer.key))
        })?;
        let Some(mut case) = store::cases::get_for_update(tx, CaseKey::Id(case_id)).await? else {
            return Err(HandlerError::permanent(format!(
                "case {case_id} does not exist"
            )));
        };
        let now = self.clock.now();
        // The case decides: a met, paused, resolved or already breached deadline is no breach.
        let Some(due_at) = case.breach(self.sla, now) else {
            return Ok(());
        };
        store::cases::save(tx, &case).await?;
        self.outbox
            .append(tx, &outgoing::sla_breached(&case, self.sla, due_at, now))
            .await?;
        tracing::info!(case_id = %case.id, sla = self.sla.as_str(), "SLA breached");
        Ok(())
    }
}
