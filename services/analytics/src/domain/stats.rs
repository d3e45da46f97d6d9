//! Figures derived from counts: rates, Net Promoter Score, averages of money.

/// `numerator / denominator`, 0 when there is nothing to divide by.
pub fn ratio(numerator: i64, denominator: i64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// `total / count` rounded down to a minor unit; `None` without a count.
pub fn average_floor(total: i64, count: i64) -> Option<i64> {
    (count > 0).then(|| total.div_euclid(count))
}

/// Calendar months since year 0 of `at` in UTC: the difference of two is how many months apart
/// they are.
pub fn month_index(at: chrono::DateTime<chrono::Utc>) -> i64 {
    use chrono::Datelike as _;
    i64::from(at.year()) * 12 + i64::from(at.month0())
}

/// Survey answers on the 0–10 "would you recommend" scale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nps {
    pub promoters: i64,
    pub passives: i64,
    pub detractors: i64,
}

impl Nps {
    /// Counts one answer: 9–10 promoter, 7–8 passive, 0–6 detractor.
    pub fn add(&mut self, score: i32) {
        match score {
            9.. => self.promoters += 1,
            7..=8 => self.passives += 1,
            _ => self.detractors += 1,
        }
    }

    /// % promoters − % detractors, −100 to 100; 0 without answers.
    pub fn score(&self) -> f64 {
        let answers = self.promoters + self.passives + self.detractors;
        100.0 * (ratio(self.promoters, answers) - ratio(self.detractors, answers))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_rate_without_a_denominator_is_zero() {
        assert_eq!(ratio(3, 0), 0.0);
        assert_eq!(ratio(1, 4), 0.25);
    }

    #[test]
    fn averages_round_down_to_a_minor_unit() {
        assert_eq!(average_floor(10, 3), Some(3));
        assert_eq!(average_floor(10, 0), None);
    }

    #[test]
    fn nps_counts_promoters_minus_detractors() {
        let mut nps = Nps::default();
        for score in [10, 9, 8, 6, 0] {
            nps.add(score);
        }
        assert_eq!((nps.promoters, nps.passives, nps.detractors), (2, 1, 2));
        assert_eq!(nps.score(), 0.0);
        assert_eq!(Nps::default().score(), 0.0);
    }

    proptest! {
        #[test]
        fn nps_stays_within_its_scale(scores in proptest::collection::vec(0i32..=10, 0..50)) {
            let mut nps = Nps::default();
            for s in &scores { nps.add(*s); }
            let score = nps.score();
            prop_assert!((-100.0..=100.0).contains(&score));
            prop_assert_eq!(nps.promoters + nps.passives + nps.detractors, scores.len() as i64);
        }

        #[test]
        fn rates_of_parts_stay_between_zero_and_one(part in 0i64..1000, extra in 0i64..1000) {
            let rate = ratio(part, part + extra);
            prop_assert!((0.0..=1.0).contains(&rate));
        }
    }
}
