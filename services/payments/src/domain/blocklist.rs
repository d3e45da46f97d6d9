//! Block lists: values an operator has marked as fraudulent (an e-mail, its domain, a phone, a
//! customer, a postal code, a country, an address, a payment token). Values are normalized
//! once, here, so an entry and an order's details compare equal however they were typed; a
//! payment token is kept only as its fingerprint.

use runtime::pan::{fingerprint, looks_like_card_number};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Email,
    EmailDomain,
    Phone,
    CustomerId,
    PostalCode,
    CountryCode,
    Address,
    PaymentToken,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Self::Email,
        Self::EmailDomain,
        Self::Phone,
        Self::CustomerId,
        Self::PostalCode,
        Self::CountryCode,
        Self::Address,
        Self::PaymentToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "EMAIL",
            Self::EmailDomain => "EMAIL_DOMAIN",
            Self::Phone => "PHONE",
            Self::CustomerId => "CUSTOMER_ID",
            Self::PostalCode => "POSTAL_CODE",
            Self::CountryCode => "COUNTRY_CODE",
            Self::Address => "ADDRESS",
            Self::PaymentToken => "PAYMENT_TOKEN",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// The risk reason code a match of this kind adds.
    pub fn reason_code(self) -> &'static str {
        match self {
            Self::Email => "blocklisted_email",
            Self::EmailDomain => "blocklisted_email_domain",
            Self::Phone => "blocklisted_phone",
            Self::CustomerId => "blocklisted_customer",
            Self::PostalCode => "blocklisted_postal_code",
            Self::CountryCode => "blocklisted_country",
            Self::Address => "blocklisted_address",
            Self::PaymentToken => "blocklisted_payment_token",
        }
    }
}

/// `value` in the canonical form of `kind`, or why it cannot be one.
pub fn normalize(kind: Kind, value: &str) -> Result<String, &'static str> {
    let value = value.trim();
    if value.is_empty() {
        return Err("is required");
    }
    if value.chars().count() > 254 {
        return Err("must be at most 254 characters");
    }
    if looks_like_card_number(value) {
        return Err("must not contain a payment card number");
    }
    match kind {
        Kind::Email => {
            let lower = value.to_lowercase();
            match lower.split_once('@') {
                Some((local, domain))
                    if !local.is_empty() && domain.contains('.') && !domain.contains('@') =>
                {
                    Ok(lower)
                }
                _ => Err("must be an e-mail address"),
            }
        }
        Kind::EmailDomain => {
            let lower = value.trim_start_matches('@').to_lowercase();
            if lower.contains('.') && !lower.contains('@') && !lower.contains(' ') {
                Ok(lower)
            } else {
                Err("must be a domain such as spam.example")
            }
        }
        Kind::Phone => normalize_phone(value).ok_or("must be a phone number in E.164 (+4930…)"),
        Kind::CustomerId => Ok(value.to_owned()),
        Kind::PostalCode => {
            let (country, code) = value
                .split_once(':')
                .ok_or("must be COUNTRY:CODE, e.g. DE:10115")?;
            let country = normalize_country(country).ok_or("must start with a country code")?;
            let code: String = code
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_uppercase();
            if code.is_empty() {
                Err("must be COUNTRY:CODE, e.g. DE:10115")
            } else {
                Ok(format!("{country}:{code}"))
            }
        }
        Kind::CountryCode => {
            normalize_country(value).ok_or("must be an ISO 3166-1 alpha-2 code (two letters)")
        }
        Kind::Address => {
            const FORM: &str = "must be COUNTRY:POSTAL CODE:street, e.g. DE:10115:Invalidenstr. 1";
            let mut parts = value.splitn(3, ':');
            let (Some(country), Some(code), Some(street)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(FORM);
            };
            let country = normalize_country(country).ok_or(FORM)?;
            let code: String = code
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_uppercase();
            let street = street.split_whitespace().collect::<Vec<_>>().join(" ");
            if code.is_empty() || street.is_empty() {
                return Err(FORM);
            }
            Ok(format!("{country}:{code}:{}", street.to_lowercase()))
        }
        Kind::PaymentToken => {
            if is_fingerprint(value) {
                Ok(value.to_owned())
            } else if value.starts_with("tok_") && !value.contains(char::is_whitespace) {
                Ok(fingerprint(value))
            } else {
                Err("must be a provider token (tok_…) or its fingerprint (fp_…)")
            }
        }
    }
}

fn is_fingerprint(value: &str) -> bool {
    value.len() == 35
        && value.starts_with("fp_")
        && value[3..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

fn normalize_country(raw: &str) -> Option<String> {
    let raw = raw.trim();
    (raw.len() == 2 && raw.chars().all(|c| c.is_ascii_alphabetic())).then(|| raw.to_uppercase())
}

/// `+` and digits only: "+49 (30) 123-45" → "+493012345".
fn normalize_phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let plausible = raw.trim_start().starts_with('+')
        && (7..=15).contains(&digits.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()./".contains(c));
    plausible.then(|| format!("+{digits}"))
}

/// The details of an order that block lists are checked against.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub customer_id: String,
    pub email: String,
    pub phones: Vec<String>,
    /// (country, postal code) of the shipping and billing addresses.
    pub postal_codes: Vec<(String, String)>,
    pub countries: Vec<String>,
    /// (country, postal code, first street line) of the shipping and billing addresses.
    pub addresses: Vec<(String, String, String)>,
    /// The payment token's fingerprint, when the method takes a token.
    pub token_fingerprint: String,
}

impl Subject {
    /// Every (kind, normalized value) of this order that an entry could match.
    pub fn candidates(&self) -> Vec<(Kind, String)> {
        let mut out = Vec::new();
        if let Ok(v) = normalize(Kind::CustomerId, &self.customer_id) {
            out.push((Kind::CustomerId, v));
        }
        if let Ok(email) = normalize(Kind::Email, &self.email) {
            if let Some((_, domain)) = email.split_once('@') {
                out.push((Kind::EmailDomain, domain.to_owned()));
            }
            out.push((Kind::Email, email));
        }
        for phone in &self.phones {
            if let Ok(v) = normalize(Kind::Phone, phone) {
                out.push((Kind::Phone, v));
            }
        }
        for (country, code) in &self.postal_codes {
            if let Ok(v) = normalize(Kind::PostalCode, &format!("{country}:{code}")) {
                out.push((Kind::PostalCode, v));
            }
        }
        for country in &self.countries {
            if let Ok(v) = normalize(Kind::CountryCode, country) {
                out.push((Kind::CountryCode, v));
            }
        }
        for (country, code, street) in &self.addresses {
            if let Ok(v) = normalize(Kind::Address, &format!("{country}:{code}:{street}")) {
                out.push((Kind::Address, v));
            }
        }
        if is_fingerprint(&self.token_fingerprint) {
            out.push((Kind::PaymentToken, self.token_fingerprint.clone()));
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_normalized_per_kind() {
        assert_eq!(
            normalize(Kind::Email, " Fraud@Spam.Example ").unwrap(),
            "fraud@spam.example"
        );
        assert_eq!(
            normalize(Kind::EmailDomain, "@SPAM.example").unwrap(),
            "spam.example"
        );
        assert_eq!(
            normalize(Kind::Phone, "+49 (30) 123-4567").unwrap(),
            "+49301234567"
        );
        assert_eq!(
            normalize(Kind::PostalCode, "de: 101 15").unwrap(),
            "DE:10115"
        );
        assert_eq!(normalize(Kind::CountryCode, "fr").unwrap(), "FR");
        assert_eq!(
            normalize(Kind::Address, "de: 101 15 :  Invalidenstr.   1 ").unwrap(),
            "DE:10115:invalidenstr. 1"
        );
        let fp = normalize(Kind::PaymentToken, "tok_stolen").unwrap();
        assert_eq!(fp, fingerprint("tok_stolen"));
        assert_eq!(normalize(Kind::PaymentToken, &fp).unwrap(), fp);
    }

    #[test]
    fn malformed_values_and_card_numbers_are_refused() {
        assert!(normalize(Kind::Email, "nobody").is_err());
        assert!(normalize(Kind::Phone, "030 1234567").is_err());
        assert!(normalize(Kind::PostalCode, "10115").is_err());
        assert!(normalize(Kind::CountryCode, "DEU").is_err());
        assert!(normalize(Kind::CustomerId, "4111 1111 1111 1111").is_err());
        assert!(normalize(Kind::CustomerId, "").is_err());
        assert!(normalize(Kind::Address, "DE:10115").is_err());
        assert!(normalize(Kind::PaymentToken, "visa").is_err());
        assert!(normalize(Kind::PaymentToken, "4111111111111111").is_err());
    }

    #[test]
    fn an_order_offers_its_email_domain_phones_postcodes_and_countries() {
        let subject = Subject {
            customer_id: "c-1".into(),
            email: "A@Spam.Example".into(),
            phones: vec!["+49 30 1234567".into()],
            postal_codes: vec![("DE".into(), "10117".into())],
            countries: vec!["DE".into(), "DE".into()],
            addresses: vec![("DE".into(), "10117".into(), "Unter den Linden 1".into())],
            token_fingerprint: fingerprint("tok_visa"),
        };
        let kinds: Vec<_> = subject.candidates().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            kinds,
            [
                Kind::Email,
                Kind::EmailDomain,
                Kind::Phone,
                Kind::CustomerId,
                Kind::PostalCode,
                Kind::CountryCode,
                Kind::Address,
                Kind::PaymentToken
            ]
        );
    }
}
