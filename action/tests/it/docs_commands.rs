//! Docs that are true (issue 24): every fenced shell command in README.md
//! and docs/ is run on the example (a copy of this repository's platform,
//! committed to a fresh git repository, with the built `ferry` on PATH), or
//! skipped for a stated reason (credentials, a network, the test command
//! itself). Every relative link and file path the docs name exists, and so
//! does every repository file an error's help text names.
//!
//! `scripts/test` runs this module with `--nocapture`: the list of run and
//! skipped commands is printed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

use crate::support::{self, git_in, root};

/// The documents whose commands and links are checked.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md")];
    let mut stack = vec![root().join("docs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                docs.push(path);
            }
        }
    }
    docs.sort();
    docs
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap().display().to_string()
}

/// The commands of the shell code blocks of `markdown`: continuation lines
/// joined, comments and blank lines dropped.
fn shell_commands(markdown: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_shell = false;
    let mut text = String::new();
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
                in_shell = matches!(lang.as_ref(), "sh" | "bash" | "shell" | "console");
                text.clear();
            }
            Event::Text(t) if in_shell => text.push_str(&t),
            Event::End(TagEnd::CodeBlock) if in_shell => {
                in_shell = false;
                let mut current = String::new();
                for line in text.lines() {
                    let line = line.trim().trim_start_matches("$ ");
                    if let Some(head) = line.strip_suffix('\\') {
                        current.push_str(head);
                        current.push(' ');
                        continue;
                    }
                    current.push_str(line);
                    let command = strip_comment(&current).trim().to_string();
                    if !command.is_empty() {
                        commands.push(command);
                    }
                    current.clear();
                }
            }
            _ => {}
        }
    }
    commands
}

/// `cmd   # what it does` → `cmd` (a `#` inside quotes stays).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (c, quote) {
            ('\'' | '"', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            ('#', None) if i == 0 || line[..i].ends_with(' ') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// What the doc test does with a command.
#[derive(Debug, PartialEq)]
enum Decision {
    /// Run it, as this shell line, in the example.
    Run(String),
    /// Skip it, for this reason.
    Skip(&'static str),
}

/// The image the documented commands' `URI` placeholder stands for.
const URI: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/email-platform/sampleapi:doc-test";

fn decide(command: &str) -> Decision {
    let ferry = command
        .strip_prefix("cargo run -p ferry -- ")
        .map(|rest| format!("ferry {rest}"))
        .unwrap_or_else(|| command.to_string());
    if command == "scripts/test" || command.starts_with("cargo test") {
        return Decision::Skip("the test command itself (this test runs inside it)");
    }
    if command.starts_with("scripts/testbed") {
        return Decision::Skip(
            "starts or stops the test bed, which scripts/test already runs (install needs a network)",
        );
    }
    if command.starts_with("terraform") || command.starts_with("cd terraform") {
        return Decision::Skip("needs AWS credentials and the platform's Terraform state");
    }
    if ferry.starts_with("ferry preflight") {
        return Decision::Skip("asks AWS whether the references exist: needs AWS credentials");
    }
    if ferry.starts_with("ferry deploy") && !ferry.contains("--dry-run") {
        return Decision::Skip("deploys: needs AWS credentials and a GitHub token");
    }
    if ferry.starts_with("ferry diff") {
        return Decision::Skip("reads the running ECS service: needs AWS credentials");
    }
    if ferry.starts_with("ferry ") {
        // Placeholders the docs use, with what stands in for them here.
        let line = ferry
            .replace("--images ...", "--images \"$IMAGES\"")
            .replace(" URI", &format!(" {URI}"));
        return Decision::Run(line);
    }
    Decision::Skip("not a command this test knows how to run: add a rule to docs_commands.rs")
}

/// The example: the platform's files committed to a fresh repository.
fn example() -> tempfile::TempDir {
    let dir = support::deploy::copy_repo(&[
        ".github/ferry.yml",
        "task-definitions",
        "services",
        "Cargo.toml",
        "Cargo.lock",
        "action/schema",
    ]);
    support::init_repo(dir.path());
    git_in(dir.path(), &["add", "-A"]);
    git_in(dir.path(), &["commit", "-qm", "the example"]);
    // What `terraform show -json tfplan > plan.json` would have written.
    std::fs::copy(
        root().join("action/tests/data/plans/01_tfjson__testdata_basic_plan.json"),
        dir.path().join("plan.json"),
    )
    .unwrap();
    dir
}

fn run_in(dir: &Path, line: &str) -> (bool, String) {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_ferry"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let home = tempfile::tempdir().unwrap();
    let none = home.path().join("none");
    let images = format!(
        "sampleapi={URI},sampleworker={}",
        URI.replace("sampleapi", "sampleworker")
    );
    let out = Command::new("bash")
        .args(["-c", line])
        .current_dir(dir)
        .env("PATH", path)
        .env("IMAGES", images)
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", &none)
        .env("AWS_SHARED_CREDENTIALS_FILE", &none)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_TOKEN")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[test]
fn every_documented_shell_command_runs_or_is_skipped_with_a_reason() {
    let example = example();
    let (mut ran, mut skipped, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for command in shell_commands(&text) {
            let at = format!("{}: {command}", relative(&doc));
            match decide(&command) {
                Decision::Run(line) => {
                    let (ok, said) = run_in(example.path(), &line);
                    if ok {
                        ran.push(at);
                    } else {
                        let tail: Vec<&str> = said.lines().rev().take(8).collect();
                        failed.push(format!(
                            "{at}\n    ran `{line}`:\n    {}",
                            tail.into_iter().rev().collect::<Vec<_>>().join("\n    ")
                        ));
                    }
                }
                Decision::Skip(why) => skipped.push(format!("{at}\n    skipped: {why}")),
            }
        }
    }
    println!("documented commands run on the example ({}):", ran.len());
    for r in &ran {
        println!("  RUN  {r}");
    }
    println!("documented commands skipped ({}):", skipped.len());
    for s in &skipped {
        println!("  SKIP {s}");
    }
    assert!(
        failed.is_empty(),
        "documented commands that fail:\n{}",
        failed.join("\n")
    );
    assert!(
        !skipped.iter().any(|s| s.contains("add a rule")),
        "commands no rule decides: {skipped:#?}"
    );
    assert!(ran.len() >= 5, "the docs' ferry commands run: {ran:#?}");
}

#[test]
fn the_rules_decide_the_documented_shapes() {
    assert_eq!(
        decide("scripts/test"),
        Decision::Skip("the test command itself (this test runs inside it)")
    );
    assert!(matches!(
        decide("ferry deploy --env staging --images \"$IMAGES\""),
        Decision::Skip(_)
    ));
    assert_eq!(
        decide("cargo run -p ferry -- render --service sampleapi --env staging --image URI"),
        Decision::Run(format!(
            "ferry render --service sampleapi --env staging --image {URI}"
        ))
    );
    assert_eq!(
        shell_commands(
            "```sh\nferry a \\\n  --b   # c\n# only a comment\n\n```\n```yaml\nx: 1\n```\n"
        ),
        ["ferry a  --b"]
    );
}

/// A Markdown link's target, or a backticked repository path, that names a
/// file: it must exist (the docs once named action/README.md, which did not).
#[test]
fn every_relative_link_and_path_the_docs_name_exists() {
    let link = regex::Regex::new(r"\]\(([^)#\s]+)(?:#[^)]*)?\)").unwrap();
    let code_path = regex::Regex::new(
        r"`((?:\.github|action|docs|scripts|services|task-definitions|terraform|monitoring)/[A-Za-z0-9_./-]+)`",
    )
    .unwrap();
    let mut missing = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let dir = doc.parent().unwrap();
        // Paths that name no file of this repository on purpose: the glob
        // dialect's examples, the service the walkthrough adds, and the
        // benchmarks' generated services (`services/svc12/`).
        let examples = |path: &str| {
            let globs = text.find("### Path globs").unwrap_or(usize::MAX);
            let globs_end = text[globs.min(text.len())..]
                .find("\n## ")
                .map_or(text.len(), |e| globs + e);
            path.contains("mailer")
                || path.starts_with("services/svc")
                || text
                    .match_indices(&format!("`{path}"))
                    .all(|(i, _)| (globs..globs_end).contains(&i))
        };
        for c in link.captures_iter(&text) {
            let target = &c[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            if !dir.join(target).exists() {
                missing.push(format!("{}: link {target}", relative(&doc)));
            }
        }
        for c in code_path.captures_iter(&text) {
            let path = c[1].trim_end_matches('.');
            // Templates and placeholders (`<env>`, `{service}`, `*`) name no one file.
            if path.contains(['<', '{', '*']) || path.ends_with("NN") || examples(path) {
                continue;
            }
            if !root().join(path).exists() {
                missing.push(format!("{}: path {path}", relative(&doc)));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "named but missing:\n{}",
        missing.join("\n")
    );
}

/// The repository files Ferry's messages point users at exist.
#[test]
fn every_file_an_error_help_names_exists() {
    let named = regex::Regex::new(
        r"\b((?:action|docs|task-definitions|terraform|monitoring)/[A-Za-z0-9_./-]+\.(?:md|json|yml|libsonnet)|README\.md)\b",
    )
    .unwrap();
    let mut missing = Vec::new();
    let mut stack = vec![root().join("action/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // The string literals only (what a message can say), not comments.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let literals: String = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            for c in named.captures_iter(&literals) {
                let file = &c[1];
                if !root().join(file).exists() {
                    missing.push(format!("{}: {file}", relative(&path)));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "named by the code but missing:\n{}",
        missing.join("\n")
    );
}
