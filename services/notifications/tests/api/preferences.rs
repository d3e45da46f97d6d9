//! The gRPC API: preferences, the delivery log, validation, and who may see what.

use contracts::notifications::notification_service_client::NotificationServiceClient;
use contracts::notifications::{
    GetPreferencesRequest, ListNotificationsRequest, NotificationChannel, NotificationTopic,
    Preferences, QuietHours, SetPreferencesRequest, TopicChannels,
};
use runtime::config::{AuthSettings, JwtKey, JwtSettings};
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic_types::StatusExt as _;

use crate::harness::{TestApp, customer, order_placed};

fn bad_fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

#[tokio::test]
async fn preferences_are_the_defaults_until_set_and_read_back_as_set() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let defaults = client
        .get_preferences(GetPreferencesRequest {
            customer_id: "cust-new".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .preferences
        .unwrap();
    assert!(defaults.email_enabled && defaults.sms_enabled && !defaults.push_enabled);
    assert!(defaults.updated_at.is_none() && defaults.muted_topics.is_empty());

    let wanted = Preferences {
        customer_id: "cust-new".into(),
        email_enabled: true,
        sms_enabled: false,
        push_enabled: true,
        email: "mei.work@example.com".into(),
        phone: "+8613800138000".into(),
        push_token: "device-abc".into(),
        muted_topics: vec![NotificationTopic::FeedbackRequests as i32],
        locale: "zh-CN".into(),
        topic_channels: vec![TopicChannels {
            topic: NotificationTopic::DeliveryUpdates as i32,
            channels: vec![NotificationChannel::Push as i32],
        }],
        quiet_hours: Some(QuietHours {
            start_minute: 22 * 60,
            end_minute: 7 * 60,
            utc_offset_minutes: 480,
        }),
        updated_at: None,
    };
    let stored = client
        .set_preferences(SetPreferencesRequest {
            preferences: Some(wanted.clone()),
        })
        .await
        .unwrap()
        .into_inner()
        .preferences
        .unwrap();
    assert!(stored.updated_at.is_some());
    assert_eq!(
        Preferences {
            updated_at: None,
            ..stored.clone()
        },
        wanted
    );
    let read = client
        .get_preferences(GetPreferencesRequest {
            customer_id: "cust-new".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .preferences
        .unwrap();
    assert_eq!(read, stored);

    // SetPreferences replaces every field.
    let replaced = client
        .set_preferences(SetPreferencesRequest {
            preferences: Some(Preferences {
                customer_id: "cust-new".into(),
                email_enabled: true,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .preferences
        .unwrap();
    assert!(replaced.quiet_hours.is_none() && replaced.topic_channels.is_empty());
    assert!(replaced.locale.is_empty() && !replaced.sms_enabled);
}

#[tokio::test]
async fn invalid_requests_name_every_bad_field() {
    let app = TestApp::start().await;
    let mut client = app.client().await;

    let err = client
        .get_preferences(GetPreferencesRequest {
            customer_id: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["customer_id"]);

    let err = client
        .set_preferences(SetPreferencesRequest { preferences: None })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["preferences"]);

    let err = client
        .set_preferences(SetPreferencesRequest {
            preferences: Some(Preferences {
                customer_id: String::new(),
                email: "nope".into(),
                phone: "12345".into(),
                push_enabled: true,
                locale: "zh_CN".into(),
                muted_topics: vec![NotificationTopic::Operations as i32],
                topic_channels: vec![TopicChannels {
                    topic: NotificationTopic::Unspecified as i32,
                    channels: vec![],
                }],
                quiet_hours: Some(QuietHours {
                    start_minute: 60,
                    end_minute: 60,
                    utc_offset_minutes: 0,
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    let fields = bad_fields(&err);
    for expected in [
        "preferences.customer_id",
        "preferences.email",
        "preferences.phone",
        "preferences.push_token",
        "preferences.locale",
        "preferences.muted_topics[0]",
        "preferences.topic_channels[0].topic",
        "preferences.topic_channels[0].channels",
        "preferences.quiet_hours.end_minute",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} not in {fields:?}"
        );
    }
    assert_eq!(fields.len(), 9, "{fields:?}");

    let err = client
        .list_notifications(ListNotificationsRequest {
            page_size: -1,
            page_token: "garbage".into(),
            channel: 42,
            status: 42,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["page_size", "page_token", "channel", "status"]
    );
}

#[tokio::test]
async fn the_delivery_log_pages_newest_first_and_filters() {
    let app = TestApp::start().await;
    let who = customer("log");
    let placed = order_placed(&who);
    app.publish(&placed).await;
    let other = order_placed(&customer("other"));
    app.publish(&other).await;
    testkit::eventually("both orders' messages to be sent", || async {
        let a = app.log_of_order(&placed.order_id).await;
        let b = app.log_of_order(&other.order_id).await;
        (a.len() == 2 && b.len() == 2 && a.iter().chain(&b).all(|n| n.sent_at.is_some()))
            .then_some(())
    })
    .await;

    let mut client = app.client().await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_notifications(ListNotificationsRequest {
                page_size: 1,
                page_token: token.clone(),
                customer_id: who.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.notifications.len() <= 1);
        seen.extend(page.notifications);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|n| n.customer_id == who.id));
    let at = |n: &contracts::notifications::Notification| {
        contracts::time::from_timestamp(n.created_at.as_ref().unwrap()).unwrap()
    };
    assert!(at(&seen[0]) >= at(&seen[1]), "newest first");
    assert_ne!(seen[0].id, seen[1].id);

    let sms_only = client
        .list_notifications(ListNotificationsRequest {
            order_id: other.order_id.clone(),
            channel: NotificationChannel::Sms as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sms_only.notifications.len(), 1);
    assert_eq!(
        sms_only.notifications[0].channel,
        NotificationChannel::Sms as i32
    );
    assert!(sms_only.next_page_token.is_empty());
}

const SECRET: &[u8] = b"notifications-test-secret";

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

fn as_caller<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

#[tokio::test]
async fn customers_see_and_change_only_their_own() {
    let app = TestApp::start_with(|s| {
        s.auth = AuthSettings::Jwt(JwtSettings {
            key: JwtKey::Secret(SECRET.to_vec()),
            issuer: None,
            audience: None,
        });
    })
    .await;
    let alice = customer("alice");
    let bob = customer("bob");
    let placed = order_placed(&alice);
    app.publish(&placed).await;
    app.publish(&order_placed(&bob)).await;
    app.smtp.wait_for(&alice.email, 1).await;
    app.smtp.wait_for(&bob.email, 1).await;

    let mut client = NotificationServiceClient::new(app.service.channel().await);
    let alice_token = token(&alice.id, &["customer"]);
    let operator = token("op-1", &["operator"]);

    let anonymous = client
        .get_preferences(GetPreferencesRequest {
            customer_id: alice.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let others = client
        .get_preferences(as_caller(
            GetPreferencesRequest {
                customer_id: bob.id.clone(),
            },
            &alice_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(others.code(), Code::PermissionDenied);
    let others = client
        .set_preferences(as_caller(
            SetPreferencesRequest {
                preferences: Some(Preferences {
                    customer_id: bob.id.clone(),
                    ..Default::default()
                }),
            },
            &alice_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(others.code(), Code::PermissionDenied);

    // Asking for everything, a customer gets their own; asking for someone else's is refused.
    let own = client
        .list_notifications(as_caller(ListNotificationsRequest::default(), &alice_token))
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert_eq!(own.len(), 2);
    assert!(own.iter().all(|n| n.customer_id == alice.id));
    let refused = client
        .list_notifications(as_caller(
            ListNotificationsRequest {
                customer_id: bob.id.clone(),
                ..Default::default()
            },
            &alice_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // Support staff see everyone's.
    let all = client
        .list_notifications(as_caller(ListNotificationsRequest::default(), &operator))
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert!(all.iter().any(|n| n.customer_id == bob.id));
    assert!(all.iter().any(|n| n.customer_id == alice.id));
    let mine = client
        .get_preferences(as_caller(
            GetPreferencesRequest {
                customer_id: alice.id.clone(),
            },
            &alice_token,
        ))
        .await
        .unwrap();
    assert_eq!(mine.into_inner().preferences.unwrap().customer_id, alice.id);
}
