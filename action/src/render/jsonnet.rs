//! In-process Jsonnet evaluation with jrsonnet: no `jsonnet` binary on the
//! runner, and an error located precisely enough to annotate the pull request.
//!
//! Jsonnet from a pull request is hostile, so evaluation is confined and
//! bounded here, in one place:
//! - every `import`, `importstr` and `importbin` is resolved and read before
//!   evaluation starts, by [`Confined`]: inside the repository root only
//!   (after resolving symlinks), regular files only, at most
//!   [`Limits::file_bytes`] each, with bracket nesting checked before the
//!   parser sees the text;
//! - evaluation runs on its own thread with a large stack, and stops with an
//!   error after [`Limits::time`] or when the process grows by more than
//!   [`Limits::memory_bytes`];
//! - the result is turned into JSON by [`to_json`], which bounds its size and
//!   depth and stops a cancelled evaluation.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jrsonnet_evaluator::State;
use jrsonnet_evaluator::async_import::{ResolvedImportResolver, async_import};
use jrsonnet_evaluator::trace::PathResolver;
use serde_json::Value;

use crate::diagnostic::Diagnostic;
use confined::Confined;
pub use confined::{Refused, too_deep};
use diagnostic::diagnostic;
use json::{Budget, Stop, to_json};

mod confined;
mod diagnostic;
mod json;

/// The bounds of one evaluation: what a task definition never needs and an
/// attack always does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time of one evaluation.
    pub time: Duration,
    /// How much the process may grow (resident memory) during one evaluation.
    pub memory_bytes: u64,
    /// Size of one Jsonnet, JSON or imported file.
    pub file_bytes: u64,
    /// Depth of `(`, `[` and `{` in one file's source.
    pub nesting: usize,
    /// Size of the JSON result (AWS takes 64 KiB task definitions).
    pub output_bytes: usize,
    /// Depth of the JSON result.
    pub output_depth: usize,
    /// Stack of the evaluation thread. jrsonnet's parser and analyser
    /// recurse natively (`- - - 1`, `if a then if b ...`), about 1.3 KiB a
    /// level; the stack is reserved, not used, and larger than
    /// `memory_bytes`, so a deep file meets the memory limit (a clear
    /// error) before the end of the stack (an abort).
    pub stack_bytes: usize,
}

/// The limits `ferry render` applies (listed in README's security table).
pub const LIMITS: Limits = Limits {
    time: Duration::from_secs(10),
    memory_bytes: 1 << 30,
    file_bytes: 1 << 20,
    nesting: 200,
    output_bytes: 4 << 20,
    output_depth: 64,
    stack_bytes: 4 << 30,
};

/// The stack used when the system refuses [`Limits::stack_bytes`].
const FALLBACK_STACK_BYTES: usize = 256 << 20;

/// Set once an evaluation was abandoned (its thread cannot be stopped and
/// still runs): later evaluations in this process are refused at once.
static ABANDONED: AtomicBool = AtomicBool::new(false);

/// Whether an evaluation of this process was abandoned (its thread still
/// runs): a worker stops after saying so.
pub fn abandoned() -> bool {
    ABANDONED.load(Ordering::SeqCst)
}

/// The run's Jsonnet clock: how long each target took, against the run's
/// budget ([`crate::budget::Budget::jsonnet_run`]).
#[derive(Debug)]
struct RunClock {
    spent: Duration,
    targets: Vec<(String, Duration)>,
    over: bool,
}

static RUN_CLOCK: std::sync::Mutex<RunClock> = std::sync::Mutex::new(RunClock {
    spent: Duration::ZERO,
    targets: Vec::new(),
    over: false,
});

/// Whether the run's Jsonnet budget is spent: every later evaluation is
/// refused at once.
pub fn budget_spent() -> bool {
    RUN_CLOCK.lock().is_ok_and(|c| c.over)
}

impl RunClock {
    /// The failure once the budget is spent: the budget, the variable that
    /// sets it, and the slowest targets.
    fn failure(&self, file: &str, budget: Duration) -> Box<Diagnostic> {
        let mut slowest = self.targets.clone();
        slowest.sort_by_key(|t| std::cmp::Reverse(t.1));
        let named: Vec<String> = slowest
            .iter()
            .take(3)
            .map(|(t, d)| format!("{t} {:.1} s", d.as_secs_f64()))
            .collect();
        Box::new(
            Diagnostic::new(
                file,
                format!(
                    "the run's Jsonnet budget of {} s ({}) is spent after {} target(s); slowest: {}",
                    budget.as_secs(),
                    crate::budget::JSONNET_BUDGET_VAR,
                    self.targets.len(),
                    named.join(", ")
                ),
            )
            .help(format!(
                "make the slowest task definitions faster (they evaluate in milliseconds when nothing is wrong), or raise {}",
                crate::budget::JSONNET_BUDGET_VAR
            )),
        )
    }
}

/// Evaluates `file` (relative to `root`) with `ext_strs`; library imports
/// resolve against `root/task-definitions` (so `import 'lib/base.libsonnet'`
/// works from anywhere). Returns the manifested JSON value.
pub fn evaluate(
    root: &Path,
    file: &str,
    ext_strs: &BTreeMap<String, String>,
) -> Result<Value, Box<Diagnostic>> {
    evaluate_target(root, file, ext_strs, file)
}

/// [`evaluate`] as one target of the run (`target` names it in the budget's
/// failure): in the worker process when the binary enabled one
/// ([`super::worker`]), within what is left of the run's Jsonnet budget.
pub fn evaluate_target(
    root: &Path,
    file: &str,
    ext_strs: &BTreeMap<String, String>,
    target: &str,
) -> Result<Value, Box<Diagnostic>> {
    let budget = crate::budget::current().jsonnet_run;
    let mut clock = RUN_CLOCK.lock().unwrap_or_else(|p| p.into_inner());
    if clock.over {
        return Err(clock.failure(file, budget));
    }
    let left = budget.saturating_sub(clock.spent);
    let limits = Limits {
        time: LIMITS.time.min(left),
        ..LIMITS
    };
    let started = Instant::now();
    let result = match super::worker::program() {
        Some(program) => super::worker::evaluate(program, root, file, ext_strs, limits, budget),
        None => evaluate_with(root, file, ext_strs, limits),
    };
    let took = started.elapsed();
    clock.spent += took;
    clock.targets.push((target.to_string(), took));
    if clock.spent >= budget {
        clock.over = true;
        return Err(clock.failure(file, budget));
    }
    result
}

/// [`evaluate`] with explicit limits.
pub fn evaluate_with(
    root: &Path,
    file: &str,
    ext_strs: &BTreeMap<String, String>,
    limits: Limits,
) -> Result<Value, Box<Diagnostic>> {
    let refuse = |message: String, help: &str| Box::new(Diagnostic::new(file, message).help(help));
    if ABANDONED.load(Ordering::SeqCst) {
        return Err(refuse(
            "not evaluated: an earlier task definition exceeded Ferry's limits".into(),
            "fix the task definition reported above first",
        ));
    }
    let root = root.canonicalize().map_err(|e| {
        refuse(
            format!("cannot open the repository root {}: {e}", root.display()),
            "run Ferry from the repository, or pass --root",
        )
    })?;
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = {
        let (root, file, ext, cancel) = (
            root.clone(),
            file.to_string(),
            ext_strs.clone(),
            cancel.clone(),
        );
        let work = move || {
            let result = evaluate_here(&root, &file, &ext, limits, &cancel);
            let _ = tx.send(result);
        };
        spawn_worker(work, limits.stack_bytes)
    };
    if let Err(e) = worker {
        return Err(refuse(
            format!("cannot start the Jsonnet evaluation: {e}"),
            "the runner is out of threads or memory; retry",
        ));
    }
    let started = Instant::now();
    let baseline = resident_bytes();
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(result) => return result,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(refuse(
                    "the Jsonnet evaluator stopped unexpectedly (a bug in jrsonnet)".into(),
                    "simplify the task definition around its last change, and report it",
                ));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        let over = if started.elapsed() > limits.time {
            Some(format!(
                "the evaluation took longer than {} s (Ferry's limit)",
                limits.time.as_secs()
            ))
        } else if let (Some(before), Some(now)) = (baseline, resident_bytes())
            && now.saturating_sub(before) > limits.memory_bytes
        {
            Some(format!(
                "the evaluation used more than {} MiB (Ferry's limit)",
                limits.memory_bytes >> 20
            ))
        } else {
            None
        };
        if let Some(message) = over {
            cancel.store(true, Ordering::SeqCst);
            ABANDONED.store(true, Ordering::SeqCst);
            return Err(refuse(
                message,
                "look for deep nesting, unbounded recursion or a huge std.range/std.repeat; a task definition evaluates in milliseconds",
            ));
        }
    }
}

/// Runs `work` on a thread with a `stack`-byte stack, or with
/// [`FALLBACK_STACK_BYTES`] where the system refuses to reserve that much
/// (strict overcommit): a smaller stack still renders every real file.
fn spawn_worker<F: FnOnce() + Send + 'static>(work: F, stack: usize) -> std::io::Result<()> {
    let slot = Arc::new(std::sync::Mutex::new(Some(work)));
    let take = |slot: Arc<std::sync::Mutex<Option<F>>>| {
        move || {
            let job = slot.lock().ok().and_then(|mut w| w.take());
            if let Some(job) = job {
                job();
            }
        }
    };
    let builder = || std::thread::Builder::new().name("ferry-jsonnet".into());
    builder()
        .stack_size(stack)
        .spawn(take(slot.clone()))
        .or_else(|_| builder().stack_size(FALLBACK_STACK_BYTES).spawn(take(slot)))
        .map(drop)
}

/// The process's resident memory, where the platform says (Linux).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The evaluation itself, on the worker thread: resolve and load every
/// import, evaluate, convert to JSON.
fn evaluate_here(
    root: &Path,
    file: &str,
    ext_strs: &BTreeMap<String, String>,
    limits: Limits,
    cancel: &AtomicBool,
) -> Result<Value, Box<Diagnostic>> {
    let context = jrsonnet_stdlib::ContextInitializer::new(PathResolver::Relative(root.into()));
    for (name, value) in ext_strs {
        context.add_ext_str(name.as_str().into(), value.as_str().into());
    }
    let mut builder = State::builder();
    builder
        .import_resolver(ResolvedImportResolver::new())
        .context_initializer(context);
    let state = builder.build();
    let _guard = state.enter();
    let confined = Confined {
        root: root.to_path_buf(),
        library: root.join("task-definitions"),
        limits,
    };
    let entry = block_on(async_import(state.clone(), confined, &file))
        .map_err(|refused| Box::new(refused.diagnostic(root, file)))?;
    let value = state
        .import_resolved(entry)
        .map_err(|e| Box::new(diagnostic(root, file, &e)))?;
    let mut budget = Budget {
        bytes_left: limits.output_bytes,
        depth_left: limits.output_depth,
        cancel,
    };
    to_json(&value, &mut budget).map_err(|e| match e {
        Stop::Jsonnet(e) => Box::new(diagnostic(root, file, &e)),
        Stop::Limit(message) => Box::new(Diagnostic::new(file, message).help(
            "a task definition is a few KiB of JSON; look for a huge std.range or deep recursion",
        )),
    })
}

/// Drives a future whose every step is ready (the confined resolver does
/// blocking reads), without an async runtime.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}
