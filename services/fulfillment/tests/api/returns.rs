use contracts::fulfillment::{
    InspectedLine, InspectionGrade, ReceiveReturnRequest, RecordInspectionRequest, ReturnInspected,
    ReturnReceiptStatus, ReturnReceived,
};
use tonic::Code;

use crate::helpers::Warehouse;

#[tokio::test]
async fn a_returned_parcel_is_received_once_and_graded() {
    let w = Warehouse::start().await;
    let mut received = w.env.tap("fulfillment.return.received").await;
    let mut inspected = w.env.tap("fulfillment.return.inspected").await;
    let mut client = w.client().await;
    let receive = ReceiveReturnRequest {
        request_id: "rcv-1".into(),
        return_id: "ret-1".into(),
        order_id: uuid::Uuid::new_v4().to_string(),
        warehouse_id: "WH-BER".into(),
        tracking_number: "SP1".into(),
        received_by: "dock-1".into(),
        note: String::new(),
    };
    client.receive_return(receive.clone()).await.unwrap();
    client.receive_return(receive).await.unwrap();
    let event: ReturnReceived = received.next().await;
    assert_eq!(event.return_id, "ret-1");
    assert!(
        received
            .next_within(std::time::Duration::from_millis(500))
            .await
            .is_none(),
        "received once"
    );

    let missing_grade = client
        .record_inspection(RecordInspectionRequest {
            request_id: "insp-0".into(),
            return_id: "ret-1".into(),
            lines: vec![InspectedLine {
                line_id: "L1".into(),
                sku: "TEA-001".into(),
                quantity: 1,
                grade: 0,
                note: String::new(),
            }],
            inspected_by: "qa-1".into(),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing_grade.code(), Code::InvalidArgument);
    let receipt = client
        .record_inspection(RecordInspectionRequest {
            request_id: "insp-1".into(),
            return_id: "ret-1".into(),
            lines: vec![
                InspectedLine {
                    line_id: "L1".into(),
                    sku: "TEA-001".into(),
                    quantity: 1,
                    grade: InspectionGrade::Resellable.into(),
                    note: String::new(),
                },
                InspectedLine {
                    line_id: "L2".into(),
                    sku: "CUP-002".into(),
                    quantity: 1,
                    grade: InspectionGrade::Damaged.into(),
                    note: "chipped".into(),
                },
            ],
            inspected_by: "qa-1".into(),
            note: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();
    assert_eq!(receipt.status(), ReturnReceiptStatus::Inspected);
    let graded: ReturnInspected = inspected.next().await;
    assert_eq!(graded.lines.len(), 2);
    assert_eq!(graded.lines[1].grade(), InspectionGrade::Damaged);
}
