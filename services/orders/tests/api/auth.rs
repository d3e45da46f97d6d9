use contracts::orders::GetOrderRequest;
use contracts::orders::order_service_client::OrderServiceClient;
use runtime::config::{AuthSettings, JwtKey, JwtSettings};
use testkit::TestEnv;
use tonic::Code;
use tonic::metadata::MetadataValue;

use crate::helpers::valid_request;

const SECRET: &[u8] = b"orders-test-secret";

fn token(sub: &str, roles: &[&str]) -> String {
    let claims = serde_json::json!({
        "sub": sub,
        "roles": roles,
        "exp": chrono::Utc::now().timestamp() + 600,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

#[tokio::test]
async fn customers_see_only_their_own_orders_and_anonymous_callers_are_refused() {
    let env = TestEnv::with(|s| {
        s.auth = AuthSettings::Jwt(JwtSettings {
            key: JwtKey::Secret(SECRET.to_vec()),
            issuer: None,
            audience: None,
        });
    })
    .await;
    let app = crate::helpers::TestApp::start_in(env).await;
    let mut client = OrderServiceClient::new(app.orders.channel().await);
    let alice = token("cust-1", &["customer"]);
    let bob = token("cust-2", &["customer"]);
    let operator = token("op-9", &["operator"]);

    let anonymous = client
        .place_order(valid_request("r-anon"))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // Bob cannot place an order in Alice's name.
    let spoofed = client
        .place_order(with_token(valid_request("r-spoof"), &bob))
        .await
        .unwrap_err();
    assert_eq!(spoofed.code(), Code::InvalidArgument);

    let order = client
        .place_order(with_token(valid_request("r-alice"), &alice))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let get = |t: &str| {
        with_token(
            GetOrderRequest {
                id: order.id.clone(),
            },
            t,
        )
    };
    assert!(client.get_order(get(&alice)).await.is_ok());
    assert!(client.get_order(get(&operator)).await.is_ok());
    assert_eq!(
        client.get_order(get(&bob)).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        client.get_order(get("not.a.jwt")).await.unwrap_err().code(),
        Code::Unauthenticated
    );
}
