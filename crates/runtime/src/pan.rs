//! Recognising a payment card number (PAN) wherever it is typed, so that none is ever stored or
//! logged: 13–19 digits, optionally grouped by spaces or dashes, passing the Luhn check.

pub fn looks_like_card_number(text: &str) -> bool {
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
}
