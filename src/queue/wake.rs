//! Wake-ups after a write: a submit wakes the workers, a log batch or a finish wakes the
//! readers of those runs. This replica's own are woken in process at once; the other
//! replicas learn of it from NOTIFY, coalesced: whatever happened since the last one goes
//! out as one statement, at most one per `interval`, on a connection of its own and outside
//! every writer's transaction. A transaction that NOTIFYs takes a global lock at commit,
//! held across its WAL flush, so one per write would serialise every submit, finish and log
//! batch of every replica; one per interval costs nothing next to them.
//!
//! A notification that does not arrive (the connection is away, the replica is stopping)
//! is covered by the polling every waiter also does. This replica's listener ignores the
//! echo of its own notifications: it was woken in process already.

use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::Connection;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::notify::Notifications;
use crate::store::runs::notify_replicas;

/// What happened since the last NOTIFY.
#[derive(Default)]
struct Pending {
    submitted: bool,
    moved: HashSet<Uuid>,
}

/// Where writers say what they wrote. Cheap to clone.
#[derive(Clone)]
pub struct Wakeups {
    local: Notifications,
    pending: Arc<Mutex<Pending>>,
    /// Rung when `pending` gained something; holds at most one ring.
    doorbell: mpsc::Sender<()>,
}

impl Wakeups {
    /// Starts the NOTIFY sender; it ends once every `Wakeups` is dropped.
    pub fn start(db: sqlx::PgPool, local: Notifications, interval: Duration) -> Self {
        let (doorbell, rings) = mpsc::channel(1);
        let pending = Arc::new(Mutex::new(Pending::default()));
        tokio::spawn(notify_other_replicas(
            db,
            pending.clone(),
            rings,
            local.own_notifier.clone(),
            interval,
        ));
        Self {
            local,
            pending,
            doorbell,
        }
    }

    /// A run was queued (or queued again): wake the workers.
    pub fn submitted(&self) {
        self.local.submitted.notify_waiters();
        self.pending.lock().submitted = true;
        let _ = self.doorbell.try_send(());
    }

    /// The log or status of these runs moved: wake their readers.
    pub fn logs_moved(&self, runs: &[Uuid]) {
        if runs.is_empty() {
            return;
        }
        let _ = self.local.logs.send(Arc::new(runs.to_vec()));
        self.pending.lock().moved.extend(runs);
        let _ = self.doorbell.try_send(());
    }
}

/// Sends what is pending as one NOTIFY statement, then waits `interval` before the next:
/// the first wake-up after a quiet spell goes out at once.
async fn notify_other_replicas(
    db: sqlx::PgPool,
    pending: Arc<Mutex<Pending>>,
    mut rings: mpsc::Receiver<()>,
    own_notifier: Arc<AtomicU32>,
    interval: Duration,
) {
    let mut connection: Option<sqlx::PgConnection> = None;
    while rings.recv().await.is_some() {
        let Pending { submitted, moved } = std::mem::take(&mut *pending.lock());
        let moved: Vec<Uuid> = moved.into_iter().collect();
        if !submitted && moved.is_empty() {
            continue;
        }
        if connection.is_none() {
            connection = connect(&db, &own_notifier).await;
        }
        if let Some(conn) = connection.as_mut()
            && let Err(e) = notify_replicas(&mut *conn, submitted, &moved).await
        {
            tracing::warn!(error = %e, "NOTIFY of other replicas failed; they will poll");
            connection = None;
        }
        tokio::time::sleep(interval).await;
    }
    if let Some(conn) = connection {
        let _ = conn.close().await;
    }
}

/// A connection of the sender's own, outside the pool, whose backend id the listener
/// knows as this replica's.
async fn connect(db: &sqlx::PgPool, own_notifier: &AtomicU32) -> Option<sqlx::PgConnection> {
    let options = db.connect_options();
    let mut conn = match sqlx::PgConnection::connect_with(&options).await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(error = %e, "cannot connect to NOTIFY other replicas; they will poll");
            return None;
        }
    };
    match crate::store::backend_pid(&mut conn).await {
        Ok(pid) => {
            own_notifier.store(pid as u32, Ordering::SeqCst);
            Some(conn)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot NOTIFY other replicas; they will poll");
            None
        }
    }
}
