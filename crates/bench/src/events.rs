//! Placed → confirmed → completed: a core NATS subscription to orders' events, matched by
//! `ce-subject` (the order id) against the time PlaceOrder answered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures::StreamExt as _;
use hdrhistogram::Histogram;

use crate::load::{Window, histogram, record};

#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Mutex<State>>,
}

/// An order this run placed.
struct Placed {
    at: Instant,
    in_window: bool,
    confirmed: bool,
    completed: bool,
}

/// Which of orders' events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Milestone {
    Confirmed,
    Completed,
}

struct State {
    /// When the tracker was made (the start of the load, warm-up included): second 0 of the
    /// completion timeline.
    origin: Instant,
    window: Option<Window>,
    /// Orders answered, by id.
    placed: HashMap<String, Placed>,
    /// Events that arrived before their PlaceOrder answer was seen.
    early: HashMap<String, Vec<(Milestone, Instant)>>,
    placed_in_window: u64,
    /// Orders placed in the window that were confirmed.
    confirmed_of_window: u64,
    /// Confirmations (of any order this run placed) arriving inside the window.
    confirmed_in_window: u64,
    /// Orders placed in the window that completed.
    completed_of_window: u64,
    /// Completions (of any order this run placed) arriving inside the window.
    completed_in_window: u64,
    /// Every `order.completed` seen, this run's orders or not.
    completed_total: u64,
    /// Completions of this run's orders per second since `origin`.
    completed_timeline: Vec<u64>,
    lag: Histogram<u64>,
    completion_lag: Histogram<u64>,
}

/// What the subscription saw.
pub struct Seen {
    pub placed_in_window: u64,
    pub confirmed_of_window: u64,
    pub confirmed_in_window: u64,
    pub completed_of_window: u64,
    pub completed_in_window: u64,
    pub completed_total: u64,
    pub completed_timeline: Vec<u64>,
    /// Placed → confirmed, orders placed in the window.
    pub lag: Histogram<u64>,
    /// Placed → completed, orders placed in the window.
    pub completion_lag: Histogram<u64>,
}

impl Tracker {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(State {
                origin: Instant::now(),
                window: None,
                placed: HashMap::new(),
                early: HashMap::new(),
                placed_in_window: 0,
                confirmed_of_window: 0,
                confirmed_in_window: 0,
                completed_of_window: 0,
                completed_in_window: 0,
                completed_total: 0,
                completed_timeline: Vec::new(),
                lag: histogram(),
                completion_lag: histogram(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set_window(&self, window: Window) {
        self.lock().window = Some(window);
    }

    pub fn placed(&self, order_id: &str, at: Instant, in_window: bool) {
        let mut s = self.lock();
        if in_window {
            s.placed_in_window += 1;
        }
        let early = s.early.remove(order_id).unwrap_or_default();
        s.placed.insert(
            order_id.to_owned(),
            Placed {
                at,
                in_window,
                confirmed: false,
                completed: false,
            },
        );
        for (milestone, when) in early {
            s.reached(order_id, milestone, when);
        }
    }

    fn event(&self, order_id: &str, milestone: Milestone, at: Instant) {
        let mut s = self.lock();
        if milestone == Milestone::Completed {
            s.completed_total += 1;
        }
        if s.placed.contains_key(order_id) {
            s.reached(order_id, milestone, at);
        } else {
            s.early
                .entry(order_id.to_owned())
                .or_default()
                .push((milestone, at));
        }
    }

    pub fn seen(&self) -> Seen {
        let s = self.lock();
        Seen {
            placed_in_window: s.placed_in_window,
            confirmed_of_window: s.confirmed_of_window,
            confirmed_in_window: s.confirmed_in_window,
            completed_of_window: s.completed_of_window,
            completed_in_window: s.completed_in_window,
            completed_total: s.completed_total,
            completed_timeline: s.completed_timeline.clone(),
            lag: s.lag.clone(),
            completion_lag: s.completion_lag.clone(),
        }
    }

    /// Subscribes to `<root>.orders.order.confirmed` and `.completed` until the task is dropped.
    pub async fn subscribe(
        &self,
        nats: &async_nats::Client,
        root: &str,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let confirmed = nats
            .subscribe(format!("{root}.orders.order.confirmed"))
            .await?;
        let completed = nats
            .subscribe(format!("{root}.orders.order.completed"))
            .await?;
        nats.flush().await?;
        let tracker = self.clone();
        Ok(tokio::spawn(async move {
            let confirmed = confirmed.map(|m| (Milestone::Confirmed, m));
            let completed = completed.map(|m| (Milestone::Completed, m));
            let mut both = futures::stream::select(confirmed, completed);
            while let Some((milestone, message)) = both.next().await {
                let at = Instant::now();
                let order_id = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(messaging::envelope::CE_SUBJECT))
                    .map(|v| v.as_str().to_owned());
                if let Some(id) = order_id {
                    tracker.event(&id, milestone, at);
                }
            }
        }))
    }
}

impl State {
    /// Counts a milestone of a placed order once (a core subscription can see an event twice
    /// when a relay republishes it).
    fn reached(&mut self, order_id: &str, milestone: Milestone, at: Instant) {
        let window = self.window;
        let in_run_window = window.is_some_and(|w| w.contains(at));
        let Some(order) = self.placed.get_mut(order_id) else {
            return;
        };
        let (placed, placed_in_window) = (order.at, order.in_window);
        match milestone {
            Milestone::Confirmed if !order.confirmed => {
                order.confirmed = true;
                if placed_in_window {
                    self.confirmed_of_window += 1;
                    record(&mut self.lag, at.saturating_duration_since(placed));
                }
                if in_run_window {
                    self.confirmed_in_window += 1;
                }
            }
            Milestone::Completed if !order.completed => {
                order.completed = true;
                if placed_in_window {
                    self.completed_of_window += 1;
                    record(
                        &mut self.completion_lag,
                        at.saturating_duration_since(placed),
                    );
                }
                if in_run_window {
                    self.completed_in_window += 1;
                }
                let second = at.saturating_duration_since(self.origin).as_secs() as usize;
                if self.completed_timeline.len() <= second {
                    self.completed_timeline.resize(second + 1, 0);
                }
                self.completed_timeline[second] += 1;
            }
            Milestone::Confirmed | Milestone::Completed => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn tracker_with_window(origin: Instant) -> Tracker {
        let t = Tracker::new();
        t.lock().origin = origin;
        t.set_window(Window {
            start: origin + Duration::from_secs(1),
            end: origin + Duration::from_secs(11),
        });
        t
    }

    #[test]
    fn a_completion_counts_once_with_its_lag_from_the_placement() {
        let t0 = Instant::now();
        let t = tracker_with_window(t0);
        let placed = t0 + Duration::from_secs(2);
        t.placed("o1", placed, true);
        t.event("o1", Milestone::Confirmed, placed + Duration::from_secs(1));
        t.event("o1", Milestone::Completed, placed + Duration::from_secs(5));
        t.event("o1", Milestone::Completed, placed + Duration::from_secs(6));
        let seen = t.seen();
        assert_eq!(seen.confirmed_of_window, 1);
        assert_eq!(seen.completed_of_window, 1);
        assert_eq!(seen.completed_in_window, 1);
        assert_eq!(seen.completed_total, 2, "every event seen");
        assert_eq!(seen.completion_lag.len(), 1);
        let lag_ms = seen.completion_lag.max() / 1000;
        assert!((4_990..=5_010).contains(&lag_ms), "{lag_ms}");
        assert_eq!(seen.completed_timeline, vec![0, 0, 0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn completions_after_the_window_count_for_the_drain_not_the_rate() {
        let t0 = Instant::now();
        let t = tracker_with_window(t0);
        t.placed("o1", t0 + Duration::from_secs(5), true);
        t.event("o1", Milestone::Completed, t0 + Duration::from_secs(20));
        let seen = t.seen();
        assert_eq!(seen.completed_of_window, 1);
        assert_eq!(seen.completed_in_window, 0);
    }

    #[test]
    fn an_event_before_the_placement_answer_is_matched_when_the_answer_arrives() {
        let t0 = Instant::now();
        let t = tracker_with_window(t0);
        t.event("o1", Milestone::Confirmed, t0 + Duration::from_secs(3));
        t.placed("o1", t0 + Duration::from_secs(3), true);
        assert_eq!(t.seen().confirmed_of_window, 1);
    }

    #[test]
    fn orders_of_another_run_do_not_count_as_cycles_of_this_one() {
        let t0 = Instant::now();
        let t = tracker_with_window(t0);
        t.event(
            "elsewhere",
            Milestone::Completed,
            t0 + Duration::from_secs(3),
        );
        let seen = t.seen();
        assert_eq!(seen.completed_in_window, 0);
        assert_eq!(seen.completed_total, 1);
    }
}
