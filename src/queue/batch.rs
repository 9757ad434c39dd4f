//! Group commit for the two statements every run makes: marking its Invoke as sent, and
//! finishing it. One task per statement takes whatever requests are already waiting and
//! writes them in one statement: no added wait when the service is idle, batches that
//! grow by themselves under load.

use std::collections::HashSet;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::store::queue::{self, Finish};

const MAX_BATCH: usize = 1000;

type Reply = oneshot::Sender<Result<bool, String>>;

/// Where runs ask for their Invoke to be marked sent, and for their finish.
#[derive(Clone)]
pub struct RunWrites {
    marks: mpsc::UnboundedSender<((Uuid, i32), Reply)>,
    finishes: mpsc::UnboundedSender<(Finish, Reply)>,
}

impl RunWrites {
    pub fn start(db: sqlx::PgPool) -> Self {
        let (marks, mark_requests) = mpsc::unbounded_channel();
        let (finishes, finish_requests) = mpsc::unbounded_channel();
        tokio::spawn(write_marks(db.clone(), mark_requests));
        tokio::spawn(write_finishes(db, finish_requests));
        Self { marks, finishes }
    }

    /// Marks a run's Invoke as about to be sent; false when the attempt lost its lease.
    pub async fn mark_invoke_sent(&self, id: Uuid, attempt: i32) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.marks
            .send(((id, attempt), reply))
            .map_err(|_| "the writer stopped".to_string())?;
        answer.await.map_err(|_| "the writer stopped".to_string())?
    }

    /// Finishes a run; false when the attempt lost its lease.
    pub async fn finish(&self, finish: Finish) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.finishes
            .send((finish, reply))
            .map_err(|_| "the writer stopped".to_string())?;
        answer.await.map_err(|_| "the writer stopped".to_string())?
    }
}

/// Everything already waiting, after the first, up to the batch cap.
fn gather<T>(first: T, requests: &mut mpsc::UnboundedReceiver<T>) -> Vec<T> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match requests.try_recv() {
            Ok(request) => batch.push(request),
            Err(_) => break,
        }
    }
    batch
}

async fn write_marks(db: sqlx::PgPool, mut requests: mpsc::UnboundedReceiver<((Uuid, i32), Reply)>) {
    while let Some(first) = requests.recv().await {
        let batch = gather(first, &mut requests);
        let runs: Vec<(Uuid, i32)> = batch.iter().map(|(run, _)| *run).collect();
        let outcome = queue::mark_invokes_sent(&db, &runs).await;
        answer(batch, outcome, |((id, _), _)| *id);
    }
}

async fn write_finishes(db: sqlx::PgPool, mut requests: mpsc::UnboundedReceiver<(Finish, Reply)>) {
    while let Some(first) = requests.recv().await {
        let batch = gather(first, &mut requests);
        let finishes: Vec<Finish> = batch.iter().map(|(f, _)| f.clone()).collect();
        let outcome = queue::finish_many(&db, &finishes).await;
        answer(batch, outcome, |(f, _)| f.id);
    }
}

fn answer<T>(batch: Vec<(T, Reply)>, outcome: sqlx::Result<Vec<Uuid>>, id_of: impl Fn(&(T, Reply)) -> Uuid) {
    match outcome {
        Ok(written) => {
            let written: HashSet<Uuid> = written.into_iter().collect();
            for request in batch {
                let held = written.contains(&id_of(&request));
                let _ = request.1.send(Ok(held));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(message.clone()));
            }
        }
    }
}
