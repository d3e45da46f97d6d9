//! The notifications service's own settings, `OC_NOTIFICATIONS_…`. They are read through
//! `Settings::env()`, so an in-process test can give one instance its own values
//! (`Settings::overrides`) without touching the process environment. A channel whose endpoint
//! is unset is off: its messages are recorded as suppressed ("not configured") rather than
//! retried against a server that is not there. Secrets (gateway credentials, the SMTP
//! password) never appear in `Debug` output or logs.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `OC_NOTIFICATIONS_SMTP_URL` | unset (e-mail off) | `smtp://[user:pass@]host[:port]` (plain), `smtp://…?tls=required` (STARTTLS) or `smtps://…` (implicit TLS) |
//! | `OC_NOTIFICATIONS_EMAIL_FROM` | `ordercycle <no-reply@ordercycle.local>` | the From of every e-mail |
//! | `OC_NOTIFICATIONS_MESSAGE_ID_DOMAIN` | `ordercycle.local` | right part of every `Message-ID` |
//! | `OC_NOTIFICATIONS_SMS_URL` | unset (SMS off) | the SMS gateway's endpoint (JSON POST) |
//! | `OC_NOTIFICATIONS_SMS_AUTH_HEADER`, `_SMS_AUTH` | `Authorization`, unset | the header carrying the gateway credential, and its value |
//! | `OC_NOTIFICATIONS_SMS_SENDER` | `ordercycle` | sender id passed to the gateway |
//! | `OC_NOTIFICATIONS_PUSH_URL` | unset (push off) | the app push webhook (JSON POST) |
//! | `OC_NOTIFICATIONS_PUSH_AUTH_HEADER`, `_PUSH_AUTH` | `Authorization`, unset | as for SMS |
//! | `OC_NOTIFICATIONS_STAFF_EMAILS`, `_STAFF_PHONES` | empty | comma-separated staff recipients of alerts |
//! | `OC_NOTIFICATIONS_STAFF_LOCALE` | `en` | locale of staff alerts |
//! | `OC_NOTIFICATIONS_DEFAULT_LOCALE` | `en` | locale for customers who chose none, and the last fallback |
//! | `OC_NOTIFICATIONS_MAX_ATTEMPTS` | `5` | delivery attempts before a message is marked failed |
//! | `OC_NOTIFICATIONS_RETRY_BACKOFF_MS`, `_RETRY_BACKOFF_MAX_MS` | `1000`, `300000` | clock time before the next attempt: doubles per attempt up to the max |
//! | `OC_NOTIFICATIONS_SEND_TIMEOUT_MS` | `10000` | real time one SMTP or HTTP delivery may take |
//! | `OC_NOTIFICATIONS_SEND_LEASE_MS` | `60000` | real time a sender's claim on a message lasts; after a crash the message is retried (same key) when it runs out |
//! | `OC_NOTIFICATIONS_POLL_MS` | `250` | real time between looks for due messages |
//! | `OC_NOTIFICATIONS_BATCH` | `32` | messages claimed (and sent concurrently) per round |
//! | `OC_NOTIFICATIONS_FAILPOINTS` | unset | fault tests only: `after_send_before_mark` stops the sender there as if crashed |

use std::str::FromStr;
use std::time::Duration;

use runtime::config::{ConfigError, Env};

use crate::domain::recipient;

/// A credential: shown as `<redacted>`.
#[derive(Clone, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        })
    }
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Holds the password when there is one, hence a secret.
    pub url: Secret,
    pub from: String,
    pub message_id_domain: String,
}

#[derive(Debug, Clone)]
pub struct HttpEndpoint {
    pub url: String,
    pub auth_header: String,
    pub auth: Secret,
}

#[derive(Debug, Clone)]
pub struct NotificationsConfig {
    pub smtp: Option<SmtpConfig>,
    pub sms: Option<HttpEndpoint>,
    pub sms_sender: String,
    pub push: Option<HttpEndpoint>,
    pub staff_emails: Vec<String>,
    pub staff_phones: Vec<String>,
    pub staff_locale: String,
    pub default_locale: String,
    pub max_attempts: i32,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub send_timeout: Duration,
    pub send_lease: Duration,
    pub poll: Duration,
    pub batch: i64,
    pub failpoints: String,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            smtp: None,
            sms: None,
            sms_sender: "ordercycle".into(),
            push: None,
            staff_emails: Vec::new(),
            staff_phones: Vec::new(),
            staff_locale: "en".into(),
            default_locale: "en".into(),
            max_attempts: 5,
            retry_backoff: Duration::from_secs(1),
            retry_backoff_max: Duration::from_secs(300),
            send_timeout: Duration::from_secs(10),
            send_lease: Duration::from_secs(60),
            poll: Duration::from_millis(250),
            batch: 32,
            failpoints: String::new(),
        }
    }
}

impl NotificationsConfig {
    pub fn from(env: &Env<'_>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let millis = |key: &str, default: Duration| -> Result<Duration, ConfigError> {
            let ms: u64 = parse(
                env,
                key,
                u64::try_from(default.as_millis()).unwrap_or(u64::MAX),
            )?;
            Ok(Duration::from_millis(ms))
        };
        let endpoint = |prefix: &str| -> Option<HttpEndpoint> {
            env.get(&format!("OC_NOTIFICATIONS_{prefix}_URL"))
                .map(|url| HttpEndpoint {
                    url,
                    auth_header: env
                        .get(&format!("OC_NOTIFICATIONS_{prefix}_AUTH_HEADER"))
                        .unwrap_or_else(|| "Authorization".into()),
                    auth: Secret(
                        env.get(&format!("OC_NOTIFICATIONS_{prefix}_AUTH"))
                            .unwrap_or_default(),
                    ),
                })
        };
        let config = Self {
            smtp: env.get("OC_NOTIFICATIONS_SMTP_URL").map(|url| SmtpConfig {
                url: Secret(url),
                from: env
                    .get("OC_NOTIFICATIONS_EMAIL_FROM")
                    .unwrap_or_else(|| "ordercycle <no-reply@ordercycle.local>".into()),
                message_id_domain: env
                    .get("OC_NOTIFICATIONS_MESSAGE_ID_DOMAIN")
                    .unwrap_or_else(|| "ordercycle.local".into()),
            }),
            sms: endpoint("SMS"),
            sms_sender: env
                .get("OC_NOTIFICATIONS_SMS_SENDER")
                .unwrap_or(d.sms_sender),
            push: endpoint("PUSH"),
            staff_emails: list(env, "OC_NOTIFICATIONS_STAFF_EMAILS"),
            staff_phones: list(env, "OC_NOTIFICATIONS_STAFF_PHONES"),
            staff_locale: env
                .get("OC_NOTIFICATIONS_STAFF_LOCALE")
                .unwrap_or(d.staff_locale),
            default_locale: env
                .get("OC_NOTIFICATIONS_DEFAULT_LOCALE")
                .unwrap_or(d.default_locale),
            max_attempts: parse(env, "OC_NOTIFICATIONS_MAX_ATTEMPTS", d.max_attempts)?,
            retry_backoff: millis("OC_NOTIFICATIONS_RETRY_BACKOFF_MS", d.retry_backoff)?,
            retry_backoff_max: millis(
                "OC_NOTIFICATIONS_RETRY_BACKOFF_MAX_MS",
                d.retry_backoff_max,
            )?,
            send_timeout: millis("OC_NOTIFICATIONS_SEND_TIMEOUT_MS", d.send_timeout)?,
            send_lease: millis("OC_NOTIFICATIONS_SEND_LEASE_MS", d.send_lease)?,
            poll: millis("OC_NOTIFICATIONS_POLL_MS", d.poll)?,
            batch: parse(env, "OC_NOTIFICATIONS_BATCH", d.batch)?,
            failpoints: env.get("OC_NOTIFICATIONS_FAILPOINTS").unwrap_or_default(),
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |var: &str, reason: &str| {
            Err(ConfigError {
                var: var.into(),
                reason: reason.into(),
            })
        };
        if self.max_attempts < 1 {
            return fail("OC_NOTIFICATIONS_MAX_ATTEMPTS", "must be at least 1");
        }
        if self.batch < 1 {
            return fail("OC_NOTIFICATIONS_BATCH", "must be at least 1");
        }
        if self.send_lease <= self.send_timeout {
            // A claim must outlive the send it protects, or a slow send is sent twice.
            return fail(
                "OC_NOTIFICATIONS_SEND_LEASE_MS",
                "must be longer than OC_NOTIFICATIONS_SEND_TIMEOUT_MS",
            );
        }
        // Reported by variable name only: the values are addresses.
        if !self.staff_emails.iter().all(|e| recipient::is_email(e)) {
            return fail(
                "OC_NOTIFICATIONS_STAFF_EMAILS",
                "every entry must be an e-mail address",
            );
        }
        if !self.staff_phones.iter().all(|p| recipient::is_e164(p)) {
            return fail(
                "OC_NOTIFICATIONS_STAFF_PHONES",
                "every entry must be an E.164 number",
            );
        }
        for (var, endpoint) in [
            ("OC_NOTIFICATIONS_SMS_URL", &self.sms),
            ("OC_NOTIFICATIONS_PUSH_URL", &self.push),
        ] {
            if let Some(e) = endpoint
                && !(e.url.starts_with("http://") || e.url.starts_with("https://"))
            {
                return fail(var, "must be an http:// or https:// URL");
            }
        }
        Ok(())
    }
}

fn list(env: &Env<'_>, key: &str) -> Vec<String> {
    env.get(key)
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn parse<T: FromStr>(env: &Env<'_>, key: &str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.get(key) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|err: T::Err| ConfigError {
            var: key.to_owned(),
            reason: err.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_off_until_configured_and_secrets_stay_hidden() {
        let config = NotificationsConfig::from(&Env::from_fn(|_| None)).unwrap();
        assert!(config.smtp.is_none() && config.sms.is_none() && config.push.is_none());

        let config = NotificationsConfig::from(&Env::from_fn(|key| match key {
            "OC_NOTIFICATIONS_SMTP_URL" => Some("smtp://user:hunter2@127.0.0.1:2525".into()),
            "OC_NOTIFICATIONS_SMS_URL" => Some("http://127.0.0.1:9/sms".into()),
            "OC_NOTIFICATIONS_SMS_AUTH" => Some("Bearer s3cret".into()),
            "OC_NOTIFICATIONS_STAFF_EMAILS" => Some("ops@example.com, lead@example.com".into()),
            _ => None,
        }))
        .unwrap();
        assert_eq!(config.staff_emails.len(), 2);
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn invalid_values_are_refused_by_name() {
        let err = NotificationsConfig::from(&Env::from_fn(|key| {
            (key == "OC_NOTIFICATIONS_STAFF_PHONES").then(|| "0151 123".into())
        }))
        .unwrap_err();
        assert_eq!(err.var, "OC_NOTIFICATIONS_STAFF_PHONES");
        assert!(!err.reason.contains("0151"));
    }
}
