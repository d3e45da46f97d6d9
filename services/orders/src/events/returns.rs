//! Fulfillment's facts about returned parcels: received at the warehouse, then graded per line.
//! Each applies once to its RMA (a duplicate under another event id finds the RMA past that
//! step and is ignored).

use contracts::fulfillment::{InspectionGrade, ReturnInspected, ReturnReceived};
use messaging::{Bus, Envelope, Handler, HandlerError};
use runtime::Host;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::returns::Grades;
use crate::returns::Act;
use crate::store;
use crate::workflow::{Who, Workflow};

struct OnReturns(Workflow);

fn return_id(raw: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(raw)
        .map_err(|_| HandlerError::permanent(format!("return_id {raw:?} is not a UUID")))
}

impl Handler<ReturnReceived> for OnReturns {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReturnReceived>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let Some(rma) = store::returns::lock(tx, return_id(&e.return_id)?).await? else {
            return Err(HandlerError::permanent(format!(
                "return {} is not ours",
                e.return_id
            )));
        };
        let who = Who::service("fulfillment");
        let reason = (!e.received_by.is_empty()).then(|| format!("received by {}", e.received_by));
        let act = Act {
            who: &who,
            reason: reason.as_deref(),
            event_id: Some(envelope.id),
            now: self.0.clock.now(),
        };
        self.0.rma_received(tx, &rma, &e.warehouse_id, &act).await?;
        Ok(())
    }
}

impl Handler<ReturnInspected> for OnReturns {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReturnInspected>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let Some(rma) = store::returns::lock(tx, return_id(&e.return_id)?).await? else {
            return Err(HandlerError::permanent(format!(
                "return {} is not ours",
                e.return_id
            )));
        };
        let graded: Vec<(String, Grades)> = e
            .lines
            .iter()
            .map(|l| {
                let mut g = Grades::default();
                let units = l.quantity.max(0);
                match l.grade() {
                    InspectionGrade::Resellable => g.resellable = units,
                    InspectionGrade::Damaged => g.damaged = units,
                    InspectionGrade::Defective => g.defective = units,
                    InspectionGrade::WrongItem => g.wrong_item = units,
                    InspectionGrade::Missing | InspectionGrade::Unspecified => g.missing = units,
                }
                (l.line_id.clone(), g)
            })
            .collect();
        let who = Who {
            id: if e.inspected_by.is_empty() {
                "fulfillment".to_owned()
            } else {
                e.inspected_by.clone()
            },
            kind: "service",
        };
        let act = Act {
            who: &who,
            reason: Some(e.note.as_str()).filter(|n| !n.is_empty()),
            event_id: Some(envelope.id),
            now: self.0.clock.now(),
        };
        self.0
            .rma_inspected(tx, &rma, &e.warehouse_id, &graded, &act)
            .await?;
        Ok(())
    }
}

pub async fn subscribe(
    bus: &Bus,
    host: &mut Host,
    wf: &Workflow,
) -> Result<(), messaging::consumer::ConsumerError> {
    bus.consume::<ReturnReceived, _>(host, OnReturns(wf.clone()))
        .await?;
    bus.consume::<ReturnInspected, _>(host, OnReturns(wf.clone()))
        .await
}
