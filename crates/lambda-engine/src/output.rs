//! Capture of everything an execution environment prints. Its stdout and stderr share one
//! pipe, read line by line as it arrives: each line goes at once, stamped with the time it
//! was read, to the environment's CloudWatch log stream (so a reader sees it while the
//! function runs), and to the invocation's tail (for `LogResult`). `drain` reads what the
//! kernel still holds and ends a line left without its newline, so a line printed before
//! the runtime answered is never attributed to the next invocation or lost.

use parking_lot::Mutex;
use std::sync::Arc;

use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

use super::logs::{LogSink, now_ms};

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
    pub fn start(receiver: pipe::Receiver, sink: LogSink) -> Self {
        let lines = Arc::new(Mutex::new(CapturedLines::default()));
        let (drain_requests, requests) = mpsc::channel(4);
        let output = Output {
            lines: lines.clone(),
            sink,
        };
        tokio::spawn(read_output(receiver, output, requests));
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
        let mut captured = self.lines.lock();
        let dropped = std::mem::take(&mut captured.dropped);
        captured.bytes = 0;
        (captured.lines.drain(..).collect(), dropped)
    }
}

/// Where lines read from the pipe go.
struct Output {
    lines: Arc<Mutex<CapturedLines>>,
    sink: LogSink,
}

impl Output {
    fn push(&self, stamped: &[(i64, String)]) {
        if stamped.is_empty() {
            return;
        }
        let borrowed: Vec<(i64, &str)> = stamped.iter().map(|(t, l)| (*t, l.as_str())).collect();
        self.sink.write(&borrowed);
        let mut captured = self.lines.lock();
        for (_, line) in stamped {
            captured.push(line.clone());
        }
    }
}

async fn read_output(receiver: pipe::Receiver, lines: Output, mut requests: mpsc::Receiver<oneshot::Sender<()>>) {
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
fn read_available(receiver: &pipe::Receiver, buf: &mut [u8], partial: &mut Vec<u8>, lines: &Output) -> bool {
    loop {
        match receiver.try_read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                partial.extend_from_slice(&buf[..n]);
                let now = now_ms();
                let mut stamped = Vec::new();
                let mut start = 0;
                while let Some(end) = partial[start..].iter().position(|&b| b == b'\n') {
                    let line = &partial[start..start + end];
                    let text = String::from_utf8_lossy(line);
                    stamped.push((now, text.trim_end_matches('\r').to_string()));
                    start += end + 1;
                }
                partial.drain(..start);
                lines.push(&stamped);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

/// A line printed without its newline becomes an event of its own when the invocation ends.
fn flush_partial(partial: &mut Vec<u8>, lines: &Output) {
    if !partial.is_empty() {
        let text = String::from_utf8_lossy(partial).to_string();
        lines.push(&[(now_ms(), text)]);
        partial.clear();
    }
}
