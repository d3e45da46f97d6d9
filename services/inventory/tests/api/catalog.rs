use contracts::common::Dimensions;
use contracts::inventory::{GetItemRequest, ItemUpserted, ListItemsRequest, UpsertItemRequest};
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, eur, item, upsert_item};

#[tokio::test]
async fn an_upserted_item_reads_back_and_is_published_once_per_change() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let mut upserted = app.env.tap("inventory.item.upserted").await;

    let created = upsert_item(
        &mut client,
        contracts::inventory::Item {
            dimensions: Some(Dimensions {
                length_mm: 100,
                width_mm: 80,
                height_mm: 60,
            }),
            ..item("TEA-001")
        },
    )
    .await;
    // Unset flags are true for a new item, and always set in answers.
    assert_eq!(
        (created.returnable, created.active),
        (Some(true), Some(true))
    );
    let got = client
        .get_item(GetItemRequest {
            sku: "TEA-001".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(got, created);

    let first: ItemUpserted = upserted.next().await;
    assert!(first.created);
    assert_eq!(first.item.as_ref(), Some(&created));

    // The same item again changes nothing and publishes nothing; a change publishes.
    let same = upsert_item(
        &mut client,
        contracts::inventory::Item {
            dimensions: created.dimensions,
            ..item("TEA-001")
        },
    )
    .await;
    assert_eq!(same.updated_at, created.updated_at);
    let changed = upsert_item(
        &mut client,
        contracts::inventory::Item {
            unit_price: Some(eur(1390)),
            returnable: Some(false),
            ..item("TEA-001")
        },
    )
    .await;
    assert_eq!(changed.created_at, created.created_at);
    let second: ItemUpserted = upserted.next().await;
    assert!(!second.created);
    assert_eq!(second.item.unwrap().unit_price, Some(eur(1390)));
    // Unset `returnable` keeps the stored false.
    let kept = upsert_item(&mut client, item("TEA-001")).await;
    assert_eq!(kept.returnable, Some(false));
}

#[tokio::test]
async fn invalid_items_are_refused_with_every_bad_field_and_nothing_is_stored() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let status = client
        .upsert_item(UpsertItemRequest {
            item: Some(contracts::inventory::Item {
                sku: "bad sku".into(),
                name: String::new(),
                unit_price: Some(contracts::common::Money {
                    currency_code: "euro".into(),
                    amount_minor: -1,
                }),
                weight_grams: -5,
                reorder_point: -1,
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    for field in [
        "item.sku",
        "item.name",
        "item.unit_price.currency_code",
        "item.weight_grams",
        "item.reorder_point",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }
    assert_eq!(app.scalar("SELECT count(*) FROM items").await, 0);

    let missing = client
        .upsert_item(UpsertItemRequest { item: None })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    let unknown = client
        .get_item(GetItemRequest { sku: "NOPE".into() })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed = client
        .get_item(GetItemRequest { sku: "a b".into() })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn items_list_by_sku_in_pages_with_category_and_inactive_filters() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    for sku in ["C", "A", "E", "B", "D"] {
        let mut it = item(sku);
        if sku == "E" {
            it.category = "cups".into();
        }
        if sku == "D" {
            it.active = Some(false);
        }
        upsert_item(&mut client, it).await;
    }
    let page = |page_token: String, include_inactive: bool| ListItemsRequest {
        page_size: 2,
        page_token,
        category: String::new(),
        include_inactive,
    };
    let mut skus = Vec::new();
    let mut token = String::new();
    loop {
        let r = client
            .list_items(page(token, false))
            .await
            .unwrap()
            .into_inner();
        assert!(r.items.len() <= 2);
        skus.extend(r.items.into_iter().map(|i| i.sku));
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!(skus, ["A", "B", "C", "E"], "inactive D is left out");

    let all = client
        .list_items(ListItemsRequest {
            page_size: 0,
            include_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.items.len(), 5);
    let cups = client
        .list_items(ListItemsRequest {
            category: "cups".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cups.items.len(), 1);
    let bad = client
        .list_items(ListItemsRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}
