//! Test-only TLS material (`testdata/tls`, see its README): the settings a service runs with
//! under mutual TLS, and a certificate signed by a CA nobody trusts.

use runtime::config::TlsSettings;

/// A service's certificate and key, and the CA every service trusts (mutual TLS).
pub fn mutual() -> TlsSettings {
    TlsSettings {
        cert: include_bytes!("../testdata/tls/service.pem").to_vec(),
        key: include_bytes!("../testdata/tls/service.key").to_vec(),
        ca: Some(include_bytes!("../testdata/tls/ca.pem").to_vec()),
    }
}

/// The same CA, with a certificate and key it never signed.
pub fn rogue() -> TlsSettings {
    TlsSettings {
        cert: include_bytes!("../testdata/tls/rogue.pem").to_vec(),
        key: include_bytes!("../testdata/tls/rogue.key").to_vec(),
        ca: Some(include_bytes!("../testdata/tls/ca.pem").to_vec()),
    }
}
