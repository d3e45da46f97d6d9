//! Payment data that must never be stored or logged as typed: recognising a payment card
//! number (PAN) wherever it appears (13–19 digits, optionally grouped by spaces or dashes,
//! passing the Luhn check), and the one-way fingerprint of a provider token that risk scoring
//! and block lists compare instead of the token.

use sha2::{Digest as _, Sha256};

/// `fp_` and the first 32 hex digits of the SHA-256 of the trimmed token: the same token
/// always gives the same fingerprint, and the fingerprint does not give the token back.
pub fn fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.trim().as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("fp_{hex}")
}

/// Whether `text` holds a card number. A UUID is never one, though its groups can read as
/// one (`02233350-7650-4449-aa39-…`: 16 digits passing Luhn; about 1 random UUID in 450), so
/// UUIDs are taken out first — a UUID request id must not be refused as a card number.
pub fn looks_like_card_number(text: &str) -> bool {
    let text = without_uuids(text);
    let mut digits = Vec::with_capacity(19);
    // Scan runs of digits joined by single spaces or dashes.
    for run in text.split(|c: char| !(c.is_ascii_digit() || c == ' ' || c == '-')) {
        digits.clear();
        for c in run.chars() {
            if let Some(d) = c.to_digit(10) {
                digits.push(d);
            }
        }
        if (13..=19).contains(&digits.len()) && luhn(&digits) {
            return true;
        }
    }
    false
}

/// `text` with every UUID in its 8-4-4-4-12 hex form (not touching other letters or digits)
/// replaced by `_`s.
fn without_uuids(text: &str) -> std::borrow::Cow<'_, str> {
    const LEN: usize = 36;
    let bytes = text.as_bytes();
    let alnum = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_alphanumeric);
    let uuid_at = |i: usize| {
        // The first dash rules out nearly every position at once: this runs on every validated
        // text field of PlaceOrder.
        bytes.get(i + 8) == Some(&b'-')
            && bytes.get(i..i + LEN).is_some_and(|b| {
                b.iter().enumerate().all(|(k, c)| match k {
                    8 | 13 | 18 | 23 => *c == b'-',
                    _ => c.is_ascii_hexdigit(),
                })
            })
            && (i == 0 || !alnum(i - 1))
            && !alnum(i + LEN)
    };
    let found: Vec<usize> = (0..bytes.len()).filter(|&i| uuid_at(i)).collect();
    if found.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut masked = bytes.to_vec();
    for i in found {
        masked[i..i + LEN].fill(b'_');
    }
    // Only ASCII bytes were replaced, by ASCII: still UTF-8.
    std::borrow::Cow::Owned(String::from_utf8(masked).unwrap_or_default())
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_fingerprint_is_stable_and_hides_the_token() {
        let fp = fingerprint("tok_visa");
        assert_eq!(fp, fingerprint(" tok_visa "));
        assert_ne!(fp, fingerprint("tok_visa2"));
        assert_eq!(fp.len(), 3 + 32);
        assert!(fp.starts_with("fp_") && !fp.contains("visa"));
    }

    #[test]
    fn test_card_numbers_are_recognised_in_any_grouping() {
        assert!(looks_like_card_number("4111111111111111"));
        assert!(looks_like_card_number("4111 1111 1111 1111"));
        assert!(looks_like_card_number(
            "card: 5555-5555-5555-4444 exp 12/29"
        ));
    }

    #[test]
    fn tokens_phone_numbers_and_postcodes_are_not_card_numbers() {
        assert!(!looks_like_card_number("tok_visa"));
        assert!(!looks_like_card_number("+86 138 0013 8000"));
        assert!(!looks_like_card_number("100080"));
        // 16 digits failing Luhn.
        assert!(!looks_like_card_number("4111111111111112"));
    }

    #[test]
    fn uuids_are_not_card_numbers_even_when_their_digit_groups_pass_luhn() {
        // "02233350-7650-4449-" alone is 16 digits passing Luhn.
        assert!(looks_like_card_number("02233350-7650-4449-"));
        for id in [
            "02233350-7650-4449-aa39-6bee4b52c31f",
            "7f1d1fd5-bcac-48f7-8880-2161849739b7",
            "02ACC773-061B-44B3-8992-203667062EB7",
        ] {
            assert!(!looks_like_card_number(id), "{id}");
            assert!(
                !looks_like_card_number(&format!("order {id} retry")),
                "{id}"
            );
        }
        // A card number next to a UUID is still found.
        assert!(looks_like_card_number(
            "02233350-7650-4449-aa39-6bee4b52c31f 4111 1111 1111 1111"
        ));
    }
}
