//! Durable timers of payments (rows in `oc_timers`, fired on the service clock, surviving
//! restarts): the bank-transfer pay-by deadline, each installment's due date (and the retries
//! of a missed one), and the renewal of card and wallet holds before they lapse.

use messaging::{HandlerError, Timer, TimerHandler};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::movements::{MoveFailure, Movements};
use crate::store::payments::{self, Key};

fn field<T: serde::de::DeserializeOwned>(timer: &Timer, name: &str) -> Result<T, HandlerError> {
    timer
        .payload
        .get(name)
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| HandlerError::permanent(format!("timer {} has no valid {name}", timer.key)))
}

fn failure(err: MoveFailure) -> HandlerError {
    match err {
        MoveFailure::Store(err) => err.into(),
        other => HandlerError::transient(other),
    }
}

/// Unpaid by the deadline → declined.
pub struct BankTransferDeadline {
    pub movements: Movements,
}

impl TimerHandler for BankTransferDeadline {
    async fn fire(&self, tx: &mut PgConnection, timer: &Timer) -> Result<(), HandlerError> {
        let id: Uuid = field(timer, "payment_id")?;
        let Some(mut payment) = payments::get(tx, Key::Id(id), true).await? else {
            return Ok(());
        };
        self.movements
            .expire_transfer(tx, &mut payment)
            .await
            .map_err(failure)
    }
}

/// An installment falls due (or its retry does).
pub struct InstallmentDue {
    pub movements: Movements,
}

impl TimerHandler for InstallmentDue {
    async fn fire(&self, tx: &mut PgConnection, timer: &Timer) -> Result<(), HandlerError> {
        let plan_id: Uuid = field(timer, "plan_id")?;
        let number: i32 = field(timer, "number")?;
        let attempt: i32 = field(timer, "attempt")?;
        self.movements
            .charge_installment(tx, plan_id, number, attempt)
            .await
            .map_err(failure)
    }
}

/// A hold is about to lapse with money still to capture → re-authorize (or flag).
pub struct Reauthorize {
    pub movements: Movements,
}

impl TimerHandler for Reauthorize {
    async fn fire(&self, tx: &mut PgConnection, timer: &Timer) -> Result<(), HandlerError> {
        let id: Uuid = field(timer, "payment_id")?;
        let generation: i32 = field(timer, "generation")?;
        let Some(mut payment) = payments::get(tx, Key::Id(id), true).await? else {
            return Ok(());
        };
        if payment.reauthorizations != generation {
            // Renewed meanwhile (by a capture that found the hold lapsed).
            return Ok(());
        }
        match self.movements.reauthorize(tx, &mut payment).await {
            // Declined: the payment is flagged for an operator (the flag must commit).
            Ok(()) | Err(MoveFailure::Declined(_)) | Err(MoveFailure::Refused(_)) => Ok(()),
            Err(err) => Err(failure(err)),
        }
    }
}
