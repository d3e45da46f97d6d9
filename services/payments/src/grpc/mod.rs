//! The payments gRPC API. `PaymentService` reads payments and lets operators move money
//! (Capture, Void, Refund, ConfirmBankTransfer — each idempotent by `request_id`, AIP-155);
//! `RiskService` ([`risk`]) answers risk assessments and keeps the block lists. Requests are
//! validated in [`convert`] (every bad field named); money moves through
//! [`crate::movements`]; errors map once through [`crate::error::Error`].

mod convert;
mod risk;

use runtime::Role;
use runtime::grpc::FieldViolations;
use sha2::{Digest as _, Sha256};
use sqlx::PgConnection;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use contracts::payments::payment_service_server::PaymentService;
use contracts::payments::{
    CaptureRequest, CaptureResponse, ConfirmBankTransferRequest, ConfirmBankTransferResponse,
    GetInstallmentPlanRequest, GetInstallmentPlanResponse, GetPaymentRequest, GetPaymentResponse,
    ListPaymentsRequest, ListPaymentsResponse, Payment, PaymentTransaction, RefundRequest,
    RefundResponse, VoidRequest, VoidResponse,
};

use crate::error::Error;
use crate::movements::{MoveRequest, Moved, Movements};
use crate::store::payments::{Filter, Key, PaymentRow};
use crate::store::requests::RequestRow;
use crate::store::{self, plans, transactions};

pub use risk::RiskApi;

const MAX_TEXT: usize = 500;
const MAX_ID: usize = 200;

#[derive(Clone)]
pub struct PaymentsApi {
    pub pool: sqlx::PgPool,
    pub movements: Movements,
}

/// Which money RPC, for idempotency records.
#[derive(Clone, Copy)]
enum Verb {
    Capture,
    Void,
    Refund,
    ConfirmBankTransfer,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Self::Capture => "Capture",
            Self::Void => "Void",
            Self::Refund => "Refund",
            Self::ConfirmBankTransfer => "ConfirmBankTransfer",
        }
    }
}

/// A validated money request.
struct MoneyCall {
    verb: Verb,
    request_id: String,
    hash: Vec<u8>,
    payment: Key<'static>,
    /// For ConfirmBankTransfer by reference.
    reference: Option<String>,
    request: MoveRequest,
    amount_currency: Option<crate::domain::money::Currency>,
    bank_reference: String,
}

impl PaymentsApi {
    async fn view(&self, conn: &mut PgConnection, p: &PaymentRow) -> Result<Payment, Error> {
        // GetPayment and replayed money calls answer through here.
        runtime::telemetry::record_order_id(&p.order_id);
        let txs = transactions::list(conn, p.id).await?;
        let plan = plans::for_payment(conn, p.id).await?;
        Ok(convert::payment_pb(p, &txs, plan.map(|x| x.id)))
    }

    /// Runs a money RPC once per request_id: the same id with the same request answers what
    /// the first call did; with a different request it is refused.
    async fn move_money(&self, call: MoneyCall) -> Result<(Payment, PaymentTransaction), Error> {
        let mut tx = self.pool.begin().await?;
        if let Some(answer) = self.replay(&mut tx, &call).await? {
            return Ok(answer);
        }
        let mut p = match (&call.payment, &call.reference) {
            (_, Some(reference)) => {
                store::payments::get(&mut tx, Key::TransferReference(reference), true).await?
            }
            (key, None) => store::payments::get(&mut tx, key.clone(), true).await?,
        }
        .ok_or_else(|| Error::NotFound("payment".into()))?;
        runtime::telemetry::record_order_id(&p.order_id);
        if let Some(currency) = call.amount_currency
            && currency != p.currency()
        {
            let mut v = FieldViolations::new();
            let field = match call.verb {
                Verb::ConfirmBankTransfer => "amount_received.currency_code",
                _ => "amount.currency_code",
            };
            v.add(
                field,
                format!("must be the payment's currency {}", p.currency),
            );
            return Err(v.into());
        }
        let m = &self.movements;
        let moved: Moved = match call.verb {
            Verb::Capture => m.capture(&mut tx, &mut p, &call.request).await?,
            Verb::Void => m.void(&mut tx, &mut p, &call.request).await?,
            Verb::Refund => m.refund(&mut tx, &mut p, &call.request).await?,
            Verb::ConfirmBankTransfer => {
                let received = crate::domain::money::Money::new(
                    call.amount_currency.unwrap_or(p.currency()),
                    call.request.amount.unwrap_or(0),
                );
                m.confirm_transfer(
                    &mut tx,
                    &mut p,
                    &call.request.key,
                    received,
                    &call.bank_reference,
                )
                .await?
            }
        };
        let row = RequestRow {
            request_id: call.request_id.clone(),
            method: call.verb.as_str().to_owned(),
            request_hash: call.hash.clone(),
            payment_id: p.id,
            transaction_id: Some(moved.transaction.id),
        };
        if !store::requests::insert(&mut tx, &row, self.movements.clock.now()).await? {
            // A concurrent call with the same id won; answer as it did (or refuse).
            drop(tx);
            let mut tx = self.pool.begin().await?;
            return self
                .replay(&mut tx, &call)
                .await?
                .ok_or_else(|| Error::AlreadyExists("request_id is being used".into()));
        }
        let view = self.view(&mut tx, &p).await?;
        self.movements.outbox.commit(tx).await?;
        tracing::info!(payment_id = %p.id, verb = call.verb.as_str(), request_id = %call.request_id, "operator moved money");
        Ok((view, convert::transaction_pb(&p, &moved.transaction)))
    }

    async fn replay(
        &self,
        conn: &mut PgConnection,
        call: &MoneyCall,
    ) -> Result<Option<(Payment, PaymentTransaction)>, Error> {
        let Some(earlier) = store::requests::get(conn, &call.request_id).await? else {
            return Ok(None);
        };
        if earlier.request_hash != call.hash || earlier.method != call.verb.as_str() {
            return Err(Error::AlreadyExists(format!(
                "request_id {} was already used for a different request ({} of payment {})",
                call.request_id, earlier.method, earlier.payment_id
            )));
        }
        let p = store::payments::get(conn, Key::Id(earlier.payment_id), false)
            .await?
            .ok_or_else(|| Error::NotFound("payment".into()))?;
        let t = match earlier.transaction_id {
            Some(id) => transactions::get(conn, id).await?,
            None => None,
        };
        let view = self.view(conn, &p).await?;
        Ok(Some((
            view,
            t.map(|t| convert::transaction_pb(&p, &t))
                .unwrap_or_default(),
        )))
    }
}

fn hash<M: prost::Message>(message: &M) -> Vec<u8> {
    Sha256::digest(message.encode_to_vec()).to_vec()
}

fn operator<T>(request: &Request<T>) -> Result<runtime::Actor, Status> {
    let actor = runtime::auth::actor(request)?;
    actor.require_any(&[Role::Operator])?;
    Ok(actor)
}

fn reader<T>(request: &Request<T>) -> Result<(), Status> {
    runtime::auth::actor(request)?.require_any(&[Role::Operator, Role::Service])
}

/// `request_id` and `payment_id`, common to Capture, Void and Refund.
fn ids(v: &mut FieldViolations, request_id: &str, payment_id: &str) -> (String, Option<Uuid>) {
    let request_id = convert::text(v, "request_id", request_id, true, MAX_ID);
    let payment_id = convert::uuid(v, "payment_id", payment_id, true);
    (request_id, payment_id)
}

#[tonic::async_trait]
impl PaymentService for PaymentsApi {
    async fn get_payment(
        &self,
        request: Request<GetPaymentRequest>,
    ) -> Result<Response<GetPaymentResponse>, Status> {
        reader(&request)?;
        let r = request.get_ref();
        let mut v = FieldViolations::new();
        let key = match (r.id.trim().is_empty(), r.order_id.trim().is_empty()) {
            (false, true) => convert::uuid(&mut v, "id", &r.id, true).map(Key::Id),
            (true, false) => convert::uuid(&mut v, "order_id", &r.order_id, true).map(Key::Order),
            (true, true) => {
                v.add("id", "set the payment id or the order_id");
                None
            }
            (false, false) => {
                v.add("order_id", "set either id or order_id, not both");
                None
            }
        };
        let key = match key {
            Some(key) if v.is_empty() => key,
            _ => return Err(Error::from(v).into()),
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let p = store::payments::get(&mut conn, key, false)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound("payment".into()))?;
        let payment = self.view(&mut conn, &p).await?;
        Ok(Response::new(GetPaymentResponse {
            payment: Some(payment),
        }))
    }

    async fn list_payments(
        &self,
        request: Request<ListPaymentsRequest>,
    ) -> Result<Response<ListPaymentsResponse>, Status> {
        reader(&request)?;
        let r = request.get_ref();
        let mut v = FieldViolations::new();
        let limit = convert::page_size(&mut v, r.page_size, 50, 500);
        let mut filter = Filter {
            order_id: convert::uuid(&mut v, "order_id", &r.order_id, false),
            ..Filter::default()
        };
        runtime::telemetry::record_order_id(&r.order_id.trim());
        for (i, raw) in r.statuses.iter().enumerate() {
            match convert::status_from_pb(*raw) {
                Some(s) => filter.statuses.push(s.as_str().to_owned()),
                None => v.add(format!("statuses[{i}]"), "must be a payment status"),
            }
        }
        if r.method != 0 {
            match convert::method_from_pb(r.method) {
                Some(m) => filter.method = Some(m.as_str().to_owned()),
                None => v.add("method", "must be a payment method"),
            }
        }
        filter.created_after =
            convert::timestamp(&mut v, "created_after", r.created_after.as_ref());
        filter.created_before =
            convert::timestamp(&mut v, "created_before", r.created_before.as_ref());
        if let Some(parts) = convert::decode_token(&mut v, &r.page_token, 2) {
            let at = parts[0]
                .parse::<i64>()
                .ok()
                .and_then(chrono::DateTime::from_timestamp_micros);
            match (at, Uuid::parse_str(&parts[1])) {
                (Some(at), Ok(id)) => filter.after = Some((at, id)),
                _ => v.add("page_token", "is not a token this service issued"),
            }
        }
        if !v.is_empty() {
            return Err(Error::from(v).into());
        }
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let rows = store::payments::list(&mut conn, &filter, limit + 1)
            .await
            .map_err(Error::from)?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        let mut payments = Vec::new();
        let mut next_page_token = String::new();
        for p in rows
            .iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
        {
            payments.push(self.view(&mut conn, p).await?);
            if more {
                next_page_token = convert::encode_token(&[
                    &p.created_at.timestamp_micros().to_string(),
                    &p.id.to_string(),
                ]);
            }
        }
        Ok(Response::new(ListPaymentsResponse {
            payments,
            next_page_token,
        }))
    }

    async fn capture(
        &self,
        request: Request<CaptureRequest>,
    ) -> Result<Response<CaptureResponse>, Status> {
        operator(&request)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let (request_id, payment_id) = ids(&mut v, &r.request_id, &r.payment_id);
        let amount = convert::amount(&mut v, "amount", r.amount.as_ref());
        let shipment_id = convert::text(&mut v, "shipment_id", &r.shipment_id, false, MAX_ID);
        let note = convert::text(&mut v, "note", &r.note, false, MAX_TEXT);
        let Some(payment_id) = payment_id.filter(|_| v.is_empty()) else {
            return Err(Error::from(v).into());
        };
        let (payment, transaction) = self
            .move_money(MoneyCall {
                verb: Verb::Capture,
                hash: hash(&r),
                request: MoveRequest {
                    key: format!("rpc:{request_id}"),
                    amount: amount.map(|a| a.minor),
                    shipment_id,
                    reason: note,
                    ..MoveRequest::default()
                },
                request_id,
                payment: Key::Id(payment_id),
                reference: None,
                amount_currency: amount.map(|a| a.currency),
                bank_reference: String::new(),
            })
            .await?;
        Ok(Response::new(CaptureResponse {
            payment: Some(payment),
            transaction: Some(transaction),
        }))
    }

    async fn void(&self, request: Request<VoidRequest>) -> Result<Response<VoidResponse>, Status> {
        operator(&request)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let (request_id, payment_id) = ids(&mut v, &r.request_id, &r.payment_id);
        let amount = convert::amount(&mut v, "amount", r.amount.as_ref());
        let reason = convert::text(&mut v, "reason", &r.reason, true, MAX_TEXT);
        let Some(payment_id) = payment_id.filter(|_| v.is_empty()) else {
            return Err(Error::from(v).into());
        };
        let (payment, transaction) = self
            .move_money(MoneyCall {
                verb: Verb::Void,
                hash: hash(&r),
                request: MoveRequest {
                    key: format!("rpc:{request_id}"),
                    amount: amount.map(|a| a.minor),
                    reason,
                    ..MoveRequest::default()
                },
                request_id,
                payment: Key::Id(payment_id),
                reference: None,
                amount_currency: amount.map(|a| a.currency),
                bank_reference: String::new(),
            })
            .await?;
        Ok(Response::new(VoidResponse {
            payment: Some(payment),
            transaction: Some(transaction),
        }))
    }

    async fn refund(
        &self,
        request: Request<RefundRequest>,
    ) -> Result<Response<RefundResponse>, Status> {
        operator(&request)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let (request_id, payment_id) = ids(&mut v, &r.request_id, &r.payment_id);
        let amount = convert::amount(&mut v, "amount", r.amount.as_ref());
        let reason = convert::text(&mut v, "reason", &r.reason, true, MAX_TEXT);
        let return_id = convert::text(&mut v, "return_id", &r.return_id, false, MAX_ID);
        let case_id = convert::text(&mut v, "case_id", &r.case_id, false, MAX_ID);
        let Some(payment_id) = payment_id.filter(|_| v.is_empty()) else {
            return Err(Error::from(v).into());
        };
        let (payment, transaction) = self
            .move_money(MoneyCall {
                verb: Verb::Refund,
                hash: hash(&r),
                request: MoveRequest {
                    key: format!("rpc:{request_id}"),
                    amount: amount.map(|a| a.minor),
                    reason,
                    return_id,
                    case_id,
                    ..MoveRequest::default()
                },
                request_id,
                payment: Key::Id(payment_id),
                reference: None,
                amount_currency: amount.map(|a| a.currency),
                bank_reference: String::new(),
            })
            .await?;
        Ok(Response::new(RefundResponse {
            payment: Some(payment),
            transaction: Some(transaction),
        }))
    }

    async fn confirm_bank_transfer(
        &self,
        request: Request<ConfirmBankTransferRequest>,
    ) -> Result<Response<ConfirmBankTransferResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&[Role::Operator, Role::Service])?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let request_id = convert::text(&mut v, "request_id", &r.request_id, true, MAX_ID);
        let reference = convert::text(&mut v, "reference", &r.reference, false, MAX_ID);
        let payment_id = match (r.payment_id.trim().is_empty(), reference.is_empty()) {
            (false, true) => convert::uuid(&mut v, "payment_id", &r.payment_id, true),
            (true, false) => None,
            (true, true) => {
                v.add("payment_id", "set the payment_id or the transfer reference");
                None
            }
            (false, false) => {
                v.add("reference", "set either payment_id or reference, not both");
                None
            }
        };
        let received = convert::amount(&mut v, "amount_received", r.amount_received.as_ref());
        if r.amount_received.is_none() {
            v.add("amount_received", "is required");
        }
        let bank_reference =
            convert::text(&mut v, "bank_reference", &r.bank_reference, false, MAX_ID);
        convert::timestamp(&mut v, "received_at", r.received_at.as_ref());
        let received = match received {
            Some(received) if v.is_empty() => received,
            _ => return Err(Error::from(v).into()),
        };
        let (payment, _) = self
            .move_money(MoneyCall {
                verb: Verb::ConfirmBankTransfer,
                hash: hash(&r),
                request: MoveRequest {
                    key: format!("rpc:{request_id}"),
                    amount: Some(received.minor),
                    ..MoveRequest::default()
                },
                request_id,
                payment: Key::Id(payment_id.unwrap_or_default()),
                reference: payment_id.is_none().then(|| reference.to_uppercase()),
                amount_currency: Some(received.currency),
                bank_reference,
            })
            .await?;
        Ok(Response::new(ConfirmBankTransferResponse {
            payment: Some(payment),
        }))
    }

    async fn get_installment_plan(
        &self,
        request: Request<GetInstallmentPlanRequest>,
    ) -> Result<Response<GetInstallmentPlanResponse>, Status> {
        reader(&request)?;
        let r = request.get_ref();
        let mut v = FieldViolations::new();
        let key = match (r.id.trim().is_empty(), r.order_id.trim().is_empty()) {
            (false, true) => convert::uuid(&mut v, "id", &r.id, true).map(|id| (id, false)),
            (true, false) => {
                convert::uuid(&mut v, "order_id", &r.order_id, true).map(|id| (id, true))
            }
            (true, true) => {
                v.add("id", "set the plan id or the order_id");
                None
            }
            (false, false) => {
                v.add("order_id", "set either id or order_id, not both");
                None
            }
        };
        let Some((id, by_order)) = key.filter(|_| v.is_empty()) else {
            return Err(Error::from(v).into());
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let plan = plans::get(&mut conn, id, by_order)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound("installment plan".into()))?;
        runtime::telemetry::record_order_id(&plan.order_id);
        let installments = plans::installments(&mut conn, plan.id)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(GetInstallmentPlanResponse {
            plan: Some(convert::plan_pb(&plan, &installments)),
        }))
    }
}
