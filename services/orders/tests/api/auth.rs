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
        Code::PermissionDenied
    );
    // Nor may Bob change it.
    let cancel = client
        .cancel_order(with_token(
            contracts::orders::CancelOrderRequest {
                request_id: "r-bob-cancel".into(),
                order_id: order.id.clone(),
                reason: contracts::orders::CancelReason::CustomerRequest.into(),
                note: String::new(),
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(cancel.code(), Code::PermissionDenied);
    assert_eq!(
        client.get_order(get("not.a.jwt")).await.unwrap_err().code(),
        Code::Unauthenticated
    );
}

#[tokio::test]
async fn a_caller_over_its_rate_is_refused_resource_exhausted_and_others_still_pass() {
    let env = TestEnv::with(|s| {
        s.auth = AuthSettings::Jwt(JwtSettings {
            key: JwtKey::Secret(SECRET.to_vec()),
            issuer: None,
            audience: None,
        });
        // Two calls, then one every ~17 minutes: the third call within the test is refused.
        s.admission.rate_per_sec = 0.001;
        s.admission.burst = 2.0;
    })
    .await;
    let orders = env.start(&orders::SERVICE).await;
    let mut client = OrderServiceClient::new(orders.channel().await);
    let alice = token("alice", &["customer"]);
    let unknown = || GetOrderRequest {
        id: uuid::Uuid::new_v4().to_string(),
    };
    for _ in 0..2 {
        let answer = client
            .get_order(with_token(unknown(), &alice))
            .await
            .unwrap_err();
        assert_eq!(answer.code(), Code::NotFound);
    }
    let refused = client
        .get_order(with_token(unknown(), &alice))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert!(refused.message().contains("alice"), "{}", refused.message());
    // Another caller has a bucket of its own.
    let bob = token("bob", &["customer"]);
    let answer = client
        .get_order(with_token(unknown(), &bob))
        .await
        .unwrap_err();
    assert_eq!(answer.code(), Code::NotFound);
}

#[tokio::test]
async fn with_mutual_tls_only_callers_holding_a_certificate_of_our_ca_get_through() {
    let env = TestEnv::with(|s| s.tls = Some(testkit::tls::mutual())).await;
    // Started and found SERVING over TLS, presenting the service certificate.
    let orders = env.start(&orders::SERVICE).await;
    let url = format!("http://{}", orders.grpc_addr);
    let unknown = || GetOrderRequest {
        id: uuid::Uuid::new_v4().to_string(),
    };

    let mut trusted = OrderServiceClient::new(orders.channel().await);
    let answer = trusted.get_order(unknown()).await.unwrap_err();
    assert_eq!(answer.code(), Code::NotFound, "a trusted caller is served");

    // A certificate from another CA, no certificate at all, or no TLS: no connection.
    let rogue = runtime::tls::endpoint(&url, Some(&testkit::tls::rogue()))
        .unwrap()
        .connect()
        .await;
    let refused_rogue = match rogue {
        Err(_) => true,
        Ok(channel) => OrderServiceClient::new(channel)
            .get_order(unknown())
            .await
            .is_err_and(|s| s.code() != Code::NotFound),
    };
    assert!(refused_rogue, "a certificate of another CA is refused");
    let mut anonymous_tls = testkit::tls::mutual();
    anonymous_tls.cert.clear();
    anonymous_tls.key.clear();
    let no_cert = tonic::transport::Endpoint::from_shared(url.replacen("http", "https", 1))
        .unwrap()
        .tls_config(tonic::transport::ClientTlsConfig::new().ca_certificate(
            tonic::transport::Certificate::from_pem(anonymous_tls.ca.as_ref().unwrap()),
        ))
        .unwrap()
        .connect()
        .await;
    let refused_no_cert = match no_cert {
        Err(_) => true,
        Ok(channel) => OrderServiceClient::new(channel)
            .get_order(unknown())
            .await
            .is_err_and(|s| s.code() != Code::NotFound),
    };
    assert!(refused_no_cert, "a caller without a certificate is refused");
    let plain = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect()
        .await;
    let refused_plain = match plain {
        Err(_) => true,
        Ok(channel) => OrderServiceClient::new(channel)
            .get_order(unknown())
            .await
            .is_err_and(|s| s.code() != Code::NotFound),
    };
    assert!(refused_plain, "plaintext is refused");
}
