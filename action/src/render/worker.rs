//! Jsonnet in a child process: on stable Rust a failed allocation aborts the
//! process, and Jsonnet from a pull request can ask for 40 GB at once
//! (`std.repeat(s, 4e9)`), so the binary evaluates in a worker — Ferry's
//! own executable in a hidden mode ([`HIDDEN_MODE`]), with `RLIMIT_AS` and
//! `RLIMIT_CPU` set by the worker itself before it reads anything.
//!
//! One worker serves the whole run, one evaluation at a time, over JSON
//! lines on its standard input and output. When it dies (a signal, a
//! limit), the target it was evaluating gets a clear error and the next
//! target starts a new worker. Without [`enable`] (the library in tests),
//! evaluation stays in-process.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jsonnet::{self, Limits};
use crate::diagnostic::Diagnostic;

/// The first argument that starts the binary as a worker (hidden from help).
pub const HIDDEN_MODE: &str = "__ferry-jsonnet-worker";

/// Address space the worker may use beyond [`Limits::memory_bytes`] and the
/// evaluation thread's reserved stack: the executable, its libraries and
/// the allocator's arenas.
const ADDRESS_SLACK_BYTES: u64 = 1 << 30;

/// How long the parent waits past an evaluation's time limit before it
/// kills the worker (the worker's own watchdog answers first).
const GRACE: Duration = Duration::from_secs(2);

/// The most of the worker's standard error kept to explain its death.
const STDERR_KEPT: usize = 4096;

static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
static WORKER: Mutex<Option<Worker>> = Mutex::new(None);

/// Makes every later evaluation of this process run in a worker started
/// from `program` (the binary's own path).
pub fn enable(program: PathBuf) {
    let _ = PROGRAM.set(program);
}

/// The worker program, when [`enable`] was called.
pub(super) fn program() -> Option<&'static Path> {
    PROGRAM.get().map(PathBuf::as_path)
}

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    root: PathBuf,
    file: String,
    ext_strs: BTreeMap<String, String>,
    time_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    file: PathBuf,
    line: Option<usize>,
    column: Option<usize>,
    message: String,
    help: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Response {
    result: Result<Value, Wire>,
    /// The worker stops after this answer (an evaluation was abandoned).
    last: bool,
}

#[derive(Debug)]
struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Worker {
    fn start(program: &Path, cpu: Duration) -> std::io::Result<Self> {
        let mut child = Command::new(program)
            .arg(HIDDEN_MODE)
            .arg(cpu.as_secs().to_string())
            // Jsonnet reads no variable: the worker gets none (no token).
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(std::io::Error::other("the worker's pipes are missing"));
                }
            };
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let kept = Arc::new(Mutex::new(Vec::new()));
        let sink = kept.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            let mut stderr = stderr;
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut kept = sink.lock().unwrap_or_else(|p| p.into_inner());
                kept.extend_from_slice(&buf[..n]);
                let excess = kept.len().saturating_sub(STDERR_KEPT);
                kept.drain(..excess);
            }
        });
        Ok(Self {
            child,
            stdin,
            lines,
            stderr: kept,
        })
    }

    /// Kills the worker and says how it ended.
    fn end(mut self, kill: bool) -> String {
        if kill {
            let _ = self.child.kill();
        }
        let status = self.child.wait();
        // Let the reader thread take the last of standard error.
        std::thread::sleep(Duration::from_millis(20));
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        death(status.ok(), &String::from_utf8_lossy(&stderr))
    }
}

/// Why a worker died, for a person: the allocation it could not make, the
/// limit it met, or the signal.
fn death(status: Option<std::process::ExitStatus>, stderr: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(bytes) = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("memory allocation of "))
        .and_then(|rest| rest.split_whitespace().next())
    {
        return format!(
            "the evaluation used more than {} MiB of memory (Ferry's limit): it tried to allocate {bytes} bytes at once",
            jsonnet::LIMITS.memory_bytes >> 20
        );
    }
    match status.and_then(|s| s.signal()) {
        Some(24) => "the evaluation used more CPU time than the run's Jsonnet budget".into(),
        Some(6) => format!(
            "the Jsonnet evaluation aborted (out of memory or stack; Ferry's memory limit is {} MiB)",
            jsonnet::LIMITS.memory_bytes >> 20
        ),
        Some(9) => "the Jsonnet evaluation was killed (out of memory or time)".into(),
        Some(n) => format!(
            "the Jsonnet evaluation was killed by signal {n} (memory, stack or a bug in jrsonnet)"
        ),
        None => match status.and_then(|s| s.code()) {
            Some(code) => format!("the Jsonnet evaluation stopped unexpectedly (exit {code})"),
            None => "the Jsonnet evaluation stopped unexpectedly".into(),
        },
    }
}

/// Evaluates one file in the run's worker (started on first use, or again
/// after a death), within `limits.time`; the worker's CPU limit is `cpu`.
pub(super) fn evaluate(
    program: &Path,
    root: &Path,
    file: &str,
    ext_strs: &BTreeMap<String, String>,
    limits: Limits,
    cpu: Duration,
) -> Result<Value, Box<Diagnostic>> {
    let refuse = |message: String| {
        Box::new(Diagnostic::new(file, message).help(
            "look for a huge std.repeat, std.makeArray or std.range, or unbounded recursion; a task definition evaluates in milliseconds",
        ))
    };
    let request = Request {
        root: root.to_path_buf(),
        file: file.to_string(),
        ext_strs: ext_strs.clone(),
        time_ms: u64::try_from(limits.time.as_millis()).unwrap_or(u64::MAX),
    };
    let mut line = serde_json::to_string(&request).map_err(|e| refuse(e.to_string()))?;
    line.push('\n');
    let mut slot = WORKER.lock().unwrap_or_else(|p| p.into_inner());
    // A worker that died after its last answer fails the write: start anew once.
    let mut sent = false;
    for _ in 0..2 {
        if slot.is_none() {
            let worker = Worker::start(program, cpu).map_err(|e| {
                refuse(format!(
                    "cannot start the Jsonnet worker ({}): {e}",
                    program.display()
                ))
            })?;
            *slot = Some(worker);
        }
        let Some(worker) = slot.as_mut() else { break };
        if worker
            .stdin
            .write_all(line.as_bytes())
            .and_then(|()| worker.stdin.flush())
            .is_ok()
        {
            sent = true;
            break;
        }
        if let Some(dead) = slot.take() {
            dead.end(true);
        }
    }
    let Some(worker) = slot.as_mut().filter(|_| sent) else {
        return Err(refuse("cannot reach the Jsonnet worker".into()));
    };
    match worker.lines.recv_timeout(limits.time + GRACE) {
        Ok(answer) => {
            let response: Response = match serde_json::from_str(&answer) {
                Ok(r) => r,
                Err(e) => {
                    if let Some(w) = slot.take() {
                        w.end(true);
                    }
                    return Err(refuse(format!("the Jsonnet worker answered nonsense: {e}")));
                }
            };
            if response.last
                && let Some(w) = slot.take()
            {
                w.end(true);
            }
            response.result.map_err(|w| {
                Box::new(Diagnostic {
                    file: w.file,
                    line: w.line,
                    column: w.column,
                    message: w.message,
                    help: w.help,
                })
            })
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            if let Some(w) = slot.take() {
                w.end(true);
            }
            Err(refuse(format!(
                "the evaluation took longer than {} s (Ferry's limit)",
                limits.time.as_secs()
            )))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let why = slot.take().map(|w| w.end(false)).unwrap_or_default();
            Err(refuse(why))
        }
    }
}

/// The worker's side ([`HIDDEN_MODE`]): sets its own limits, then answers
/// requests read from `input` on `output` until the input ends or an
/// evaluation is abandoned; `errors` says why it stopped early. `args` are
/// the arguments after the mode (the CPU seconds). Returns the exit code.
/// The binary passes its standard streams: they are the parent's pipes,
/// never the runner's log.
pub fn serve(
    args: &[String],
    input: impl BufRead,
    mut output: impl Write,
    mut errors: impl Write,
) -> i32 {
    let limits = jsonnet::LIMITS;
    let cpu: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(120);
    let address = limits.memory_bytes + limits.stack_bytes as u64 + ADDRESS_SLACK_BYTES;
    let limited = rlimit::setrlimit(rlimit::Resource::AS, address, address)
        .and_then(|()| rlimit::setrlimit(rlimit::Resource::CPU, cpu, cpu + 5));
    if let Err(e) = limited {
        let _ = writeln!(errors, "ferry jsonnet worker: cannot set its limits: {e}");
        return 3;
    }
    for line in input.lines() {
        let Ok(line) = line else { return 0 };
        let request: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(errors, "ferry jsonnet worker: bad request: {e}");
                return 2;
            }
        };
        let limits = Limits {
            time: Duration::from_millis(request.time_ms),
            ..limits
        };
        let result =
            jsonnet::evaluate_with(&request.root, &request.file, &request.ext_strs, limits)
                .map_err(|d| Wire {
                    file: d.file,
                    line: d.line,
                    column: d.column,
                    message: d.message,
                    help: d.help,
                });
        let last = jsonnet::abandoned();
        let answer = Response { result, last };
        let written = serde_json::to_string(&answer)
            .map_err(std::io::Error::other)
            .and_then(|text| writeln!(output, "{text}"))
            .and_then(|()| output.flush());
        if written.is_err() || last {
            return 0;
        }
    }
    0
}
