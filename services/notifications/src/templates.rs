//! Message texts: one minijinja template per message and locale under `templates/<locale>/`,
//! compiled into the binary. A template's output is the e-mail body; it sets `subject` (the
//! e-mail subject and push title) and `short` (the SMS text and push body) with
//! `{% set … %}…{% endset %}` blocks. Values are plain text (no HTML escaping); a variable the
//! template names but the context lacks is an error, so a broken template fails its test rather
//! than sending "Hello ,".
//!
//! Locales: an exact match (case-insensitive), else the same language (`zh-TW` → `zh-CN`,
//! `en-GB` → `en`), else the default locale; a message missing in the chosen locale falls back
//! to the default one. Each fallback is logged once per (requested locale, template).

use std::collections::HashSet;
use std::sync::Mutex;

use minijinja::{Environment, UndefinedBehavior};

/// The locales with templates; the first is the fallback of last resort.
pub const LOCALES: [&str; 2] = ["en", "zh-CN"];

macro_rules! sources {
    ($($name:literal),* $(,)?) => {
        &[
            $(
                ("en", $name, include_str!(concat!("../templates/en/", $name, ".j2"))),
                ("zh-CN", $name, include_str!(concat!("../templates/zh-CN/", $name, ".j2"))),
            )*
        ]
    };
}

static SOURCES: &[(&str, &str, &str)] = sources![
    "order.received",
    "order.confirmed",
    "order.cancelled",
    "order.updated",
    "payment.declined",
    "payment.pending",
    "payment.refunded",
    "installment.missed",
    "shipment.shipped",
    "shipment.out_for_delivery",
    "shipment.delivered",
    "shipment.delivery_failed",
    "pickup.ready",
    "return.approved",
    "survey.invited",
    "staff.order_held",
    "staff.stock_low",
    "staff.dead_letter",
    "staff.sla_breached",
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("no template {0} in any locale")]
    Missing(String),
    #[error("template {name} ({locale}): {source}")]
    Render {
        name: String,
        locale: &'static str,
        #[source]
        source: minijinja::Error,
    },
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub locale: &'static str,
    pub subject: String,
    pub body: String,
    pub short: String,
}

pub struct Templates {
    env: Environment<'static>,
    default_locale: &'static str,
    fallbacks_logged: Mutex<HashSet<(String, String)>>,
}

impl Templates {
    /// Compiles every template; `default_locale` is matched like a customer's.
    pub fn new(default_locale: &str) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        for (locale, name, source) in SOURCES {
            env.add_template_owned(key(locale, name), *source)
                .map_err(|source| TemplateError::Render {
                    name: (*name).to_owned(),
                    locale,
                    source,
                })?;
        }
        let default_locale = closest(default_locale).unwrap_or(LOCALES[0]);
        Ok(Self {
            env,
            default_locale,
            fallbacks_logged: Mutex::new(HashSet::new()),
        })
    }

    /// Renders message `name` for `locale` (empty: the default) with `context`.
    pub fn render(
        &self,
        name: &str,
        locale: &str,
        context: &serde_json::Value,
    ) -> Result<Rendered, TemplateError> {
        let requested = if locale.is_empty() {
            self.default_locale
        } else {
            locale
        };
        let mut chosen = closest(requested).unwrap_or(self.default_locale);
        if !chosen.eq_ignore_ascii_case(requested) {
            self.log_fallback(requested, name, chosen);
        }
        if self.env.get_template(&key(chosen, name)).is_err() {
            self.log_fallback(chosen, name, self.default_locale);
            chosen = self.default_locale;
        }
        let template = self
            .env
            .get_template(&key(chosen, name))
            .map_err(|_| TemplateError::Missing(name.to_owned()))?;
        let failed = |source| TemplateError::Render {
            name: name.to_owned(),
            locale: chosen,
            source,
        };
        let captured = template
            .render_captured(minijinja::Value::from_serialize(context))
            .map_err(failed)?;
        let part = |var: &str| -> Result<String, TemplateError> {
            captured
                .state()
                .lookup(var)
                .filter(|v| !v.is_undefined())
                .map(|v| v.to_string().trim().to_owned())
                .ok_or_else(|| {
                    failed(minijinja::Error::new(
                        minijinja::ErrorKind::UndefinedError,
                        format!("the template does not set `{var}`"),
                    ))
                })
        };
        Ok(Rendered {
            locale: chosen,
            subject: part("subject")?,
            short: part("short")?,
            body: captured.output().trim().to_owned(),
        })
    }

    fn log_fallback(&self, requested: &str, name: &str, used: &str) {
        let Ok(mut logged) = self.fallbacks_logged.lock() else {
            return;
        };
        if logged.insert((requested.to_owned(), name.to_owned())) {
            tracing::warn!(
                requested,
                template = name,
                used,
                "no template for this locale; falling back"
            );
        }
    }
}

fn key(locale: &str, name: &str) -> String {
    format!("{locale}/{name}")
}

/// The locale with templates closest to `requested`: the same tag, else the same language.
fn closest(requested: &str) -> Option<&'static str> {
    let language = |tag: &str| tag.split('-').next().unwrap_or(tag).to_ascii_lowercase();
    LOCALES
        .iter()
        .find(|l| l.eq_ignore_ascii_case(requested))
        .or_else(|| LOCALES.iter().find(|l| language(l) == language(requested)))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages;
    use serde_json::json;

    /// A context with every variable any template reads.
    fn sample() -> serde_json::Value {
        let customer = json!({
            "name": "Mei Lin",
            "order_number": "OC-2026-000123",
            "order_id": "0194b2a4-7c1d-7e8f-9a0b-1c2d3e4f5a6b",
            "total": "25.00 EUR",
            "lines": [{"sku": "TEA-001", "name": "Green tea", "quantity": 2}],
            "pickup": false,
            "reason": "out_of_stock",
            "note": "",
            "short_lines": [{"sku": "TEA-001", "requested": 2, "available": 1}],
            "beneficiary": "ordercycle demo merchant",
            "iban": "DE89370400440532013000",
            "bic": "COBADEFFXXX",
            "reference": "OC-REF-1",
            "amount": "25.00 EUR",
            "pay_by": "2026-03-13 15:00 UTC",
            "total_before": "30.00 EUR",
            "difference": "-5.00 EUR",
            "address": ["Mei Lin", "Hauptstr. 1", "10115 Berlin", "DE"],
            "contact_changed": true,
        });
        let more = json!({
            "carrier": "sim-express",
            "tracking_number": "SX123",
            "tracking_url": "https://track.example/SX123",
            "eta": "2026-03-11 18:00 UTC",
            "courier": "Wang",
            "received_by": "neighbour",
            "attempt": 1,
            "next_attempt": "2026-03-12 10:00 UTC",
            "returning": false,
            "pickup_code": "483920",
            "store": "store-berlin",
            "shelf": "B-2",
            "cash_due": "",
            "rma_number": "RMA-1",
            "survey_id": "s-1",
            "expires_at": "2026-04-10 00:00 UTC",
            "number": 2,
            "defaulted": false,
            "next_attempt_at": "2026-04-11 00:00 UTC",
        });
        let staff = json!({
            "reasons": ["high value"],
            "risk_score": 80,
            "deadline": "2026-03-11 15:00 UTC",
            "sku": "TEA-001",
            "item": "Green tea",
            "warehouse": "wh-1",
            "available": 3,
            "on_hand": 5,
            "reorder_point": 10,
            "suggested": 40,
            "below_safety": true,
            "consumer": "orders__payments_payment_declined",
            "event_subject": "payments.payment.declined",
            "deliveries": 5,
            "event_id": "0194b2a4-7c1d-7e8f-9a0b-1c2d3e4f5a6b",
            "case_number": "CS-1",
            "case_id": "c-1",
            "sla": "first_response",
            "priority": "high",
            "assignee": "",
            "due_at": "2026-03-10 12:00 UTC",
        });
        let mut all = serde_json::Map::new();
        for part in [customer, more, staff] {
            if let serde_json::Value::Object(map) = part {
                all.extend(map);
            }
        }
        serde_json::Value::Object(all)
    }

    #[test]
    fn every_message_renders_in_every_locale() {
        let templates = Templates::new("en").unwrap();
        for message in messages::ALL {
            for locale in LOCALES {
                let rendered = templates
                    .render(message.template, locale, &sample())
                    .unwrap();
                assert_eq!(rendered.locale, locale);
                assert!(
                    !rendered.subject.is_empty(),
                    "{} {locale}",
                    message.template
                );
                assert!(!rendered.body.is_empty(), "{} {locale}", message.template);
                assert!(!rendered.short.is_empty(), "{} {locale}", message.template);
                assert!(
                    !rendered.subject.contains('\n'),
                    "{} {locale}",
                    message.template
                );
            }
        }
    }

    #[test]
    fn locales_fall_back_by_language_then_to_the_default() {
        let templates = Templates::new("en").unwrap();
        let ctx = sample();
        assert_eq!(
            templates
                .render("order.confirmed", "zh-TW", &ctx)
                .unwrap()
                .locale,
            "zh-CN"
        );
        assert_eq!(
            templates
                .render("order.confirmed", "en-GB", &ctx)
                .unwrap()
                .locale,
            "en"
        );
        assert_eq!(
            templates
                .render("order.confirmed", "de-DE", &ctx)
                .unwrap()
                .locale,
            "en"
        );
        assert_eq!(
            templates
                .render("order.confirmed", "", &ctx)
                .unwrap()
                .locale,
            "en"
        );
        let zh_default = Templates::new("zh-CN").unwrap();
        assert_eq!(
            zh_default
                .render("order.confirmed", "fr", &ctx)
                .unwrap()
                .locale,
            "zh-CN"
        );
    }

    #[test]
    fn a_missing_variable_is_an_error_not_a_blank() {
        let templates = Templates::new("en").unwrap();
        let err = templates
            .render("order.confirmed", "en", &json!({"order_number": "OC-1"}))
            .unwrap_err();
        assert!(matches!(err, TemplateError::Render { .. }), "{err}");
        assert!(matches!(
            templates.render("no.such", "en", &sample()),
            Err(TemplateError::Missing(_))
        ));
    }
}
