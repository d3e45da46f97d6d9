//! The ways out: e-mail over SMTP ([`smtp`]), SMS through an HTTP gateway and app push through
//! an HTTP webhook ([`http`]). Each is a [`Sender`]; the [`crate::dispatch`] loop does not know
//! which. Every message carries its idempotency key (the e-mail's `Message-ID`, the HTTP
//! `Idempotency-Key` header), the same on every attempt, so a receiver can drop a resend.
//!
//! A sender tells a failure that may pass (a connection refused, a timeout, SMTP 4xx, HTTP 5xx,
//! 408 or 429: retried later) from one that will not (SMTP 5xx, any other HTTP 4xx, an address
//! the protocol cannot carry: failed at once). Failure texts name status codes and error kinds,
//! never the recipient, because they end up in logs and in the delivery log.

pub mod http;
pub mod smtp;

use std::sync::Arc;

use runtime::BoxFuture;

use crate::domain::Channel;
use crate::domain::plan::Configured;

/// One message ready to go.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub idempotency_key: String,
    pub recipient: String,
    /// E-mail subject, push title; unused for SMS.
    pub subject: String,
    /// The e-mail body; for SMS and push, the short text.
    pub body: String,
    pub template: String,
    pub locale: String,
    pub order_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Transient(String),
    #[error("{0}")]
    Permanent(String),
}

pub trait Sender: Send + Sync + 'static {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>>;
}

/// The senders this deployment has configured.
#[derive(Clone, Default)]
pub struct Senders {
    pub email: Option<Arc<dyn Sender>>,
    pub sms: Option<Arc<dyn Sender>>,
    pub push: Option<Arc<dyn Sender>>,
}

impl Senders {
    pub fn get(&self, channel: Channel) -> Option<&Arc<dyn Sender>> {
        match channel {
            Channel::Email => self.email.as_ref(),
            Channel::Sms => self.sms.as_ref(),
            Channel::Push => self.push.as_ref(),
        }
    }

    pub fn configured(&self) -> Configured {
        Configured {
            email: self.email.is_some(),
            sms: self.sms.is_some(),
            push: self.push.is_some(),
        }
    }
}
