//! The scale against the catalog: a parcel whose weight is far from what its contents should
//! weigh is flagged for a person (wrong item, missing item, wrong quantity).

#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    /// Allowed deviation as a share of the expected weight (0.10 = 10 %).
    pub share: f64,
    /// Allowed deviation in grams for light parcels, and the packaging's weight.
    pub grams: i32,
}

impl Default for Tolerance {
    fn default() -> Self {
        Self {
            share: 0.10,
            grams: 150,
        }
    }
}

/// Whether `actual` grams is acceptable for contents expected to weigh `expected` grams
/// (packaging adds up to `tolerance.grams`).
pub fn within(tolerance: Tolerance, expected: i32, actual: i32) -> bool {
    let allowed = ((f64::from(expected) * tolerance.share).round() as i32).max(tolerance.grams);
    actual >= expected - allowed && actual <= expected + tolerance.grams + allowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packaging_and_a_small_deviation_pass() {
        let t = Tolerance::default();
        assert!(within(t, 1000, 1000));
        assert!(within(t, 1000, 1200));
        assert!(within(t, 1000, 920));
    }

    #[test]
    fn a_missing_or_extra_item_is_flagged() {
        let t = Tolerance::default();
        assert!(!within(t, 1000, 500));
        assert!(!within(t, 1000, 1600));
    }
}
