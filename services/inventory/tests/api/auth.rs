use contracts::inventory::inventory_service_client::InventoryServiceClient;
use contracts::inventory::{GetItemRequest, ListLowStockRequest, UpsertItemRequest};
use runtime::config::{AuthSettings, JwtKey, JwtSettings};
use testkit::TestEnv;
use tonic::Code;
use tonic::metadata::MetadataValue;

use crate::helpers::item;

const SECRET: &[u8] = b"inventory-test-secret";

fn with_token<T>(message: T, sub: &str, roles: &[&str]) -> tonic::Request<T> {
    let claims = serde_json::json!({
        "sub": sub,
        "roles": roles,
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
async fn customers_read_the_catalog_but_only_staff_change_stock_or_plans() {
    let env = TestEnv::with(|s| {
        s.auth = AuthSettings::Jwt(JwtSettings {
            key: JwtKey::Secret(SECRET.to_vec()),
            issuer: None,
            audience: None,
        });
    })
    .await;
    let inventory = env.start(&inventory::SERVICE).await;
    let mut client = InventoryServiceClient::new(inventory.channel().await);
    let upsert = || UpsertItemRequest {
        item: Some(item("TEA")),
    };

    let anonymous = client.upsert_item(upsert()).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let customer = client
        .upsert_item(with_token(upsert(), "cust-1", &["customer"]))
        .await
        .unwrap_err();
    assert_eq!(customer.code(), Code::PermissionDenied);
    client
        .upsert_item(with_token(upsert(), "op-1", &["operator"]))
        .await
        .unwrap();

    let read = client
        .get_item(with_token(
            GetItemRequest { sku: "TEA".into() },
            "cust-1",
            &["customer"],
        ))
        .await
        .unwrap();
    assert_eq!(read.into_inner().item.unwrap().sku, "TEA");
    let plans = client
        .list_low_stock(with_token(
            ListLowStockRequest::default(),
            "cust-1",
            &["customer"],
        ))
        .await
        .unwrap_err();
    assert_eq!(plans.code(), Code::PermissionDenied);
}
