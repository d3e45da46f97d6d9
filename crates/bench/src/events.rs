//! Placed → confirmed (and → completed): a core NATS subscription to orders' events, matched by
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

struct State {
    window: Option<Window>,
    /// Orders answered, by id: when, and whether inside the window.
    placed: HashMap<String, (Instant, bool)>,
    /// Confirmations that arrived before their PlaceOrder answer was seen.
    early: HashMap<String, Instant>,
    placed_in_window: u64,
    /// Orders placed in the window that were confirmed, and when the last was.
    confirmed_of_window: u64,
    /// Confirmations (of any order this run placed) arriving inside the window.
    confirmed_in_window: u64,
    completed_in_window: u64,
    completed_total: u64,
    lag: Histogram<u64>,
}

/// What the subscription saw.
pub struct Seen {
    pub placed_in_window: u64,
    pub confirmed_of_window: u64,
    pub confirmed_in_window: u64,
    pub completed_in_window: u64,
    pub completed_total: u64,
    pub lag: Histogram<u64>,
}

impl Tracker {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(State {
                window: None,
                placed: HashMap::new(),
                early: HashMap::new(),
                placed_in_window: 0,
                confirmed_of_window: 0,
                confirmed_in_window: 0,
                completed_in_window: 0,
                completed_total: 0,
                lag: histogram(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set_window(&self, window: Window) {
        self.lock().window = Some(window);
    }

    pub fn placed(&self, order_id: String, at: Instant, in_window: bool) {
        let mut s = self.lock();
        if in_window {
            s.placed_in_window += 1;
        }
        if let Some(confirmed) = s.early.remove(&order_id) {
            s.count_confirmed(at, confirmed, in_window);
        } else {
            s.placed.insert(order_id, (at, in_window));
        }
    }

    fn confirmed(&self, order_id: &str, at: Instant) {
        let mut s = self.lock();
        match s.placed.remove(order_id) {
            Some((placed, in_window)) => s.count_confirmed(placed, at, in_window),
            None => {
                s.early.insert(order_id.to_owned(), at);
            }
        }
    }

    fn completed(&self, at: Instant) {
        let mut s = self.lock();
        s.completed_total += 1;
        if s.window.is_some_and(|w| w.contains(at)) {
            s.completed_in_window += 1;
        }
    }

    pub fn seen(&self) -> Seen {
        let s = self.lock();
        Seen {
            placed_in_window: s.placed_in_window,
            confirmed_of_window: s.confirmed_of_window,
            confirmed_in_window: s.confirmed_in_window,
            completed_in_window: s.completed_in_window,
            completed_total: s.completed_total,
            lag: s.lag.clone(),
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
            let confirmed = confirmed.map(|m| (true, m));
            let completed = completed.map(|m| (false, m));
            let mut both = futures::stream::select(confirmed, completed);
            while let Some((is_confirmed, message)) = both.next().await {
                let at = Instant::now();
                if !is_confirmed {
                    tracker.completed(at);
                    continue;
                }
                let order_id = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(messaging::envelope::CE_SUBJECT))
                    .map(|v| v.as_str().to_owned());
                if let Some(id) = order_id {
                    tracker.confirmed(&id, at);
                }
            }
        }))
    }
}

impl State {
    fn count_confirmed(&mut self, placed: Instant, confirmed: Instant, placed_in_window: bool) {
        if placed_in_window {
            self.confirmed_of_window += 1;
            record(&mut self.lag, confirmed.saturating_duration_since(placed));
        }
        if self.window.is_some_and(|w| w.contains(confirmed)) {
            self.confirmed_in_window += 1;
        }
    }
}
