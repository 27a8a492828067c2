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
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jrsonnet_evaluator::analyze::DiagLevel;
use jrsonnet_evaluator::async_import::{AsyncImportResolver, ResolvedImportResolver, async_import};
use jrsonnet_evaluator::error::ErrorKind;
use jrsonnet_evaluator::trace::PathResolver;
use jrsonnet_evaluator::val::StrValue;
use jrsonnet_evaluator::{
    AsPathLike, Error, FileImportResolver, IStr, ImportResolver, ResolvePath, SourcePath, State,
    Val,
};
use serde_json::Value;

use crate::diagnostic::Diagnostic;

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

/// Why the resolver refused an import.
#[derive(Debug)]
pub struct Refused {
    /// The importing file, when it is not the entry point.
    from: Option<PathBuf>,
    /// The import as written.
    import: String,
    /// What is wrong.
    message: String,
    /// How to fix it.
    help: String,
}

impl Refused {
    fn diagnostic(&self, root: &Path, entry: &str) -> Diagnostic {
        let Some(from) = &self.from else {
            return Diagnostic::new(entry, &self.message).help(&self.help);
        };
        let d = Diagnostic::new(relative(root, from), &self.message).help(&self.help);
        // No frame points at the import: find its text in the importing file.
        let located = std::fs::read_to_string(from).ok().and_then(|text| {
            let offset = text.find(self.import.as_str())?;
            let line = text[..offset].matches('\n').count() + 1;
            let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
            Some((line, column))
        });
        match located {
            Some((line, column)) => d.at(line, column),
            None => d,
        }
    }
}

/// The one import resolver: repository files only.
struct Confined {
    /// The repository root, canonical.
    root: PathBuf,
    /// The library folder (`task-definitions/`).
    library: PathBuf,
    limits: Limits,
}

const INSIDE_HELP: &str = "imports resolve inside the repository only: write a path relative to the importing file or to task-definitions/ (e.g. 'lib/base.libsonnet'), without symlinks that lead out";

impl Confined {
    fn refused(&self, from: Option<&Path>, import: &str, message: String, help: &str) -> Refused {
        Refused {
            from: from.map(Path::to_path_buf),
            import: import.to_string(),
            message,
            help: help.to_string(),
        }
    }

    /// Where `import`, written in a file of `from_dir`, resolves: the first
    /// existing candidate, which must stay inside the root.
    fn resolve(&self, from: Option<&Path>, import: &str) -> Result<PathBuf, Refused> {
        let shown = format!("{import:?}");
        if import.is_empty() || import.contains(['\0', '\n', '\r']) {
            return Err(self.refused(
                from,
                import,
                format!("import {shown} is not a file path"),
                INSIDE_HELP,
            ));
        }
        let wanted = Path::new(import);
        if wanted.is_absolute() || wanted.has_root() {
            return Err(self.refused(
                from,
                import,
                format!("import {shown} is an absolute path, outside the repository"),
                INSIDE_HELP,
            ));
        }
        let from_dir = from.and_then(Path::parent).unwrap_or(&self.root);
        for base in [from_dir, self.library.as_path()] {
            let candidate = base.join(wanted);
            // Refuse by the text first: `../../etc/passwd` is refused whether
            // or not it exists, and says nothing about files outside.
            if !lexically_inside(&self.root, &candidate) {
                return Err(self.refused(
                    from,
                    import,
                    format!("import {shown} leaves the repository"),
                    INSIDE_HELP,
                ));
            }
            let Ok(real) = candidate.canonicalize() else {
                continue;
            };
            if !real.starts_with(&self.root) {
                return Err(self.refused(
                    from,
                    import,
                    format!("import {shown} is a symlink that leads out of the repository"),
                    INSIDE_HELP,
                ));
            }
            // A FIFO would block the read, a device never end it.
            if !std::fs::metadata(&real).is_ok_and(|m| m.is_file()) {
                return Err(self.refused(
                    from,
                    import,
                    format!("import {shown} is not a regular file"),
                    "import a Jsonnet, JSON or text file",
                ));
            }
            return Ok(real);
        }
        Err(self.refused(
            from,
            import,
            format!("import {shown} not found"),
            &format!(
                "no file {shown} next to the importing file nor under task-definitions/: fix the import path"
            ),
        ))
    }

    /// Reads a resolved file: a regular file within the size limit, with
    /// its nesting checked.
    fn load(&self, path: &Path) -> Result<Vec<u8>, Refused> {
        let shown = relative(&self.root, path).display().to_string();
        let refuse = |message: String, help: &str| self.refused(None, &shown, message, help);
        let meta = std::fs::metadata(path)
            .map_err(|e| refuse(format!("cannot read {shown}: {e}"), "check the file"))?;
        if !meta.is_file() {
            return Err(refuse(
                format!("{shown} is not a regular file"),
                "import a Jsonnet, JSON or text file",
            ));
        }
        let limit = self.limits.file_bytes;
        let mut data = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(limit + 1).read_to_end(&mut data))
            .map_err(|e| refuse(format!("cannot read {shown}: {e}"), "check the file"))?;
        if data.len() as u64 > limit {
            return Err(refuse(
                format!("{shown} is larger than {} KiB (Ferry's limit)", limit >> 10),
                "task definitions and their imports are small; split or trim the file",
            ));
        }
        if let Some(line) = too_deep(&data, self.limits.nesting) {
            return Err(Refused {
                from: None,
                import: shown.clone(),
                message: format!(
                    "{shown}:{line}: brackets nest deeper than {} levels (Ferry's limit)",
                    self.limits.nesting
                ),
                help: "flatten the structure".into(),
            });
        }
        Ok(data)
    }
}

impl AsyncImportResolver for Confined {
    type Error = Refused;

    async fn resolve_from(
        &self,
        from: &SourcePath,
        path: &dyn AsPathLike,
    ) -> Result<SourcePath, Refused> {
        let from = from.path();
        let import = match path.as_path() {
            ResolvePath::Str(s) => s.to_string(),
            ResolvePath::Path(p) => p.to_string_lossy().into_owned(),
        };
        let real = self.resolve(from, &import)?;
        // jrsonnet's file resolver builds the file's source path from the
        // absolute, checked path (nothing else is looked up).
        FileImportResolver::default()
            .resolve_from(&SourcePath::default(), &real.as_path())
            .map_err(|e| {
                self.refused(
                    from,
                    &import,
                    format!("import {import:?} cannot be opened: {}", e.error()),
                    INSIDE_HELP,
                )
            })
    }

    async fn load_file_contents(&self, resolved: &SourcePath) -> Result<Vec<u8>, Refused> {
        match resolved.path() {
            Some(path) => self.load(path),
            None => Err(self.refused(
                None,
                "",
                "only repository files can be imported".into(),
                INSIDE_HELP,
            )),
        }
    }
}

/// Whether `path`, with `.` and `..` applied to its text, stays under `root`.
fn lexically_inside(root: &Path, path: &Path) -> bool {
    let mut parts: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return false;
                }
            }
            Component::CurDir => {}
            other => parts.push(other),
        }
    }
    parts.iter().collect::<PathBuf>().starts_with(root)
}

/// The line where `(`, `[` and `{` first nest deeper than `limit` in Jsonnet
/// source, skipping strings and comments; None when they never do.
pub fn too_deep(source: &[u8], limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| source.get(i).copied();
    while let Some(b) = at(i) {
        match b {
            b'\n' => line += 1,
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(line);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'#' => {
                while at(i).is_some_and(|c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'/' if at(i + 1) == Some(b'/') => {
                while at(i).is_some_and(|c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'/' if at(i + 1) == Some(b'*') => {
                i += 2;
                while at(i).is_some() && !(at(i) == Some(b'*') && at(i + 1) == Some(b'/')) {
                    line += usize::from(at(i) == Some(b'\n'));
                    i += 1;
                }
                i += 2;
                continue;
            }
            b'|' if source[i..].starts_with(b"|||") => {
                i += 3;
                while at(i).is_some() && !source[i..].starts_with(b"|||") {
                    line += usize::from(at(i) == Some(b'\n'));
                    i += 1;
                }
                i += 3;
                continue;
            }
            b'@' if matches!(at(i + 1), Some(b'"' | b'\'')) => {
                // Verbatim string: a doubled quote is the only escape.
                let quote = source[i + 1];
                i += 2;
                while let Some(c) = at(i) {
                    if c == quote {
                        if at(i + 1) == Some(quote) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    line += usize::from(c == b'\n');
                    i += 1;
                }
            }
            b'"' | b'\'' => {
                i += 1;
                while let Some(c) = at(i) {
                    match c {
                        b'\\' => i += 1,
                        c if c == b => break,
                        b'\n' => line += 1,
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The bounds [`to_json`] works within.
struct Budget<'a> {
    bytes_left: usize,
    depth_left: usize,
    cancel: &'a AtomicBool,
}

/// Why [`to_json`] stopped.
enum Stop {
    /// Evaluating a field or element failed.
    Jsonnet(Error),
    /// A limit was reached (or the evaluation was cancelled).
    Limit(String),
}

impl Budget<'_> {
    fn spend(&mut self, bytes: usize) -> Result<(), Stop> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Stop::Limit("the evaluation was stopped".into()));
        }
        self.bytes_left = self.bytes_left.checked_sub(bytes).ok_or_else(|| {
            Stop::Limit(format!(
                "the task definition is larger than {} KiB of JSON (Ferry's limit)",
                LIMITS.output_bytes >> 10
            ))
        })?;
        Ok(())
    }
}

/// Manifests a Jsonnet value as JSON, forcing lazy fields and elements one
/// at a time so that size, depth and cancellation are checked as it goes
/// (jrsonnet's own manifester builds the whole text first).
fn to_json(val: &Val, budget: &mut Budget<'_>) -> Result<Value, Stop> {
    Ok(match val {
        Val::Null => {
            budget.spend(4)?;
            Value::Null
        }
        Val::Bool(b) => {
            budget.spend(5)?;
            Value::Bool(*b)
        }
        Val::Num(n) => {
            let text = n.to_string();
            budget.spend(text.len())?;
            serde_json::from_str::<serde_json::Number>(&text)
                .map(Value::Number)
                .unwrap_or(Value::Null)
        }
        Val::Str(s) => string(s, budget)?,
        Val::Arr(items) => {
            let mut out = Vec::new();
            nested(budget, |budget| {
                for item in items.iter() {
                    budget.spend(1)?;
                    out.push(to_json(&item.map_err(Stop::Jsonnet)?, budget)?);
                }
                Ok(())
            })?;
            Value::Array(out)
        }
        Val::Obj(obj) => {
            obj.run_assertions().map_err(Stop::Jsonnet)?;
            let mut out = serde_json::Map::new();
            nested(budget, |budget| {
                for (key, value) in obj.iter() {
                    budget.spend(key.len() + 4)?;
                    let value = to_json(&value.map_err(Stop::Jsonnet)?, budget)?;
                    out.insert(key.to_string(), value);
                }
                Ok(())
            })?;
            Value::Object(out)
        }
        Val::Func(_) => {
            return Err(Stop::Jsonnet(
                ErrorKind::RuntimeError(IStr::from("tried to manifest function")).into(),
            ));
        }
    })
}

fn string(s: &StrValue, budget: &mut Budget<'_>) -> Result<Value, Stop> {
    // The length is known before the (possibly huge) string is built.
    budget.spend(s.len() + 2)?;
    Ok(Value::String(s.to_string()))
}

fn nested(
    budget: &mut Budget<'_>,
    f: impl FnOnce(&mut Budget<'_>) -> Result<(), Stop>,
) -> Result<(), Stop> {
    budget.spend(2)?;
    budget.depth_left = budget.depth_left.checked_sub(1).ok_or_else(|| {
        Stop::Limit(format!(
            "the task definition nests deeper than {} levels (Ferry's limit)",
            LIMITS.output_depth
        ))
    })?;
    let result = f(budget);
    budget.depth_left += 1;
    result
}

/// Turns a jrsonnet error into a diagnostic at the innermost location in a
/// user's file: a syntax error at its token, otherwise the top frame of the
/// stack trace.
fn diagnostic(root: &Path, file: &str, error: &Error) -> Diagnostic {
    let message = match error.error() {
        // jrsonnet's message lists its lint warnings ("local could be
        // hoisted") with the errors: only the errors stopped the render.
        ErrorKind::StaticAnalysisError(found) => {
            let errors: Vec<&str> = found
                .iter()
                .filter(|d| matches!(d.level, DiagLevel::Error))
                .map(|d| d.message.as_str())
                .collect();
            format!("static analysis errors: {}", errors.join("; "))
        }
        ErrorKind::StackOverflow => format!(
            "the evaluation recursed deeper than jrsonnet's limit ({})",
            "200 calls"
        ),
        other => other.to_string(),
    };
    let help = help_for(error.error());
    let located = match error.error() {
        ErrorKind::ImportSyntaxError {
            path,
            error: syntax,
        } => {
            let offset = syntax
                .location
                .1
                .min(u32::try_from(path.code().len()).unwrap_or(u32::MAX));
            let [loc] = path.map_source_locations(&[offset]);
            path.source_path()
                .path()
                .map(|p| (relative(root, p), loc.line, loc.column.max(1)))
        }
        // No stack yet: the first error's own span.
        ErrorKind::StaticAnalysisError(found) => found
            .iter()
            .filter(|d| matches!(d.level, DiagLevel::Error))
            .find_map(|d| {
                let span = d.span.as_ref()?;
                let p = span.0.source_path().path()?;
                let [loc] = span.0.map_source_locations(&[span.1]);
                Some((relative(root, p), loc.line, loc.column.max(1)))
            }),
        _ => error.trace().0.iter().find_map(|frame| {
            let span = frame.location.as_ref()?;
            let p = span.0.source_path().path()?;
            let [loc] = span.0.map_source_locations(&[span.1]);
            Some((relative(root, p), loc.line, loc.column.max(1)))
        }),
    };
    let first_line = message
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .replace(&format!("{}/", root.display()), "");
    let d = match located {
        Some((path, line, column)) => Diagnostic::new(path, first_line).at(line, column),
        None => Diagnostic::new(file, first_line),
    };
    d.help(help)
}

fn help_for(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::UndefinedExternalVariable(name) => format!(
            "pass ext-str {name}: `--ext-str {name}=VALUE`, the environment variable FERRY_EXT_{name}, or the environment's values file (task-definitions/environments/<env>.json)"
        ),
        ErrorKind::ImportSyntaxError { .. } => {
            "fix the Jsonnet syntax at this position".to_string()
        }
        ErrorKind::StackOverflow => {
            "look for a function that calls itself without an end".to_string()
        }
        _ => "fix the Jsonnet at this position (the message is jrsonnet's)".to_string(),
    }
}

/// `path` relative to the (canonical) root, for messages.
fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_skips_strings_and_comments() {
        assert_eq!(too_deep(b"[[[1]]]", 3), None);
        assert_eq!(too_deep(b"[[[[1]]]]", 3), Some(1));
        assert_eq!(too_deep(b"'[[[[[' + \"{{{{\" // ((((\n", 1), None);
        assert_eq!(too_deep(b"[ ']' [ ']' [ ']' [", 3), Some(1));
        assert_eq!(
            too_deep(b"@'a''[[[[' |||\n [[[[\n||| /* [[[[ */ [", 1),
            None
        );
        assert_eq!(too_deep(b"\n\n{{", 1), Some(3));
    }

    #[test]
    fn lexical_escape() {
        let root = Path::new("/r/repo");
        assert!(lexically_inside(root, Path::new("/r/repo/a/../b")));
        assert!(!lexically_inside(root, Path::new("/r/repo/a/../../b")));
        assert!(!lexically_inside(root, Path::new("/r/repo/../repo2/x")));
        assert!(!lexically_inside(
            root,
            Path::new("/r/repo/../../../../../..")
        ));
    }
}
