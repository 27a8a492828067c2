//! A hostile `.github/ferry.yml`: links out of the repository, huge or deep
//! documents, alias bombs, promotion chains of thousands, and names AWS or
//! git would refuse. Through the binary (`ferry render --check`, `ferry
//! detect`): a clear error with its position, exit 1, bounded wall time,
//! nothing written. A proptest feeds the parser arbitrary YAML-ish text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use ferry::diagnostic::Diagnose;
use ferry::manifest::Manifest;
use proptest::prelude::*;

const GOOD: &str = "project: demo
region: us-east-1
environments:
  staging: { cluster: demo-staging }
  prod: { cluster: demo-prod, promote-from: staging }
services:
  api:
    paths: [services/api/**]
";

const SECRET: &str = "ferry-manifest-secret-0b7d";

/// A repository in its own parent folder (which holds a secret file).
fn repo() -> (tempfile::TempDir, std::path::PathBuf) {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("repo");
    std::fs::create_dir_all(root.join(".github")).unwrap();
    std::fs::write(
        parent.path().join("secret.yml"),
        format!("project: {SECRET}\n"),
    )
    .unwrap();
    (parent, root)
}

/// Runs `ferry <args>` in `root`; returns the run and its wall time.
fn ferry(root: &Path, args: &[&str]) -> (support::Run, Duration) {
    let started = Instant::now();
    let run = support::ferry(root, args);
    (run, started.elapsed())
}

/// Both commands refuse the manifest at `root` with `expected` in stderr,
/// exit 1, within `limit`, without writing anything or echoing the secret.
fn assert_refused(name: &str, root: &Path, expected: &str, limit: Duration) {
    for args in [
        &["render", "--check"][..],
        &["render", "--all", "--out-dir", "out"][..],
        &["detect", "--base", "HEAD", "--head", "HEAD"][..],
    ] {
        let (run, elapsed) = ferry(root, args);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert_eq!(run.code, 1, "{name} {args:?}: {run:#?}");
        assert!(
            all.contains(expected),
            "{name} {args:?}: expected {expected:?} in {all}"
        );
        assert!(!all.contains(SECRET), "{name}: secret echoed: {all}");
        assert!(!all.contains("panicked"), "{name}: {all}");
        assert!(elapsed < limit, "{name} {args:?}: took {elapsed:?}");
        assert!(!root.join("out").exists(), "{name}: wrote out/");
    }
}

const FAST: Duration = Duration::from_secs(10);

#[test]
fn manifests_that_are_not_small_regular_files_in_the_repository_are_refused() {
    let cases: &[(&str, &str)] = &[
        ("/dev/zero", "symlink that leads out of the repository"),
        ("/dev/urandom", "symlink that leads out of the repository"),
        ("/etc/passwd", "symlink that leads out of the repository"),
        (
            "/proc/self/environ",
            "symlink that leads out of the repository",
        ),
        (
            "../../secret.yml",
            "symlink that leads out of the repository",
        ),
    ];
    for (target, expected) in cases {
        let (_parent, root) = repo();
        std::os::unix::fs::symlink(target, root.join(".github/ferry.yml")).unwrap();
        assert_refused(target, &root, expected, FAST);
    }
    // A chain of links that ends outside.
    let (parent, root) = repo();
    std::os::unix::fs::symlink(parent.path().join("secret.yml"), root.join("hop")).unwrap();
    std::os::unix::fs::symlink(root.join("hop"), root.join(".github/ferry.yml")).unwrap();
    assert_refused("chain", &root, "symlink that leads out", FAST);
    // A folder, a FIFO, 100 MB, and a file that is not UTF-8.
    let (_parent, root) = repo();
    std::fs::create_dir(root.join(".github/ferry.yml")).unwrap();
    assert_refused("directory", &root, "not a regular file", FAST);
    let (_parent, root) = repo();
    let fifo = root.join(".github/ferry.yml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    assert_refused("fifo", &root, "not a regular file", FAST);
    let (_parent, root) = repo();
    let big = format!("{GOOD}# {}\n", "x".repeat(100 << 20));
    std::fs::write(root.join(".github/ferry.yml"), big).unwrap();
    assert_refused(
        "100 MB",
        &root,
        "the manifest is larger than 4096 KiB",
        FAST,
    );
    let (_parent, root) = repo();
    std::fs::write(root.join(".github/ferry.yml"), b"project: \xff\xfe\n").unwrap();
    assert_refused("not utf-8", &root, "not UTF-8", FAST);
}

#[test]
fn a_link_inside_the_repository_is_followed() {
    let (_parent, root) = repo();
    std::fs::write(root.join("ferry.yml"), GOOD).unwrap();
    std::os::unix::fs::symlink("../ferry.yml", root.join(".github/ferry.yml")).unwrap();
    let (run, _) = ferry(&root, &["detect", "--base", "HEAD", "--head", "HEAD"]);
    assert!(
        !run.stderr.contains("symlink"),
        "a link inside the repository is fine: {}",
        run.stderr
    );
}

fn write(root: &Path, text: &str) {
    std::fs::write(root.join(".github/ferry.yml"), text).unwrap();
}

#[test]
fn deep_and_exploding_documents_are_refused_before_parsing() {
    let laughs = {
        let mut t = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10u8 {
            let (me, prev) = ((b'a' + i) as char, (b'a' + i - 1) as char);
            t.push_str(&format!(
                "{me}: &{me} [{}]\n",
                vec![format!("*{prev}"); 10].join(", ")
            ));
        }
        t
    };
    let wide_alias = {
        // One anchor of 1,000 values, aliased 1,000 times.
        let mut t = format!("x: &big [{}]\n", vec!["services/api/**"; 1000].join(", "));
        t.push_str("y: [");
        t.push_str(&vec!["*big"; 1000].join(", "));
        t.push_str("]\n");
        t
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "brackets",
            format!("project: {}", "[".repeat(100_000)),
            "`[` and `{` nest deeper than 32 levels",
        ),
        (
            "braces",
            format!("project: {}", "{a: ".repeat(100_000)),
            "`[` and `{` nest deeper than 32 levels",
        ),
        (
            "closers_in_quotes",
            format!("project: {}", "[\"]\", ".repeat(100_000)),
            "nest deeper than 32 levels",
        ),
        (
            "brackets_after_a_quote",
            format!("project: a'{}", "[".repeat(100_000)),
            "nest deeper than 32 levels",
        ),
        (
            "block_sequences",
            format!("{}x", "- ".repeat(100_000)),
            "nest deeper than 32 levels",
        ),
        (
            "block_mappings",
            (0..2000)
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect(),
            "nest deeper than 32 levels",
        ),
        (
            "billion_laughs",
            laughs,
            "expands to more than 250000 values",
        ),
        (
            "wide_alias",
            wide_alias,
            "expands to more than 250000 values",
        ),
    ];
    for (name, text, expected) in &cases {
        let (_parent, root) = repo();
        write(&root, text);
        assert_refused(name, &root, expected, FAST);
    }
}

#[test]
fn a_five_thousand_environment_promotion_chain_is_checked_in_linear_time() {
    let mut text =
        String::from("project: demo\nregion: us-east-1\nenvironments:\n  e0: { cluster: c0 }\n");
    for i in 1..5000 {
        text.push_str(&format!(
            "  e{i}: {{ cluster: c{i}, promote-from: e{} }}\n",
            i - 1
        ));
    }
    text.push_str("services:\n  api: {}\n");
    let started = Instant::now();
    let m = Manifest::parse(&text, Path::new("ferry.yml")).unwrap();
    assert_eq!(m.environments.len(), 5000);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Closed into one cycle: reported once, not 5,000 times.
    let cyclic = text.replace(
        "e0: { cluster: c0 }",
        "e0: { cluster: c0, promote-from: e4999 }",
    );
    let (_parent, root) = repo();
    write(&root, &cyclic);
    assert_refused(
        "cycle",
        &root,
        "ferry.yml:4:36: promotion cycle of 5000 environments: e0 → e4999 → e4998",
        FAST,
    );
    let (run, _) = ferry(&root, &["render", "--check"]);
    let reported = run.stderr.matches("promotion cycle").count();
    assert!((1..=2).contains(&reported), "{reported}: {}", run.stderr);
    // 5,000 environments promoted from undeclared ones: one line each, not a
    // list of 5,000 names each.
    let unknown = text.replace("promote-from: e", "promote-from: x");
    let (_parent, root) = repo();
    write(&root, &unknown);
    assert_refused(
        "unknown",
        &root,
        "names an environment that is not declared",
        FAST,
    );
    let (run, _) = ferry(&root, &["render", "--check"]);
    assert!(run.stderr.len() < 5000 * 400, "{} bytes", run.stderr.len());
}

/// (name, manifest edit as (from, to), expected message, its line:col)
const BAD_NAMES: &[(&str, (&str, &str), &str, &str)] = &[
    (
        "cluster_injection",
        ("cluster: demo-staging", "cluster: \"a b; $(id)\""),
        "cluster \"a b; $(id)\" (environment `staging`) is not an ECS cluster name: ' ' is not allowed",
        "4:23",
    ),
    (
        "ecs_service_space",
        (
            "paths: [services/api/**]",
            "paths: [services/api/**]\n    ecs-service: \"my service\"",
        ),
        "ECS service \"my service\" (service `api` in `staging`) is not an ECS service name",
        "9:18",
    ),
    (
        "ecr_case",
        (
            "paths: [services/api/**]",
            "paths: [services/api/**]\n    image-repository: \"UPPER/Case!!\"",
        ),
        "image repository \"UPPER/Case!!\" (service `api`) is not a repository name: 'U' is not allowed",
        "9:23",
    ),
    (
        "ecr_from_project",
        ("project: demo", "project: Demo"),
        "image repository \"Demo/api\" (service `api`) is not a repository name",
        "7:3",
    ),
    (
        "branch_option",
        ("project: demo", "project: demo\nrelease-branch: \"--x\""),
        "release-branch \"--x\" is not a git branch name: it must not start with `-`",
        "2:17",
    ),
    (
        "branch_dotdot",
        ("project: demo", "project: demo\nrelease-branch: \"a..b\""),
        "release-branch \"a..b\" is not a git branch name",
        "2:17",
    ),
    (
        "branch_space",
        (
            "project: demo",
            "project: demo\nrelease-branch: \"rel ease\"",
        ),
        "is not a git branch name",
        "2:17",
    ),
    (
        "registry_port",
        (
            "services:",
            "build: { registry: \"http://h:99999/x\" }\nservices:",
        ),
        "\"http://h:99999/x\" is not a registry host: port \"99999\" is not a number from 1 to 65535",
        "6:20",
    ),
    (
        "registry_scheme",
        ("services:", "build: { registry: \"ftp://h\" }\nservices:"),
        "is not a registry host",
        "6:20",
    ),
    (
        "empty_glob",
        ("paths: [services/api/**]", "paths: [\"\"]"),
        "path glob \"\" is empty or has a control character",
        "8:13",
    ),
    (
        "javascript_url",
        (
            "cluster: demo-staging }",
            "cluster: demo-staging, url: \"javascript:alert(1)\" }",
        ),
        "url \"javascript:alert(1)\" is not a web address: it must start with https:// or http://",
        "4:42",
    ),
    (
        "url_breaks_out",
        (
            "cluster: demo-staging }",
            "cluster: demo-staging, url: \"https://x.example/a) [b](c\" }",
        ),
        "is not a web address: ')' is not allowed",
        "4:42",
    ),
    (
        "parallel_zero",
        ("services:", "build: { parallel: 0 }\nservices:"),
        "parallel: 0 is out of range",
        "6:20",
    ),
    (
        "parallel_huge",
        ("services:", "build: { parallel: 64 }\nservices:"),
        "parallel: 64 is out of range",
        "6:20",
    ),
    (
        "crate_name",
        (
            "paths: [services/api/**]",
            "paths: [services/api/**]\n    crate: \"api; rm\"",
        ),
        "crate \"api; rm\" is not a Cargo package name",
        "9:12",
    ),
    (
        "dockerfile_option",
        (
            "paths: [services/api/**]",
            "paths: [services/api/**]\n    dockerfile: \"--build-arg=x\"",
        ),
        "dockerfile \"--build-arg=x\" is not a usable path",
        "9:17",
    ),
    (
        "tag_chars",
        (
            "services:",
            "build: { tag: \"{service} {sha7}\" }\nservices:",
        ),
        "the tag template `{service} {sha7}` gives service `api` the tag `api ",
        "6:15",
    ),
    (
        "glob_parent",
        ("paths: [services/api/**]", "paths: [\"../**\"]"),
        "path glob \"../**\" is not relative to the repository root",
        "8:13",
    ),
    (
        "internal_type_names",
        ("  api:\n    paths: [services/api/**]", "  api: \"x\""),
        "expected a mapping of service settings",
        "7:8",
    ),
];

#[test]
fn names_aws_git_or_docker_would_refuse_fail_with_their_position() {
    for (name, (from, to), expected, at) in BAD_NAMES {
        assert!(GOOD.contains(from), "{name}: {from}");
        let text = GOOD.replacen(from, to, 1);
        let (_parent, root) = repo();
        write(&root, &text);
        assert_refused(name, &root, expected, FAST);
        let (run, _) = ferry(&root, &["render", "--check"]);
        assert!(
            run.stderr.contains(&format!(".github/ferry.yml:{at}: ")),
            "{name}: expected the position {at} in {}",
            run.stderr
        );
        assert!(!run.stderr.contains("Raw"), "{name}: {}", run.stderr);
    }
}

#[test]
fn a_refused_value_is_not_echoed_whole() {
    let text = GOOD.replace(
        "  api:\n    paths: [services/api/**]",
        &format!("  api: \"{}\"", "v".repeat(1 << 20)),
    );
    let err = Manifest::parse(&text, Path::new("ferry.yml")).unwrap_err();
    let d = &err.diagnostics()[0];
    assert!(d.message.len() < 1000, "{} bytes", d.message.len());
    assert_eq!(d.line, Some(7));
}

#[test]
fn the_glob_suggestion_is_a_glob_from_the_root() {
    for (glob, fix) in [
        ("../**", "name the folder, e.g. \\\"services/api/**\\\""),
        ("../services/api/**", "e.g. \\\"services/api/**\\\""),
        ("/services/api/**", "e.g. \\\"services/api/**\\\""),
        ("./services/api/**", "e.g. \\\"services/api/**\\\""),
    ] {
        let text = GOOD.replace("services/api/**", &format!("'{glob}'"));
        let err = Manifest::parse(&text, Path::new("ferry.yml")).unwrap_err();
        let help = err.diagnostics()[0].help.clone().unwrap();
        let fix = fix.replace("\\\"", "\"");
        assert!(help.contains(&fix), "{glob}: {help}");
        assert!(
            !help.contains(&format!("e.g. \"{glob}\"")),
            "{glob}: {help}"
        );
    }
}

#[test]
fn a_thousand_services_with_every_field_are_accepted() {
    let mut text = String::from(
        "project: big\nregion: us-east-1\nenvironments:\n  staging: { cluster: big-staging, url: 'https://staging.example.com' }\n  prod: { cluster: big-prod, promote-from: staging }\nbuild: { registry: 'http://127.0.0.1:5001', parallel: 4 }\nservices:\n",
    );
    for i in 0..1000 {
        text.push_str(&format!(
            "  svc{i}:\n    paths: ['services/svc{i}/**', 'config/svc{i}.{{yml,json}}']\n    crate: svc{i}\n    ecs-service: '{{project}}-{{env}}-svc{i}'\n    image-repository: '{{project}}/svc{i}'\n"
        ));
    }
    let m = Manifest::parse(&text, Path::new("ferry.yml")).unwrap();
    assert_eq!(m.services.len(), 1000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary YAML-ish text: never a panic, never a hang; a refusal
    /// always says where or what.
    #[test]
    fn the_parser_never_panics_or_hangs(
        text in proptest::string::string_regex(
            "([a-z\\-:{}\\[\\],&*!|>'\"#? \\n]|project: |services:|  |- |&a |\\*a|\\{|\\[){0,400}"
        ).unwrap()
    ) {
        let started = Instant::now();
        let result = Manifest::parse(&text, Path::new("ferry.yml"));
        prop_assert!(started.elapsed() < Duration::from_secs(2));
        if let Err(e) = result {
            let d = e.diagnostics();
            prop_assert!(!d.is_empty());
            prop_assert!(d.iter().all(|d| !d.message.is_empty()));
        }
    }

    /// A valid manifest with arbitrary names in its name fields: accepted
    /// or refused with a position, never a panic.
    #[test]
    fn arbitrary_names_are_accepted_or_located(
        name in "\\PC{0,40}",
        field in prop::sample::select(vec!["cluster", "ecs-service", "image-repository", "release-branch", "url", "crate"]),
    ) {
        let quoted = serde_json::to_string(&name).unwrap();
        let text = match field {
            "cluster" => GOOD.replace("cluster: demo-staging", &format!("cluster: {quoted}")),
            "url" => GOOD.replace("cluster: demo-staging", &format!("cluster: demo-staging, url: {quoted}")),
            "release-branch" => format!("{GOOD}release-branch: {quoted}\n"),
            other => GOOD.replace("paths: [services/api/**]", &format!("paths: [services/api/**]\n    {other}: {quoted}")),
        };
        if let Err(e) = Manifest::parse(&text, Path::new("ferry.yml")) {
            for d in e.diagnostics() {
                prop_assert!(d.line.is_some(), "{d}");
                prop_assert!(!d.message.contains('\n') && !d.message.contains('\r'), "{d}");
            }
        }
    }
}
