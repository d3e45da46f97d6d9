//! Live stock levels for `WatchAvailability`.
//!
//! Every transaction that changes a level announces it with `pg_notify` (see
//! [`crate::store::stock::touch`]); Postgres delivers the notice only when that transaction
//! commits, to every replica listening. One listener per process fans the notices out over a
//! broadcast channel; each watch stream filters them and reads the level afresh. When notices
//! may have been missed (the listener reconnected, or a slow stream lagged behind the
//! channel) the stream gets [`Signal::Resync`] and re-reads every level it watches.

use std::time::Duration;

use runtime::{BoxError, Host};
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::store::stock::CHANGES_CHANNEL;

/// Notices kept for slow streams before they are told to resync.
const BACKLOG: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    Changed { sku: String, warehouse_id: String },
    Resync,
}

/// The fan-out of committed stock changes to this process's watch streams.
#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Signal>,
    closed: CancellationToken,
}

impl Hub {
    /// Listens before returning, so no change committed after start-up is missed; the
    /// listening task stops with the host's background work, which ends every stream.
    pub async fn start(host: &mut Host) -> Result<Self, BoxError> {
        let pool = runtime::db::pool(&host.service_settings().database_url, 1).await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANGES_CHANNEL).await?;
        let (sender, _) = broadcast::channel(BACKLOG);
        let hub = Self {
            sender: sender.clone(),
            closed: CancellationToken::new(),
        };
        let closed = hub.closed.clone();
        host.spawn("stock-watch", move |token| async move {
            listen(listener, &sender, &token).await;
            closed.cancel();
        });
        Ok(hub)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.sender.subscribe()
    }

    /// Cancelled when the service shuts down.
    pub fn closed(&self) -> &CancellationToken {
        &self.closed
    }
}

async fn listen(
    mut listener: PgListener,
    sender: &broadcast::Sender<Signal>,
    token: &CancellationToken,
) {
    loop {
        let received = tokio::select! {
            () = token.cancelled() => return,
            received = listener.try_recv() => received,
        };
        // A send fails only when nobody watches, which is fine.
        match received {
            Ok(Some(notice)) => {
                if let Some((sku, warehouse_id)) = notice.payload().split_once('\t') {
                    let _ = sender.send(Signal::Changed {
                        sku: sku.to_owned(),
                        warehouse_id: warehouse_id.to_owned(),
                    });
                }
            }
            // The connection dropped and is being re-established: notices in between are lost.
            Ok(None) => {
                let _ = sender.send(Signal::Resync);
            }
            Err(err) => {
                tracing::warn!(error = %err, "stock change listener failed; retrying");
                let _ = sender.send(Signal::Resync);
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}
