//! Recipients: the checks an address, a phone number and a locale tag must pass to be stored,
//! and the masked forms that lists and logs may show (`m***@example.com`, `+49******678`).

/// A plausible e-mail address: one `@`, a non-empty local part, a dotted domain, no spaces or
/// control characters, at most 254 characters (RFC 5321's path limit). Deliverability is the
/// mail server's business.
pub fn is_email(text: &str) -> bool {
    if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains('@')
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

/// E.164: `+`, then 8 to 15 digits, the first not 0.
pub fn is_e164(text: &str) -> bool {
    let Some(digits) = text.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A BCP 47-shaped tag (`en`, `zh-CN`, `de-DE`, `zh-Hans-CN`): a 2–3 letter language, then
/// subtags of 2–8 letters or digits. Whether templates exist for it is decided at rendering,
/// which falls back.
pub fn is_locale(text: &str) -> bool {
    let mut parts = text.split('-');
    let Some(language) = parts.next() else {
        return false;
    };
    text.len() <= 35
        && (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// What lists may show of an e-mail address, a phone number or a push token.
pub fn mask(recipient: &str) -> String {
    if recipient.is_empty() {
        return String::new();
    }
    if let Some((local, domain)) = recipient.rsplit_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let chars: Vec<char> = recipient.chars().collect();
    if recipient.starts_with('+') && chars.len() > 7 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 3..].iter().collect();
        return format!("{head}{}{tail}", "*".repeat(chars.len() - 6));
    }
    // A push token: enough to tell two devices apart, not enough to use.
    let head: String = chars.iter().take(4).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_addresses_pass_and_others_do_not() {
        assert!(is_email("mei.lin+shop@example.com"));
        assert!(is_email("李@例子.中国"));
        for bad in [
            "",
            "mei",
            "@example.com",
            "mei@",
            "mei@localhost",
            "m ei@example.com",
            "mei@example..com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn e164_numbers_need_a_plus_and_8_to_15_digits() {
        assert!(is_e164("+4915112345678"));
        assert!(is_e164("+8613800138000"));
        for bad in [
            "4915112345678",
            "+0151123456",
            "+49 151 1234",
            "+1234567",
            "+1234567890123456",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn locale_tags_are_bcp47_shaped() {
        for good in ["en", "zh-CN", "de-DE", "zh-Hans-CN", "es-419"] {
            assert!(is_locale(good), "{good}");
        }
        for bad in ["", "e", "english", "zh_CN", "zh-", "zh-C"] {
            assert!(!is_locale(bad), "{bad}");
        }
    }

    #[test]
    fn masks_hide_most_of_the_recipient() {
        assert_eq!(mask("mei@example.com"), "m***@example.com");
        assert_eq!(mask("+4915112345678"), "+49********678");
        assert_eq!(mask("tok-abcdef123"), "tok-…");
        assert_eq!(mask(""), "");
    }
}
