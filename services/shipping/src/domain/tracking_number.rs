//! Tracking numbers in the UPU S10 shape (`SP123456785DE`): the carrier's two-letter prefix,
//! an eight-digit serial, the S10 check digit and the origin country. Carriers' scanners and
//! customers' eyes both know the shape, and the check digit catches a mistyped number before
//! it reaches the database.

/// S10 weights for the eight serial digits.
const WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];

/// The S10 check digit of an eight-digit serial.
pub fn check_digit(serial: u32) -> u32 {
    let digits = format!("{:08}", serial % 100_000_000);
    let sum: u32 = digits
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        c => c,
    }
}

/// The tracking number for `serial` (taken from a database sequence, so unique).
pub fn format(prefix: &str, serial: i64, origin_country: &str) -> String {
    // Eight digits wrap after 10^8 numbers; the prefix and country keep collisions apart in
    // practice, and the store's unique index refuses a real one.
    let serial = u32::try_from(serial.rem_euclid(100_000_000)).unwrap_or(0);
    let country = if origin_country.len() == 2 {
        origin_country
    } else {
        "ZZ"
    };
    format!("{prefix}{serial:08}{}{country}", check_digit(serial))
}

/// Whether `s` has the S10 shape with a correct check digit.
pub fn is_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 13
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[11..].iter().all(u8::is_ascii_uppercase)
        || !b[2..11].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let serial: u32 = s[2..10].parse().unwrap_or(u32::MAX);
    u32::from(b[10] - b'0') == check_digit(serial)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_check_digit_follows_s10() {
        // 1·8 + 2·6 + 3·4 + 4·2 + 5·3 + 6·5 + 7·9 + 8·7 = 204; 204 mod 11 = 6; 11 − 6 = 5.
        assert_eq!(check_digit(12_345_678), 5);
        assert_eq!(format("EE", 12_345_678, "DE"), "EE123456785DE");
        assert!(is_valid("EE123456785DE"));
        assert!(!is_valid("EE123456786DE"));
    }

    proptest! {
        #[test]
        fn every_formatted_number_is_valid(serial in 0i64..1_000_000_000) {
            prop_assert!(is_valid(&format("SP", serial, "DE")));
        }
    }
}
