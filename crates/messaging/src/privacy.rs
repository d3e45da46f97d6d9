//! Personal-data erasure: the plumbing every service that stores names, contacts or addresses
//! shares to honour `CustomerDataErased` (orders' `EraseCustomerData`, or its retention job).
//!
//! **What the event carries, and why.** The event travels on a stream other services and outside
//! subscribers read, and streams keep messages: it must not carry the e-mail or phone it erases.
//! It carries what each service finds its rows by — the erased orders' ids (every service keys
//! its rows by order), the customer id (customer-level rows: notification preferences, reviews,
//! cases), and one-way fingerprints of the e-mail and phone ([`email_fingerprint`],
//! [`phone_fingerprint`], the same `runtime::pan::fingerprint` payments already indexes phones
//! by) for rows that are indexed by them and belong to no erased order. An unsalted hash of an
//! e-mail confirms a guess — someone who already has the e-mail learns it was erased — and gives
//! nothing else back.
//!
//! **How a service pseudonymises.** It reads the raw values back from its own rows of those
//! orders (the contact and addresses it stored: [`PersonalData::sources`]), which gives it a
//! [`Scrub`]: each value (and its normalised forms) mapped to a pseudonym. It then rewrites every
//! text, JSON, text-array and bytea column of the rows named in [`PersonalData::tables`], and its
//! own `oc_outbox` payloads that contain a value, so a name or e-mail typed into free text (a
//! review, a case message, a rendered notification, a shipping label) goes too. Protobuf and
//! other binary payloads are masked byte for byte with a pseudonym of the same length, which
//! keeps every length prefix — the message still decodes, whatever its type. Ids, amounts,
//! quantities, statuses, timestamps, countries, regions, cities and postcodes are not personal
//! contact data and are left alone, so orders, money and stock add up as before.
//!
//! **Pseudonyms** are a hash of the erasure id and the kind of field ([`pseudonym`]): the same
//! in every service for one erasure (support can still see that two rows were the same
//! person), unrelated to the value they replace, so irreversible. E-mails stay e-mail-shaped
//! (`erased+…@invalid`, a reserved domain that never delivers).
//!
//! **Idempotence.** The consumer runner's inbox makes a redelivered event a no-op; `oc_erasures`
//! also records each erasure applied here (with the rows rewritten) in the same transaction, so
//! an erasure that arrives again under another event id is skipped, and a test or an operator
//! can ask each database whether the erasure is done. Rewriting is idempotent anyway: a value
//! already replaced is no longer found.
//!
//! **Out of reach**: JetStream streams still hold the events published before the erasure until
//! their retention drops them, and log lines already shipped to another system stay there (our
//! JSON logs redact e-mails and phone numbers before writing: `runtime::json_logs`).

use std::future::Future;

use contracts::orders::{CustomerDataErased, ErasureTrigger};
use sha2::{Digest as _, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row as _};
use uuid::Uuid;

use crate::bus::Bus;
use crate::consumer::{ConsumerError, Handler, HandlerError};
use crate::envelope::Envelope;
use runtime::Host;

/// Values shorter than this are not looked for in free text and payloads (an initial, a
/// two-letter name would match everywhere); the structured fields holding them are still
/// replaced when they are longer or by the service's own code.
const MIN_SECRET_LEN: usize = 3;

/// One erasure as a service applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    pub id: Uuid,
    pub trigger: ErasureTrigger,
    /// Empty for guests and retention erasures.
    pub customer_id: String,
    pub order_ids: Vec<String>,
    pub email_fingerprint: String,
    pub phone_fingerprint: String,
}

impl Erasure {
    pub fn from_event(event: &CustomerDataErased) -> Result<Self, HandlerError> {
        let id = Uuid::parse_str(&event.erasure_id).map_err(|_| {
            HandlerError::permanent(format!("erasure_id {:?} is not a UUID", event.erasure_id))
        })?;
        Ok(Self {
            id,
            trigger: event.trigger(),
            customer_id: event.customer_id.trim().to_owned(),
            order_ids: event.order_ids.clone(),
            email_fingerprint: event.email_fingerprint.clone(),
            phone_fingerprint: event.phone_fingerprint.clone(),
        })
    }

    fn trigger_name(&self) -> &'static str {
        match self.trigger {
            ErasureTrigger::Retention => "RETENTION",
            ErasureTrigger::Request | ErasureTrigger::Unspecified => "REQUEST",
        }
    }
}

/// The kind of a personal field: decides the shape of its pseudonym.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Name,
    Email,
    Phone,
    Address,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Address => "address",
        }
    }

    /// The kind of a JSON object key holding personal data, as our contact and address
    /// objects name them (`Customer`, `Address`, stored as JSON by every service).
    fn of_key(key: &str) -> Option<Self> {
        match key {
            "name" | "recipient" | "display_name" | "received_by" | "buyer_name" | "push_token" => {
                Some(Self::Name)
            }
            "email" | "buyer_email" => Some(Self::Email),
            "phone" | "buyer_phone" => Some(Self::Phone),
            "line1" | "line2" => Some(Self::Address),
            _ => None,
        }
    }
}

fn short_hash(erasure: Uuid, kind: Kind) -> String {
    let digest = Sha256::digest(format!("{erasure}:{}", kind.as_str()).as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// The pseudonym of every `kind` field of `erasure`: `erased-<12 hex>`, or for e-mails
/// `erased+<12 hex>@invalid`.
pub fn pseudonym(erasure: Uuid, kind: Kind) -> String {
    let hash = short_hash(erasure, kind);
    match kind {
        Kind::Email => format!("erased+{hash}@invalid"),
        _ => format!("erased-{hash}"),
    }
}

/// The fingerprint orders puts on the event for an e-mail: of its trimmed lower-case form.
pub fn email_fingerprint(email: &str) -> String {
    runtime::pan::fingerprint(&email.trim().to_lowercase())
}

/// `+` and the digits of a phone number with 7–15 digits ("+49 (30) 123-4567" →
/// "+49301234567"), as payments' block lists and risk keys normalise it.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    (7..=15)
        .contains(&digits.len())
        .then(|| format!("+{digits}"))
}

/// The fingerprint of a phone's normalised form (payments' `phone_keys` are the same).
pub fn phone_fingerprint(phone: &str) -> String {
    normalize_phone(phone)
        .map(|p| runtime::pan::fingerprint(&p))
        .unwrap_or_default()
}

/// Raw personal values found in a service's rows, each with its replacement.
#[derive(Debug, Clone)]
pub struct Scrub {
    erasure: Uuid,
    /// Longest first, so an e-mail is replaced before a name it contains.
    pairs: Vec<(String, String)>,
}

impl Scrub {
    pub fn new(erasure: Uuid) -> Self {
        Self {
            erasure,
            pairs: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Adds `raw` (and its normalised forms) as a value of `kind` to look for.
    pub fn add(&mut self, kind: Kind, raw: &str) {
        let raw = raw.trim();
        if raw.chars().count() < MIN_SECRET_LEN || raw.starts_with("erased") {
            return;
        }
        let replacement = pseudonym(self.erasure, kind);
        let mut variants = vec![raw.to_owned()];
        match kind {
            Kind::Email => variants.push(raw.to_lowercase()),
            Kind::Phone => variants.extend(normalize_phone(raw)),
            Kind::Name | Kind::Address => {}
        }
        for v in variants {
            if !self.pairs.iter().any(|(s, _)| *s == v) {
                self.pairs.push((v, replacement.clone()));
            }
        }
        self.pairs
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    }

    /// Adds every personal field of a contact or address object, at any depth.
    pub fn add_contacts(&mut self, value: &serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    match (Kind::of_key(key), v) {
                        (Some(kind), serde_json::Value::String(s)) => self.add(kind, s),
                        _ => self.add_contacts(v),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| self.add_contacts(v)),
            _ => {}
        }
    }

    /// The raw values looked for, longest first.
    pub fn secrets(&self) -> Vec<String> {
        self.pairs.iter().map(|(s, _)| s.clone()).collect()
    }

    /// `text` with every value replaced; `None` when nothing was found.
    pub fn text(&self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        for (secret, replacement) in &self.pairs {
            let current = out.as_deref().unwrap_or(text);
            if current.contains(secret.as_str()) {
                out = Some(current.replace(secret.as_str(), replacement));
            }
        }
        out
    }

    /// Replaces values inside every string of `value`; true when something changed.
    pub fn json(&self, value: &mut serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => match self.text(s) {
                Some(new) => {
                    *s = new;
                    true
                }
                None => false,
            },
            serde_json::Value::Array(items) => {
                // Every element, not `any`: each one must be rewritten.
                items
                    .iter_mut()
                    .map(|v| self.json(v))
                    .filter(|c| *c)
                    .count()
                    > 0
            }
            serde_json::Value::Object(map) => {
                map.values_mut()
                    .map(|v| self.json(v))
                    .filter(|c| *c)
                    .count()
                    > 0
            }
            _ => false,
        }
    }

    /// Masks every value inside `bytes` with a pseudonym of the same length (so protobuf and
    /// other length-prefixed encodings stay valid); true when something changed.
    pub fn bytes(&self, bytes: &mut [u8]) -> bool {
        let mut changed = false;
        for (secret, replacement) in &self.pairs {
            // UTF-8, and Latin-1 for text written as single bytes (labels' WinAnsi PDF text).
            let latin1: Option<Vec<u8>> = (!secret.is_ascii())
                .then(|| {
                    secret
                        .chars()
                        .map(|c| u8::try_from(u32::from(c)).ok())
                        .collect()
                })
                .flatten();
            for needle in std::iter::once(secret.as_bytes()).chain(latin1.as_deref()) {
                let mut at = 0;
                while let Some(pos) = find(&bytes[at..], needle) {
                    let start = at + pos;
                    let fill = same_length(replacement, needle.len());
                    bytes[start..start + needle.len()].copy_from_slice(&fill);
                    changed = true;
                    at = start + needle.len();
                }
            }
        }
        changed
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `replacement` fitted to `len` bytes of ASCII: an e-mail pseudonym keeps `@invalid` when it
/// fits, anything else is cut or repeated.
fn same_length(replacement: &str, len: usize) -> Vec<u8> {
    const DOMAIN: &str = "@invalid";
    if let Some(local) = replacement.strip_suffix(DOMAIN)
        && len > DOMAIN.len()
    {
        let mut out: Vec<u8> = local.bytes().cycle().take(len - DOMAIN.len()).collect();
        out.extend_from_slice(DOMAIN.as_bytes());
        return out;
    }
    replacement.bytes().cycle().take(len).collect()
}

/// What a service holds about customers, declared as SQL.
///
/// Every statement may use `$1` (`text[]`: the erased order ids), `$2` (`text`: the customer id,
/// empty for guests and retention), `$3` (`text[]`: the raw values found), `$4` / `$5` (`text`:
/// the e-mail and phone fingerprints, may be empty).
#[derive(Debug, Clone, Copy)]
pub struct PersonalData {
    /// Queries returning one JSON column of contact or address objects (keys `name`,
    /// `recipient`, `email`, `phone`, `line1`, `line2`): where the raw values are read from.
    pub sources: &'static [&'static str],
    /// `(table, condition)`: every text, JSON, text-array and bytea column of the rows matching
    /// the condition is rewritten.
    pub tables: &'static [(&'static str, &'static str)],
}

impl PersonalData {
    /// Reads the raw values, then rewrites the tables and the service's own outbox; returns the
    /// values found and the number of rows rewritten.
    pub async fn apply(
        &self,
        conn: &mut PgConnection,
        erasure: &Erasure,
    ) -> Result<(Scrub, u64), sqlx::Error> {
        let mut scrub = Scrub::new(erasure.id);
        for sql in self.sources {
            for value in bind(
                sqlx::query_scalar::<_, serde_json::Value>(sql),
                erasure,
                &[],
            )
            .fetch_all(&mut *conn)
            .await?
            {
                scrub.add_contacts(&value);
            }
        }
        let rows = self.rewrite(conn, erasure, &scrub).await?;
        Ok((scrub, rows))
    }

    /// Rewrites the tables and the outbox with `scrub` (values a service found elsewhere may be
    /// added to what [`Self::apply`] reads).
    pub async fn rewrite(
        &self,
        conn: &mut PgConnection,
        erasure: &Erasure,
        scrub: &Scrub,
    ) -> Result<u64, sqlx::Error> {
        if scrub.is_empty() {
            return Ok(0);
        }
        let mut rows = 0;
        for (table, condition) in self.tables {
            rows += rewrite_rows(conn, erasure, scrub, table, condition).await?;
        }
        rows += rewrite_rows(conn, erasure, scrub, "oc_outbox", CONTAINS_SECRET).await?;
        Ok(rows)
    }
}

/// The condition that selects rows of a table with a bytea `payload` or `body` holding a value:
/// `position` on the bytes, so Postgres does the scan.
pub const CONTAINS_SECRET: &str = "EXISTS (SELECT 1 FROM unnest($3::text[]) s
     WHERE position(convert_to(s, 'UTF8') IN payload) > 0)";

type Query<'q, O> = sqlx::query::QueryScalar<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>;

fn bind<'q, O>(query: Query<'q, O>, erasure: &'q Erasure, secrets: &'q [String]) -> Query<'q, O> {
    query
        .bind(&erasure.order_ids)
        .bind(&erasure.customer_id)
        .bind(secrets)
        .bind(&erasure.email_fingerprint)
        .bind(&erasure.phone_fingerprint)
}

#[derive(Debug)]
enum ColumnType {
    Text,
    Json(&'static str),
    TextArray,
    Bytes,
}

enum Value {
    Text(String),
    Bytes(Vec<u8>),
    Array(Vec<String>),
}

/// The columns of `table` that can hold personal data, from the catalog.
async fn columns(
    conn: &mut PgConnection,
    table: &str,
) -> Result<Vec<(String, ColumnType)>, sqlx::Error> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, udt_name::text
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'
         ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, data_type, udt)| {
            let kind = match (data_type.as_str(), udt.as_str()) {
                ("text" | "character varying", _) => ColumnType::Text,
                ("jsonb", _) => ColumnType::Json("jsonb"),
                ("json", _) => ColumnType::Json("json"),
                ("bytea", _) => ColumnType::Bytes,
                ("ARRAY", "_text" | "_varchar") => ColumnType::TextArray,
                _ => return None,
            };
            Some((name, kind))
        })
        .collect())
}

fn quoted(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Rewrites the personal values in every text-like column of `table`'s rows matching
/// `condition`; returns the rows changed.
pub async fn rewrite_rows(
    conn: &mut PgConnection,
    erasure: &Erasure,
    scrub: &Scrub,
    table: &str,
    condition: &str,
) -> Result<u64, sqlx::Error> {
    let cols = columns(conn, table).await?;
    if cols.is_empty() {
        return Ok(0);
    }
    let select = cols
        .iter()
        .map(|(name, kind)| match kind {
            ColumnType::Json(_) => format!("{}::text", quoted(name)),
            _ => quoted(name),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let secrets = scrub.secrets();
    // Locked, so the ctid each row is updated by stays its own until the transaction ends.
    let sql = format!(
        "SELECT ctid::text, {select} FROM {} WHERE {condition} FOR UPDATE",
        quoted(table)
    );
    let found: Vec<PgRow> = sqlx::query(&sql)
        .bind(&erasure.order_ids)
        .bind(&erasure.customer_id)
        .bind(&secrets)
        .bind(&erasure.email_fingerprint)
        .bind(&erasure.phone_fingerprint)
        .fetch_all(&mut *conn)
        .await?;
    let mut changed_rows = 0;
    for row in found {
        let ctid: String = row.try_get(0)?;
        let mut sets = Vec::new();
        let mut values = Vec::new();
        for (i, (name, kind)) in cols.iter().enumerate() {
            let new = match kind {
                ColumnType::Text => row
                    .try_get::<Option<String>, _>(i + 1)?
                    .and_then(|s| scrub.text(&s))
                    .map(Value::Text),
                ColumnType::Json(_) => row
                    .try_get::<Option<String>, _>(i + 1)?
                    .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                    .and_then(|mut v| scrub.json(&mut v).then(|| Value::Text(v.to_string()))),
                ColumnType::TextArray => {
                    row.try_get::<Option<Vec<String>>, _>(i + 1)?
                        .and_then(|items| {
                            let mut any = false;
                            let items = items
                                .into_iter()
                                .map(|s| match scrub.text(&s) {
                                    Some(new) => {
                                        any = true;
                                        new
                                    }
                                    None => s,
                                })
                                .collect::<Vec<_>>();
                            any.then_some(Value::Array(items))
                        })
                }
                ColumnType::Bytes => row
                    .try_get::<Option<Vec<u8>>, _>(i + 1)?
                    .and_then(|mut b| scrub.bytes(&mut b).then_some(Value::Bytes(b))),
            };
            if let Some(value) = new {
                let cast = match kind {
                    ColumnType::Json(t) => format!("::{t}"),
                    _ => String::new(),
                };
                sets.push(format!("{} = ${}{cast}", quoted(name), values.len() + 2));
                values.push(value);
            }
        }
        if sets.is_empty() {
            continue;
        }
        let sql = format!(
            "UPDATE {} SET {} WHERE ctid = $1::tid",
            quoted(table),
            sets.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(ctid);
        for value in values {
            query = match value {
                Value::Text(s) => query.bind(s),
                Value::Bytes(b) => query.bind(b),
                Value::Array(a) => query.bind(a),
            };
        }
        query.execute(&mut *conn).await?;
        changed_rows += 1;
    }
    Ok(changed_rows)
}

/// A service's way of pseudonymising what it holds for an erasure, inside the consumer's
/// transaction; returns the rows rewritten.
pub trait Eraser: Send + Sync + 'static {
    fn erase(
        &self,
        conn: &mut PgConnection,
        erasure: &Erasure,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;
}

impl Eraser for PersonalData {
    async fn erase(&self, conn: &mut PgConnection, erasure: &Erasure) -> Result<u64, sqlx::Error> {
        Ok(self.apply(conn, erasure).await?.1)
    }
}

/// Whether `erasure` is already applied in this database.
pub async fn applied(conn: &mut PgConnection, erasure: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM oc_erasures WHERE erasure_id = $1)")
        .bind(erasure)
        .fetch_one(conn)
        .await
}

/// Records `erasure` as applied with `rows` rewritten (in the transaction that rewrote them).
pub async fn record(
    conn: &mut PgConnection,
    erasure: &Erasure,
    rows: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oc_erasures (erasure_id, trigger, order_count, rows)
         VALUES ($1, $2, $3, $4) ON CONFLICT (erasure_id) DO NOTHING",
    )
    .bind(erasure.id)
    .bind(erasure.trigger_name())
    .bind(i32::try_from(erasure.order_ids.len()).unwrap_or(i32::MAX))
    .bind(i64::try_from(rows).unwrap_or(i64::MAX))
    .execute(conn)
    .await?;
    Ok(())
}

/// Applies an erasure once: skipped when `oc_erasures` has it, recorded there otherwise.
pub async fn apply_once<T: Eraser>(
    eraser: &T,
    conn: &mut PgConnection,
    erasure: &Erasure,
) -> Result<Option<u64>, sqlx::Error> {
    if applied(conn, erasure.id).await? {
        return Ok(None);
    }
    let rows = eraser.erase(conn, erasure).await?;
    record(conn, erasure, rows).await?;
    Ok(Some(rows))
}

struct OnErasure<T>(T);

impl<T: Eraser> Handler<CustomerDataErased> for OnErasure<T> {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<CustomerDataErased>,
    ) -> Result<(), HandlerError> {
        let erasure = Erasure::from_event(&envelope.event)?;
        if let Some(rows) = apply_once(&self.0, tx, &erasure).await? {
            tracing::info!(
                erasure_id = %erasure.id,
                orders = erasure.order_ids.len(),
                rows,
                "personal data pseudonymised"
            );
        }
        Ok(())
    }
}

/// Subscribes the service to `CustomerDataErased`, applied with `eraser`.
pub async fn subscribe<T: Eraser>(
    bus: &Bus,
    host: &mut Host,
    eraser: T,
) -> Result<(), ConsumerError> {
    bus.consume::<CustomerDataErased, _>(host, OnErasure(eraser))
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn scrub() -> Scrub {
        let mut s = Scrub::new(Uuid::nil());
        s.add_contacts(&serde_json::json!({
            "id": "cust-1",
            "name": "Mei Lin",
            "email": "Mei.Lin@Example.com",
            "phone": "+49 30 1234567",
            "address": {"recipient": "Mei Lin", "line1": "Unter den Linden 1", "city": "Berlin"}
        }));
        s
    }

    #[test]
    fn pseudonyms_depend_on_the_erasure_and_the_kind_only() {
        let a = Uuid::new_v4();
        assert_eq!(pseudonym(a, Kind::Name), pseudonym(a, Kind::Name));
        assert_ne!(
            pseudonym(a, Kind::Name),
            pseudonym(Uuid::new_v4(), Kind::Name)
        );
        assert!(pseudonym(a, Kind::Email).starts_with("erased+"));
        assert!(pseudonym(a, Kind::Email).ends_with("@invalid"));
    }

    #[test]
    fn free_text_loses_every_value_and_keeps_the_rest() {
        let s = scrub();
        let text = "Call Mei Lin on +49301234567 or mei.lin@example.com; ships from Berlin";
        let out = s.text(text).unwrap();
        assert!(!out.contains("Mei Lin") && !out.contains("4930") && !out.contains("mei.lin"));
        assert!(out.contains("Berlin"), "cities are kept: {out}");
        assert_eq!(s.text("nothing here"), None);
    }

    #[test]
    fn json_contacts_are_pseudonymised_in_place() {
        let s = scrub();
        let mut v = serde_json::json!({"name": "Mei Lin", "email": "Mei.Lin@Example.com",
            "city": "Berlin", "lines": ["Unter den Linden 1"]});
        assert!(s.json(&mut v));
        assert_eq!(v["email"], pseudonym(Uuid::nil(), Kind::Email));
        assert_eq!(v["name"], pseudonym(Uuid::nil(), Kind::Name));
        assert_eq!(v["city"], "Berlin");
        assert_eq!(v["lines"][0], pseudonym(Uuid::nil(), Kind::Address));
    }

    #[test]
    fn a_protobuf_payload_is_masked_to_the_same_length_and_still_decodes() {
        use prost::Message as _;
        let s = scrub();
        let placed = contracts::orders::OrderPlaced {
            order_id: "o-1".into(),
            customer: Some(contracts::common::Customer {
                id: "cust-1".into(),
                name: "Mei Lin".into(),
                email: "Mei.Lin@Example.com".into(),
                phone: "+49 30 1234567".into(),
            }),
            ..Default::default()
        };
        let mut bytes = placed.encode_to_vec();
        let len = bytes.len();
        assert!(s.bytes(&mut bytes));
        assert_eq!(bytes.len(), len);
        let back = contracts::orders::OrderPlaced::decode(bytes.as_slice()).unwrap();
        let c = back.customer.unwrap();
        assert_eq!(back.order_id, "o-1");
        assert_eq!(c.id, "cust-1");
        assert!(c.email.ends_with("@invalid") && c.email.len() == "Mei.Lin@Example.com".len());
        assert!(!c.name.contains("Mei") && !c.phone.contains("1234567"));
    }

    #[test]
    fn phones_are_fingerprinted_on_their_digits() {
        assert_eq!(
            phone_fingerprint("+49 (30) 123-4567"),
            phone_fingerprint("+49301234567")
        );
        assert_eq!(phone_fingerprint("12"), "");
        assert_eq!(
            email_fingerprint(" Mei@Example.com"),
            email_fingerprint("mei@example.com")
        );
    }
}
