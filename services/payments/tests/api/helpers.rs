//! Typed helpers: payments running for real (gRPC, NATS, Postgres), orders' requests played
//! with `publish_direct`, and reads of the rows that prove what happened.

use contracts::common::{Customer, Money, PaymentMethod};
use contracts::orders::{
    PaymentAmendRequested, PaymentCaptureRequested, PaymentRefundRequested, PaymentRequested,
    PaymentVoidRequested,
};
use contracts::payments::payment_service_client::PaymentServiceClient;
use contracts::payments::{GetPaymentRequest, Payment};
use messaging::envelope::publish_direct;
use payments::config::PaymentsConfig;
use runtime::{BoxError, BoxFuture, Host, ServiceDef};
use testkit::{RunningService, TestEnv};
use tonic::transport::Channel;

pub type Client = PaymentServiceClient<Channel>;

pub fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        currency_code: "EUR".into(),
        amount_minor,
    })
}

pub fn new_order() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub async fn client(service: &RunningService) -> Client {
    PaymentServiceClient::new(service.channel().await)
}

/// Plays orders asking for a payment.
pub async fn request_payment(
    env: &TestEnv,
    order_id: &str,
    method: PaymentMethod,
    token: &str,
    total: i64,
    installments: i32,
) {
    let event = PaymentRequested {
        order_id: order_id.into(),
        order_number: "OC-TEST-1".into(),
        method: method.into(),
        token: token.into(),
        installment_count: installments,
        amount: eur(total),
        customer: Some(Customer {
            id: "cust-1".into(),
            name: "Mei Lin".into(),
            email: "mei@example.com".into(),
            phone: String::new(),
        }),
        ..Default::default()
    };
    publish(env, &event).await;
}

pub async fn request_capture(
    env: &TestEnv,
    order_id: &str,
    shipment: &str,
    amount: i64,
    cash: bool,
) {
    publish(
        env,
        &PaymentCaptureRequested {
            order_id: order_id.into(),
            amount: eur(amount),
            shipment_id: shipment.into(),
            cash_collected: cash,
            ..Default::default()
        },
    )
    .await;
}

pub async fn request_void(env: &TestEnv, order_id: &str, amount: Option<i64>) {
    publish(
        env,
        &PaymentVoidRequested {
            order_id: order_id.into(),
            amount: amount.and_then(eur),
            ..Default::default()
        },
    )
    .await;
}

pub async fn request_refund(env: &TestEnv, order_id: &str, return_id: &str, amount: i64) {
    publish(
        env,
        &PaymentRefundRequested {
            order_id: order_id.into(),
            amount: eur(amount),
            return_id: return_id.into(),
            ..Default::default()
        },
    )
    .await;
}

/// Plays orders asking that the payment cover `amount` (EUR) from now on, for order update
/// `update`.
pub async fn request_amend(
    env: &TestEnv,
    order_id: &str,
    payment_id: &str,
    update: &str,
    amount: i64,
    compensation: bool,
) {
    publish(
        env,
        &PaymentAmendRequested {
            order_id: order_id.into(),
            payment_id: payment_id.into(),
            update_id: update.into(),
            amount: eur(amount),
            compensation,
            ..Default::default()
        },
    )
    .await;
}

pub async fn publish<E: contracts::Event>(env: &TestEnv, event: &E) {
    publish_direct(env.jetstream(), &env.subjects(), "ordercycle/orders", event)
        .await
        .unwrap();
}

/// The order's payment once `ready` holds for it.
pub async fn payment_when(
    client: &Client,
    order_id: &str,
    what: &str,
    ready: impl Fn(&Payment) -> bool,
) -> Payment {
    testkit::eventually(what, || {
        let mut client = client.clone();
        let order_id = order_id.to_owned();
        let ready = &ready;
        async move {
            client
                .get_payment(GetPaymentRequest {
                    order_id,
                    ..Default::default()
                })
                .await
                .ok()
                .and_then(|r| r.into_inner().payment)
                .filter(|p| ready(p))
        }
    })
    .await
}

pub fn minor(m: &Option<Money>) -> i64 {
    m.as_ref().map_or(0, |m| m.amount_minor)
}

/// Ledger balances of a payment by account, and whether every journal entry sums to zero.
pub async fn ledger(service: &RunningService, payment_id: &str) -> (Vec<(String, i64)>, bool) {
    let id = uuid::Uuid::parse_str(payment_id).unwrap();
    let balances: Vec<(String, i64)> = sqlx::query_as(
        "SELECT account, sum(amount_minor)::bigint FROM ledger_entries WHERE payment_id = $1
         GROUP BY account ORDER BY account",
    )
    .bind(id)
    .fetch_all(&service.pool)
    .await
    .unwrap();
    let unbalanced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries WHERE payment_id = $1
         GROUP BY transaction_id HAVING sum(amount_minor) <> 0) x",
    )
    .bind(id)
    .fetch_one(&service.pool)
    .await
    .unwrap();
    (balances, unbalanced == 0)
}

pub fn balance(balances: &[(String, i64)], account: &str) -> i64 {
    balances
        .iter()
        .find(|(a, _)| a == account)
        .map_or(0, |(_, b)| *b)
}

/// Payments with test-sized durations: a two-second bank-transfer window, installments an
/// hour apart (seconds on a 3600x clock), a missed installment retried once an hour, twice,
/// and card holds that lapse after three hours (renewed an hour before).
pub static FAST: ServiceDef = ServiceDef {
    name: "payments",
    migrations: &[&messaging::MIGRATOR, &payments::MIGRATOR],
    build: build_fast,
};

fn build_fast(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    let config = PaymentsConfig {
        bank_transfer_window: chrono::Duration::seconds(2),
        installment_interval: payments::domain::installments::Interval::Every(
            chrono::Duration::hours(1),
        ),
        installment_retry: chrono::Duration::hours(1),
        installment_max_attempts: 2,
        authorization_ttl: chrono::Duration::hours(3),
        reauthorize_before: chrono::Duration::hours(1),
        ..PaymentsConfig::default()
    };
    Box::pin(payments::app::build_with(host, config))
}
