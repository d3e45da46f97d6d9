//! SMS through an HTTP gateway and app push through an HTTP webhook: a JSON `POST` with the
//! credential in a configurable header and the message's `Idempotency-Key`, over the hyper 1
//! client the tree already has (HTTPS through rustls with the system roots).
//!
//! Bodies: SMS `{"to", "from", "text", "reference"}`; push `{"token", "title", "body",
//! "data": {"template", "order_id", "locale"}, "reference"}` — `reference` repeats the
//! idempotency key for gateways that dedupe on a body field.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use runtime::BoxFuture;

use super::{Outgoing, SendError, Sender};
use crate::config::HttpEndpoint;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// What the endpoint is for, which decides the JSON body.
#[derive(Debug, Clone)]
pub enum Gateway {
    Sms { sender: String },
    Push,
}

pub struct HttpSender {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    auth: Option<(HeaderName, HeaderValue)>,
    gateway: Gateway,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpConfigError {
    #[error("{var} is not a valid URL")]
    Url { var: &'static str },
    #[error("{var}: the auth header name or value is not valid in HTTP")]
    Auth { var: &'static str },
    #[error("cannot set up TLS for {var}: {reason}")]
    Tls { var: &'static str, reason: String },
}

impl HttpSender {
    pub fn new(
        var: &'static str,
        endpoint: &HttpEndpoint,
        gateway: Gateway,
        timeout: Duration,
    ) -> Result<Self, HttpConfigError> {
        let uri: Uri = endpoint
            .url
            .parse()
            .map_err(|_| HttpConfigError::Url { var })?;
        let auth = if endpoint.auth.0.is_empty() {
            None
        } else {
            let name = HeaderName::try_from(endpoint.auth_header.as_str())
                .map_err(|_| HttpConfigError::Auth { var })?;
            let mut value = HeaderValue::try_from(endpoint.auth.0.as_str())
                .map_err(|_| HttpConfigError::Auth { var })?;
            value.set_sensitive(true);
            Some((name, value))
        };
        let tls_error = |reason: String| HttpConfigError::Tls { var, reason };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = if uri.scheme_str() == Some("https") {
            builder
                .with_provider_and_native_roots(provider)
                .map_err(|e| tls_error(e.to_string()))?
        } else {
            // Plain HTTP: TLS is never used, so no roots need loading.
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| tls_error(e.to_string()))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            builder.with_tls_config(config)
        };
        let connector = builder.https_or_http().enable_http1().build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            uri,
            auth,
            gateway,
            timeout,
        })
    }

    fn body(&self, m: &Outgoing) -> serde_json::Value {
        match &self.gateway {
            Gateway::Sms { sender } => serde_json::json!({
                "to": m.recipient,
                "from": sender,
                "text": m.body,
                "reference": m.idempotency_key,
            }),
            Gateway::Push => serde_json::json!({
                "token": m.recipient,
                "title": m.subject,
                "body": m.body,
                "data": {"template": m.template, "order_id": m.order_id, "locale": m.locale},
                "reference": m.idempotency_key,
            }),
        }
    }

    async fn post(&self, m: &Outgoing) -> Result<(), SendError> {
        let body = serde_json::to_vec(&self.body(m))
            .map_err(|e| SendError::Permanent(format!("cannot encode the request: {e}")))?;
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, "ordercycle-notifications")
            .header(IDEMPOTENCY_KEY, m.idempotency_key.as_str());
        if let Some((name, value)) = &self.auth {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SendError::Permanent(format!("cannot build the request: {e}")))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| SendError::Transient(format!("HTTP request failed: {}", kind(&e))))?;
        let status = response.status();
        // Read the answer to the end so the connection can be reused; its content is unused.
        let _ = response.into_body().collect().await;
        classify(status)
    }
}

impl Sender for HttpSender {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.post(message))
                .await
                .unwrap_or_else(|_| Err(SendError::Transient("HTTP request timed out".into())))
        })
    }
}

fn classify(status: StatusCode) -> Result<(), SendError> {
    if status.is_success() {
        Ok(())
    } else if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Err(SendError::Transient(format!("HTTP {}", status.as_u16())))
    } else {
        Err(SendError::Permanent(format!("HTTP {}", status.as_u16())))
    }
}

/// The kind of a client error, without the URL (it may carry a credential in its query).
fn kind(err: &hyper_util::client::legacy::Error) -> &'static str {
    if err.is_connect() {
        "cannot connect"
    } else {
        "connection failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_trouble_is_retried_and_refusals_are_not() {
        assert_eq!(classify(StatusCode::ACCEPTED), Ok(()));
        for retry in [500, 502, 503, 408, 429] {
            let status = StatusCode::from_u16(retry).unwrap();
            assert!(
                matches!(classify(status), Err(SendError::Transient(_))),
                "{retry}"
            );
        }
        for refuse in [400, 401, 403, 404, 422] {
            let status = StatusCode::from_u16(refuse).unwrap();
            assert!(
                matches!(classify(status), Err(SendError::Permanent(_))),
                "{refuse}"
            );
        }
    }
}
