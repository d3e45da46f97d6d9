//! Block lists: upserted and listed by operators, and feeding the risk score of placed orders.

use contracts::common::{Address, Customer, Money};
use contracts::orders::OrderPlaced;
use contracts::payments::risk_service_client::RiskServiceClient;
use contracts::payments::{
    BlocklistEntry, BlocklistKind, ListBlocklistRequest, RiskAssessed, UpsertBlocklistEntryRequest,
};
use testkit::TestEnv;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::publish;

fn entry(kind: BlocklistKind, value: &str) -> UpsertBlocklistEntryRequest {
    UpsertBlocklistEntryRequest {
        entry: Some(BlocklistEntry {
            kind: kind.into(),
            value: value.into(),
            reason: "chargebacks".into(),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn blocked_details_of_a_placed_order_raise_its_score_with_named_reasons() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let mut client = RiskServiceClient::new(payments.channel().await);
    let mut assessed = env.tap("payments.risk.assessed").await;

    let stored = client
        .upsert_blocklist_entry(entry(BlocklistKind::Email, " Fraud@Spam.Example "))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(stored.value, "fraud@spam.example");
    assert_eq!(stored.active, Some(true));
    assert_eq!(stored.updated_by, "dev-operator");
    for (kind, value) in [
        (BlocklistKind::PostalCode, "de:101 17"),
        (BlocklistKind::Phone, "+49 30 1234567"),
        (BlocklistKind::CountryCode, "fr"),
    ] {
        client
            .upsert_blocklist_entry(entry(kind, value))
            .await
            .unwrap();
    }
    // Lifting a block keeps its history.
    let mut lifted = entry(BlocklistKind::CountryCode, "FR");
    lifted.entry.as_mut().unwrap().active = Some(false);
    client.upsert_blocklist_entry(lifted).await.unwrap();

    let address = Address {
        recipient: "R".into(),
        line1: "L".into(),
        city: "Berlin".into(),
        postal_code: "10117".into(),
        country_code: "DE".into(),
        ..Default::default()
    };
    publish(
        &env,
        &OrderPlaced {
            order_id: uuid::Uuid::new_v4().to_string(),
            customer: Some(Customer {
                id: "c-9".into(),
                name: "N".into(),
                email: "FRAUD@spam.example".into(),
                phone: "+49301234567".into(),
            }),
            total: Some(Money {
                currency_code: "EUR".into(),
                amount_minor: 1_000,
            }),
            shipping_address: Some(address.clone()),
            billing_address: Some(address),
            ..Default::default()
        },
    )
    .await;
    let event: RiskAssessed = assessed.next().await;
    let mut codes: Vec<_> = event.reasons.iter().map(|r| r.code.as_str()).collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        [
            "blocklisted_email",
            "blocklisted_phone",
            "blocklisted_postal_code",
            "first_order"
        ]
    );
    assert_eq!(event.score, 100);
    assert!(
        event
            .reasons
            .iter()
            .all(|r| !r.description.contains("fraud@")),
        "reasons name the kind, not the value"
    );

    let active = client
        .list_blocklist(ListBlocklistRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(active.entries.len(), 2);
    assert!(!active.next_page_token.is_empty());
    let rest = client
        .list_blocklist(ListBlocklistRequest {
            page_size: 2,
            page_token: active.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        rest.entries.len(),
        1,
        "the lifted country block is not in force"
    );
    assert!(rest.next_page_token.is_empty());
    let all = client
        .list_blocklist(ListBlocklistRequest {
            include_inactive: true,
            kind: BlocklistKind::CountryCode.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.entries.len(), 1);
    assert_eq!(all.entries[0].active, Some(false));
}

#[tokio::test]
async fn invalid_block_list_requests_name_every_bad_field() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let mut client = RiskServiceClient::new(payments.channel().await);

    let err = client
        .upsert_blocklist_entry(UpsertBlocklistEntryRequest { entry: None })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = client
        .upsert_blocklist_entry(UpsertBlocklistEntryRequest {
            entry: Some(BlocklistEntry {
                kind: BlocklistKind::Phone.into(),
                value: "4111 1111 1111 1111".into(),
                reason: String::new(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<_> = err
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["entry.value", "entry.reason"]);
    assert!(
        !err.message().contains("4111"),
        "a card number is never echoed"
    );

    let err = client
        .list_blocklist(ListBlocklistRequest {
            page_size: -1,
            page_token: "zz".into(),
            kind: 99,
            ..Default::default()
        })
        .await
        .unwrap_err();
    let fields: Vec<_> = err
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["page_size", "kind", "page_token"]);
}
