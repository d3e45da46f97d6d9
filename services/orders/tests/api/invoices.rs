//! Invoices and credit notes: issued once when an order settles (however often settlement is
//! reported), numbered without gaps under concurrency, credited on refunds, carrying the
//! checkout's invoice request, readable as PDF — and only by their own customer.

use contracts::common::{CaseResolution, Channel, PaymentMethod, ProblemKind, ReturnReason};
use contracts::feedback::{CaseLine, CaseResolved};
use contracts::fulfillment::InspectionGrade;
use contracts::inventory::Item;
use contracts::orders::invoice_service_client::InvoiceServiceClient;
use contracts::orders::{
    CancelOrderRequest, CancelReason, ConfirmReceiptRequest, GetInvoicePdfRequest,
    GetInvoiceRequest, Invoice, InvoiceKind, InvoiceLineKind, InvoiceRequest, InvoiceType,
    ListInvoicesRequest, Order, OrderStatus, PlaceOrderRequest, ProblemLine, ReportProblemRequest,
};
use futures::future::join_all;
use orders::domain::invoices::Kind;
use runtime::config::{AuthSettings, JwtKey, JwtSettings};
use testkit::TestEnv;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel as GrpcChannel;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, eur, money, valid_request};
use crate::returns::{captured, inspected, line, received, refund, request};
use crate::totals::tax_rate;

async fn invoices(app: &TestApp) -> InvoiceServiceClient<GrpcChannel> {
    InvoiceServiceClient::new(app.orders.channel().await)
}

async fn get(app: &TestApp, id: &str) -> Result<Invoice, Status> {
    invoices(app)
        .await
        .get_invoice(GetInvoiceRequest { id: id.into() })
        .await
        .map(|r| r.into_inner().invoice.unwrap())
}

async fn list(app: &TestApp, r: ListInvoicesRequest) -> Vec<Invoice> {
    invoices(app)
        .await
        .list_invoices(r)
        .await
        .unwrap()
        .into_inner()
        .invoices
}

async fn of_order(app: &TestApp, order: &Order) -> Vec<Invoice> {
    list(
        app,
        ListInvoicesRequest {
            order_id: order.id.clone(),
            ..Default::default()
        },
    )
    .await
}

async fn pdf(app: &TestApp, id: &str) -> Vec<u8> {
    let file = invoices(app)
        .await
        .get_invoice_pdf(GetInvoicePdfRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(file.content_type, "application/pdf");
    assert!(file.file_name.ends_with(".pdf"));
    file.content
}

/// Rows in `invoices` of this kind for the order: the guarantee, read where it is kept.
async fn rows(app: &TestApp, order: &Order, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM invoices WHERE order_id = $1::uuid AND kind = $2")
        .bind(&order.id)
        .bind(kind)
        .fetch_one(&app.orders.pool)
        .await
        .unwrap()
}

/// The text a PDF shows, one line per text object (`BT … ET`): the strings its `Tj` operators
/// show, read straight from the file's content streams, independently of the writer — literal
/// strings with `\(`, `\)`, `\\` and octal escapes undone, bytes above 127 read as Latin-1
/// (which WinAnsi matches for the characters these tests use), and hex strings read as UCS-2
/// big-endian code units (the only hex strings shown are in the Type0 font, whose CMap
/// UniGB-UCS2-H reads them so).
fn pdf_text(pdf: &[u8]) -> String {
    assert!(pdf.starts_with(b"%PDF-1.4"), "not a PDF 1.4 file");
    let mut out = String::new();
    let mut rest = pdf;
    while let Some(start) = rest.windows(7).position(|w| w == b"stream\n") {
        let body = &rest[start + 7..];
        let end = body
            .windows(10)
            .position(|w| w == b"\nendstream")
            .expect("endstream");
        let content = &body[..end];
        let mut line = String::new();
        let mut i = 0;
        while i < content.len() {
            let shown = match content[i] {
                b'(' => {
                    let mut text = Vec::new();
                    i += 1;
                    while content[i] != b')' {
                        if content[i] == b'\\' {
                            let next = content[i + 1];
                            if next.is_ascii_digit() {
                                let octal = std::str::from_utf8(&content[i + 1..i + 4]).unwrap();
                                text.push(u8::from_str_radix(octal, 8).unwrap());
                                i += 4;
                            } else {
                                text.push(next);
                                i += 2;
                            }
                        } else {
                            text.push(content[i]);
                            i += 1;
                        }
                    }
                    i += 1;
                    text.iter().map(|b| char::from(*b)).collect::<String>()
                }
                b'<' => {
                    let close = i + content[i..].iter().position(|b| *b == b'>').unwrap();
                    let digits = std::str::from_utf8(&content[i + 1..close]).unwrap();
                    let units: Vec<u16> = (0..digits.len())
                        .step_by(4)
                        .map(|k| u16::from_str_radix(&digits[k..k + 4], 16).unwrap())
                        .collect();
                    i = close + 1;
                    String::from_utf16(&units).unwrap()
                }
                _ => {
                    if content[i..].starts_with(b" ET") {
                        out.push_str(&std::mem::take(&mut line));
                        out.push('\n');
                    }
                    i += 1;
                    continue;
                }
            };
            if content[i..].starts_with(b" Tj") {
                line.push_str(&shown);
            }
        }
        rest = &body[end + 10..];
    }
    out
}

/// L1: 2 × TEA-001 at 12.50, L2: 1 × CUP-002 at 8.99, with 19 % German tax added: L1 25.00 +
/// 4.75 = 29.75, L2 8.99 + 1.71 = 10.70; net 33.99, tax 6.46, total 40.45.
async fn taxed_app() -> TestApp {
    let app = TestApp::start().await;
    tax_rate(&app, "DE", "*", 1900).await;
    app
}

#[tokio::test]
async fn settling_an_order_issues_one_invoice_whose_pdf_carries_the_numbers() {
    let app = taxed_app().await;
    let order = app.delivered(valid_request("inv-happy")).await;
    assert_eq!(money(&order.total), ("EUR".into(), 4045));
    assert!(
        of_order(&app, &order).await.is_empty(),
        "not before settlement"
    );

    // Payments reports settlement twice (a redelivery under another event id): one invoice.
    app.settle(&order).await;
    app.settle(&order).await;
    assert_eq!(rows(&app, &order, "INVOICE").await, 1);
    app.client()
        .await
        .confirm_receipt(ConfirmReceiptRequest {
            order_id: order.id.clone(),
        })
        .await
        .unwrap();
    let completed = app.order(&order.id).await;
    assert_eq!(completed.status(), OrderStatus::Completed);
    let number = completed.invoice_number.clone();
    assert!(number.starts_with("INV-OC01-"), "{number}");
    assert!(number.ends_with("-000001"), "{number}");

    let invoice = get(&app, &number).await.unwrap();
    assert_eq!(get(&app, &invoice.id).await.unwrap(), invoice);
    assert_eq!(invoice.kind(), InvoiceKind::Invoice);
    assert_eq!(invoice.order_number, order.order_number);
    assert_eq!(invoice.customer_id, "cust-1");
    assert_eq!(invoice.legal_entity, "OC01");
    assert_eq!(invoice.seller.as_ref().unwrap().name, "ordercycle");
    let buyer = invoice.buyer.as_ref().unwrap();
    assert_eq!(buyer.name, "Mei Lin");
    assert_eq!(buyer.email, "mei@example.com");
    assert!(invoice.invoice_request.is_none());
    let lines: Vec<(String, i32, i64, i64, i64)> = invoice
        .lines
        .iter()
        .map(|l| {
            (
                l.line_id.clone(),
                l.quantity,
                money(&l.net_amount).1,
                money(&l.tax).1,
                money(&l.gross_amount).1,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("L1".into(), 2, 2500, 475, 2975),
            ("L2".into(), 1, 899, 171, 1070)
        ]
    );
    assert_eq!(money(&invoice.subtotal).1, 3399);
    assert_eq!(money(&invoice.net_total).1, 3399);
    assert_eq!(money(&invoice.tax_total).1, 646);
    assert_eq!(money(&invoice.total), ("EUR".into(), 4045));
    assert_eq!(invoice.total, order.total);

    let text = pdf_text(&pdf(&app, &invoice.id).await);
    for expected in [
        number.as_str(),
        order.order_number.as_str(),
        "Mei Lin",
        "Unter den Linden 1",
        "29.75",
        "10.70",
        "4.75",
        "1.71",
        "6.46 EUR",
        "33.99 EUR",
        "40.45 EUR",
    ] {
        assert!(
            text.contains(expected),
            "{expected} not in the PDF:\n{text}"
        );
    }

    // The order's timeline notes it.
    let timeline = app
        .client()
        .await
        .get_order_timeline(contracts::orders::GetOrderTimelineRequest {
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert!(timeline.iter().any(|e| e.kind == "orders.invoice.issued"));
}

#[tokio::test]
async fn lookups_are_validated_and_unknown_documents_are_not_found() {
    let app = TestApp::start().await;
    let bad = get(&app, "not-an-invoice").await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let fields: Vec<String> = bad
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["id"]);
    let missing = get(&app, "INV-OC01-2026-999999").await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let listed = invoices(&app)
        .await
        .list_invoices(ListInvoicesRequest {
            order_id: "nope".into(),
            page_size: -1,
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(listed.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn invoice_numbers_have_no_gaps_when_orders_settle_at_once() {
    let app = TestApp::start().await;
    let mut orders = Vec::new();
    for i in 0..8 {
        orders.push(app.confirmed(valid_request(&format!("inv-many-{i}"))).await);
    }
    join_all(orders.iter().map(|o| app.settle(o))).await;

    let mut numbers: Vec<String> = Vec::new();
    for order in &orders {
        let found = of_order(&app, order).await;
        assert_eq!(found.len(), 1);
        numbers.push(found[0].invoice_number.clone());
    }
    let mut sequence: Vec<i64> = numbers
        .iter()
        .map(|n| n.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    sequence.sort_unstable();
    assert_eq!(sequence, (1..=8).collect::<Vec<_>>(), "{numbers:?}");

    // Paging walks them all, newest first, each once.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = invoices(&app)
            .await
            .list_invoices(ListInvoicesRequest {
                kind: InvoiceKind::Invoice.into(),
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.invoices.into_iter().map(|i| i.invoice_number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    seen.sort();
    numbers.sort();
    assert_eq!(seen, numbers);
}

#[tokio::test]
async fn the_counter_hands_out_numbers_without_gaps_to_concurrent_transactions_some_rolled_back() {
    let app = TestApp::start().await;
    // More connections than the service's own pool, so the transactions really overlap.
    let options = app.orders.pool.connect_options().as_ref().clone();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let tasks = (0..16).map(|i| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            let n = orders::store::invoices::next_sequence(&mut tx, "DE01", Kind::Invoice, now)
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            if i % 3 == 0 {
                tx.rollback().await.unwrap();
                None
            } else {
                tx.commit().await.unwrap();
                Some(n)
            }
        })
    });
    let mut committed: Vec<i64> = join_all(tasks)
        .await
        .into_iter()
        .filter_map(Result::unwrap)
        .collect();
    committed.sort_unstable();
    let expected: Vec<i64> = (1..=committed.len() as i64).collect();
    assert_eq!(committed, expected);
    // Credit notes count on their own.
    let mut tx = pool.begin().await.unwrap();
    let first = orders::store::invoices::next_sequence(&mut tx, "DE01", Kind::CreditNote, now)
        .await
        .unwrap();
    assert_eq!(first, 1);
}

#[tokio::test]
async fn a_refund_after_settlement_is_credited_once_against_the_invoice() {
    let app = taxed_app().await;
    let order = app.delivered(valid_request("inv-case")).await;
    app.settle(&order).await;
    let invoice = of_order(&app, &order).await.remove(0);

    let problem = app
        .client()
        .await
        .report_problem(ReportProblemRequest {
            request_id: "prob-inv".into(),
            order_id: order.id.clone(),
            kind: ProblemKind::DamagedItem.into(),
            description: "one tin crushed".into(),
            lines: vec![ProblemLine {
                line_id: "L1".into(),
                sku: "TEA-001".into(),
                quantity: 1,
            }],
            attachment_urls: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .problem
        .unwrap();
    let resolved = CaseResolved {
        case_id: "case-inv".into(),
        case_number: "CS-000009".into(),
        order_id: order.id.clone(),
        problem_id: problem.id.clone(),
        resolution: CaseResolution::Refund.into(),
        resolved_by: "agent-kim".into(),
        lines: vec![CaseLine {
            line_id: "L1".into(),
            sku: "TEA-001".into(),
            quantity: 1,
        }],
        ..Default::default()
    };
    app.publish("feedback", &resolved).await;
    app.publish("feedback", &resolved).await;
    assert_eq!(rows(&app, &order, "CREDIT_NOTE").await, 1);

    let notes = list(
        &app,
        ListInvoicesRequest {
            order_id: order.id.clone(),
            kind: InvoiceKind::CreditNote.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(notes.len(), 1);
    let note = &notes[0];
    assert!(
        note.invoice_number.starts_with("CN-OC01-") && note.invoice_number.ends_with("-000001"),
        "{}",
        note.invoice_number
    );
    assert_eq!(note.credited_invoice_id, invoice.id);
    assert_eq!(note.credited_invoice_number, invoice.invoice_number);
    assert!(note.reason.contains("case-inv"), "{}", note.reason);
    // One tin of the two on L1: half of 29.75, with its tax.
    assert_eq!(note.lines.len(), 1);
    let l = &note.lines[0];
    assert_eq!((l.line_id.as_str(), l.quantity), ("L1", 1));
    assert_eq!(money(&l.gross_amount).1, -1487);
    assert_eq!(money(&l.tax).1, -237);
    assert_eq!(l.tax_rate_bps, 1900, "the credited line's rate");
    assert_eq!(money(&note.total).1, -1487);
    assert_eq!(money(&note.net_total).1, -1250);

    let text = pdf_text(&pdf(&app, &note.invoice_number).await);
    for expected in [
        note.invoice_number.as_str(),
        invoice.invoice_number.as_str(),
        "Credit note",
        "-14.87 EUR",
        "-2.37 EUR",
    ] {
        assert!(
            text.contains(expected),
            "{expected} not in the PDF:\n{text}"
        );
    }
}

#[tokio::test]
async fn cancelling_a_settled_bank_transfer_order_credits_the_whole_invoice() {
    let app = taxed_app().await;
    let mut request = valid_request("inv-bank");
    request.payment.as_mut().unwrap().method = PaymentMethod::BankTransfer.into();
    request.payment.as_mut().unwrap().token = String::new();
    let order = app.confirmed(request).await;
    // Payments captures a bank transfer when it confirms it: the order is settled.
    app.settle(&order).await;
    let invoice = of_order(&app, &order).await.remove(0);
    assert_eq!(money(&invoice.total).1, 4045);

    app.client()
        .await
        .cancel_order(CancelOrderRequest {
            request_id: "cancel-inv".into(),
            order_id: order.id.clone(),
            reason: CancelReason::CustomerRequest.into(),
            note: "changed my mind".into(),
        })
        .await
        .unwrap();
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Cancelled);
    let notes: Vec<Invoice> = of_order(&app, &order)
        .await
        .into_iter()
        .filter(|i| i.kind() == InvoiceKind::CreditNote)
        .collect();
    assert_eq!(notes.len(), 1);
    let note = &notes[0];
    assert_eq!(money(&note.total).1, -4045);
    assert_eq!(money(&note.tax_total).1, -646);
    let gross: Vec<i64> = note
        .lines
        .iter()
        .map(|l| money(&l.gross_amount).1)
        .collect();
    assert_eq!(gross, [-2975, -1070], "every line negated exactly");
    assert!(note.lines.iter().all(|l| l.kind() == InvoiceLineKind::Item));
}

#[tokio::test]
async fn a_return_refunded_after_settlement_is_credited_line_by_line() {
    let env = TestEnv::with(|s| {
        s.overrides
            .insert("OC_ORDERS_RETURN_RESTOCKING_FEE_BPS".into(), "1000".into());
    })
    .await;
    let app = TestApp::start_in(env).await;
    // L1: 2 × 12.50, L2: 1 × 8.99, no tax: 33.99, captured and settled.
    let order = app.delivered(valid_request("inv-return")).await;
    captured(&app, &order).await;
    app.settle(&order).await;
    let invoice = of_order(&app, &order).await.remove(0);

    let rma = request(
        &app,
        refund(
            "rma-inv",
            &order.id,
            vec![
                line("L1", 2, ReturnReason::NoLongerNeeded),
                line("L2", 1, ReturnReason::Defective),
            ],
        ),
    )
    .await;
    app.publish("fulfillment", &received(&rma)).await;
    let grading = inspected(
        &rma,
        &[
            ("L1", "TEA-001", 2, InspectionGrade::Resellable),
            ("L2", "CUP-002", 1, InspectionGrade::Defective),
        ],
    );
    app.publish("fulfillment", &grading).await;
    app.publish("fulfillment", &grading).await;
    assert_eq!(rows(&app, &order, "CREDIT_NOTE").await, 1);

    // 2 × 12.50 less the 10 % restocking fee, and 8.99 in full: 31.49.
    let note = of_order(&app, &order)
        .await
        .into_iter()
        .find(|i| i.kind() == InvoiceKind::CreditNote)
        .unwrap();
    assert_eq!(note.credited_invoice_number, invoice.invoice_number);
    assert_eq!(note.reason, format!("return {}", rma.rma_number));
    let lines: Vec<(String, i32, i64)> = note
        .lines
        .iter()
        .map(|l| (l.line_id.clone(), l.quantity, money(&l.gross_amount).1))
        .collect();
    assert_eq!(lines, [("L1".into(), 2, -2250), ("L2".into(), 1, -899)]);
    assert_eq!(money(&note.total).1, -3149);
}

fn chinese_company(request_id: &str) -> PlaceOrderRequest {
    let mut r = valid_request(request_id);
    let address = r.shipping_address.as_mut().unwrap();
    address.line1 = "Nanjing Road 100".into();
    address.city = "Shanghai".into();
    address.region = "SH".into();
    address.postal_code = "200001".into();
    address.country_code = "CN".into();
    r.channel = Channel::Web.into();
    r.invoice_request = Some(InvoiceRequest {
        invoice_type: InvoiceType::Company.into(),
        buyer_title: "上海茶叶有限公司".into(),
        buyer_tax_id: "91310000 ma1fl2-3x4y".into(),
        email: "fapiao@tea.example.cn".into(),
    });
    r
}

#[tokio::test]
async fn a_fapiao_request_is_validated_stored_and_carried_onto_the_invoice() {
    let entities = r#"[
        {"code": "CN01", "name": "Ordercycle (Shanghai) Co., Ltd.", "tax_id": "91310000MA1K000001",
         "line1": "Century Avenue 8", "city": "Shanghai", "country_code": "CN", "countries": ["CN"]},
        {"code": "DE01", "name": "ordercycle GmbH", "tax_id": "DE123456789", "country_code": "DE"}
    ]"#;
    let env = TestEnv::with(|s| {
        s.overrides
            .insert("OC_ORDERS_LEGAL_ENTITIES".into(), entities.into());
    })
    .await;
    let app = TestApp::start_in(env).await;

    // Every bad field named.
    let mut bad = chinese_company("fp-bad");
    bad.invoice_request = Some(InvoiceRequest {
        invoice_type: InvoiceType::Company.into(),
        buyer_title: "  ".into(),
        buyer_tax_id: "12345".into(),
        email: "nobody".into(),
    });
    let refused = app.client().await.place_order(bad).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields: Vec<String> = refused
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(
        fields,
        [
            "invoice_request.buyer_title",
            "invoice_request.buyer_tax_id",
            "invoice_request.email"
        ]
    );
    let mut untyped = chinese_company("fp-untyped");
    untyped.invoice_request.as_mut().unwrap().invoice_type = InvoiceType::Unspecified.into();
    let refused = app.client().await.place_order(untyped).await.unwrap_err();
    assert_eq!(
        refused
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "invoice_request.invoice_type"
    );

    // A good one is stored normalised and shown on the order.
    let placed = app.place(chinese_company("fp-good")).await;
    let asked = placed.invoice_request.clone().unwrap();
    assert_eq!(asked.buyer_tax_id, "91310000MA1FL23X4Y");
    assert_eq!(asked.buyer_title, "上海茶叶有限公司");
    assert_eq!(
        app.order(&placed.id).await.invoice_request,
        Some(asked.clone())
    );
    // A German order of the same installation is invoiced by the German entity.
    let german = app.confirmed(valid_request("fp-de")).await;
    app.settle(&german).await;
    let de = of_order(&app, &german).await.remove(0);
    assert!(
        de.invoice_number.starts_with("INV-DE01-"),
        "{}",
        de.invoice_number
    );

    let order = app.delivered(chinese_company("fp-good")).await;
    assert_eq!(order.id, placed.id, "the same request_id is the same order");
    app.settle(&order).await;
    let invoice = of_order(&app, &order).await.remove(0);
    assert!(
        invoice.invoice_number.starts_with("INV-CN01-")
            && invoice.invoice_number.ends_with("-000001"),
        "{}",
        invoice.invoice_number
    );
    let seller = invoice.seller.as_ref().unwrap();
    assert_eq!(seller.name, "Ordercycle (Shanghai) Co., Ltd.");
    assert_eq!(seller.tax_id, "91310000MA1K000001");
    let buyer = invoice.buyer.as_ref().unwrap();
    assert_eq!(buyer.name, "上海茶叶有限公司");
    assert_eq!(buyer.tax_id, "91310000MA1FL23X4Y");
    assert_eq!(buyer.email, "fapiao@tea.example.cn");
    assert_eq!(buyer.address.as_ref().unwrap().country_code, "CN");
    let copied = invoice.invoice_request.clone().unwrap();
    assert_eq!(copied.invoice_type(), InvoiceType::Company);
    assert_eq!(copied.buyer_title, asked.buyer_title);
    assert_eq!(copied.buyer_tax_id, asked.buyer_tax_id);

    // The title is shown as itself, in the CJK font.
    let text = pdf_text(&pdf(&app, &invoice.id).await);
    assert!(!text.contains("U+"), "{text}");
    for expected in [
        invoice.invoice_number.as_str(),
        "\n上海茶叶有限公司\n",
        "Tax id: 91310000MA1FL23X4Y",
        "Invoice type: company",
        "33.99 EUR",
    ] {
        assert!(
            text.contains(expected),
            "{expected} not in the PDF:\n{text}"
        );
    }
}

/// A fapiao as the buyer reads it: Chinese text and each line's tax rate. China taxes tea at
/// 9 % and other goods at 13 %: L1 2 × 龙井茶 at 12.50 = 25.00 + 2.25, L2 1 × cup at 8.99 + 1.17.
#[tokio::test]
async fn a_fapiao_shows_its_chinese_text_and_the_rate_that_taxed_each_line() {
    let app = TestApp::start().await;
    tax_rate(&app, "CN", "*", 1300).await;
    tax_rate(&app, "CN", "tea", 900).await;
    app.change_item(Item {
        sku: "TEA-001".into(),
        name: "龙井茶 250 g".into(),
        category: "tea".into(),
        unit_price: Some(eur(1250)),
        active: Some(true),
        ..Default::default()
    })
    .await;
    let order = app.delivered(chinese_company("fp-rates")).await;
    app.settle(&order).await;
    let listed = of_order(&app, &order).await.remove(0);

    let invoice = get(&app, &listed.id).await.unwrap();
    let lines: Vec<(&str, i32, i64)> = invoice
        .lines
        .iter()
        .map(|l| (l.description.as_str(), l.tax_rate_bps, money(&l.tax).1))
        .collect();
    assert_eq!(
        lines,
        [("龙井茶 250 g", 900, 225), ("Celadon tea cup", 1300, 117)]
    );
    assert_eq!(invoice.buyer.as_ref().unwrap().name, "上海茶叶有限公司");

    let file = pdf(&app, &invoice.id).await;
    assert!(
        String::from_utf8_lossy(&file).contains(
            "/Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H"
        ),
        "the CJK font is declared"
    );
    let text = pdf_text(&file);
    assert!(!text.contains("U+"), "no code points:\n{text}");
    for expected in [
        "\n上海茶叶有限公司\n",
        "\n龙井茶 250 g (TEA-001)\n",
        "\nTax %\n",
        "\n9%\n2.25\n27.25\n",
        "\n13%\n1.17\n10.16\n",
    ] {
        assert!(
            text.contains(expected),
            "{expected} not in the PDF:\n{text}"
        );
    }
}

const SECRET: &[u8] = b"invoices-test-secret";

fn with_token<T>(message: T, sub: &str, role: &str) -> tonic::Request<T> {
    let claims = serde_json::json!({
        "sub": sub,
        "roles": [role],
        "exp": chrono::Utc::now().timestamp() + 600,
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

#[tokio::test]
async fn customers_see_only_their_own_invoices() {
    let env = TestEnv::with(|s| {
        s.auth = AuthSettings::Jwt(JwtSettings {
            key: JwtKey::Secret(SECRET.to_vec()),
            issuer: None,
            audience: None,
        });
    })
    .await;
    let app = TestApp::start_in(env).await;
    let order = app
        .client()
        .await
        .place_order(with_token(valid_request("inv-auth"), "cust-1", "customer"))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    app.assess_risk(&order, 10, &[]).await;
    app.reserve_stock(&order).await;
    app.authorize(&order).await;
    app.settle(&order).await;
    assert_eq!(rows(&app, &order, "INVOICE").await, 1);

    let mut client = invoices(&app).await;
    let mine = client
        .list_invoices(with_token(
            ListInvoicesRequest::default(),
            "cust-1",
            "customer",
        ))
        .await
        .unwrap()
        .into_inner()
        .invoices;
    assert_eq!(mine.len(), 1);
    let id = mine[0].id.clone();
    let ask = |sub: &str, role: &str| with_token(GetInvoiceRequest { id: id.clone() }, sub, role);
    assert!(client.get_invoice(ask("cust-1", "customer")).await.is_ok());
    assert!(client.get_invoice(ask("op-1", "operator")).await.is_ok());
    let other = client
        .get_invoice(ask("cust-2", "customer"))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);
    let pdf = client
        .get_invoice_pdf(with_token(
            GetInvoicePdfRequest { id: id.clone() },
            "cust-2",
            "customer",
        ))
        .await
        .unwrap_err();
    assert_eq!(pdf.code(), Code::PermissionDenied);
    let theirs = client
        .list_invoices(with_token(
            ListInvoicesRequest::default(),
            "cust-2",
            "customer",
        ))
        .await
        .unwrap()
        .into_inner()
        .invoices;
    assert!(theirs.is_empty());
    let spying = client
        .list_invoices(with_token(
            ListInvoicesRequest {
                customer_id: "cust-1".into(),
                ..Default::default()
            },
            "cust-2",
            "customer",
        ))
        .await
        .unwrap_err();
    assert_eq!(spying.code(), Code::InvalidArgument);
    let anonymous = client
        .get_invoice(GetInvoiceRequest { id })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
}
