//! Named crash points for fault tests. A point armed with [`Action::Crash`] makes the task
//! that reaches it stop as if its process had died there (its transaction is dropped, nothing
//! after the point runs); [`Action::Abort`] really aborts the process, for tests that run
//! services as separate processes (`OC_FAILPOINTS=after_publish_before_mark=abort`).
//! Unarmed points cost one uncontended lock and a hash lookup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The relay has locked committed rows (the business transaction is done) but not published them.
pub const AFTER_COMMIT_BEFORE_PUBLISH: &str = "after_commit_before_publish";
/// The relay's events are in the stream but the rows are not yet marked as sent.
pub const AFTER_PUBLISH_BEFORE_MARK: &str = "after_publish_before_mark";
/// A consumer's handler did its work — including what lies outside the database, such as a
/// payment provider's answer — but its transaction is not committed. Also armed for one
/// subject only as `after_effect_before_commit@<subject>` (e.g. `@orders.payment.requested`).
pub const AFTER_EFFECT_BEFORE_COMMIT: &str = "after_effect_before_commit";
/// A consumer committed the handler's effect but has not acked the message.
pub const AFTER_EFFECT_BEFORE_ACK: &str = "after_effect_before_ack";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Crash,
    Abort,
}

#[derive(Debug, Clone, Default)]
pub struct FailPoints {
    armed: Arc<Mutex<HashMap<String, (Action, u32)>>>,
}

impl FailPoints {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `name=action[*count],…` (e.g. `after_publish_before_mark=abort`).
    pub fn from_spec(spec: &str) -> Self {
        let points = Self::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, rest) = item.split_once('=').unwrap_or((item, "crash"));
            let (action, count) = rest.split_once('*').unwrap_or((rest, "1"));
            let action = if action == "abort" {
                Action::Abort
            } else {
                Action::Crash
            };
            points.arm(name, action, count.parse().unwrap_or(1));
        }
        points
    }

    /// Arms `name` to trigger the next `times` times it is reached.
    pub fn arm(&self, name: &str, action: Action, times: u32) {
        if let Ok(mut armed) = self.armed.lock() {
            armed.insert(name.to_owned(), (action, times));
        }
    }

    /// True when the caller must stop here as if crashed.
    pub fn hit(&self, name: &str) -> bool {
        let Ok(mut armed) = self.armed.lock() else {
            return false;
        };
        let Some((action, remaining)) = armed.get_mut(name) else {
            return false;
        };
        if *remaining == 0 {
            return false;
        }
        *remaining -= 1;
        tracing::warn!(failpoint = name, "fail point reached");
        if *action == Action::Abort {
            std::process::abort();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_point_triggers_as_many_times_as_asked() {
        let points = FailPoints::from_spec("after_effect_before_ack=crash*2");
        assert!(points.hit(AFTER_EFFECT_BEFORE_ACK));
        assert!(points.hit(AFTER_EFFECT_BEFORE_ACK));
        assert!(!points.hit(AFTER_EFFECT_BEFORE_ACK));
        assert!(!points.hit(AFTER_PUBLISH_BEFORE_MARK));
    }
}
