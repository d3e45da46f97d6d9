//! The DESIGN §3a scenarios: each walks one order to the state it must end in.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use contracts::common::{
    CaseResolution, FulfillmentMode, PaymentMethod, ProblemKind, ReturnReason,
};
use contracts::feedback::{
    GetSurveyRequest, ListCasesRequest, ModerateReviewRequest, ModerationDecision,
    ResolveCaseRequest, SubmitReviewRequest, SubmitSurveyRequest, SurveyStatus,
};
use contracts::fulfillment::{
    InspectedLine, InspectionGrade, ReceiveReturnRequest, RecordInspectionRequest,
};
use contracts::orders::{
    ApproveOrderRequest, ApproveReturnRequest, CancelOrderRequest, CancelReason, ExchangeLine,
    GetReturnRequest, NewReturnLine, OrderReturnStatus, OrderStatus, ProblemLine,
    RejectOrderRequest, ReportProblemRequest, RequestReturnRequest, ReturnResolution, ReturnStatus,
};

use super::flow::{Flow, eur};
use super::seed::{self, BOOK, CEREMONY, CUP, KETTLE, RARE, STORE, TEA};
use crate::clients::Rpc as _;

/// Every scenario with the order status it must end in.
pub const ALL: [(&str, OrderStatus); 15] = [
    ("card_ship", OrderStatus::Completed),
    ("store_pickup", OrderStatus::Completed),
    ("cash_on_delivery", OrderStatus::Completed),
    ("installments", OrderStatus::Completed),
    ("split_shipment", OrderStatus::Completed),
    ("hold_approved", OrderStatus::Completed),
    ("delivery_failed_then_delivered", OrderStatus::Completed),
    ("return_refund", OrderStatus::Completed),
    ("exchange", OrderStatus::Completed),
    ("survey_review", OrderStatus::Completed),
    ("shortage", OrderStatus::Cancelled),
    ("payment_declined", OrderStatus::Cancelled),
    ("cancel_after_confirm", OrderStatus::Cancelled),
    ("hold_rejected", OrderStatus::Rejected),
    ("problem_reported", OrderStatus::Completed),
];

pub async fn run(f: &mut Flow) -> anyhow::Result<()> {
    match f.scenario {
        "card_ship" => {
            let r = f.request(&[(TEA, 2)], PaymentMethod::Card, "tok_visa");
            f.place(r).await?;
            f.fulfil_and_deliver(1).await?;
            f.accept().await?;
        }
        "store_pickup" => {
            let mut r = f.request(&[(KETTLE, 1)], PaymentMethod::Card, "tok_visa");
            r.fulfillment_mode = FulfillmentMode::StorePickup.into();
            r.pickup_store_id = STORE.into();
            f.place(r).await?;
            f.fulfil_and_deliver(1).await?;
            f.accept().await?;
        }
        "cash_on_delivery" => {
            let r = f.request(&[(TEA, 1), (CUP, 1)], PaymentMethod::CashOnDelivery, "");
            f.place(r).await?;
            f.fulfil_and_deliver(1).await?;
            f.log("courier collected the cash at the door");
            f.accept().await?;
        }
        "installments" => {
            let mut r = f.request(
                &[(TEA, 2), (CUP, 2)],
                PaymentMethod::Installments,
                "tok_visa",
            );
            if let Some(p) = r.payment.as_mut() {
                p.installment_count = 3;
            }
            f.place(r).await?;
            f.fulfil_and_deliver(1).await?;
            f.log("customer confirms; the order completes once every installment is paid");
            f.accept().await?;
        }
        "split_shipment" => {
            let r = f.request(&[(TEA, 1), (BOOK, 1)], PaymentMethod::Card, "tok_visa");
            f.place(r).await?;
            f.wait(&[OrderStatus::InFulfillment, OrderStatus::Confirmed])
                .await?;
            let worked = f.work_fulfillments(2).await?;
            f.log(&format!(
                "{worked} parcels from two warehouses on their way"
            ));
            f.wait(&[OrderStatus::Delivered]).await?;
            f.accept().await?;
        }
        "hold_approved" => {
            let r = f.request(&[(CEREMONY, 2)], PaymentMethod::Card, "tok_visa");
            f.place(r).await?;
            let held = f.wait(&[OrderStatus::OnHold]).await?;
            f.log(&format!("held for review: {}", hold_reasons(&held)));
            f.c.review
                .approve_order(ApproveOrderRequest {
                    order_id: f.id()?,
                    reviewer_id: "demo-reviewer".into(),
                    reason: "known customer, verified by phone".into(),
                })
                .await
                .rpc("orders ApproveOrder")?;
            f.log("reviewer approved");
            f.fulfil_and_deliver(1).await?;
            f.accept().await?;
        }
        "hold_rejected" => {
            let r = f.request(&[(CEREMONY, 2)], PaymentMethod::Card, "tok_visa");
            f.place(r).await?;
            let held = f.wait(&[OrderStatus::OnHold]).await?;
            f.log(&format!("held for review: {}", hold_reasons(&held)));
            f.c.review
                .reject_order(RejectOrderRequest {
                    order_id: f.id()?,
                    reviewer_id: "demo-reviewer".into(),
                    reason: "billing and shipping identity do not match".into(),
                })
                .await
                .rpc("orders RejectOrder")?;
            f.log("reviewer rejected");
            f.wait(&[OrderStatus::Rejected]).await?;
        }
        "delivery_failed_then_delivered" => {
            let mut r = f.request(&[(TEA, 1)], PaymentMethod::Card, "tok_visa");
            if let Some(a) = r.shipping_address.as_mut() {
                a.line2 = "Hinterhaus [sim:fail-once]".into();
            }
            f.place(r).await?;
            f.fulfil_and_deliver(1).await?;
            f.log("delivered on the carrier's second attempt");
            f.accept().await?;
        }
        "return_refund" => {
            let r = f.request(&[(TEA, 1), (CUP, 1)], PaymentMethod::Card, "tok_visa");
            f.place(r).await?;
            f.fulfil_and_deliver(1).await?;
            f.accept().await?;
            let cup = line_of(f, CUP)?;
            returned(f, &cup, ReturnResolution::Refund, None).await?;
        }
        "exchange" => {
            let r = f.request(&[(CUP, 1)], PaymentMethod::Card, "tok_visa");
            f.place(r).await?;
            f.fulfil_and_deliver(1).await?;
            f.accept().await?;
            let cup = line_of(f, CUP)?;
            returned(f, &cup, ReturnResolution::Exchange, Some(CUP)).await?;
        }
        "survey_review" => {
            let r = f.request(&[(TEA, 3)], PaymentMethod::Card, "tok_visa");
            f.place(r).await?;
            f.fulfil_and_deliver(1).await?;
            f.accept().await?;
            survey_and_review(f).await?;
        }
        "shortage" => {
            let have = seed::available(&f.c, RARE, seed::BERLIN).await?;
            let r = f.request(&[(RARE, have + 1)], PaymentMethod::Card, "tok_visa");
            f.place(r).await?;
            let order = f.wait(&[OrderStatus::Cancelled]).await?;
            f.log(&format!(
                "cancelled: {}",
                order.cancel_reason().as_str_name()
            ));
        }
        "payment_declined" => {
            let r = f.request(&[(TEA, 1)], PaymentMethod::Card, "tok_decline");
            f.place(r).await?;
            let order = f.wait(&[OrderStatus::Cancelled]).await?;
            f.log(&format!(
                "cancelled: {}",
                order.cancel_reason().as_str_name()
            ));
        }
        "cancel_after_confirm" => {
            let r = f.request(&[(TEA, 1)], PaymentMethod::Card, "tok_visa");
            f.place(r).await?;
            f.wait(&[OrderStatus::Confirmed, OrderStatus::InFulfillment])
                .await?;
            f.c.orders
                .cancel_order(CancelOrderRequest {
                    request_id: f.rid("cancel"),
                    order_id: f.id()?,
                    reason: CancelReason::CustomerRequest.into(),
                    note: "changed my mind".into(),
                })
                .await
                .rpc("orders CancelOrder")?;
            f.log("customer cancelled after confirmation");
            f.wait(&[OrderStatus::Cancelled]).await?;
        }
        "problem_reported" => {
            let r = f.request(&[(TEA, 2)], PaymentMethod::Card, "tok_visa");
            f.place(r).await?;
            f.fulfil_and_deliver(1).await?;
            problem_and_case(f).await?;
        }
        other => bail!("unknown scenario `{other}`"),
    }
    Ok(())
}

fn hold_reasons(order: &contracts::orders::Order) -> String {
    let reasons: Vec<String> = order
        .hold_reasons
        .iter()
        .map(|h| {
            if h.description.is_empty() {
                h.kind().as_str_name().to_owned()
            } else {
                h.description.clone()
            }
        })
        .collect();
    if reasons.is_empty() {
        "(no reason given)".into()
    } else {
        reasons.join("; ")
    }
}

fn line_of(f: &Flow, sku: &str) -> anyhow::Result<contracts::orders::OrderLine> {
    f.order
        .as_ref()
        .and_then(|o| o.lines.iter().find(|l| l.sku == sku).cloned())
        .with_context(|| format!("the order has no {sku} line"))
}

/// The customer returns one unit of `line`; the warehouse receives and inspects it; orders
/// refunds or ships the exchange.
async fn returned(
    f: &mut Flow,
    line: &contracts::orders::OrderLine,
    resolution: ReturnResolution,
    exchange_sku: Option<&str>,
) -> anyhow::Result<()> {
    let order_id = f.id()?;
    let rma =
        f.c.returns
            .request_return(RequestReturnRequest {
                request_id: f.rid("return"),
                order_id: order_id.clone(),
                lines: vec![NewReturnLine {
                    line_id: line.line_id.clone(),
                    quantity: 1,
                    reason: ReturnReason::Defective.into(),
                    note: "glaze cracked".into(),
                }],
                resolution: resolution.into(),
                exchange_lines: exchange_sku
                    .map(|sku| ExchangeLine {
                        line_id: line.line_id.clone(),
                        sku: sku.into(),
                        quantity: 1,
                    })
                    .into_iter()
                    .collect(),
                customer_note: "demo return".into(),
                pickup_address: None,
            })
            .await
            .rpc("orders RequestReturn")?
            .rma
            .context("RequestReturn returned no RMA")?;
    f.log(&format!(
        "customer requested return {} ({})",
        rma.rma_number,
        rma.status().as_str_name()
    ));
    let mut rma = rma;
    if rma.status() == ReturnStatus::Requested {
        rma =
            f.c.returns
                .approve_return(ApproveReturnRequest {
                    return_id: rma.id.clone(),
                    reviewer_id: "demo-support".into(),
                    reason: "defective on arrival".into(),
                    return_warehouse_id: seed::BERLIN.into(),
                })
                .await
                .rpc("orders ApproveReturn")?
                .rma
                .context("ApproveReturn returned no RMA")?;
        f.log("support approved the return");
    }
    if rma.status() == ReturnStatus::Rejected {
        bail!("the return was rejected: {}", rma.decision_reason);
    }
    let warehouse = if rma.return_warehouse_id.is_empty() {
        seed::BERLIN.to_owned()
    } else {
        rma.return_warehouse_id.clone()
    };
    let mut fc = f.c.fulfillment.clone();
    fc.receive_return(ReceiveReturnRequest {
        request_id: f.rid("return-receive"),
        return_id: rma.id.clone(),
        order_id: order_id.clone(),
        warehouse_id: warehouse.clone(),
        tracking_number: rma.return_tracking_number.clone(),
        received_by: "demo-returns-desk".into(),
        note: String::new(),
    })
    .await
    .rpc("fulfillment ReceiveReturn")?;
    fc.record_inspection(RecordInspectionRequest {
        request_id: f.rid("return-inspect"),
        return_id: rma.id.clone(),
        lines: vec![InspectedLine {
            line_id: line.line_id.clone(),
            sku: line.sku.clone(),
            quantity: 1,
            grade: InspectionGrade::Defective.into(),
            note: "crack confirmed".into(),
        }],
        inspected_by: "demo-inspector".into(),
        note: String::new(),
    })
    .await
    .rpc("fulfillment RecordInspection")?;
    f.log(&format!(
        "warehouse {warehouse} received and inspected the return"
    ));

    let want: &[OrderReturnStatus] = if exchange_sku.is_some() {
        &[OrderReturnStatus::Exchanged]
    } else {
        &[
            OrderReturnStatus::Returned,
            OrderReturnStatus::PartiallyReturned,
        ]
    };
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut shipped_exchange = false;
    loop {
        let order = f.get().await?;
        let current =
            f.c.returns
                .get_return(GetReturnRequest { id: rma.id.clone() })
                .await
                .rpc("orders GetReturn")?
                .rma
                .context("GetReturn returned nothing")?;
        if want.contains(&order.return_status()) && current.status() == ReturnStatus::Closed {
            f.log(&format!(
                "return {} closed: {} ({})",
                current.rma_number,
                current.outcome().as_str_name(),
                order.return_status().as_str_name()
            ));
            return Ok(());
        }
        // An exchange ships the replacement: the warehouse works its fulfillment.
        if exchange_sku.is_some() && !shipped_exchange {
            let worked = f.work_fulfillments(1).await?;
            if worked > 0 {
                shipped_exchange = true;
                f.log("replacement shipped");
            }
        }
        if Instant::now() > deadline {
            bail!(
                "timed out waiting for the return to close as {} (RMA {}, order return status {})",
                want.iter()
                    .map(|w| w.as_str_name())
                    .collect::<Vec<_>>()
                    .join(" or "),
                current.status().as_str_name(),
                order.return_status().as_str_name()
            );
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

async fn survey_and_review(f: &mut Flow) -> anyhow::Result<()> {
    let order = f.order.clone().context("no order")?;
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut feedback = f.c.feedback.clone();
    let survey = loop {
        let found = feedback
            .get_survey(GetSurveyRequest {
                survey_id: String::new(),
                order_id: order.id.clone(),
            })
            .await;
        if let Ok(response) = found
            && let Some(survey) = response.into_inner().survey
            && survey.status() == SurveyStatus::Invited
        {
            break survey;
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for the survey invitation (a day after delivery)");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    f.log("survey invitation arrived (a service-clock day after delivery)");
    feedback
        .submit_survey(SubmitSurveyRequest {
            request_id: f.rid("survey"),
            survey_id: survey.id.clone(),
            csat_score: 5,
            nps_score: Some(9),
            comment: "Fast and well packed.".into(),
            tags: Vec::new(),
        })
        .await
        .rpc("feedback SubmitSurvey")?;
    let review = feedback
        .submit_review(SubmitReviewRequest {
            request_id: f.rid("review"),
            order_id: order.id.clone(),
            customer_id: order.customer_id.clone(),
            sku: TEA.into(),
            rating: 5,
            title: "Fragrant and fresh".into(),
            body: "Lovely chestnut notes, brews three times.".into(),
            display_name: "Mei L.".into(),
        })
        .await
        .rpc("feedback SubmitReview")?
        .review
        .context("SubmitReview returned nothing")?;
    feedback
        .moderate_review(ModerateReviewRequest {
            review_id: review.id.clone(),
            decision: ModerationDecision::Publish.into(),
            moderator_id: "demo-moderator".into(),
            note: String::new(),
        })
        .await
        .rpc("feedback ModerateReview")?;
    f.log("survey answered (CSAT 5, NPS 9); 5-star review published");
    Ok(())
}

async fn problem_and_case(f: &mut Flow) -> anyhow::Result<()> {
    let order = f.order.clone().context("no order")?;
    let line = line_of(f, TEA)?;
    f.c.orders
        .report_problem(ReportProblemRequest {
            request_id: f.rid("problem"),
            order_id: order.id.clone(),
            kind: ProblemKind::DamagedItem.into(),
            description: "one tin arrived crushed".into(),
            lines: vec![ProblemLine {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                quantity: 1,
            }],
            attachment_urls: Vec::new(),
        })
        .await
        .rpc("orders ReportProblem")?;
    f.log("customer reported a damaged item");
    f.wait(&[OrderStatus::Disputed]).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut feedback = f.c.feedback.clone();
    let case = loop {
        let cases = feedback
            .list_cases(ListCasesRequest {
                order_id: order.id.clone(),
                page_size: 10,
                ..Default::default()
            })
            .await
            .rpc("feedback ListCases")?
            .cases;
        if let Some(case) = cases.into_iter().next() {
            break case;
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for feedback to open a support case");
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    };
    f.log(&format!("support case {} opened", case.case_number));
    feedback
        .resolve_case(ResolveCaseRequest {
            case_id: case.id.clone(),
            resolution: CaseResolution::Refund.into(),
            refund_amount: Some(eur(seed::price(TEA))),
            lines: vec![contracts::feedback::CaseLine {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                quantity: 1,
            }],
            note: "refunded the crushed tin".into(),
            resolved_by: "demo-support".into(),
        })
        .await
        .rpc("feedback ResolveCase")?;
    f.log("support resolved the case with a refund of one tin");
    f.wait(&[OrderStatus::Completed]).await?;
    Ok(())
}
