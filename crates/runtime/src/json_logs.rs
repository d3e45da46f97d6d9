//! `OC_LOG_FORMAT=json`: one flat JSON object per log line, for log pipelines that index by
//! field. Each line carries the event's fields, the fields of every span it happened in (so an
//! `order_id` recorded on the RPC or consumer span appears on every line below it), the span's
//! name, and the OpenTelemetry `trace_id` / `span_id`, so a log line leads to its trace.
//!
//! Personal data (DESIGN §8: logs carry ids, never e-mails, phone numbers or addresses) is kept
//! out by the code that logs; as a last line of defence every string value is scanned and
//! e-mail addresses are replaced with `[email]` and phone numbers with `[phone]` before the line
//! is written. Lines already shipped to another system are out of this code's reach: an
//! erasure (`messaging::privacy`) cannot follow them there.

use std::fmt::Debug;
use std::io::Write as _;
use std::sync::OnceLock;

use opentelemetry::trace::TraceContextExt as _;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Writes JSON lines to `W` (stdout in production, a buffer in tests).
pub struct JsonLogLayer<W> {
    writer: W,
    /// The subscriber this layer is part of, for asking the OpenTelemetry layer for a span's
    /// trace context (its per-span data is private to that crate).
    dispatch: OnceLock<tracing::dispatcher::WeakDispatch>,
}

impl<W> JsonLogLayer<W> {
    pub fn new(writer: W) -> Self {
        Self {
            writer,
            dispatch: OnceLock::new(),
        }
    }
}

/// A span's fields as recorded so far.
struct SpanFields(Map<String, Value>);

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl JsonVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(redact(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(redact(&value.to_string())));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.put(field, Value::String(redact(&format!("{value:?}"))));
    }
}

impl<S, W> Layer<S> for JsonLogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor(&mut fields));
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut JsonVisitor(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert(
            "level".into(),
            Value::String(event.metadata().level().to_string()),
        );
        line.insert(
            "target".into(),
            Value::String(event.metadata().target().to_owned()),
        );
        let mut leaf = None;
        if let Some(scope) = ctx.event_scope(event) {
            // Root first, so an inner span's field wins over an outer one of the same name.
            for span in scope.from_root() {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    line.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                leaf = Some((span.id(), span.name()));
            }
        }
        event.record(&mut JsonVisitor(&mut line));
        if let Some((id, name)) = leaf {
            line.insert("span".into(), Value::String(name.to_owned()));
            // No span extensions are held here: the OpenTelemetry layer locks them itself.
            if let Some(dispatch) = self.dispatch.get().and_then(|d| d.upgrade())
                && let Some(cx) = tracing_opentelemetry::get_otel_context(&id, &dispatch)
            {
                let span = cx.span();
                let sc = span.span_context();
                if sc.is_valid() {
                    line.insert("trace_id".into(), Value::String(sc.trace_id().to_string()));
                    line.insert("span_id".into(), Value::String(sc.span_id().to_string()));
                }
            }
        }
        let mut bytes = Value::Object(line).to_string().into_bytes();
        bytes.push(b'\n');
        // One write per line so concurrent lines do not interleave; a failed write has no
        // better place to be reported.
        let _ = self.writer.make_writer().write_all(&bytes);
    }
}

/// `s` with every e-mail address replaced by `[email]` and every phone number by `[phone]`.
pub fn redact(s: &str) -> String {
    redact_phones(&redact_emails(s))
}

/// Phone numbers: `+` and 7–15 digits, or a number written from a trunk prefix (`0…`, `(0…)`)
/// with 9–15 digits and at least one separator — digits grouped by single spaces, dashes, dots
/// or parentheses. Not inside a word or an id (a UUID, an order number), so the character
/// before and after must not be a letter, a digit or a joiner.
fn redact_phones(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let is_sep = |c: char| " -.()".contains(c);
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts = (c == '+' || c == '0' || c == '(')
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || "-_./:+".contains(chars[i - 1])));
        if starts {
            // Extend over digits and single separators.
            let mut j = if c == '+' { i + 1 } else { i };
            let (mut digits, mut seps, mut last_digit_end) = (0, 0, None);
            while j < chars.len() {
                let d = chars[j];
                if d.is_ascii_digit() {
                    digits += 1;
                    last_digit_end = Some(j + 1);
                } else if d == ')'
                    || (is_sep(d)
                        && chars
                            .get(j + 1)
                            .is_some_and(|n| n.is_ascii_digit() || *n == '('))
                {
                    seps += 1;
                } else {
                    break;
                }
                j += 1;
            }
            if let Some(end) = last_digit_end {
                let after_ok = chars
                    .get(end)
                    .is_none_or(|a| !(a.is_alphanumeric() || "_-@".contains(*a)));
                let plus = c == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit);
                let phone = if plus {
                    (7..=15).contains(&digits)
                } else {
                    (9..=15).contains(&digits) && seps > 0
                };
                if phone && after_ok {
                    out.push_str("[phone]");
                    i = end;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn redact_emails(s: &str) -> String {
    if !s.contains('@') {
        return s.to_owned();
    }
    let is_local = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let is_domain = |c: char| c.is_alphanumeric() || ".-".contains(c);
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('@') {
        let (before, after) = rest.split_at(at);
        let after = &after[1..];
        let local_start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_local(*c))
            .last()
            .map_or(before.len(), |(i, _)| i);
        let domain_len = after
            .char_indices()
            .take_while(|(_, c)| is_domain(*c))
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
        let domain = after[..domain_len].trim_end_matches(['.', '-']);
        let looks_like_email = local_start < before.len()
            && domain.contains('.')
            && !domain.starts_with('.')
            && domain.rsplit('.').next().is_some_and(|tld| tld.len() >= 2);
        if looks_like_email {
            out.push_str(&before[..local_start]);
            out.push_str("[email]");
            rest = &after[domain.len()..];
        } else {
            out.push_str(before);
            out.push('@');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[test]
    fn e_mail_addresses_are_redacted_and_other_text_is_kept() {
        assert_eq!(
            redact("to mei.lin+shop@example.co.uk, ok"),
            "to [email], ok"
        );
        assert_eq!(redact("a@b and x@y.org"), "a@b and [email]");
        assert_eq!(redact("sku TEA-1 @ 3"), "sku TEA-1 @ 3");
        assert_eq!(redact("no at sign"), "no at sign");
    }

    #[test]
    fn phone_numbers_are_redacted_and_ids_amounts_and_dates_are_kept() {
        assert_eq!(redact("call +49 30 1234567 now"), "call [phone] now");
        assert_eq!(redact("sms to +8613800138000."), "sms to [phone].");
        assert_eq!(
            redact("(030) 123-4567 or 030 1234 5678"),
            "[phone] or [phone]"
        );
        assert_eq!(redact("phone=+1-202-555-0143"), "phone=[phone]");
        for kept in [
            "order ORD-20261128-000123",
            "id 0190a3b2-0000-7000-8000-000000000001",
            "2026-11-28 10:00:00",
            "total 1250 EUR, +15 points",
            "0.5 kg",
            "tracking 00340434161094042557",
        ] {
            assert_eq!(redact(kept), kept);
        }
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn a_line_carries_span_fields_trace_ids_and_no_e_mail() {
        let buffer = Buffer::default();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "test");
        let subscriber = tracing_subscriber::registry()
            .with(JsonLogLayer::new(buffer.clone()))
            .with(tracing_opentelemetry::layer().with_tracer(tracer));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("rpc", order_id = tracing::field::Empty);
            let _entered = span.enter();
            span.record("order_id", "0190-abc");
            tracing::info!(customer = "mei@example.com", "order placed");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["message"], "order placed");
        assert_eq!(line["order_id"], "0190-abc");
        assert_eq!(line["span"], "rpc");
        assert_eq!(line["customer"], "[email]");
        assert_eq!(line["trace_id"].as_str().unwrap().len(), 32);
        assert_eq!(line["span_id"].as_str().unwrap().len(), 16);
    }
}
