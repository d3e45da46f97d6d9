//! Wires feedback into its host: the outbox relay, the consumers of orders' delivered,
//! accepted and problem-reported events, the survey and SLA timers, and the gRPC API.

use contracts::feedback::feedback_service_server::FeedbackServiceServer;
use contracts::orders::{OrderAccepted, OrderDelivered, OrderProblemReported};
use messaging::Bus;
use runtime::{BoxError, Host};

use crate::config::Config;
use crate::domain::case::SlaKind;
use crate::events::order_accepted::RecordAcceptance;
use crate::events::order_delivered::RecordDelivery;
use crate::events::problem_reported::OpenProblemCase;
use crate::grpc::FeedbackApi;
use crate::timers::sla::SlaDeadline;
use crate::timers::survey_invitation::InviteToSurvey;
use crate::timers::{FIRST_RESPONSE_DUE, RESOLUTION_DUE, SURVEY_INVITATION};

/// Builds the service with its configuration from the process environment.
pub async fn build(host: &mut Host) -> Result<(), BoxError> {
    let config = Config::from_env(&host.settings().env())?;
    build_with(host, config).await
}

/// Builds the service with `config` (tests pass their own).
pub async fn build_with(host: &mut Host, config: Config) -> Result<(), BoxError> {
    let bus = Bus::attach(host);
    messaging::privacy::subscribe(&bus, host, crate::privacy::PERSONAL_DATA).await?;
    let clock = host.clock().clone();
    let outbox = bus.outbox().clone();

    bus.consume::<OrderDelivered, _>(
        host,
        RecordDelivery {
            survey_delay: config.survey_delay,
        },
    )
    .await?;
    bus.consume::<OrderAccepted, _>(host, RecordAcceptance)
        .await?;
    bus.consume::<OrderProblemReported, _>(
        host,
        OpenProblemCase {
            outbox: outbox.clone(),
            clock: clock.clone(),
            sla: config.sla.clone(),
            priority: config.problem_case_priority,
        },
    )
    .await?;

    bus.timers(
        host,
        SURVEY_INVITATION,
        InviteToSurvey {
            outbox: outbox.clone(),
            clock: clock.clone(),
            valid_for: config.survey_valid_for,
        },
    );
    for (kind, sla) in [
        (FIRST_RESPONSE_DUE, SlaKind::FirstResponse),
        (RESOLUTION_DUE, SlaKind::Resolution),
    ] {
        bus.timers(
            host,
            kind,
            SlaDeadline {
                sla,
                outbox: outbox.clone(),
                clock: clock.clone(),
            },
        );
    }

    let api = FeedbackApi::new(host.pool().clone(), outbox, clock, config);
    host.add_service(FeedbackServiceServer::new(api));
    Ok(())
}
