//! The one clock every timer, TTL and deadline reads.
//!
//! In production it is wall time. With a scale above 1 (`OC_CLOCK_SCALE=600`: ten minutes
//! pass per real second) it runs faster from the moment it was made, so a demo or a test can
//! watch an auto-accept window or an installment schedule pass in seconds. The scaled clock
//! starts at the real time of its creation: timestamps it produced are comparable with wall
//! time at that instant and move ahead of it afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound as _, Utc};

#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

struct Inner {
    origin_wall: DateTime<Utc>,
    origin: Instant,
    scale: f64,
}

impl Clock {
    pub fn system() -> Self {
        Self::scaled(1.0)
    }

    pub fn scaled(scale: f64) -> Self {
        Self {
            inner: Arc::new(Inner {
                origin_wall: Utc::now(),
                origin: Instant::now(),
                scale,
            }),
        }
    }

    pub fn scale(&self) -> f64 {
        self.inner.scale
    }

    /// The current time, to the microsecond: what Postgres stores, so a value read back
    /// equals the value written.
    pub fn now(&self) -> DateTime<Utc> {
        self.precise_now().trunc_subsecs(6)
    }

    fn precise_now(&self) -> DateTime<Utc> {
        if self.inner.scale == 1.0 {
            return Utc::now();
        }
        let real = self.inner.origin.elapsed();
        let scaled = real.mul_f64(self.inner.scale);
        self.inner.origin_wall + chrono::Duration::from_std(scaled).unwrap_or(chrono::Duration::MAX)
    }

    /// How long to sleep in real time for `duration` of clock time to pass.
    pub fn real_duration(&self, duration: Duration) -> Duration {
        duration.div_f64(self.inner.scale)
    }

    /// Sleeps until the clock reads `at` (returns at once if it already has).
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        let remaining = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(self.real_duration(remaining)).await;
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("scale", &self.inner.scale)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_clock_runs_ahead_of_wall_time() {
        let clock = Clock::scaled(3600.0);
        std::thread::sleep(Duration::from_millis(20));
        let ahead = clock.now() - Utc::now();
        // 20 ms real at 3600x is 72 s of clock time.
        assert!(ahead >= chrono::Duration::seconds(60), "{ahead}");
    }

    #[test]
    fn real_duration_divides_by_the_scale() {
        let clock = Clock::scaled(600.0);
        assert_eq!(
            clock.real_duration(Duration::from_secs(600)),
            Duration::from_secs(1)
        );
    }
}
