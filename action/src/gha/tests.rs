use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::*;
use crate::diagnostic::Diagnostic;

fn examples(event: &str) -> Vec<Value> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/webhooks/{event}.json"));
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_pull_request_example_parses() {
    let all = examples("pull_request");
    assert!(
        all.len() >= 20,
        "the examples file holds {} payloads",
        all.len()
    );
    for payload in all {
        let Event::PullRequest(pr) = event::parse("pull_request", &payload).unwrap() else {
            panic!("not a pull request");
        };
        let p = &payload["pull_request"];
        assert_eq!(pr.number, p["number"].as_u64().unwrap());
        assert_eq!(pr.base_sha, p["base"]["sha"].as_str().unwrap());
        assert_eq!(pr.head_sha, p["head"]["sha"].as_str().unwrap());
        assert_eq!(pr.base_ref, p["base"]["ref"].as_str().unwrap());
        assert_eq!(pr.base_sha.len(), 40);
        assert_eq!(
            pr.default_branch.as_deref(),
            payload["repository"]["default_branch"].as_str()
        );
    }
}

#[test]
fn every_push_example_parses() {
    let all = examples("push");
    assert!(all.len() >= 5);
    let mut saw_new_branch = false;
    for payload in all {
        let Event::Push(push) = event::parse("push", &payload).unwrap() else {
            panic!("not a push");
        };
        assert_eq!(push.after, payload["after"].as_str().unwrap());
        assert_eq!(push.forced, payload["forced"].as_bool().unwrap());
        assert_eq!(push.created, payload["created"].as_bool().unwrap());
        if push.before_is_null() {
            saw_new_branch = true;
        }
        if push.git_ref.starts_with("refs/heads/") {
            assert!(push.branch().is_some());
        }
        let ids: Vec<&str> = payload["commits"]
            .as_array()
            .map(|cs| cs.iter().filter_map(|c| c["id"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(push.commits, ids);
    }
    assert!(saw_new_branch, "the examples include a branch creation");
}

#[test]
fn a_pushed_commit_that_is_not_a_commit_id_is_refused_by_its_index() {
    let mut payload = examples("push")[0].clone();
    payload["commits"] = serde_json::json!([{"id": "a".repeat(40)}, {"id": "--output=/tmp/x"}]);
    let err = event::parse("push", &payload).unwrap_err().to_string();
    assert!(err.contains("commits[1].id"), "{err}");
    payload["commits"] = serde_json::json!([{"message": "no id"}]);
    let err = event::parse("push", &payload).unwrap_err().to_string();
    assert!(err.contains("`commits[0].id`"), "{err}");
}

#[test]
fn every_workflow_dispatch_example_parses() {
    for payload in examples("workflow_dispatch") {
        let Event::WorkflowDispatch(d) = event::parse("workflow_dispatch", &payload).unwrap()
        else {
            panic!("not a dispatch");
        };
        assert_eq!(d.git_ref.as_deref(), payload["ref"].as_str());
        if let Some(Value::Object(inputs)) = payload.get("inputs") {
            assert_eq!(d.inputs.len(), inputs.len());
        }
    }
}

#[test]
fn every_merge_group_example_parses() {
    let all = examples("merge_group");
    assert!(!all.is_empty());
    for payload in all {
        let Event::MergeGroup(group) = event::parse("merge_group", &payload).unwrap() else {
            panic!("not a merge group");
        };
        let g = &payload["merge_group"];
        assert_eq!(group.action, payload["action"].as_str().unwrap());
        assert_eq!(group.base_sha, g["base_sha"].as_str().unwrap());
        assert_eq!(group.head_sha, g["head_sha"].as_str().unwrap());
        assert_eq!(group.base_branch(), "main");
        // `refs/heads/gh-readonly-queue/main/pr-104-929f…`
        assert_eq!(group.pull_request(), Some(104));
    }
}

#[test]
fn a_merge_group_refuses_bad_fields_by_name_and_reads_only_the_queue_branch_shape() {
    let base = examples("merge_group").remove(0);
    for (path, value, says) in [
        ("merge_group.base_sha", "HEAD~1", "expected a commit id"),
        (
            "merge_group.head_sha",
            "--upload-pack=x",
            "expected a commit id",
        ),
        (
            "merge_group.head_ref",
            "refs/heads/a..b",
            "expected a git ref name",
        ),
        (
            "action",
            "enqueued",
            "expected `checks_requested` or `destroyed`",
        ),
    ] {
        let mut payload = base.clone();
        let (parent, leaf) = path.rsplit_once('.').unwrap_or(("", path));
        let target = if parent.is_empty() {
            &mut payload
        } else {
            &mut payload[parent]
        };
        target[leaf] = Value::String(value.into());
        let err = event::parse("merge_group", &payload)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("`{path}`")), "{err}");
        assert!(err.contains(says), "{err}");
    }
    let mut payload = base.clone();
    payload["merge_group"]
        .as_object_mut()
        .unwrap()
        .remove("base_sha");
    let err = event::parse("merge_group", &payload)
        .unwrap_err()
        .to_string();
    assert!(err.contains("merge_group.base_sha"), "{err}");
    for (head_ref, pr) in [
        (
            "refs/heads/gh-readonly-queue/main/pr-7-929f8209d40f77f4abc622a499c93a83babdbe64",
            Some(7),
        ),
        (
            "refs/heads/gh-readonly-queue/release/v2/pr-12-929f8209d40f77f4abc622a499c93a83babdbe64",
            Some(12),
        ),
        (
            "refs/heads/gh-readonly-queue/main/pr-x-929f8209d40f77f4abc622a499c93a83babdbe64",
            None,
        ),
        ("refs/heads/gh-readonly-queue/main/pr-7-nothex", None),
        (
            "refs/heads/feature/pr-7-929f8209d40f77f4abc622a499c93a83babdbe64",
            None,
        ),
        (
            "refs/heads/gh-readonly-queue/main/pr-99999999999999999999-929f8209d40f77f4abc622a499c93a83babdbe64",
            None,
        ),
    ] {
        let mut payload = base.clone();
        payload["merge_group"]["head_ref"] = Value::String(head_ref.into());
        let Event::MergeGroup(group) = event::parse("merge_group", &payload).unwrap() else {
            panic!()
        };
        assert_eq!(group.pull_request(), pr, "{head_ref}");
    }
}

#[test]
fn dispatch_inputs_become_strings() {
    let payload = serde_json::json!({"ref": "refs/heads/main", "inputs": {"services": "a,b", "dry": true, "n": 3, "none": null}});
    let Event::WorkflowDispatch(d) = event::parse("workflow_dispatch", &payload).unwrap() else {
        panic!()
    };
    assert_eq!(d.inputs["services"], "a,b");
    assert_eq!(d.inputs["dry"], "true");
    assert_eq!(d.inputs["n"], "3");
    assert_eq!(d.inputs["none"], "");
}

#[test]
fn a_payload_without_the_needed_field_is_refused_by_name() {
    let mut payload = examples("pull_request").remove(0);
    payload["pull_request"]["base"]
        .as_object_mut()
        .unwrap()
        .remove("sha");
    let err = event::parse("pull_request", &payload)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`pull_request.base.sha`"), "{err}");
    let err = event::parse("push", &serde_json::json!({"ref": "refs/heads/x"}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no `before`"), "{err}");
}

fn context(vars: &[(&str, &str)], files: &[(&str, &str)]) -> Result<Context, ContextError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let files: HashMap<String, String> = files
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Context::from_lookup(&|k| vars.get(k).cloned(), &|p| {
        files
            .get(p)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
    })
}

#[test]
fn context_from_a_workflow_environment() {
    let payload = serde_json::to_string(&examples("push")[0]).unwrap();
    let ctx = context(
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_EVENT_PATH", "/e.json"),
            ("GITHUB_SHA", "abc"),
            ("GITHUB_REPOSITORY", "octo/shop"),
            ("GITHUB_RUN_ID", "42"),
            ("INPUT_GITHUB-TOKEN", " ghs_input "),
            ("GITHUB_TOKEN", "ghs_env"),
            ("GITHUB_OUTPUT", "/tmp/out"),
        ],
        &[("/e.json", &payload)],
    )
    .unwrap();
    assert!(ctx.in_actions);
    assert!(matches!(ctx.event, Event::Push(_)));
    assert_eq!(ctx.repository.as_ref().unwrap().to_string(), "octo/shop");
    assert_eq!(
        ctx.run_url.as_deref(),
        Some("https://github.com/octo/shop/actions/runs/42")
    );
    assert_eq!(
        ctx.token.as_ref().unwrap().expose(),
        "ghs_input",
        "the action input wins over the env"
    );
    assert_eq!(ctx.api_url, "https://api.github.com");
    assert_eq!(format!("{:?}", ctx.token), "Some(Secret(***))");
}

#[test]
fn the_token_input_is_read_under_the_runners_name_first_then_with_underscores() {
    let token = |vars: &[(&str, &str)]| {
        context(vars, &[])
            .unwrap()
            .token
            .map(|t| t.expose().to_string())
    };
    assert_eq!(
        token(&[
            ("INPUT_GITHUB-TOKEN", "ghs_hyphen"),
            ("INPUT_GITHUB_TOKEN", "ghs_underscore")
        ])
        .as_deref(),
        Some("ghs_hyphen")
    );
    assert_eq!(
        token(&[
            ("INPUT_GITHUB_TOKEN", "ghs_underscore"),
            ("GITHUB_TOKEN", "ghs_env")
        ])
        .as_deref(),
        Some("ghs_underscore")
    );
    // An empty input (the runner sets every declared input) is absent.
    assert_eq!(
        token(&[("INPUT_GITHUB-TOKEN", ""), ("GITHUB_TOKEN", "ghs_env")]).as_deref(),
        Some("ghs_env")
    );
}

#[test]
fn context_on_a_laptop() {
    let ctx = context(&[], &[]).unwrap();
    assert!(!ctx.in_actions);
    assert_eq!(ctx.event, Event::Local);
    assert!(ctx.token.is_none());
}

#[test]
fn context_errors_name_the_problem() {
    let err = context(
        &[
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_EVENT_PATH", "/missing.json"),
        ],
        &[],
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot read the event payload /missing.json"),
        "{err}"
    );
    let err = context(
        &[("GITHUB_EVENT_NAME", "push"), ("GITHUB_EVENT_PATH", "/e")],
        &[("/e", "{not json")],
    )
    .unwrap_err();
    assert!(err.to_string().contains("is not valid JSON"), "{err}");
    let err = context(&[("GITHUB_REPOSITORY", "nope")], &[]).unwrap_err();
    assert!(err.to_string().contains("expected owner/name"), "{err}");
}

#[test]
fn outputs_are_multiline_safe() {
    assert_eq!(encode_output("k", "v", "D"), "k<<D\nv\nD\n");
    assert_eq!(encode_output("k", "a\nb=c%d", "D"), "k<<D\na\nb=c%d\nD\n");
}

#[test]
fn workflow_command_escaping() {
    assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
    assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
}

/// A cloneable in-memory stream.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[test]
fn reporter_in_actions_writes_files_annotations_and_masks() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out");
    let sum_file = dir.path().join("summary");
    let (stdout, stderr) = (Buf::default(), Buf::default());
    let mut r = Reporter::new(
        true,
        Some(out_file.clone()),
        Some(sum_file.clone()),
        Box::new(stdout.clone()),
        Box::new(stderr.clone()),
    );
    r.mask(&Secret::new("hunter2")).unwrap();
    r.output("services", "[\"a\"]").unwrap();
    r.output("multi", "line1\nline2 with hunter2").unwrap();
    r.summary("| a | b |").unwrap();
    r.group("Detect").unwrap();
    r.end_group().unwrap();
    r.error(
        &Diagnostic::new(".github/ferry.yml", "bad: 100%\nreally")
            .at(3, 7)
            .help("fix it"),
    )
    .unwrap();

    let out = std::fs::read_to_string(out_file).unwrap();
    let mut lines = out.lines();
    let first = lines.next().unwrap();
    let delim = first.strip_prefix("services<<").unwrap();
    assert!(delim.starts_with("ghadelimiter_"));
    assert_eq!(lines.next(), Some("[\"a\"]"));
    assert_eq!(lines.next(), Some(delim));
    assert!(
        out.contains("line1\nline2 with ***\n"),
        "secret scrubbed from outputs: {out}"
    );
    assert_eq!(std::fs::read_to_string(sum_file).unwrap(), "| a | b |\n");
    let log = stdout.text();
    assert!(log.starts_with("::add-mask::hunter2\n"), "{log}");
    assert!(log.contains("::group::Detect\n::endgroup::\n"), "{log}");
    assert!(
        log.contains(
            "::error file=.github/ferry.yml,line=3,col=7::bad: 100%25%0Areally%0Ahelp: fix it\n"
        ),
        "{log}"
    );
    assert_eq!(stderr.text(), "");
}

#[test]
fn reporter_on_a_terminal_prints_plain_lines() {
    let (stdout, stderr) = (Buf::default(), Buf::default());
    let mut r = Reporter::new(
        false,
        None,
        None,
        Box::new(stdout.clone()),
        Box::new(stderr.clone()),
    );
    r.mask(&Secret::new("s3cr3t")).unwrap();
    r.output("any", "true").unwrap();
    r.output("notes", "a\nb").unwrap();
    r.summary("# Detect\nthe token s3cr3t").unwrap();
    r.error(&Diagnostic::new("f.yml", "broken").at(1, 2))
        .unwrap();
    assert_eq!(stdout.text(), "any=true\nnotes<<EOF\na\nb\nEOF\n");
    let err = stderr.text();
    assert!(err.contains("# Detect\nthe token ***\n"), "{err}");
    assert!(err.contains("error: f.yml:1:2: broken"), "{err}");
    assert!(!err.contains("s3cr3t") && !stdout.text().contains("s3cr3t"));
}

fn reporter(in_actions: bool) -> (Reporter, Buf, Buf) {
    let (stdout, stderr) = (Buf::default(), Buf::default());
    let r = Reporter::new(
        in_actions,
        None,
        None,
        Box::new(stdout.clone()),
        Box::new(stderr.clone()),
    );
    (r, stdout, stderr)
}

#[test]
fn outside_text_on_stdout_is_fenced_only_when_it_could_run() {
    let (mut r, stdout, _) = reporter(true);
    r.info("api (staging): registered arn:aws:ecs:task/1")
        .unwrap();
    r.info("event: ::error::x\n  ::add-mask::y").unwrap();
    r.group("build api").unwrap();
    let out = stdout.text();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "api (staging): registered arn:aws:ecs:task/1");
    let token = lines[1].strip_prefix("::stop-commands::").unwrap();
    assert!(token.starts_with("ferry-") && token.len() == 38, "{token}");
    assert_eq!(lines[2], "event: ::error::x");
    assert_eq!(lines[3], "  ::add-mask::y");
    assert_eq!(lines[4], format!("::{token}::"));
    assert_eq!(lines[5], "::group::build api");
    // A fresh token each time: one seen in the log cannot end a later fence.
    r.info("##[error]z").unwrap();
    let again = stdout.text();
    let second = again.lines().nth(6).unwrap();
    assert!(second.starts_with("::stop-commands::ferry-") && !second.ends_with(token));
}

#[test]
fn outside_text_on_stderr_is_defused_in_actions_and_verbatim_on_a_terminal() {
    let (mut r, _, stderr) = reporter(true);
    r.summary("| a |\n::set-output name=x::y\n").unwrap();
    assert_eq!(stderr.text(), "| a |\n%3A%3Aset-output name=x%3A%3Ay\n");
    let (mut r, _, stderr) = reporter(false);
    r.info("::set-output name=x::y").unwrap();
    assert_eq!(stderr.text(), "::set-output name=x::y\n");
}

#[test]
fn annotations_escape_every_line_break() {
    let (mut r, stdout, _) = reporter(true);
    r.fatal("a\u{2028}::error::b\r\n::add-mask::c 100%")
        .unwrap();
    assert_eq!(
        stdout.text(),
        "::error::a%0A::error::b%0D%0A::add-mask::c 100%25\n"
    );
    r.error(&Diagnostic::new("a,b:c\n.yml", "m")).unwrap();
    assert!(
        stdout.text().contains("::error file=a%2Cb%3Ac%0A.yml::m\n"),
        "{}",
        stdout.text()
    );
}

#[test]
fn a_failure_with_diagnostics_says_each_once_then_what_it_cost() {
    let d = Diagnostic::new(".github/ferry.yml", "unknown field `x`")
        .at(3, 1)
        .help("remove it");
    // The error's text is the diagnostic itself: nothing more to say.
    let (mut r, _, stderr) = reporter(false);
    r.fail(&d.to_string(), std::slice::from_ref(&d)).unwrap();
    let err = stderr.text();
    assert_eq!(err.matches("unknown field").count(), 1, "{err}");
    assert!(!err.contains("ferry:"), "{err}");
    // It wraps them: the wrapper is said, the diagnostic is not repeated.
    let (mut r, stdout, _) = reporter(true);
    let message = format!("deploy: nothing was deployed:\n{d}");
    r.fail(&message, std::slice::from_ref(&d)).unwrap();
    let out = stdout.text();
    assert_eq!(out.matches("unknown field").count(), 1, "{out}");
    assert!(
        out.ends_with("ferry: deploy: nothing was deployed\n"),
        "{out}"
    );
    // No diagnostics: one plain error.
    let (mut r, _, stderr) = reporter(false);
    r.fail("no AWS credentials", &[]).unwrap();
    assert_eq!(stderr.text(), "error: no AWS credentials\n");
}

#[test]
fn secrets_from_the_environment_are_scrubbed_from_reports() {
    secrets::remember_env(&|k| {
        (k == "AWS_SECRET_ACCESS_KEY").then(|| "wJalrXUtnFEMI/K7MDENG/reporter-test".to_string())
    });
    let (mut r, stdout, _) = reporter(true);
    r.info("signing with wJalrXUtnFEMI/K7MDENG/reporter-test")
        .unwrap();
    r.fatal("bad key wJalrXUtnFEMI/K7MDENG/reporter-test")
        .unwrap();
    let out = stdout.text();
    assert!(!out.contains("K7MDENG"), "{out}");
    assert!(out.contains("signing with ***"), "{out}");
}

mod properties {
    use std::sync::OnceLock;

    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    fn first_pull_request() -> &'static Value {
        static PAYLOAD: OnceLock<Value> = OnceLock::new();
        PAYLOAD.get_or_init(|| examples("pull_request").remove(0))
    }

    /// Any JSON value, biased towards the keys the parser reads.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "[0-9a-f]{40}".prop_map(Value::String),
        ];
        let key = prop_oneof![
            "[a-z_]{0,12}",
            Just("pull_request".to_string()),
            Just("base".to_string()),
            Just("head".to_string()),
            Just("sha".to_string()),
            Just("ref".to_string()),
            Just("number".to_string()),
            Just("before".to_string()),
            Just("after".to_string()),
            Just("inputs".to_string()),
            Just("repository".to_string()),
            Just("default_branch".to_string()),
        ];
        leaf.prop_recursive(5, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn is_commit(s: &str) -> bool {
        matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
    }

    fn is_safe_ref(s: &str) -> bool {
        !s.is_empty()
            && !s.starts_with('-')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
    }

    fn set(payload: &mut Value, path: &str, value: Value) {
        let mut cur = payload;
        let parts: Vec<&str> = path.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            cur = &mut cur[*part];
        }
        cur[parts[parts.len() - 1]] = value;
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the payload, the parser answers: an event whose commits
        /// and refs are safe to hand to git, or an error naming the field.
        #[test]
        fn any_payload_is_parsed_safely_or_refused_by_field(
            name in prop_oneof![
                Just("pull_request".to_string()),
                Just("pull_request_target".to_string()),
                Just("push".to_string()),
                Just("workflow_dispatch".to_string()),
                Just("merge_group".to_string()),
                Just("schedule".to_string()),
                ".{0,20}",
            ],
            payload in json(),
        ) {
            match event::parse(&name, &payload) {
                Ok(Event::PullRequest(pr)) => {
                    prop_assert!(is_commit(&pr.base_sha) && is_commit(&pr.head_sha));
                    prop_assert!(is_safe_ref(&pr.base_ref));
                    prop_assert!(pr.default_branch.as_deref().is_none_or(is_safe_ref));
                }
                Ok(Event::Push(push)) => {
                    prop_assert!(is_commit(&push.before) && is_commit(&push.after));
                    prop_assert!(is_safe_ref(&push.git_ref));
                    prop_assert!(push.default_branch.as_deref().is_none_or(is_safe_ref));
                }
                Ok(Event::WorkflowDispatch(d)) => {
                    prop_assert!(d.git_ref.as_deref().is_none_or(is_safe_ref));
                }
                Ok(Event::MergeGroup(g)) => {
                    prop_assert!(is_commit(&g.base_sha) && is_commit(&g.head_sha));
                    prop_assert!(is_safe_ref(&g.base_ref) && is_safe_ref(&g.head_ref));
                }
                Ok(_) => {}
                Err(e) => {
                    let m = e.to_string();
                    prop_assert!(m.contains(&format!("the {name} event payload")), "{m}");
                    prop_assert!(m.contains('`'), "names the field: {m}");
                }
            }
        }

        /// One hostile field in a real payload: accepted only when well
        /// formed, else refused by its path, the value quoted on one line.
        #[test]
        fn a_hostile_field_in_a_real_payload_is_refused_by_path(
            idx in 0..4usize,
            value in prop_oneof![
                any::<String>(),
                "--[a-z-]{1,20}(=.{0,10})?",
                "[0-9a-f]{40}",
                "[0-9a-f]{39}[^0-9a-f]",
                "refs/heads/[a-z]{1,8}",
                ".{0,8}[\\n\\r\u{2028}\u{85}]::error::x",
            ],
        ) {
            let path = [
                "pull_request.base.sha",
                "pull_request.head.sha",
                "pull_request.base.ref",
                "repository.default_branch",
            ][idx];
            let mut payload = first_pull_request().clone();
            set(&mut payload, path, Value::String(value.clone()));
            match event::parse("pull_request", &payload) {
                Ok(Event::PullRequest(pr)) => {
                    let got = match idx {
                        0 => pr.base_sha,
                        1 => pr.head_sha,
                        2 => pr.base_ref,
                        _ => pr.default_branch.unwrap_or_default(),
                    };
                    prop_assert_eq!(&got, &value);
                    let well_formed = if idx < 2 { is_commit(&value) } else { is_safe_ref(&value) };
                    prop_assert!(well_formed, "{value:?}");
                }
                Ok(other) => prop_assert!(false, "{other:?}"),
                Err(e) => {
                    let m = e.to_string();
                    prop_assert!(m.contains(&format!("`{path}`")), "{m}");
                    prop_assert!(!m.chars().any(|c| c.is_control() || commands::is_line_break(c)), "{m:?}");
                    prop_assert!(m.chars().count() < 400, "{m}");
                }
            }
        }

        /// Any event file: a context, or an error that says what is wrong.
        #[test]
        fn any_event_file_gives_a_context_or_an_error(text in prop_oneof![any::<String>(), json().prop_map(|v| v.to_string())]) {
            let result = context(
                &[("GITHUB_EVENT_NAME", "push"), ("GITHUB_EVENT_PATH", "/e.json")],
                &[("/e.json", &text)],
            );
            if let Err(e) = result {
                let m = e.to_string();
                prop_assert!(m.contains("event payload"), "{m}");
            }
        }
    }
}

#[test]
fn trusted_authors_and_the_plan_key_come_from_inputs() {
    use crate::trust::{Author, TrustedAuthors};
    let bot = |login: &str| Author {
        login: login.into(),
        kind: "Bot".into(),
    };
    let ctx = context(&[], &[]).unwrap();
    assert_eq!(ctx.trusted_authors, TrustedAuthors::default());
    assert!(ctx.plan_key.is_none());
    let ctx = context(
        &[
            ("INPUT_TRUSTED-AUTHORS", "ferry-release[bot]"),
            ("FERRY_PLAN_KEY", "plan-key-from-env"),
            ("INPUT_PLAN-KEY", "plan-key-from-input"),
        ],
        &[],
    )
    .unwrap();
    assert!(ctx.trusted_authors.trusts(Some(&bot("ferry-release[bot]"))));
    assert!(
        !ctx.trusted_authors
            .trusts(Some(&bot("github-actions[bot]")))
    );
    assert_eq!(ctx.plan_key.unwrap().expose(), "plan-key-from-input");
    let e = context(&[("INPUT_TRUSTED_AUTHORS", "<!--")], &[]).unwrap_err();
    assert!(
        e.to_string().starts_with("trusted-authors: \"<!--\""),
        "{e}"
    );
}
