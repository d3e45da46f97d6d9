//! Live tracking for WatchShipment. Recording an event runs `pg_notify` in its transaction, so
//! Postgres announces it exactly when it commits, to every replica. One listener per process
//! (its own connection, outside the pool) fans the notices out to the open watch streams,
//! which then read the new view from the database.
//!
//! A lost listener connection may drop notices; after it reconnects every stream is told to
//! re-read ([`Notice::Resync`]), so a watcher never stays behind.

use sqlx::PgConnection;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use runtime::Host;

const CHANNEL: &str = "shipping_tracking";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// A tracking event of this shipment committed.
    Event { shipment_id: Uuid, event_id: Uuid },
    /// Notices may have been lost: re-read.
    Resync,
}

/// Fans notices out to watch streams; ends them when the service stops.
#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Notice>,
    stopping: CancellationToken,
}

impl Hub {
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.sender.subscribe()
    }

    /// Cancelled when the service shuts down, so open streams end and RPCs can drain.
    pub fn stopping(&self) -> &CancellationToken {
        &self.stopping
    }

    /// Listens before the service serves (no commit is missed by the first watcher) and
    /// relays notices until shutdown.
    pub async fn start(host: &mut Host) -> Result<Self, sqlx::Error> {
        let url = host.service_settings().database_url.clone();
        let mut listener = PgListener::connect(&url).await?;
        listener.listen(CHANNEL).await?;
        let (sender, _) = broadcast::channel(256);
        let hub = Self {
            sender: sender.clone(),
            stopping: CancellationToken::new(),
        };
        let stopping = hub.stopping.clone();
        host.spawn("tracking-listener", move |token| async move {
            relay(listener, sender, token).await;
            stopping.cancel();
        });
        Ok(hub)
    }
}

async fn relay(
    mut listener: PgListener,
    sender: broadcast::Sender<Notice>,
    token: CancellationToken,
) {
    loop {
        let received = tokio::select! {
            () = token.cancelled() => return,
            received = listener.try_recv() => received,
        };
        match received {
            Ok(Some(notification)) => {
                if let Some(notice) = parse(notification.payload()) {
                    // No receiver is not an error: nobody is watching.
                    let _ = sender.send(notice);
                }
            }
            Ok(None) => {
                tracing::warn!("tracking listener lost its connection; watchers re-read");
                let _ = sender.send(Notice::Resync);
            }
            Err(err) => {
                tracing::warn!(error = %err, "tracking listener failed; retrying");
                let _ = sender.send(Notice::Resync);
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

fn parse(payload: &str) -> Option<Notice> {
    let (shipment, event) = payload.split_once(':')?;
    Some(Notice::Event {
        shipment_id: Uuid::parse_str(shipment).ok()?,
        event_id: Uuid::parse_str(event).ok()?,
    })
}

/// Announces a recorded event when the caller's transaction commits.
pub async fn notify(
    conn: &mut PgConnection,
    shipment_id: Uuid,
    event_id: Uuid,
) -> Result<(), sqlx::Error> {
    let payload = format!("{shipment_id}:{event_id}");
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_round_trips_through_its_payload() {
        let (s, e) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            parse(&format!("{s}:{e}")),
            Some(Notice::Event {
                shipment_id: s,
                event_id: e
            })
        );
        assert_eq!(parse("garbage"), None);
    }
}
