//! Block lists: upserted and listed by operators, and feeding the risk score of placed orders.

use contracts::common::{Address, Customer, Money};
use contracts::orders::OrderPlaced;
use contracts::payments::risk_service_client::RiskServiceClient;
use contracts::payments::{
    BlocklistEntry, BlocklistKind, ListBlocklistRequest, RiskAssessed, UpsertBlocklistEntryRequest,
};
use runtime::pan::fingerprint;
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

fn placed_with(
    customer: &str,
    shipping: Address,
    billing: Address,
    token_fingerprint: String,
) -> OrderPlaced {
    OrderPlaced {
        order_id: uuid::Uuid::new_v4().to_string(),
        customer: Some(Customer {
            id: customer.into(),
            name: "N".into(),
            email: format!("{customer}@example.com"),
            phone: String::new(),
        }),
        total: Some(Money {
            currency_code: "EUR".into(),
            amount_minor: 1_000,
        }),
        shipping_address: Some(shipping),
        billing_address: Some(billing),
        payment_token_fingerprint: token_fingerprint,
        ..Default::default()
    }
}

fn address(country: &str, postal_code: &str, line1: &str) -> Address {
    Address {
        recipient: "R".into(),
        line1: line1.into(),
        city: "Berlin".into(),
        postal_code: postal_code.into(),
        country_code: country.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn blocked_addresses_and_payment_tokens_are_normalized_and_score_placed_orders() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let mut client = RiskServiceClient::new(payments.channel().await);
    let mut assessed = env.tap("payments.risk.assessed").await;

    let stored = client
        .upsert_blocklist_entry(entry(
            BlocklistKind::Address,
            " de : 101 15 :  Invalidenstr.   1 ",
        ))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(stored.kind(), BlocklistKind::Address);
    assert_eq!(stored.value, "DE:10115:invalidenstr. 1");

    // A token is kept as its fingerprint only; a fingerprint is taken as it is.
    let stolen = fingerprint("tok_stolen");
    let stored = client
        .upsert_blocklist_entry(entry(BlocklistKind::PaymentToken, " tok_stolen "))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(stored.kind(), BlocklistKind::PaymentToken);
    assert_eq!(stored.value, stolen);
    assert!(stored.value.starts_with("fp_") && stored.value.len() == 35);
    let skimmed = fingerprint("tok_skimmed");
    let stored = client
        .upsert_blocklist_entry(entry(BlocklistKind::PaymentToken, &skimmed))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(stored.value, skimmed);
    // The same token again is the same entry.
    client
        .upsert_blocklist_entry(entry(BlocklistKind::PaymentToken, "tok_stolen"))
        .await
        .unwrap();

    let tokens = client
        .list_blocklist(ListBlocklistRequest {
            kind: BlocklistKind::PaymentToken.into(),
            include_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut listed: Vec<_> = tokens.entries.iter().map(|e| e.value.clone()).collect();
    let mut expected = vec![stolen.clone(), skimmed.clone()];
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    assert!(
        tokens
            .entries
            .iter()
            .all(|e| e.kind() == BlocklistKind::PaymentToken && !e.value.contains("tok_")),
        "a token is never listed as typed"
    );
    let typed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM blocklist WHERE strpos(value, 'tok_') > 0")
            .fetch_one(&payments.pool)
            .await
            .unwrap();
    assert_eq!(typed, 0, "a token is never stored as typed");

    let clean = address("DE", "10117", "Unter den Linden 5");
    let blocked_typed_otherwise = address("DE", "10115", "INVALIDENSTR. 1");
    let orders = [
        // Shipped to the blocked address.
        (
            placed_with(
                "c-1",
                blocked_typed_otherwise.clone(),
                blocked_typed_otherwise.clone(),
                fingerprint("tok_visa"),
            ),
            "blocklisted_address",
            "an address of this order is on the block list: chargebacks",
        ),
        // Billed to it, shipped elsewhere.
        (
            placed_with(
                "c-2",
                clean.clone(),
                address("DE", "101 15", " invalidenstr.  1"),
                String::new(),
            ),
            "blocklisted_address",
            "an address of this order is on the block list: chargebacks",
        ),
        (
            placed_with("c-3", clean.clone(), clean.clone(), stolen.clone()),
            "blocklisted_payment_token",
            "the payment token of this order is on the block list: chargebacks",
        ),
        (
            placed_with("c-4", clean.clone(), clean.clone(), skimmed.clone()),
            "blocklisted_payment_token",
            "the payment token of this order is on the block list: chargebacks",
        ),
    ];
    for (placed, code, description) in &orders {
        publish(&env, placed).await;
        let event: RiskAssessed = assessed.next().await;
        assert_eq!(event.order_id, placed.order_id);
        let codes: Vec<_> = event.reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["first_order", *code], "{}", placed.order_id);
        let blocked = &event.reasons[1];
        assert_eq!(blocked.description, *description);
        assert_eq!(blocked.points, 80);
        assert_eq!(event.score, 85);
        assert!(
            event.reasons.iter().all(|r| !r.description.contains("fp_")
                && !r.description.to_lowercase().contains("invalidenstr")),
            "reasons name the kind, not the value"
        );
    }

    // Another address and another token: nothing blocked.
    let free = placed_with(
        "c-5",
        address("DE", "10115", "Invalidenstr. 2"),
        address("DE", "10115", "Invalidenstr. 2"),
        fingerprint("tok_visa"),
    );
    publish(&env, &free).await;
    let event: RiskAssessed = assessed.next().await;
    assert_eq!(event.order_id, free.order_id);
    let codes: Vec<_> = event.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["first_order"]);
    assert_eq!(event.score, 5);
}

#[tokio::test]
async fn malformed_addresses_and_payment_tokens_are_refused_without_echoing_them() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let mut client = RiskServiceClient::new(payments.channel().await);
    const ADDRESS: &str = "must be COUNTRY:POSTAL CODE:street, e.g. DE:10115:Invalidenstr. 1";
    const TOKEN: &str = "must be a provider token (tok_…) or its fingerprint (fp_…)";
    const CARD: &str = "must not contain a payment card number";

    let uppercase_fp = format!("fp_{}", "AB".repeat(16));
    let short_fp = format!("fp_{}", "ab".repeat(15));
    for (kind, value, why) in [
        (BlocklistKind::Address, "DE:10115", ADDRESS),
        (BlocklistKind::Address, "DEU:10115:Invalidenstr. 1", ADDRESS),
        (BlocklistKind::Address, "DE: :Invalidenstr. 1", ADDRESS),
        (BlocklistKind::Address, "DE:10115:   ", ADDRESS),
        (BlocklistKind::Address, "DE:10115:4111 1111 1111 1111", CARD),
        (BlocklistKind::PaymentToken, "visa", TOKEN),
        (BlocklistKind::PaymentToken, "tok_ secret", TOKEN),
        (BlocklistKind::PaymentToken, uppercase_fp.as_str(), TOKEN),
        (BlocklistKind::PaymentToken, short_fp.as_str(), TOKEN),
        (BlocklistKind::PaymentToken, "4111 1111 1111 1111", CARD),
        (BlocklistKind::PaymentToken, "tok_4111111111111111", CARD),
    ] {
        let err = client
            .upsert_blocklist_entry(entry(kind, value))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{value}");
        let violations: Vec<_> = err
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .into_iter()
            .map(|v| (v.field, v.description))
            .collect();
        assert_eq!(
            violations,
            [("entry.value".to_owned(), why.to_owned())],
            "{value}"
        );
        assert!(
            !err.message().contains("4111"),
            "a card number is never echoed"
        );
        assert!(!err.message().contains("secret"), "a token is never echoed");
    }

    let all = client
        .list_blocklist(ListBlocklistRequest {
            include_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(all.entries.is_empty(), "nothing refused was stored");
}
