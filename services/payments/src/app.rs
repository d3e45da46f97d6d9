//! Wires payments into its host: the outbox relay, the consumers of orders' events, the
//! durable timers, the payment provider and the gRPC API.

use std::sync::Arc;

use contracts::orders::{
    OrderPlaced, PaymentAmendRequested, PaymentCaptureRequested, PaymentRefundRequested,
    PaymentRequested, PaymentVoidRequested,
};
use contracts::payments::payment_service_server::PaymentServiceServer;
use contracts::payments::risk_service_server::RiskServiceServer;
use messaging::Bus;
use runtime::{BoxError, Host};

use crate::config::PaymentsConfig;
use crate::events::amend_requested::Amend;
use crate::events::capture_requested::Capture;
use crate::events::order_placed::AssessRisk;
use crate::events::payment_requested::OpenPayment;
use crate::events::refund_requested::Refund;
use crate::events::void_requested::Void;
use crate::grpc::{PaymentsApi, RiskApi};
use crate::metrics::PaymentMetrics;
use crate::movements::{self, Movements};
use crate::provider::Provider;
use crate::provider::simulated::SimulatedProvider;
use crate::timers;

/// Builds the service with its configuration from `OC_PAYMENTS_…` variables.
pub async fn build(host: &mut Host) -> Result<(), BoxError> {
    let config = PaymentsConfig::from(&host.settings().env())?;
    build_with(host, config).await
}

/// Builds the service with `config` (tests and embedders pass their own).
pub async fn build_with(host: &mut Host, config: PaymentsConfig) -> Result<(), BoxError> {
    let config = Arc::new(config);
    let bus = Bus::attach(host);
    messaging::privacy::subscribe(&bus, host, crate::privacy::RiskKeys).await?;
    let metrics = PaymentMetrics::register(host.registry());
    // The simulated provider keeps its book on a connection of its own: what a provider did
    // stays done when the payments transaction that asked rolls back.
    let provider_pool = runtime::db::pool(&host.service_settings().database_url, 1).await?;
    let simulated = SimulatedProvider::new(
        provider_pool,
        host.clock().clone(),
        config.authorization_ttl,
    );
    let movements = Movements {
        provider: Provider::new(
            Arc::new(simulated),
            config.provider_attempts,
            config.provider_retry,
        ),
        outbox: bus.outbox().clone(),
        clock: host.clock().clone(),
        config: config.clone(),
        metrics: metrics.clone(),
    };

    let assess = AssessRisk {
        rules: config.risk.clone(),
        outbox: bus.outbox().clone(),
        clock: host.clock().clone(),
        metrics,
    };
    bus.consume::<OrderPlaced, _>(host, assess).await?;
    let open = OpenPayment {
        movements: movements.clone(),
    };
    bus.consume::<PaymentRequested, _>(host, open).await?;
    let capture = Capture {
        movements: movements.clone(),
    };
    bus.consume::<PaymentCaptureRequested, _>(host, capture)
        .await?;
    let void = Void {
        movements: movements.clone(),
    };
    bus.consume::<PaymentVoidRequested, _>(host, void).await?;
    let refund = Refund {
        movements: movements.clone(),
    };
    bus.consume::<PaymentRefundRequested, _>(host, refund)
        .await?;
    let amend = Amend {
        movements: movements.clone(),
    };
    bus.consume::<PaymentAmendRequested, _>(host, amend).await?;

    let deadline = timers::BankTransferDeadline {
        movements: movements.clone(),
    };
    bus.timers(host, movements::BANK_TRANSFER_DEADLINE, deadline);
    let due = timers::InstallmentDue {
        movements: movements.clone(),
    };
    bus.timers(host, movements::INSTALLMENT_DUE, due);
    let renew = timers::Reauthorize {
        movements: movements.clone(),
    };
    bus.timers(host, movements::REAUTHORIZE, renew);

    host.add_service(RiskServiceServer::new(RiskApi {
        pool: host.pool().clone(),
        clock: host.clock().clone(),
    }));
    host.add_service(PaymentServiceServer::new(PaymentsApi {
        pool: host.pool().clone(),
        movements,
    }));
    Ok(())
}
