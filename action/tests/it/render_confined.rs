//! `ferry render` with hostile Jsonnet: imports that reach outside the
//! repository, and evaluations that would never end or never fit in
//! memory. Each run must end with a clear error, exit 1, within a bounded
//! time, write nothing, and never print what lies outside the repository.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;

const MANIFEST: &str = "project: demo
region: us-east-1
environments:
  staging: { cluster: demo-staging }
services:
  svc:
    paths: [svc/**]
    task-definition: task-definitions/svc.jsonnet
";

/// A secret in the environment of every run: it must never be printed,
/// neither as is nor base64-encoded (what `importbin` would give).
const SECRET: &str = "ferry-test-secret-5f0c2a9e";

/// A repository (inside its own parent folder, so `../outside.txt` exists)
/// whose task definition is `jsonnet`.
struct Bed {
    parent: tempfile::TempDir,
}

impl Bed {
    fn new(jsonnet: &str) -> Self {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join("repo");
        let source = support::root();
        std::fs::create_dir_all(root.join(".github")).unwrap();
        std::fs::create_dir_all(root.join("task-definitions/lib")).unwrap();
        std::fs::write(root.join(".github/ferry.yml"), MANIFEST).unwrap();
        std::fs::copy(
            source.join("task-definitions/lib/base.libsonnet"),
            root.join("task-definitions/lib/base.libsonnet"),
        )
        .unwrap();
        std::fs::write(root.join("task-definitions/svc.jsonnet"), jsonnet).unwrap();
        std::fs::write(parent.path().join("outside.txt"), format!("{SECRET}\n")).unwrap();
        Self { parent }
    }

    fn root(&self) -> std::path::PathBuf {
        self.parent.path().join("repo")
    }

    fn link(&self, target: &Path, link: &str) -> &Self {
        let at = self.root().join(link);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, at).unwrap();
        self
    }

    /// `ferry render` of the one target: the run, whether out.json exists,
    /// and the wall time.
    fn render(&self) -> (support::Run, bool, Duration) {
        let started = Instant::now();
        let run = support::ferry_with(
            &self.root(),
            &[
                "render",
                "--service",
                "svc",
                "--env",
                "staging",
                "--out",
                "out.json",
                "--image",
                "1.dkr.ecr.us-east-1.amazonaws.com/demo/svc:svc-abc1234",
                "--ext-str",
                "EXECUTION_ROLE_ARN=arn:aws:iam::1:role/e",
                "--ext-str",
                "TASK_ROLE_ARN=arn:aws:iam::1:role/t",
            ],
            &[("FERRY_TEST_SECRET", SECRET)],
        );
        let elapsed = started.elapsed();
        (run, self.root().join("out.json").exists(), elapsed)
    }
}

/// Asserts a refused render: exit 1, nothing written, `expected` in the
/// output, no secret (plain or base64), within `limit`.
fn assert_refused(name: &str, bed: &Bed, expected: &str, limit: Duration) {
    let (run, written, elapsed) = bed.render();
    let all = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, 1, "{name}: {run:#?}");
    assert!(!written, "{name}: out.json was written");
    assert!(
        all.contains(expected),
        "{name}: expected {expected:?} in {all}"
    );
    assert!(!all.contains(SECRET), "{name}: the secret leaked: {all}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
    assert!(
        !all.contains(&b64[..20]),
        "{name}: the secret leaked in base64"
    );
    assert!(
        !all.contains("root:x:0:0"),
        "{name}: /etc/passwd leaked: {all}"
    );
    assert!(
        !all.contains("panicked") && !all.contains("overflowed"),
        "{name}: {all}"
    );
    assert!(elapsed < limit, "{name}: took {elapsed:?}");
}

const FAST: Duration = Duration::from_secs(10);

#[test]
fn imports_outside_the_repository_are_refused_by_their_text() {
    let cases: &[(&str, &str, &str)] = &[
        ("absolute", "importstr '/etc/passwd'", "is an absolute path"),
        (
            "absolute_import",
            "import '/etc/passwd'",
            "is an absolute path",
        ),
        (
            "environ",
            "importbin '/proc/self/environ'",
            "is an absolute path",
        ),
        (
            "dotdot",
            "importstr '../../../../../../../../etc/passwd'",
            "leaves the repository",
        ),
        (
            "sibling",
            "importstr '../../outside.txt'",
            "leaves the repository",
        ),
        (
            "dotdot_inside_then_out",
            "importstr 'lib/../../../outside.txt'",
            "leaves the repository",
        ),
        (
            "dotdot_missing",
            "importstr '../../no-such-file'",
            "leaves the repository",
        ),
        (
            "nested_import",
            "import 'lib/evil.libsonnet'",
            "leaves the repository",
        ),
        ("nul", "importstr 'lib/a\\u0000b'", "is not a file path"),
        ("newline", "importstr 'lib/a\\nb'", "is not a file path"),
        ("empty", "importstr ''", "is not a file path"),
        (
            "missing",
            "importstr 'lib/nope.txt'",
            "import \"lib/nope.txt\" not found",
        ),
    ];
    for (name, jsonnet, expected) in cases {
        let bed = Bed::new(jsonnet);
        std::fs::write(
            bed.root().join("task-definitions/lib/evil.libsonnet"),
            "importstr '../../../outside.txt'",
        )
        .unwrap();
        assert_refused(name, &bed, expected, FAST);
    }
}

#[test]
fn the_refused_import_is_located_in_the_importing_file() {
    let bed = Bed::new("local base = import 'lib/base.libsonnet';\nimport 'lib/evil.libsonnet'");
    std::fs::write(
        bed.root().join("task-definitions/lib/evil.libsonnet"),
        "{\n  a: importstr '../../../outside.txt',\n}",
    )
    .unwrap();
    let (run, _, _) = bed.render();
    assert!(
        run.stderr
            .contains("task-definitions/lib/evil.libsonnet:2:17: import \"../../../outside.txt\" leaves the repository"),
        "{}",
        run.stderr
    );
}

/// Prepares a bed (links, FIFOs) before the render.
type Setup = Box<dyn Fn(&Bed)>;

#[test]
fn symlinks_out_of_the_repository_are_refused() {
    let outside = |bed: &Bed| bed.parent.path().join("outside.txt");
    let cases: Vec<(&str, Setup, &str, &str)> = vec![
        (
            "file_link",
            Box::new(|b: &Bed| {
                b.link(Path::new("/etc/passwd"), "task-definitions/lib/p.txt");
            }),
            "importstr 'lib/p.txt'",
            "symlink that leads out",
        ),
        (
            "link_to_sibling",
            Box::new(move |b: &Bed| {
                b.link(&outside(b), "task-definitions/lib/o.txt");
            }),
            "importstr 'lib/o.txt'",
            "symlink that leads out",
        ),
        (
            "chain",
            Box::new(move |b: &Bed| {
                b.link(&outside(b), "x/hop2");
                b.link(&b.root().join("x/hop2"), "x/hop1");
                b.link(&b.root().join("x/hop1"), "task-definitions/lib/chain.txt");
            }),
            "importstr 'lib/chain.txt'",
            "symlink that leads out",
        ),
        (
            "dir_link",
            Box::new(|b: &Bed| {
                b.link(Path::new("/etc"), "task-definitions/etc");
            }),
            "importstr 'etc/passwd'",
            "symlink that leads out",
        ),
        (
            "environ_link",
            Box::new(|b: &Bed| {
                b.link(Path::new("/proc/self/environ"), "task-definitions/env.bin");
            }),
            "importbin 'env.bin'",
            "symlink that leads out",
        ),
        (
            "dev_zero",
            Box::new(|b: &Bed| {
                b.link(Path::new("/dev/zero"), "task-definitions/zero");
            }),
            "importstr 'zero'",
            "symlink that leads out",
        ),
        (
            "entry_point",
            Box::new(|b: &Bed| {
                let entry = b.root().join("task-definitions/svc.jsonnet");
                std::fs::remove_file(&entry).unwrap();
                b.link(Path::new("/etc/passwd"), "task-definitions/svc.jsonnet");
            }),
            "{}",
            "symlink that leads out",
        ),
        (
            "fifo",
            Box::new(|b: &Bed| {
                let fifo = b.root().join("task-definitions/pipe");
                let ok = std::process::Command::new("mkfifo")
                    .arg(&fifo)
                    .status()
                    .unwrap();
                assert!(ok.success());
            }),
            "importstr 'pipe'",
            "is not a regular file",
        ),
        (
            "directory",
            Box::new(|_: &Bed| {}),
            "importstr 'lib'",
            "is not a regular file",
        ),
    ];
    for (name, setup, jsonnet, expected) in &cases {
        let bed = Bed::new(jsonnet);
        setup(&bed);
        assert_refused(name, &bed, expected, FAST);
    }
}

#[test]
fn the_default_values_file_must_be_a_small_file_in_the_repository() {
    let bed = Bed::new("{}");
    bed.link(
        &bed.parent.path().join("outside.txt"),
        "task-definitions/environments/staging.json",
    );
    assert_refused(
        "values_link",
        &bed,
        "task-definitions/environments/staging.json: the values file is a symlink that leads out of the repository",
        FAST,
    );
    let bed = Bed::new("{}");
    std::fs::create_dir_all(bed.root().join("task-definitions/environments")).unwrap();
    std::fs::write(
        bed.root()
            .join("task-definitions/environments/staging.json"),
        format!("{{\"a\": \"{}\"}}", "x".repeat(2 << 20)),
    )
    .unwrap();
    assert_refused(
        "values_size",
        &bed,
        "the values file is larger than 1024 KiB",
        FAST,
    );
}

#[test]
fn a_link_inside_the_repository_still_works() {
    let bed = Bed::new(
        "local base = import 'lib/base.libsonnet';\nlocal v = importstr 'lib/v.txt';\nassert v == 'x';\nimport 'lib/real.libsonnet'",
    );
    std::fs::write(bed.root().join("task-definitions/lib/v0.txt"), "x").unwrap();
    bed.link(
        &bed.root().join("task-definitions/lib/v0.txt"),
        "task-definitions/lib/v.txt",
    );
    std::fs::write(
        bed.root().join("task-definitions/lib/real.libsonnet"),
        "local base = import 'base.libsonnet';\nbase.taskDefinition('svc', [base.container('svc', base.image(), { cpu: 128, memory: 256, portMappings: [base.portMapping(8080)], healthCheck: base.healthCheck(['/bin/svc', 'health']) })], { cpu: '256', memory: '512' })",
    )
    .unwrap();
    let (run, written, _) = bed.render();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(written);
}

#[test]
fn oversized_and_deeply_nested_sources_are_refused_before_parsing() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "two_mib",
            format!("'{}'", "x".repeat(2 << 20)),
            "larger than 1024 KiB",
        ),
        (
            "brackets",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
            "brackets nest deeper than 200 levels",
        ),
        (
            "braces",
            format!("{}1{}", "{a:".repeat(100_000), "}".repeat(100_000)),
            "brackets nest deeper than 200 levels",
        ),
        (
            "parens",
            format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
            "brackets nest deeper than 200 levels",
        ),
        (
            "hidden_by_strings",
            "[ ']' ".repeat(50_000),
            "brackets nest deeper than 200 levels",
        ),
    ];
    for (name, jsonnet, expected) in &cases {
        assert_refused(name, &Bed::new(jsonnet), expected, FAST);
    }
    // The same limits hold for an imported file.
    let bed = Bed::new("import 'deep.json'");
    std::fs::write(
        bed.root().join("task-definitions/deep.json"),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
    )
    .unwrap();
    assert_refused("imported", &bed, "brackets nest deeper", FAST);
}

/// Shapes the native parser and analyser recurse on without brackets:
/// they meet the memory limit, never the end of the stack.
#[test]
fn deep_expressions_end_in_an_error_not_a_stack_overflow() {
    let cases: Vec<(&str, String)> = vec![
        ("unary_minus", format!("{}1", "-".repeat(1_000_000))),
        ("not", format!("{}true", "!".repeat(1_000_000))),
        ("if_chain", format!("{}1", "if true then ".repeat(80_000))),
        (
            "local_chain",
            format!("{}a", "local a = 1; ".repeat(80_000)),
        ),
        ("plus_chain", format!("1{}", "+1".repeat(500_000))),
        ("error_chain", format!("{}1", "error ".repeat(170_000))),
    ];
    for (name, jsonnet) in &cases {
        let (run, written, elapsed) = Bed::new(jsonnet).render();
        let all = format!("{}{}", run.stdout, run.stderr);
        assert_eq!(run.code, 1, "{name}: {all}");
        assert!(!written, "{name}");
        assert!(!all.contains("overflowed"), "{name}: {all}");
        assert!(elapsed < Duration::from_secs(30), "{name}: {elapsed:?}");
    }
}

#[test]
fn evaluations_are_bounded_in_output_depth_and_recursion() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "huge_range",
            "{ a: std.range(0, 2e9) }",
            "larger than 4096 KiB of JSON",
        ),
        (
            "huge_string",
            "local d(s, n) = if n == 0 then s else d(s + s, n - 1); { a: d('x', 40) }",
            "larger than 4096 KiB of JSON",
        ),
        (
            "deep_output",
            "std.foldl(function(a, x) [a], std.range(0, 100000), [])",
            "nests deeper than 64 levels",
        ),
        (
            "infinite_recursion",
            "local f(n) = f(n + 1); f(0)",
            "the evaluation recursed deeper than jrsonnet's limit",
        ),
        (
            "function_result",
            "function(x) x",
            "tried to manifest function",
        ),
    ];
    for (name, jsonnet, expected) in cases {
        assert_refused(name, &Bed::new(jsonnet), expected, FAST);
    }
}

#[test]
fn evaluations_that_never_end_stop_at_the_time_limit() {
    // (name, Jsonnet, expected): sorting two billion numbers meets the time
    // or the memory limit first, depending on the machine.
    let cases: &[(&str, &str, &str)] = &[
        (
            "exponential",
            "local s(n) = if n == 0 then 1 else s(n - 1) + s(n - 1); s(100)",
            "the evaluation took longer than 10 s (Ferry's limit)",
        ),
        (
            "sort_range",
            "std.length(std.sort(std.range(0, 2e9)))",
            "(Ferry's limit)",
        ),
    ];
    for (name, jsonnet, expected) in cases {
        assert_refused(name, &Bed::new(jsonnet), expected, Duration::from_secs(25));
    }
}

#[test]
fn evaluations_that_grow_without_bound_stop_at_the_memory_limit() {
    let cases: &[(&str, &str)] = &[
        ("repeat", "std.length(std.repeat('x', 2e9))"),
        (
            "join",
            "local a = std.repeat('x', 1e6); std.length(std.join(a, std.repeat([a], 3000)))",
        ),
    ];
    for (name, jsonnet) in cases {
        assert_refused(
            name,
            &Bed::new(jsonnet),
            "used more than 1024 MiB",
            Duration::from_secs(25),
        );
    }
}
