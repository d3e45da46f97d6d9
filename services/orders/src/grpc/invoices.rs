//! `InvoiceService`: invoices and credit notes, as records and as PDF files. A customer sees
//! only their own documents; operators and services see all.

use runtime::grpc::FieldViolations;
use runtime::{Actor, Role};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use contracts::common::Money as MoneyPb;
use contracts::orders::invoice_service_server::InvoiceService;
use contracts::orders::{self as pb};
use contracts::time::{from_timestamp, to_timestamp};

use super::orders::decode_page_token;
use super::page_size;
use crate::convert::{address_pb, invoice_request_pb};
use crate::domain::invoices::{self, Invoice, Kind, LineKind, Party};
use crate::error::Error;
use crate::store;

const ANY_CALLER: [Role; 3] = [Role::Customer, Role::Operator, Role::Service];

#[derive(Clone)]
pub struct InvoicesApi {
    pool: sqlx::PgPool,
}

impl InvoicesApi {
    pub fn new(pool: sqlx::PgPool) -> Self {
        Self { pool }
    }

    /// The document named by id or number, if the caller may see it.
    async fn find(&self, actor: &Actor, id_or_number: &str) -> Result<Invoice, Error> {
        let id_or_number = id_or_number.trim();
        let mut conn = self.pool.acquire().await?;
        let found = match Uuid::parse_str(id_or_number) {
            Ok(id) => store::invoices::get(&mut conn, id).await?,
            Err(_) if invoices::looks_like_number(id_or_number) => {
                store::invoices::get_by_number(&mut conn, id_or_number).await?
            }
            Err(_) => {
                let mut v = FieldViolations::new();
                v.add(
                    "id",
                    "must be an invoice id (UUID) or an invoice or credit note number (INV-…, CN-…)",
                );
                return Err(v.into());
            }
        };
        let invoice = found.ok_or_else(|| Error::NotFound(format!("invoice {id_or_number}")))?;
        if !actor.may_access_customer(&invoice.customer_id) {
            return Err(Error::PermissionDenied(
                "a customer may only see their own invoices".into(),
            ));
        }
        runtime::telemetry::record_order_id(&invoice.order_id);
        Ok(invoice)
    }
}

fn money(currency: &str, minor: i64) -> Option<MoneyPb> {
    Some(MoneyPb {
        currency_code: currency.to_owned(),
        amount_minor: minor,
    })
}

fn party_pb(p: &Party) -> pb::InvoiceParty {
    pb::InvoiceParty {
        name: p.name.clone(),
        address: p.address.as_ref().map(address_pb),
        tax_id: p.tax_id.clone(),
        email: p.email.clone(),
    }
}

fn kind_pb(kind: Kind) -> pb::InvoiceKind {
    match kind {
        Kind::Invoice => pb::InvoiceKind::Invoice,
        Kind::CreditNote => pb::InvoiceKind::CreditNote,
    }
}

pub fn invoice_pb(doc: &Invoice) -> pb::Invoice {
    let c = doc.currency.as_str();
    let t = doc.totals();
    pb::Invoice {
        id: doc.id.to_string(),
        invoice_number: doc.number.clone(),
        kind: kind_pb(doc.kind).into(),
        order_id: doc.order_id.to_string(),
        order_number: doc.order_number.clone(),
        customer_id: doc.customer_id.clone(),
        legal_entity: doc.legal_entity.clone(),
        seller: Some(party_pb(&doc.seller)),
        buyer: Some(party_pb(&doc.buyer)),
        invoice_request: doc.request.as_ref().map(invoice_request_pb),
        lines: doc
            .lines
            .iter()
            .zip(1..)
            .map(|(l, position)| pb::InvoiceLine {
                position,
                kind: match l.kind {
                    LineKind::Item => pb::InvoiceLineKind::Item,
                    LineKind::Shipping => pb::InvoiceLineKind::Shipping,
                    LineKind::Adjustment => pb::InvoiceLineKind::Adjustment,
                }
                .into(),
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                description: l.description.clone(),
                quantity: l.quantity,
                unit_price: money(c, l.unit_price),
                discount: money(c, l.discount),
                net_amount: money(c, l.net()),
                tax: money(c, l.tax),
                gross_amount: money(c, l.gross),
                tax_rate_bps: i32::try_from(l.tax_rate_bps).unwrap_or(i32::MAX),
            })
            .collect(),
        subtotal: money(c, t.subtotal),
        discount: money(c, t.discount),
        shipping: money(c, t.shipping),
        net_total: money(c, t.net),
        tax_total: money(c, t.tax),
        total: money(c, t.total),
        tax_inclusive: doc.tax_inclusive,
        credited_invoice_id: doc
            .credited
            .as_ref()
            .map(|(id, _)| id.to_string())
            .unwrap_or_default(),
        credited_invoice_number: doc
            .credited
            .as_ref()
            .map(|(_, n)| n.clone())
            .unwrap_or_default(),
        reason: doc.reason.clone(),
        issued_at: Some(to_timestamp(doc.issued_at)),
    }
}

#[tonic::async_trait]
impl InvoiceService for InvoicesApi {
    async fn get_invoice(
        &self,
        request: Request<pb::GetInvoiceRequest>,
    ) -> Result<Response<pb::GetInvoiceResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let invoice = self.find(&actor, &request.get_ref().id).await?;
        Ok(Response::new(pb::GetInvoiceResponse {
            invoice: Some(invoice_pb(&invoice)),
        }))
    }

    async fn list_invoices(
        &self,
        request: Request<pb::ListInvoicesRequest>,
    ) -> Result<Response<pb::ListInvoicesResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let customer_id = super::listed_customer(&actor, &r.customer_id, "invoices", &mut v);
        let order_id = super::optional_order_id(&r.order_id, &mut v);
        let kind = match pb::InvoiceKind::try_from(r.kind) {
            Ok(pb::InvoiceKind::Unspecified) => None,
            Ok(pb::InvoiceKind::Invoice) => Some(Kind::Invoice),
            Ok(pb::InvoiceKind::CreditNote) => Some(Kind::CreditNote),
            Err(_) => {
                v.add("kind", "is not an InvoiceKind");
                None
            }
        };
        let legal_entity = Some(r.legal_entity.trim().to_owned()).filter(|e| !e.is_empty());
        let issued_after = r.issued_after.as_ref().and_then(from_timestamp);
        let issued_before = r.issued_before.as_ref().and_then(from_timestamp);
        if let (Some(after), Some(before)) = (issued_after, issued_before) {
            v.check(
                after < before,
                "issued_before",
                "must be later than issued_after",
            );
        }
        let after = decode_page_token(&r.page_token, &mut v);
        let limit = page_size(r.page_size, 50)?;
        v.into_result()?;
        let filter = store::invoices::Filter {
            order_id,
            customer_id,
            kind,
            legal_entity,
            issued_after,
            issued_before,
            after,
            // One more than asked: whether another page follows.
            limit: limit + 1,
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let mut found = store::invoices::list(&mut conn, &filter)
            .await
            .map_err(Error::from)?;
        let more = found.len() as i64 > limit;
        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_page_token = match found.last() {
            Some(last) if more => format!("{}_{}", last.issued_at.timestamp_micros(), last.id),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListInvoicesResponse {
            invoices: found.iter().map(invoice_pb).collect(),
            next_page_token,
        }))
    }

    async fn get_invoice_pdf(
        &self,
        request: Request<pb::GetInvoicePdfRequest>,
    ) -> Result<Response<pb::GetInvoicePdfResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let invoice = self.find(&actor, &request.get_ref().id).await?;
        Ok(Response::new(pb::GetInvoicePdfResponse {
            content: crate::invoices::pdf(&invoice),
            file_name: format!("{}.pdf", invoice.number),
            content_type: "application/pdf".into(),
        }))
    }
}
