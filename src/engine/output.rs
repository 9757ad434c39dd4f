//! Capture of everything an execution environment prints. Its stdout and stderr share one
//! pipe, read line by line; `drain` reads what the kernel still holds, so a line printed
//! before the runtime answered is never attributed to the next invocation or lost.

use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

/// At most this much of an invocation's output is kept (its tail); the log tail AWS
/// returns is only 4 KB, so this is generous.
const MAX_KEPT_BYTES: usize = 256 * 1024;

/// The reading side of an environment's output pipe.
#[derive(Clone)]
pub struct OutputCapture {
    lines: Arc<Mutex<CapturedLines>>,
    drain_requests: mpsc::Sender<oneshot::Sender<()>>,
}

#[derive(Default)]
struct CapturedLines {
    lines: std::collections::VecDeque<String>,
    bytes: usize,
    dropped: usize,
}

impl CapturedLines {
    fn push(&mut self, line: String) {
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.bytes > MAX_KEPT_BYTES {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.len() + 1;
            self.dropped += 1;
        }
    }
}

impl OutputCapture {
    /// Starts reading `receiver` until the process closes it.
    pub fn start(receiver: pipe::Receiver) -> Self {
        let lines = Arc::new(Mutex::new(CapturedLines::default()));
        let (drain_requests, requests) = mpsc::channel(4);
        tokio::spawn(read_output(receiver, lines.clone(), requests));
        Self { lines, drain_requests }
    }

    /// Waits until everything already written to the pipe has been read.
    pub async fn drain(&self) {
        let (done, wait) = oneshot::channel();
        if self.drain_requests.send(done).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Takes the lines captured so far, and how many older ones did not fit.
    pub fn take(&self) -> (Vec<String>, usize) {
        let mut captured = self.lines.lock().expect("output lock");
        let dropped = std::mem::take(&mut captured.dropped);
        captured.bytes = 0;
        (captured.lines.drain(..).collect(), dropped)
    }
}

async fn read_output(
    receiver: pipe::Receiver,
    lines: Arc<Mutex<CapturedLines>>,
    mut requests: mpsc::Receiver<oneshot::Sender<()>>,
) {
    let mut partial: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut open = true;
    while open {
        tokio::select! {
            ready = receiver.readable() => {
                if ready.is_err() {
                    break;
                }
                open = read_available(&receiver, &mut buf, &mut partial, &lines);
            }
            Some(done) = requests.recv() => {
                open = read_available(&receiver, &mut buf, &mut partial, &lines);
                flush_partial(&mut partial, &lines);
                let _ = done.send(());
            }
        }
    }
    flush_partial(&mut partial, &lines);
    // Answer drains asked for after the process closed its output.
    while let Some(done) = requests.recv().await {
        let _ = done.send(());
    }
}

/// Reads until the pipe is empty; false once the writer closed it.
fn read_available(
    receiver: &pipe::Receiver,
    buf: &mut [u8],
    partial: &mut Vec<u8>,
    lines: &Mutex<CapturedLines>,
) -> bool {
    loop {
        match receiver.try_read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                partial.extend_from_slice(&buf[..n]);
                let mut captured = lines.lock().expect("output lock");
                while let Some(end) = partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=end).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1]);
                    captured.push(text.trim_end_matches('\r').to_string());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

fn flush_partial(partial: &mut Vec<u8>, lines: &Mutex<CapturedLines>) {
    if !partial.is_empty() {
        let text = String::from_utf8_lossy(partial).to_string();
        lines.lock().expect("output lock").push(text);
        partial.clear();
    }
}
