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

/// How much wider each histogram bin is than the one before (SQL `rollup_bin`): a duration is
/// read back within 1 % of itself.
pub const BIN_GROWTH: f64 = 1.02;

/// Durations counted per bin (`rollup_durations`): bin 0 holds up to 1 ms, bin b ≥ 1 holds
/// (1 ms·γ^(b−1), 1 ms·γ^b]. Quantiles come back at bin resolution: within 1 % above 1 ms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    bins: std::collections::BTreeMap<i32, i64>,
    samples: i64,
    micros: i64,
}

impl Histogram {
    pub fn add(&mut self, bin: i32, samples: i64, micros: i64) {
        *self.bins.entry(bin).or_default() += samples;
        self.samples += samples;
        self.micros += micros;
    }

    pub fn samples(&self) -> i64 {
        self.samples
    }

    /// The exact mean, in seconds (the bins keep the sum of their durations).
    pub fn mean(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.micros as f64 / self.samples as f64 / 1e6)
    }

    /// The `q`-quantile in seconds, interpolated between neighbouring ranks the way
    /// `percentile_cont` does, each rank read as its bin's value.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.samples == 0 {
            return None;
        }
        let position = q.clamp(0.0, 1.0) * (self.samples - 1) as f64;
        let below = position.floor();
        let (low, high) = (
            self.at_rank(below as i64),
            self.at_rank(position.ceil() as i64),
        );
        Some(low + (high - low) * (position - below))
    }

    /// The largest duration at bin resolution.
    pub fn max(&self) -> Option<f64> {
        self.bins
            .iter()
            .rev()
            .find(|(_, n)| **n > 0)
            .map(|(bin, _)| bin_value(*bin))
    }

    fn at_rank(&self, rank: i64) -> f64 {
        let mut seen = 0;
        for (bin, n) in &self.bins {
            seen += n;
            if rank < seen {
                return bin_value(*bin);
            }
        }
        self.max().unwrap_or(0.0)
    }
}

/// The duration, in seconds, a bin stands for: the point of least relative error in it.
pub fn bin_value(bin: i32) -> f64 {
    if bin <= 0 {
        return 0.0005;
    }
    let upper = 1e-3 * BIN_GROWTH.powi(bin);
    2.0 * upper / (BIN_GROWTH + 1.0)
}

/// The bin of a duration in microseconds (SQL `rollup_bin`).
pub fn bin_of(micros: i64) -> i32 {
    if micros <= 1000 {
        0
    } else {
        ((micros as f64 / 1000.0).ln() / BIN_GROWTH.ln()).ceil() as i32
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

    #[test]
    fn a_histogram_reads_durations_back_within_one_percent() {
        for micros in [
            1_001_i64,
            20_000,
            1_200_000,
            7_200_000_000,
            86_400_000_000 * 30,
        ] {
            let value = bin_value(bin_of(micros)) * 1e6;
            let error = (value - micros as f64).abs() / micros as f64;
            assert!(error <= 0.01, "{micros} µs read back as {value} µs");
        }
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        for secs in 1..=100_i64 {
            let micros = secs * 1_000_000;
            h.add(bin_of(micros), 1, micros);
        }
        assert_eq!(h.samples(), 100);
        assert_eq!(h.mean(), Some(50.5));
        let p90 = h.quantile(0.9).unwrap();
        assert!((p90 - 90.1).abs() / 90.1 <= 0.011, "{p90}");
        let max = h.max().unwrap();
        assert!((max - 100.0).abs() <= 1.0, "{max}");
    }

    proptest! {
        #[test]
        fn histogram_quantiles_stay_within_one_percent_of_the_exact_ones(
            mut micros in proptest::collection::vec(2_000_i64..10_000_000_000, 1..300),
            q in 0.0f64..1.0,
        ) {
            let mut h = Histogram::default();
            for m in &micros {
                h.add(bin_of(*m), 1, *m);
            }
            micros.sort_unstable();
            let position = q * (micros.len() - 1) as f64;
            let (lo, hi) = (micros[position.floor() as usize] as f64, micros[position.ceil() as usize] as f64);
            let exact = (lo + (hi - lo) * (position - position.floor())) / 1e6;
            let read = h.quantile(q).unwrap();
            prop_assert!((read - exact).abs() <= exact * 0.0101, "{read} vs {exact}");
        }
    }
}
