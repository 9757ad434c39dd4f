//! Durable executions (Lambda's durable functions, API version 2025-12-01): a function with
//! a `DurableConfig` started by Invoke runs as an execution that checkpoints its
//! operations, waits without holding an environment and is invoked again, with what it
//! checkpointed, when a wait ends, a step's retry is due or a callback is answered.
//!
//! Each execution is one JSON document under `durable-executions/` in the data directory,
//! written on every change, so a restarted engine finds its executions and their timers
//! (kept in the operations themselves) and carries on. [`driver`] invokes the handler;
//! [`data_plane`] serves what the SDK inside the function calls, on the environment's own
//! listener; `api::durable` serves the control plane on the engine's signed API.

pub mod checkpoint;
pub mod data_plane;
pub mod driver;
pub mod history;
pub mod invoke;
pub mod model;

use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use serde_json::Value;
use tokio::sync::{Notify, watch};

use crate::error::{EngineError, EngineResult, ErrorKind};
use model::{DurableConfig, ExecutionRecord};

/// One execution in memory: its record, and the signals its driver and waiters use.
pub struct Execution {
    pub record: Mutex<ExecutionRecord>,
    /// Wakes the driver: something changed that it must look at.
    pub wake: Notify,
    /// Whether the handler has something it has not seen (a wait ended, a callback
    /// answered) and must be invoked again.
    pub dirty: AtomicBool,
    /// True once the execution has ended.
    pub done: watch::Sender<bool>,
    file: PathBuf,
}

impl Execution {
    /// Writes the record (under its lock, so writes land in the order of the changes).
    pub fn save(&self, record: &ExecutionRecord) {
        if let Err(e) = write_atomically(&self.file, record) {
            tracing::error!(execution = %record.arn, error = %e, "could not persist a durable execution");
        }
    }

    /// Marks that the handler must see a change, and wakes the driver.
    pub fn poke(&self) {
        self.dirty.store(true, Ordering::Release);
        self.wake.notify_one();
    }
}

/// Every durable execution of the engine.
pub struct Durable {
    dir: PathBuf,
    executions: Mutex<HashMap<String, Arc<Execution>>>,
    /// (function, execution name) to ARN: names are unique per function.
    by_name: Mutex<HashMap<(String, String), String>>,
    /// Callback id to ARN.
    by_callback: Mutex<HashMap<String, String>>,
}

/// What a new execution starts from.
pub struct Start<'a> {
    pub function_arn: &'a str,
    pub function_name: &'a str,
    pub version: &'a str,
    pub name: &'a str,
    pub payload: &'a str,
    pub config: &'a DurableConfig,
    pub trace_header: Option<&'a str>,
}

impl Durable {
    /// Loads every execution kept under `data_dir`.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let dir = data_dir.join("durable-executions");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let durable = Self {
            dir: dir.clone(),
            executions: Mutex::new(HashMap::new()),
            by_name: Mutex::new(HashMap::new()),
            by_callback: Mutex::new(HashMap::new()),
        };
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let record: ExecutionRecord = match std::fs::read(&path)
                .map_err(anyhow::Error::from)
                .and_then(|bytes| serde_json::from_slice(&bytes).map_err(anyhow::Error::from))
            {
                Ok(record) => record,
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "skipping an unreadable durable execution");
                    continue;
                }
            };
            durable.index(record, path);
        }
        Ok(durable)
    }

    fn index(&self, record: ExecutionRecord, file: PathBuf) -> Arc<Execution> {
        let arn = record.arn.clone();
        self.by_name
            .lock()
            .insert((record.function_name.clone(), record.name.clone()), arn.clone());
        {
            let mut callbacks = self.by_callback.lock();
            for op in &record.operations {
                if let Some(details) = &op.callback_details {
                    callbacks.insert(details.callback_id.clone(), arn.clone());
                }
            }
        }
        let running = record.is_running();
        let execution = Arc::new(Execution {
            record: Mutex::new(record),
            wake: Notify::new(),
            // A restarted engine does not know whether an invocation was cut short: the
            // handler runs again and replays (replay is what durable handlers are for).
            dirty: AtomicBool::new(true),
            done: watch::channel(!running).0,
            file,
        });
        self.executions.lock().insert(arn, execution.clone());
        execution
    }

    /// Executions still running (to drive after a restart).
    pub fn running(&self) -> Vec<Arc<Execution>> {
        self.executions
            .lock()
            .values()
            .filter(|e| e.record.lock().is_running())
            .cloned()
            .collect()
    }

    /// The execution with this name, or a new one: the same name and payload is the same
    /// execution (answered with `false`), another payload a conflict, as on AWS.
    pub fn start(&self, start: Start<'_>) -> EngineResult<(Arc<Execution>, bool)> {
        let key = (start.function_name.to_string(), start.name.to_string());
        let existing = self.by_name.lock().get(&key).cloned();
        if let Some(arn) = existing
            && let Some(execution) = self.get(&arn)
        {
            let same = {
                let record = execution.record.lock();
                same_json(&record.input_payload, start.payload)
            };
            if same {
                return Ok((execution, false));
            }
            return Err(EngineError::new(
                ErrorKind::DurableExecutionAlreadyStarted,
                format!(
                    "Durable execution with name {} already exists with a different input payload.",
                    start.name
                ),
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let now = model::now_ms();
        let mut record = ExecutionRecord::new(&start, &id, now);
        let arn = record.arn.clone();
        history::record(
            &mut record,
            "ExecutionStarted",
            None,
            now,
            serde_json::json!({
                "Input": history::payload(Some(start.payload)),
                "ExecutionTimeout": start.config.execution_timeout(),
            }),
        );
        let file = self.dir.join(format!("{id}.json"));
        write_atomically(&file, &record).map_err(|e| EngineError::service(format!("persisting the execution: {e}")))?;
        tracing::info!(execution = %arn, "durable execution started");
        Ok((self.index(record, file), true))
    }

    pub fn get(&self, arn: &str) -> Option<Arc<Execution>> {
        self.executions.lock().get(arn).cloned()
    }

    /// The execution an ARN names, or AWS's not-found error.
    pub fn find(&self, arn: &str) -> EngineResult<Arc<Execution>> {
        self.get(arn)
            .ok_or_else(|| EngineError::not_found(format!("Durable execution not found: {arn}")))
    }

    /// Notes a callback id the execution `arn` created.
    pub fn note_callbacks(&self, arn: &str, ids: impl IntoIterator<Item = String>) {
        let mut callbacks = self.by_callback.lock();
        for id in ids {
            callbacks.insert(id, arn.to_string());
        }
    }

    /// The execution waiting for a callback.
    pub fn by_callback(&self, callback_id: &str) -> EngineResult<Arc<Execution>> {
        let arn = self.by_callback.lock().get(callback_id).cloned();
        arn.and_then(|arn| self.get(&arn))
            .ok_or_else(|| EngineError::not_found(format!("Callback not found: {callback_id}")))
    }

    /// Every execution of a function, oldest first.
    pub fn of_function(&self, function: &str) -> Vec<ExecutionRecord> {
        let mut records: Vec<ExecutionRecord> = self
            .executions
            .lock()
            .values()
            .map(|e| e.record.lock().clone())
            .filter(|r| r.function_name == function)
            .collect();
        records.sort_by(|a, b| a.start_ms.cmp(&b.start_ms).then_with(|| a.arn.cmp(&b.arn)));
        records
    }
}

/// Two payloads are the same when they are the same JSON (whitespace aside).
fn same_json(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<Value>(a), serde_json::from_str::<Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A fresh random token (checkpoint tokens, callback ids): hex, which is also base64's alphabet.
pub fn random_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

fn write_atomically(file: &Path, record: &ExecutionRecord) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    let partial = file.with_extension("json.partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, file)
}
