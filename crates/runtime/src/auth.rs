//! Who is calling. Every RPC runs with an [`Actor`] in its request extensions, put there by the
//! interceptor that [`crate::grpc`] installs in front of every service.
//!
//! With auth off (`ordercycle up`, or `OC_AUTH=off`) every caller is `dev-operator` holding every
//! role. With JWT, a missing token makes an anonymous actor (health checks and reflection need no
//! token); a present but invalid one is refused with UNAUTHENTICATED. Handlers then ask for the
//! roles they need, and check that actor fields in a request body match the caller.

use std::collections::BTreeSet;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tonic::{Request, Status};

use crate::config::{AuthSettings, JwtKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A shopper: sees and acts on their own orders only.
    Customer,
    /// Staff working orders: reviews, refunds, warehouse work.
    Operator,
    /// Another service or integration acting on behalf of the platform.
    Service,
}

impl Role {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "customer" => Some(Self::Customer),
            "operator" => Some(Self::Operator),
            "service" => Some(Self::Service),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    pub roles: BTreeSet<Role>,
}

impl Actor {
    pub const DEV_OPERATOR: &'static str = "dev-operator";

    pub fn dev() -> Self {
        Self {
            id: Self::DEV_OPERATOR.to_owned(),
            roles: [Role::Customer, Role::Operator, Role::Service].into(),
        }
    }

    pub fn anonymous() -> Self {
        Self {
            id: String::new(),
            roles: BTreeSet::new(),
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.id.is_empty()
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Staff or a service: may act on any customer's data.
    pub fn is_staff(&self) -> bool {
        self.has(Role::Operator) || self.has(Role::Service)
    }

    /// UNAUTHENTICATED for an anonymous caller, PERMISSION_DENIED without one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), Status> {
        if self.is_anonymous() {
            return Err(Status::unauthenticated("a bearer token is required"));
        }
        if roles.iter().any(|role| self.has(*role)) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "this call needs one of the roles {roles:?}"
            )))
        }
    }

    /// Whether this caller may see or act on data that belongs to `customer_id`.
    pub fn may_access_customer(&self, customer_id: &str) -> bool {
        self.is_staff() || (self.has(Role::Customer) && self.id == customer_id)
    }
}

/// The actor the interceptor attached to `request`.
pub fn actor<T>(request: &Request<T>) -> Result<Actor, Status> {
    request
        .extensions()
        .get::<Actor>()
        .cloned()
        .ok_or_else(|| Status::internal("no caller identity attached to the request"))
}

#[derive(Clone)]
pub struct Authenticator {
    mode: Arc<Mode>,
}

enum Mode {
    Off,
    Jwt {
        key: Box<DecodingKey>,
        validation: Box<Validation>,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("invalid JWT key: {0}")]
pub struct KeyError(#[from] jsonwebtoken::errors::Error);

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
}

impl Authenticator {
    pub fn new(settings: &AuthSettings) -> Result<Self, KeyError> {
        let mode = match settings {
            AuthSettings::Off => Mode::Off,
            AuthSettings::Jwt(jwt) => {
                let (key, algorithms) = match &jwt.key {
                    JwtKey::Secret(secret) => (
                        DecodingKey::from_secret(secret),
                        vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
                    ),
                    JwtKey::RsaPem(pem) => (
                        DecodingKey::from_rsa_pem(pem)?,
                        vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512],
                    ),
                    JwtKey::EcPem(pem) => (
                        DecodingKey::from_ec_pem(pem)?,
                        vec![Algorithm::ES256, Algorithm::ES384],
                    ),
                };
                let mut validation = Validation::new(algorithms[0]);
                validation.algorithms = algorithms;
                validation.set_required_spec_claims(&["exp", "sub"]);
                if let Some(issuer) = &jwt.issuer {
                    validation.set_issuer(&[issuer]);
                }
                match &jwt.audience {
                    Some(audience) => validation.set_audience(&[audience]),
                    None => validation.validate_aud = false,
                }
                Mode::Jwt {
                    key: Box::new(key),
                    validation: Box::new(validation),
                }
            }
        };
        Ok(Self {
            mode: Arc::new(mode),
        })
    }

    pub fn is_off(&self) -> bool {
        matches!(*self.mode, Mode::Off)
    }

    /// The actor for a request's `authorization` metadata value.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Actor, Status> {
        let (key, validation) = match &*self.mode {
            Mode::Off => return Ok(Actor::dev()),
            Mode::Jwt { key, validation } => (key, validation),
        };
        let Some(header) = authorization else {
            return Ok(Actor::anonymous());
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| Status::unauthenticated("authorization must be `Bearer <jwt>`"))?;
        let data = jsonwebtoken::decode::<Claims>(token, key, validation)
            .map_err(|err| Status::unauthenticated(format!("invalid bearer token: {err}")))?;
        if data.claims.sub.is_empty() {
            return Err(Status::unauthenticated("the token has an empty subject"));
        }
        let roles = data
            .claims
            .roles
            .iter()
            .filter_map(|name| Role::parse(name))
            .collect();
        Ok(Actor {
            id: data.claims.sub,
            roles,
        })
    }

    /// The tonic interceptor: attaches the caller's [`Actor`] to every request.
    pub fn intercept(&self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        let actor = self.authenticate(header)?;
        request.extensions_mut().insert(actor);
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;
    use crate::config::JwtSettings;

    fn jwt_auth() -> Authenticator {
        Authenticator::new(&AuthSettings::Jwt(JwtSettings {
            key: JwtKey::Secret(b"s3cret".to_vec()),
            issuer: None,
            audience: None,
        }))
        .unwrap()
    }

    fn token(sub: &str, roles: &[&str], exp_offset: i64) -> String {
        let claims = serde_json::json!({
            "sub": sub,
            "roles": roles,
            "exp": chrono::Utc::now().timestamp() + exp_offset,
        });
        jsonwebtoken::encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(b"s3cret"),
        )
        .unwrap()
    }

    #[test]
    fn a_valid_token_yields_its_subject_and_roles() {
        let actor = jwt_auth()
            .authenticate(Some(&format!("Bearer {}", token("c-1", &["customer"], 60))))
            .unwrap();
        assert_eq!(actor.id, "c-1");
        assert!(actor.has(Role::Customer));
        assert!(!actor.is_staff());
        assert!(actor.may_access_customer("c-1"));
        assert!(!actor.may_access_customer("c-2"));
    }

    #[test]
    fn an_expired_token_is_unauthenticated() {
        let err = jwt_auth()
            .authenticate(Some(&format!(
                "Bearer {}",
                token("c-1", &["customer"], -600)
            )))
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn no_token_is_anonymous_and_anonymous_needs_a_token() {
        let actor = jwt_auth().authenticate(None).unwrap();
        assert!(actor.is_anonymous());
        assert_eq!(
            actor.require_any(&[Role::Customer]).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }

    const RS256_KEY: &[u8] = include_bytes!("../testdata/jwt-rs256.key");
    const RS256_PUB: &[u8] = include_bytes!("../testdata/jwt-rs256.pub");

    fn rs256_auth(issuer: Option<&str>, audience: Option<&str>) -> Authenticator {
        Authenticator::new(&AuthSettings::Jwt(JwtSettings {
            key: JwtKey::RsaPem(RS256_PUB.to_vec()),
            issuer: issuer.map(str::to_owned),
            audience: audience.map(str::to_owned),
        }))
        .unwrap()
    }

    fn signed(header: &Header, key: &EncodingKey, claims: &serde_json::Value) -> String {
        format!(
            "Bearer {}",
            jsonwebtoken::encode(header, claims, key).unwrap()
        )
    }

    fn claims(iss: &str, aud: &str) -> serde_json::Value {
        serde_json::json!({
            "sub": "svc-fulfillment",
            "roles": ["service"],
            "iss": iss,
            "aud": aud,
            "exp": chrono::Utc::now().timestamp() + 60,
        })
    }

    #[test]
    fn rs256_tokens_are_checked_for_issuer_and_audience() {
        let key = EncodingKey::from_rsa_pem(RS256_KEY).unwrap();
        let rs = || Header::new(jsonwebtoken::Algorithm::RS256);
        let auth = rs256_auth(Some("https://id.ordercycle.example"), Some("ordercycle"));
        let good = signed(
            &rs(),
            &key,
            &claims("https://id.ordercycle.example", "ordercycle"),
        );
        let actor = auth.authenticate(Some(&good)).unwrap();
        assert_eq!(actor.id, "svc-fulfillment");
        assert!(actor.has(Role::Service));
        for bad in [
            claims("https://evil.example", "ordercycle"),
            claims("https://id.ordercycle.example", "someone-else"),
        ] {
            let err = auth
                .authenticate(Some(&signed(&rs(), &key, &bad)))
                .unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated);
        }
    }

    #[test]
    fn an_hs256_token_keyed_with_the_public_key_is_refused() {
        // Algorithm confusion: the attacker knows the public key and signs HS256 with it.
        let forged = signed(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &EncodingKey::from_secret(RS256_PUB),
            &claims("i", "a"),
        );
        let err = rs256_auth(None, None)
            .authenticate(Some(&forged))
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        // And a token with no signature at all.
        let unsigned = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert!(rs256_auth(None, None).authenticate(Some(unsigned)).is_err());
    }

    #[test]
    fn auth_off_makes_every_caller_the_dev_operator() {
        let actor = Authenticator::new(&AuthSettings::Off)
            .unwrap()
            .authenticate(None)
            .unwrap();
        assert_eq!(actor, Actor::dev());
        assert!(actor.require_any(&[Role::Operator]).is_ok());
    }
}
