//! Durable timers fired in batches: up to the batch's size per transaction, earliest first; a
//! timer whose handler fails is rolled back alone and comes due again later.

use messaging::timers::{self, TimerPoller};
use messaging::{HandlerError, Timer, TimerHandler};
use sqlx::PgConnection;
use testkit::TestEnv;

use crate::probe::PROBE;

const KIND: &str = "probe.timer";

/// Records `payload.n` as an effect; fails for n = -1 after writing.
struct Record;

impl TimerHandler for Record {
    async fn fire(&self, tx: &mut PgConnection, timer: &Timer) -> Result<(), HandlerError> {
        let n = timer.payload["n"].as_i64().unwrap_or(0) as i32;
        sqlx::query("INSERT INTO effects (event_id, n) VALUES ($1, $2)")
            .bind(timer.id)
            .bind(n)
            .execute(&mut *tx)
            .await?;
        if n == -1 {
            return Err(HandlerError::transient("the probe timer fails for n = -1"));
        }
        Ok(())
    }
}

#[tokio::test]
async fn due_timers_fire_in_batches_and_a_failing_one_alone_comes_back_later() {
    let env = TestEnv::new().await;
    let pool = env.pool(&PROBE).await;
    let clock = env.settings.clock.clone();
    let now = clock.now();
    let mut tx = pool.begin().await.unwrap();
    for (i, n) in [1, 2, -1, 3, 4].into_iter().enumerate() {
        let at = now - chrono::Duration::seconds(10 - i as i64);
        timers::schedule(
            &mut tx,
            KIND,
            &format!("t{i}"),
            at,
            &serde_json::json!({ "n": n }),
        )
        .await
        .unwrap();
    }
    // Not due yet: never taken.
    timers::schedule(
        &mut tx,
        KIND,
        "later",
        now + chrono::Duration::hours(1),
        &serde_json::json!({ "n": 9 }),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let poller = TimerPoller::new(
        KIND,
        Record,
        pool.clone(),
        clock,
        std::time::Duration::from_millis(50),
    )
    .with_batch(3);
    assert_eq!(poller.fire_due(3).await.unwrap(), 3, "the three earliest");
    assert_eq!(poller.fire_due(3).await.unwrap(), 2, "the two left");
    assert_eq!(poller.fire_due(3).await.unwrap(), 0);

    let mut effects: Vec<i32> = sqlx::query_scalar("SELECT n FROM effects")
        .fetch_all(&pool)
        .await
        .unwrap();
    effects.sort_unstable();
    assert_eq!(effects, [1, 2, 3, 4], "the failing timer's write is gone");
    let (fired, attempts, retry_later): (bool, i32, bool) = sqlx::query_as(
        "SELECT fired_at IS NOT NULL, attempts, fire_at > now() FROM oc_timers WHERE key = 't2'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((fired, attempts, retry_later), (false, 1, true));
    let unfired: i64 = sqlx::query_scalar("SELECT count(*) FROM oc_timers WHERE fired_at IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(unfired, 2, "the failed one and the one not due");
}
