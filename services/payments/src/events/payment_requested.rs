//! `orders.payment.requested` → open the order's payment: authorize (card, wallet), accept
//! (cash on delivery), issue bank-transfer instructions (pending, with a pay-by deadline) or
//! accept an installment plan; publish `payments.payment.authorized`, `.declined` or `.pending`.

use contracts::common::PaymentMethod;
use contracts::orders::PaymentRequested;
use messaging::{Envelope, Handler, HandlerError};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::money::{Currency, Money};
use crate::domain::payment::Method;
use crate::movements::{MoveFailure, Movements, NewPayment};

pub struct OpenPayment {
    pub movements: Movements,
}

fn method(raw: i32) -> Option<Method> {
    match PaymentMethod::try_from(raw).ok()? {
        PaymentMethod::Unspecified => None,
        PaymentMethod::Card => Some(Method::Card),
        PaymentMethod::Wallet => Some(Method::Wallet),
        PaymentMethod::BankTransfer => Some(Method::BankTransfer),
        PaymentMethod::CashOnDelivery => Some(Method::CashOnDelivery),
        PaymentMethod::Installments => Some(Method::Installments),
    }
}

impl Handler<PaymentRequested> for OpenPayment {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentRequested>,
    ) -> Result<(), HandlerError> {
        let requested = &envelope.event;
        let order_id = Uuid::parse_str(&requested.order_id).map_err(|_| {
            HandlerError::permanent(format!("order_id {:?} is not a UUID", requested.order_id))
        })?;
        let method = method(requested.method)
            .ok_or_else(|| HandlerError::permanent("the payment method is not set"))?;
        let amount = requested
            .amount
            .as_ref()
            .ok_or_else(|| HandlerError::permanent("the amount is not set"))?;
        let currency = Currency::parse(&amount.currency_code).ok_or_else(|| {
            HandlerError::permanent(format!(
                "currency {:?} is not an ISO 4217 code",
                amount.currency_code
            ))
        })?;
        if amount.amount_minor < 0 {
            return Err(HandlerError::permanent("the amount is negative"));
        }
        // Never log the token: it stays in the payment row and goes only to the provider.
        let new = NewPayment {
            order_id,
            order_number: requested.order_number.clone(),
            customer_id: requested
                .customer
                .as_ref()
                .map(|c| c.id.clone())
                .unwrap_or_default(),
            method,
            token: requested.token.trim().to_owned(),
            installment_count: requested.installment_count,
            amount: Money::new(currency, amount.amount_minor),
        };
        match self.movements.open(tx, new).await {
            Ok(()) => Ok(()),
            Err(MoveFailure::Store(err)) => Err(err.into()),
            Err(other) => Err(HandlerError::transient(other)),
        }
    }
}
