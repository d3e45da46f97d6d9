//! TLS for gRPC, optional (`OC_TLS_CERT_FILE`, `OC_TLS_KEY_FILE`, `OC_TLS_CA_FILE`): servers
//! present their certificate, and with a CA configured require callers to present one it signed
//! (mutual TLS — the transport then proves which service is calling, beside the JWT's `service`
//! role); calls between services present the caller's own certificate and verify the callee
//! against the same CA. Without these variables everything is plaintext, for a laptop or a mesh
//! that encrypts for us. The admin HTTP port (metrics, probes) stays plaintext.

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

use crate::config::TlsSettings;

/// The server side: this service's identity, and client certificates required when a CA is set.
pub fn server(tls: &TlsSettings) -> ServerTlsConfig {
    let config = ServerTlsConfig::new().identity(Identity::from_pem(&tls.cert, &tls.key));
    match &tls.ca {
        Some(ca) => config.client_ca_root(Certificate::from_pem(ca)),
        None => config,
    }
}

/// An endpoint for calling another service at `url`: over TLS (presenting this service's
/// certificate) when this service has TLS settings, plaintext otherwise.
pub fn endpoint(url: &str, tls: Option<&TlsSettings>) -> Result<Endpoint, tonic::transport::Error> {
    let Some(tls) = tls else {
        return Endpoint::from_shared(url.to_owned());
    };
    let url = url.replacen("http://", "https://", 1);
    let mut config = ClientTlsConfig::new().identity(Identity::from_pem(&tls.cert, &tls.key));
    if let Some(ca) = &tls.ca {
        config = config.ca_certificate(Certificate::from_pem(ca));
    }
    Endpoint::from_shared(url)?.tls_config(config)
}
