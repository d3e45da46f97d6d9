//! E-mail over SMTP with lettre: plain, STARTTLS or implicit TLS as the URL says, TLS through
//! rustls. Each message is plain UTF-8 text with a `Message-ID` of `<key@domain>`.

use std::time::{Duration, SystemTime};

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use runtime::{BoxFuture, Clock};

use super::{Outgoing, SendError, Sender};
use crate::config::SmtpConfig;

pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    message_id_domain: String,
    clock: Clock,
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpConfigError {
    #[error("OC_NOTIFICATIONS_SMTP_URL is not a valid SMTP URL: {0}")]
    Url(String),
    #[error("OC_NOTIFICATIONS_EMAIL_FROM is not a valid mailbox")]
    From,
}

impl SmtpSender {
    pub fn new(
        config: &SmtpConfig,
        timeout: Duration,
        clock: Clock,
    ) -> Result<Self, SmtpConfigError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url.0)
            // lettre's message names the part of the URL that is wrong, not the password.
            .map_err(|e| SmtpConfigError::Url(e.to_string()))?
            .timeout(Some(timeout))
            .build();
        let from = config.from.parse().map_err(|_| SmtpConfigError::From)?;
        Ok(Self {
            transport,
            from,
            message_id_domain: config.message_id_domain.clone(),
            clock,
        })
    }

    fn message(&self, m: &Outgoing) -> Result<Message, SendError> {
        let to: Mailbox = m
            .recipient
            .parse()
            .map_err(|_| SendError::Permanent("the address is not a valid mailbox".into()))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .message_id(Some(format!(
                "<{}@{}>",
                m.idempotency_key, self.message_id_domain
            )))
            .date(SystemTime::from(self.clock.now()))
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| SendError::Permanent(format!("cannot build the e-mail: {e}")))
    }
}

impl Sender for SmtpSender {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let email = self.message(message)?;
            self.transport.send(email).await.map(|_| ()).map_err(|err| {
                let code = err
                    .status()
                    .map_or_else(|| "no reply code".to_owned(), |c| format!("reply {c}"));
                if err.is_permanent() {
                    SendError::Permanent(format!("SMTP refused the message ({code})"))
                } else if err.is_timeout() {
                    SendError::Transient("SMTP timed out".into())
                } else {
                    SendError::Transient(format!("SMTP failed ({code})"))
                }
            })
        })
    }
}
