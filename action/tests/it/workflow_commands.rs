//! Outside text never runs as a workflow command.
//!
//! The binary runs in Actions mode with hostile text in every place it can
//! come from (a manifest key, a service name, a Jsonnet error, the event
//! payload, an input, an image URI echoed on success), in many shapes. Its
//! stdout and stderr are then read as the runner reads them (a transcription
//! of `ActionCommand.TryParseV2`/`TryParse` and the stop-commands state of
//! `ActionCommandManager`), and every command that would run must be one of
//! Ferry's own: no injected annotation, mask, output or stop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::deploy as deploy_support;
use crate::support::root;

use std::path::Path;

use deploy_support::{copy_repo, image};
use support::{AWS_VARS, Run, ferry_without};

/// The word every payload carries: a command whose name or data starts
/// with it was injected.
const MARK: &str = "PWNED";

/// Workflow-command shapes, each carrying [`MARK`].
fn payloads() -> Vec<String> {
    [
        "::error::PWNED",
        "\n::add-mask::PWNED",
        "::set-output name=a::PWNED",
        "%0A::warning::PWNED",
        "##[error]PWNED",
        "   ::debug::PWNED",
        "\t::notice::PWNED",
        "\r::error::PWNED",
        "\r\n::endgroup::\n::error::PWNED",
        "x\u{2028}::error::PWNED",
        "x\u{2029}::error::PWNED",
        "x\u{85}::error::PWNED",
        "x\u{0B}::error::PWNED",
        "\u{A0}\u{3000}::error::PWNED",
        "\u{200B}::error::PWNED",
        ":\u{200B}:error::PWNED",
        "\u{FEFF}::error::PWNED",
        "::stop-commands::PWNED\n::add-mask::PWNED",
        "a ##[set-output name=a;]PWNED",
        "#\u{200D}#[error]PWNED",
        "::ERROR::PWNED",
        "::group::PWNED",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The same shapes without whitespace or line breaks (for values Ferry
/// refuses when they have any, and to reach echo paths on success).
fn compact_payloads() -> Vec<String> {
    [
        "::error::PWNED",
        "::add-mask::PWNED",
        "::set-output%20name=a::PWNED",
        "##[error]PWNED",
        "\u{200B}::error::PWNED",
        "::stop-commands::PWNED",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A command as the runner parses it.
#[derive(Debug, Clone)]
struct Cmd {
    name: String,
    props: String,
    data: String,
}

/// Characters a culture-sensitive .NET comparison may skip (zero-width and
/// format characters): the lenient reading drops them first.
fn zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{AD}' | '\u{34F}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// The runner's lines: it splits at CR, LF and CRLF; `wide` also splits at
/// the other Unicode line breaks (any other log reader).
fn lines(text: &str, wide: bool) -> Vec<&str> {
    text.split(|c: char| {
        c == '\n'
            || c == '\r'
            || (wide && matches!(c, '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'))
    })
    .collect()
}

fn unescape(text: &str) -> String {
    text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

/// `TryParseV2`, then `TryParse` (legacy), accepting any command name (the
/// runner accepts registered ones only: this is stricter).
fn parse(line: &str, lenient: bool) -> Option<Cmd> {
    let line: String = if lenient {
        line.chars().filter(|c| !zero_width(*c)).collect()
    } else {
        line.to_string()
    };
    // Rust's `trim_start` and .NET's `TrimStart` trim the same Unicode
    // White_Space set.
    let trimmed = line.trim_start();
    if let Some(rest) = trimmed.strip_prefix("::")
        && let Some(end) = rest.find("::")
    {
        let info = &rest[..end];
        let (name, props) = info.split_once(' ').unwrap_or((info, ""));
        if !name.is_empty() {
            return Some(Cmd {
                name: name.to_string(),
                props: props.to_string(),
                data: unescape(&rest[end + 2..]),
            });
        }
    }
    let at = line.find("##[")?;
    let rb = at + line[at..].find(']')?;
    let info = &line[at + 3..rb];
    let (name, props) = info.split_once(' ').unwrap_or((info, ""));
    (!name.is_empty()).then(|| Cmd {
        name: name.to_string(),
        props: props.to_string(),
        data: unescape(&line[rb + 1..]),
    })
}

/// The commands that would run, with the runner's stop-commands state; and
/// whether processing is still stopped at the end.
fn executed(stream: &str, wide: bool, lenient: bool) -> (Vec<Cmd>, bool) {
    let mut out = Vec::new();
    let mut stopped: Option<String> = None;
    for line in lines(stream, wide) {
        let Some(cmd) = parse(line, lenient) else {
            continue;
        };
        match &stopped {
            Some(token) if cmd.name.eq_ignore_ascii_case(token) => {
                stopped = None;
                out.push(cmd);
            }
            Some(_) => {}
            None => {
                if cmd.name.eq_ignore_ascii_case("stop-commands") {
                    stopped = Some(cmd.data.clone());
                }
                out.push(cmd);
            }
        }
    }
    (out, stopped.is_some())
}

/// Every command a run would execute is Ferry's own: its annotations (at
/// most `max_errors` errors, none starting with the payload), groups, masks
/// of known secrets, and its own stop/resume pairs; nothing on stderr.
fn assert_only_ferry_commands(run: &Run, max_errors: usize, context: &str) {
    for wide in [false, true] {
        for lenient in [false, true] {
            let (on_stderr, _) = executed(&run.stderr, wide, lenient);
            assert!(
                on_stderr.is_empty(),
                "{context}: stderr would run {on_stderr:?} (wide={wide}, lenient={lenient})\n{run:#?}"
            );
            let (cmds, still_stopped) = executed(&run.stdout, wide, lenient);
            assert!(!still_stopped, "{context}: commands left stopped\n{run:#?}");
            let mut tokens = Vec::new();
            let mut errors = 0;
            for c in &cmds {
                assert!(
                    !c.name.contains(MARK) && !c.props.contains(MARK),
                    "{context}: injected {c:?} (wide={wide}, lenient={lenient})\n{run:#?}"
                );
                assert!(
                    !c.data.trim_start().starts_with(MARK),
                    "{context}: injected {c:?} (wide={wide}, lenient={lenient})\n{run:#?}"
                );
                match c.name.as_str() {
                    "error" => errors += 1,
                    "warning" | "group" | "endgroup" => {}
                    "add-mask" => assert!(!c.data.contains(MARK), "{context}: {c:?}"),
                    "stop-commands" => {
                        let hex = c.data.strip_prefix("ferry-").unwrap_or_default();
                        assert!(
                            hex.len() == 32 && hex.chars().all(|h| h.is_ascii_hexdigit()),
                            "{context}: a stop that is not Ferry's: {c:?}\n{run:#?}"
                        );
                        tokens.push(c.data.clone());
                    }
                    other => assert!(
                        tokens.iter().any(|t| t == other),
                        "{context}: {other} would run: {c:?} (wide={wide}, lenient={lenient})\n{run:#?}"
                    ),
                }
            }
            assert!(
                errors <= max_errors,
                "{context}: {errors} error annotations, expected at most {max_errors}\n{run:#?}"
            );
        }
    }
}

/// Runs the binary in Actions mode, with no AWS credentials.
fn run_in_actions(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let home_text = home.path().display().to_string();
    let mut all: Vec<(&str, &str)> = vec![
        ("GITHUB_ACTIONS", "true"),
        ("HOME", &home_text),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    all.extend_from_slice(env);
    ferry_without(dir, args, &all, AWS_VARS)
}

/// The payload (or what is left of it after Ferry escaped its control
/// characters) reaches the user: the run reported it, it did not drop it.
fn assert_shown(run: &Run, context: &str) {
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains(MARK),
        "{context}: the payload is not shown\n{run:#?}"
    );
}

#[test]
fn an_error_message_quoting_an_input_runs_nothing() {
    for p in payloads() {
        let images = serde_json::json!({ p.clone(): image("sampleapi", "1") }).to_string();
        let run = run_in_actions(
            &root(),
            &[
                "deploy",
                "--env",
                "staging",
                "--dry-run",
                "--images",
                &images,
            ],
            &[],
        );
        assert_eq!(run.code, 1, "{p:?}: {run:#?}");
        assert_only_ferry_commands(&run, 1, &format!("--images {p:?}"));
        assert_shown(&run, &format!("--images {p:?}"));
    }
}

#[test]
fn a_bad_argument_reported_by_the_parser_runs_nothing() {
    for p in payloads() {
        let run = run_in_actions(
            &root(),
            &["deploy", "--env", "staging", "--timeout", &p],
            &[],
        );
        assert_eq!(run.code, 2, "{p:?}: {run:#?}");
        assert_only_ferry_commands(&run, 1, &format!("--timeout {p:?}"));
        assert_shown(&run, &format!("--timeout {p:?}"));
    }
}

#[test]
fn event_payload_and_context_fields_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    for p in payloads() {
        let payload = serde_json::json!({
            "ref": format!("refs/heads/{p}"),
            "before": "a".repeat(40),
            "after": p,
        });
        std::fs::write(&event, payload.to_string()).unwrap();
        let event_path = event.display().to_string();
        let run = run_in_actions(
            &root(),
            &["detect", "--no-api"],
            &[
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_EVENT_PATH", &event_path),
            ],
        );
        assert_eq!(run.code, 1, "{p:?}: {run:#?}");
        assert_only_ferry_commands(&run, 1, &format!("push payload {p:?}"));
        assert_shown(&run, &format!("push payload {p:?}"));

        let repository = format!("acme/{p}/x");
        let run = run_in_actions(
            &root(),
            &["detect", "--no-api"],
            &[("GITHUB_REPOSITORY", &repository)],
        );
        assert_eq!(run.code, 1, "{p:?}: {run:#?}");
        assert_only_ferry_commands(&run, 1, &format!("GITHUB_REPOSITORY {p:?}"));
        assert_shown(&run, &format!("GITHUB_REPOSITORY {p:?}"));
    }
}

#[test]
fn manifest_keys_and_service_names_run_nothing() {
    for p in payloads() {
        let repo = copy_repo(&[".github/ferry.yml", "task-definitions"]);
        let manifest = repo.path().join(".github/ferry.yml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let key = serde_json::to_string(&p).unwrap();
        let broken = format!("{text}\n{key}: 1\n",).replace(
            "services:\n",
            &format!("services:\n  {key}:\n    paths: [x/**]\n"),
        );
        std::fs::write(&manifest, broken).unwrap();
        let run = run_in_actions(repo.path(), &["render", "--check"], &[]);
        assert_eq!(run.code, 1, "{p:?}: {run:#?}");
        assert_only_ferry_commands(&run, 10, &format!("manifest key {p:?}"));
        assert_shown(&run, &format!("manifest key {p:?}"));
    }
}

#[test]
fn a_jsonnet_error_runs_nothing() {
    for p in payloads() {
        let repo = copy_repo(&[".github/ferry.yml", "task-definitions"]);
        let file = repo.path().join("task-definitions/sampleapi.jsonnet");
        let message = serde_json::to_string(&p).unwrap();
        std::fs::write(&file, format!("error {message}\n")).unwrap();
        let run = run_in_actions(repo.path(), &["render", "--check"], &[]);
        assert_eq!(run.code, 1, "{p:?}: {run:#?}");
        assert_only_ferry_commands(&run, 4, &format!("Jsonnet error {p:?}"));
        // The render diagnostic keeps the message's first line only.
        if !p.starts_with(['\n', '\r']) {
            assert_shown(&run, &format!("Jsonnet error {p:?}"));
        }
    }
}

#[test]
fn outside_text_echoed_on_success_shows_verbatim_and_runs_nothing() {
    for p in compact_payloads() {
        let uri = format!("{}{p}", image("sampleapi", "1"));
        let images =
            serde_json::json!({"sampleapi": uri, "sampleworker": image("sampleworker", "1")})
                .to_string();
        let run = run_in_actions(
            &root(),
            &[
                "deploy",
                "--env",
                "staging",
                "--dry-run",
                "--images",
                &images,
            ],
            &[],
        );
        assert_eq!(run.code, 0, "{p:?}: {run:#?}");
        assert_only_ferry_commands(&run, 0, &format!("dry-run image {p:?}"));
        assert!(
            run.stdout.contains(&uri),
            "{p:?}: the image is shown verbatim\n{run:#?}"
        );
    }
}

/// The chokepoint holds: outside `gha` (the reporter and the log) and
/// the binary's `main.rs` (which hands the streams to them), no code writes to stdout or
/// stderr itself. Test code is exempt.
#[test]
fn only_the_reporter_and_the_log_write_to_the_streams() {
    fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    assert!(files.len() > 50, "{} files", files.len());
    let writers = [
        "println!",
        "print!(",
        "eprintln!",
        "eprint!(",
        "dbg!",
        "io::stdout",
        "io::stderr",
        "libc::write",
    ];
    let mut found = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.starts_with("gha/") || rel == "bin/ferry/main.rs" || rel.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for w in writers {
            if code.contains(w) {
                found.push(format!("{rel}: {w}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "write through the Reporter instead: {found:#?}"
    );
}
