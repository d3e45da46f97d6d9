//! Admission control on every gRPC server: what keeps a service fast under more load than it
//! can take, and one caller from starving the others. Both live in one tower layer ([`Shed`]) inside authentication, so it knows the caller; health
//! checks pass untouched (a probe refused under load would get a busy pod restarted).
//!
//! - **Per-caller rate limit** ([`RateLimiter`]): a token bucket per caller — the authenticated
//!   subject, or the peer address of an anonymous caller — refilled at
//!   `OC_RATE_LIMIT_PER_SEC` up to `OC_RATE_LIMIT_BURST`; off when the rate is 0.
//! - **Load shedding**: at most `OC_GRPC_MAX_IN_FLIGHT` calls are being served at once; a call
//!   arriving beyond that is answered `RESOURCE_EXHAUSTED` at once, before any work, instead of
//!   queueing behind the others (a queue only turns overload into latency for everyone).
//!   Clients retry with backoff.
//!
//! On the way out the same layer keeps error headers within what peers accept: a status
//! message echoing a huge value is cut (an over-long header is a protocol error the caller
//! cannot even read).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tonic::Status;

/// Rate-limits callers and bounds the calls a server works on at once; see the module docs.
#[derive(Clone)]
pub struct Shed {
    in_flight: Arc<AtomicUsize>,
    max: usize,
    limiter: Option<Arc<RateLimiter>>,
}

impl Shed {
    /// `max` calls at once (0: no bound), and `limiter` per caller when given.
    pub fn new(max: usize, limiter: Option<RateLimiter>) -> Self {
        Self {
            in_flight: Arc::new(AtomicUsize::new(0)),
            max,
            limiter: limiter.map(Arc::new),
        }
    }
}

/// Whom a rate limit counts a call against: the authenticated subject, else the peer address.
fn caller_of<B>(request: &http::Request<B>) -> String {
    match request.extensions().get::<crate::auth::Actor>() {
        Some(actor) if !actor.is_anonymous() => actor.id.clone(),
        _ => request
            .extensions()
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|info| info.remote_addr())
            .map_or_else(|| "anonymous".to_owned(), |a| a.ip().to_string()),
    }
}

impl<S> tower::Layer<S> for Shed {
    type Service = ShedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ShedService {
            inner,
            shed: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ShedService<S> {
    inner: S,
    shed: Shed,
}

/// Gives its slot back when the call's response (or its failure) is done.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for ShedService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>, Error = Infallible>,
    S::Future: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path().starts_with("/grpc.health.") {
            return Box::pin(self.inner.call(request));
        }
        if let Some(limiter) = &self.shed.limiter {
            let caller = caller_of(&request);
            if let Err(wait) = limiter.check(&caller, Instant::now()) {
                let status = RateLimiter::refuse(&caller, wait);
                return Box::pin(async move { Ok(status.into_http()) });
            }
        }
        let taken = self.shed.in_flight.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.shed.in_flight.clone());
        if self.shed.max > 0 && taken >= self.shed.max {
            drop(slot);
            let status = Status::resource_exhausted(format!(
                "the server is at capacity ({} calls in progress); retry with backoff",
                self.shed.max
            ));
            return Box::pin(async move { Ok(status.into_http()) });
        }
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await;
            drop(slot);
            if let Ok(response) = &mut response {
                bound_status_headers(response.headers_mut());
            }
            response
        })
    }
}

/// A `grpc-message` longer than this (percent-encoded bytes) is cut to a quarter as many
/// characters.
const MAX_MESSAGE: usize = 2_048;
/// Largest `grpc-status-details-bin` sent.
const MAX_DETAILS: usize = 12_288;

/// Keeps an error's headers within what peers accept (16 KiB of headers is a common cap; a
/// larger answer is a protocol error the caller cannot read): a message that echoes a huge
/// value is cut, and oversized details are dropped — the message still says what was wrong.
fn bound_status_headers(headers: &mut http::HeaderMap) {
    if headers
        .get("grpc-message")
        .is_some_and(|m| m.len() > MAX_MESSAGE)
        && let Some(status) = Status::from_header_map(headers)
    {
        // Cut the decoded text (never inside a character), then encode it again.
        let mut keep: String = status.message().chars().take(MAX_MESSAGE / 4).collect();
        keep.push('…');
        let cut: http::Response<()> = Status::new(status.code(), keep).into_http();
        if let Some(value) = cut.headers().get("grpc-message") {
            headers.insert("grpc-message", value.clone());
        }
    }
    if headers
        .get("grpc-status-details-bin")
        .is_some_and(|d| d.len() > MAX_DETAILS)
    {
        headers.remove("grpc-status-details-bin");
    }
}

/// Per-caller token buckets; see the module docs.
pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Callers remembered at most; idle ones are forgotten first (their bucket is full anyway).
const MAX_CALLERS: usize = 10_000;

impl RateLimiter {
    /// `per_sec` tokens a second up to `burst`; `None` when `per_sec` is 0 (no limit).
    pub fn new(per_sec: f64, burst: f64) -> Option<Self> {
        (per_sec > 0.0).then(|| Self {
            per_sec,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one token of `caller`'s bucket, or says how long until one is there.
    pub fn check(&self, caller: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_CALLERS && !buckets.contains_key(caller) {
            let full_after = Duration::from_secs_f64(self.burst / self.per_sec);
            buckets.retain(|_, b| now.duration_since(b.at) < full_after);
        }
        let bucket = buckets.entry(caller.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.per_sec;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_sec,
            ))
        }
    }

    /// The answer for a caller over its rate.
    pub fn refuse(caller: &str, wait: Duration) -> Status {
        Status::resource_exhausted(format!(
            "rate limit for {caller} reached; retry in {} ms",
            wait.as_millis().max(1)
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::future::pending;

    use tower::{Layer as _, Service as _, ServiceExt as _};

    use super::*;

    #[test]
    fn a_caller_gets_its_burst_then_its_rate_and_others_are_not_affected() {
        let limiter = RateLimiter::new(2.0, 3.0).unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("alice", t0).is_ok());
        }
        let wait = limiter.check("alice", t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(limiter.check("bob", t0).is_ok(), "buckets are per caller");
        // Half a second later one token is back, and only one.
        let later = t0 + Duration::from_millis(500);
        assert!(limiter.check("alice", later).is_ok());
        assert!(limiter.check("alice", later).is_err());
        assert!(RateLimiter::new(0.0, 10.0).is_none(), "0 means no limit");
    }

    #[tokio::test]
    async fn the_layer_refuses_a_caller_over_its_rate_but_never_a_health_check() {
        type Body = tonic::body::Body;
        let ok = tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, Infallible>(http::Response::new(Body::default()))
        });
        let mut shed = Shed::new(0, RateLimiter::new(0.001, 1.0)).layer(ok);
        let call = |path: &str, who: &str| {
            let mut request = http::Request::builder().uri(path).body(()).unwrap();
            request.extensions_mut().insert(crate::auth::Actor {
                id: who.to_owned(),
                roles: std::collections::BTreeSet::new(),
            });
            request
        };
        let code = |r: http::Response<Body>| {
            r.headers()
                .get("grpc-status")
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let first = shed.ready().await.unwrap().call(call("/x.S/M", "alice"));
        assert_eq!(code(first.await.unwrap()), None);
        let second = shed.ready().await.unwrap().call(call("/x.S/M", "alice"));
        assert_eq!(
            code(second.await.unwrap()),
            Some((tonic::Code::ResourceExhausted as i32).to_string())
        );
        let other = shed.ready().await.unwrap().call(call("/x.S/M", "bob"));
        assert_eq!(code(other.await.unwrap()), None);
        let health = shed
            .ready()
            .await
            .unwrap()
            .call(call("/grpc.health.v1.Health/Check", "alice"));
        assert_eq!(code(health.await.unwrap()), None);
    }

    #[test]
    fn an_error_echoing_a_huge_value_is_cut_to_fit_in_headers() {
        let huge = tonic::Status::invalid_argument(format!("unknown id {}", "é".repeat(50_000)));
        let response: http::Response<tonic::body::Body> = huge.into_http();
        let mut headers = response.headers().clone();
        headers.insert(
            "grpc-status-details-bin",
            http::HeaderValue::from_str(&"A".repeat(20_000)).unwrap(),
        );
        bound_status_headers(&mut headers);
        let message = headers.get("grpc-message").unwrap();
        assert!(message.len() <= 3 * MAX_MESSAGE, "{}", message.len());
        let decoded = tonic::Status::from_header_map(&headers).unwrap();
        assert!(decoded.message().starts_with("unknown id éé"));
        assert!(decoded.message().ends_with('…'));
        assert!(headers.get("grpc-status-details-bin").is_none());
    }

    #[tokio::test]
    async fn a_call_beyond_the_bound_is_refused_at_once_and_the_slot_comes_back() {
        type Body = tonic::body::Body;
        // The first call never finishes; it holds the only slot.
        let slow = tower::service_fn(|_: http::Request<()>| async {
            pending::<()>().await;
            Ok::<_, Infallible>(http::Response::new(Body::default()))
        });
        let mut shed = Shed::new(1, None).layer(slow);
        let held = shed.ready().await.unwrap().call(http::Request::new(()));
        let held = tokio::spawn(held);
        tokio::task::yield_now().await;
        let refused = shed
            .ready()
            .await
            .unwrap()
            .call(http::Request::new(()))
            .await
            .unwrap();
        assert_eq!(
            refused.headers().get("grpc-status").unwrap(),
            &(tonic::Code::ResourceExhausted as i32).to_string()
        );
        // The held call ends (cancelled): its slot is free again.
        held.abort();
        let _ = held.await;
        let fast = tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, Infallible>(http::Response::new(Body::default()))
        });
        let mut shed_fast = ShedService {
            inner: fast,
            shed: shed.shed.clone(),
        };
        let ok = shed_fast
            .ready()
            .await
            .unwrap()
            .call(http::Request::new(()))
            .await
            .unwrap();
        assert!(ok.headers().get("grpc-status").is_none());
    }
}
