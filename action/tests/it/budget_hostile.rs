//! One budget per run (issue 27): the seven hostile inputs an adversarial
//! run found, each through the binary where a user meets it.
//!
//! 1. Jsonnet whose one allocation is too large for any machine aborted the
//!    process: now it is an error on its target and the run goes on.
//! 2. Time was bounded per evaluation, not per run: one Jsonnet budget per run.
//! 3. Pagination never ended, and pages were unbounded: caps and stops.
//! 4. A `Link` with userinfo (`http://host:P@other:Q`) reached another server.
//! 5. Invisible and confusable characters reached the plan comment.
//! 6. A plan JSON had no size limit.
//! 7. `TRACEPARENT` was echoed unchecked.
//!
//! The GitHub tests use hand-written hostile servers (wiremock): no stand-in
//! answers with self-referencing or endless `Link` headers, userinfo links
//! or oversized pages, which is the point of these tests. Limits are set
//! small through their variables, so each test takes seconds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::github_state::TOKEN;
use support::{Run, everything, ferry_with};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A repository whose services' task definitions are the given Jsonnet.
fn jsonnet_repo(services: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".github")).unwrap();
    std::fs::create_dir_all(root.join("task-definitions")).unwrap();
    let mut manifest = String::from(
        "project: demo\nregion: us-east-1\nenvironments:\n  staging: { cluster: demo-staging }\nservices:\n",
    );
    for (name, jsonnet) in services {
        manifest.push_str(&format!(
            "  {name}:\n    paths: [{name}/**]\n    task-definition: task-definitions/{name}.jsonnet\n"
        ));
        std::fs::write(
            root.join(format!("task-definitions/{name}.jsonnet")),
            jsonnet,
        )
        .unwrap();
    }
    std::fs::write(root.join(".github/ferry.yml"), manifest).unwrap();
    dir
}

fn render_check(root: &Path, env: &[(&str, &str)]) -> (Run, Duration) {
    let started = Instant::now();
    let run = ferry_with(
        root,
        &["render", "--check", "--repo", root.to_str().unwrap()],
        env,
    );
    (run, started.elapsed())
}

// 1. Giant allocations.

#[test]
fn giant_allocations_are_an_error_on_their_target_and_the_run_goes_on() {
    let repo = jsonnet_repo(&[
        ("repeat", "std.length(std.repeat('xxxxxxxxxx', 4000000000))"),
        ("array", "std.makeArray(4294967295, function(i) i)"),
        ("after", "error 'the run went on to this target'"),
    ]);
    let (run, elapsed) = render_check(repo.path(), &[]);
    let all = everything(&run);
    assert_eq!(run.code, 1, "not an abort: {all}");
    for file in ["repeat.jsonnet", "array.jsonnet"] {
        let line = all
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("no error on {file}: {all}"));
        assert!(line.contains("memory"), "{file}: {line}");
    }
    assert!(all.contains("the run went on to this target"), "{all}");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

// 2. One Jsonnet budget per run.

#[test]
fn the_run_has_one_jsonnet_budget_and_its_failure_names_the_slowest_targets() {
    let slow = "local s(n) = if n == 0 then 1 else s(n - 1) + s(n - 1); s(100)";
    let repo = jsonnet_repo(&[
        ("first", "error 'first is quick'"),
        ("slow", slow),
        ("later", slow),
    ]);
    let (run, elapsed) = render_check(repo.path(), &[("FERRY_JSONNET_BUDGET_SECONDS", "3")]);
    let all = everything(&run);
    assert_eq!(run.code, 1, "{all}");
    assert!(all.contains("first is quick"), "{all}");
    assert!(all.contains("Jsonnet budget of 3 s"), "{all}");
    assert!(all.contains("slowest: slow (staging)"), "{all}");
    assert!(all.contains("FERRY_JSONNET_BUDGET_SECONDS"), "{all}");
    assert!(elapsed < Duration::from_secs(9), "{elapsed:?}: {all}");
}

// 3 and 4. Pagination.

const MANIFEST: &str = "project: shop\nregion: us-east-1\nenvironments:\n  staging: { cluster: shop-staging }\nservices:\n  api: {}\n";

fn metrics_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".github")).unwrap();
    std::fs::write(dir.path().join(".github/ferry.yml"), MANIFEST).unwrap();
    dir
}

/// One deployment record of a service the manifest does not know (so no
/// status is read for it), created inside the window.
fn record(id: u64) -> Value {
    json!({
        "id": id, "sha": format!("{id:040}"), "ref": "main", "task": "deploy:other",
        "environment": "staging", "created_at": "2026-11-15T00:00:00Z",
        "updated_at": "2026-11-15T00:00:00Z", "payload": {}, "description": null,
        "creator": null, "url": "", "statuses_url": "", "repository_url": "",
        "node_id": "x", "original_environment": "staging",
        "transient_environment": false, "production_environment": false,
    })
}

/// A hostile GitHub: `deployments` answered by `answer(request number,
/// the server's own URL)`, everything else `[]`. Returns the server and the
/// count of deployment listings it answered.
async fn hostile<F>(answer: F) -> (MockServer, Arc<AtomicUsize>)
where
    F: Fn(usize, &str) -> ResponseTemplate + Send + Sync + 'static,
{
    let server = MockServer::start().await;
    let uri = server.uri();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    Mock::given(method("GET"))
        .and(path_regex(r"^/repos/octo/shop/deployments$"))
        .respond_with(move |_: &Request| answer(seen.fetch_add(1, Ordering::SeqCst), &uri))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    (server, count)
}

fn metrics(dir: &Path, uri: &str, extra_env: &[(&str, &str)]) -> (Run, Duration) {
    let mut env = vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "octo/shop"),
        ("GITHUB_API_URL", uri),
        ("GITHUB_TOKEN", TOKEN),
        ("GITHUB_SHA", "1111111111111111111111111111111111111111"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_RUN_ID", "4242"),
    ];
    env.extend_from_slice(extra_env);
    let started = Instant::now();
    let run = ferry_with(
        dir,
        &["metrics", "--days", "30", "--until", "2026-12-01T00:00:00Z"],
        &env,
    );
    (run, started.elapsed())
}

fn link(url: &str) -> String {
    format!("<{url}>; rel=\"next\"")
}

#[tokio::test(flavor = "multi_thread")]
async fn pagination_ends_on_empty_pages_repeated_urls_and_the_page_cap() {
    type Answer = Box<dyn Fn(usize, &str) -> ResponseTemplate + Send + Sync>;
    let first =
        |uri: &str| format!("{uri}/repos/octo/shop/deployments?environment=staging&per_page=100");
    // (name, answer, most listings the run may request)
    let cases: Vec<(&str, Answer, usize)> = vec![
        (
            "empty page linking to itself",
            Box::new(move |_, uri: &str| {
                ResponseTemplate::new(200)
                    .set_body_json(json!([]))
                    .insert_header("link", link(&first(uri)).as_str())
            }),
            1,
        ),
        (
            "full page linking to itself",
            Box::new(move |n, uri: &str| {
                ResponseTemplate::new(200)
                    .set_body_json(json!([record(n as u64 + 1)]))
                    .insert_header("link", link(&first(uri)).as_str())
            }),
            2,
        ),
        (
            "endless distinct pages",
            Box::new(move |n, uri: &str| {
                let next = format!("{}&page={}", first(uri), n + 2);
                ResponseTemplate::new(200)
                    .set_body_json(json!([record(n as u64 + 1)]))
                    .insert_header("link", link(&next).as_str())
            }),
            5,
        ),
    ];
    for (name, answer, most) in cases {
        let (server, count) = hostile(answer).await;
        let dir = metrics_folder();
        let uri = server.uri();
        let (run, elapsed) = tokio::task::spawn_blocking({
            let dir = dir.path().to_path_buf();
            move || metrics(&dir, &uri, &[("FERRY_GITHUB_MAX_PAGES", "5")])
        })
        .await
        .unwrap();
        let requests = count.load(Ordering::SeqCst);
        assert!(
            requests <= most,
            "{name}: {requests} listings in {elapsed:?}: {}",
            everything(&run)
        );
        assert!(elapsed < Duration::from_secs(15), "{name}: {elapsed:?}");
        assert_eq!(run.code, 0, "{name}: {}", everything(&run));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_larger_than_the_limit_is_a_clear_error() {
    let (server, _) = hostile(|_, _| {
        let page: Vec<Value> = (0..3000).map(record).collect();
        ResponseTemplate::new(200).set_body_json(json!(page))
    })
    .await;
    let dir = metrics_folder();
    let uri = server.uri();
    let (run, _) = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || metrics(&dir, &uri, &[("FERRY_GITHUB_PAGE_BYTES", "65536")])
    })
    .await
    .unwrap();
    let all = everything(&run);
    assert_eq!(run.code, 1, "{all}");
    assert!(all.contains("larger than 64 KiB"), "{all}");
    assert!(all.contains("FERRY_GITHUB_PAGE_BYTES"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_with_userinfo_or_another_port_never_reaches_another_server() {
    let other = MockServer::start().await;
    let other_port = other.address().port();
    let shapes: Vec<Box<dyn Fn(u16) -> String + Send + Sync>> = vec![
        Box::new(move |p| format!("http://127.0.0.1:{p}@127.0.0.1:{other_port}/")),
        Box::new(move |p| {
            format!(
                "http://127.0.0.1:{p}@127.0.0.1:{other_port}/repos/octo/shop/deployments?page=2"
            )
        }),
        Box::new(move |_| {
            format!("http://127.0.0.1:{other_port}/repos/octo/shop/deployments?page=2")
        }),
        Box::new(move |p| format!("http://user@127.0.0.1:{p}/repos/octo/shop/deployments?page=2")),
        Box::new(move |p| format!("https://127.0.0.1:{p}/repos/octo/shop/deployments?page=2")),
        Box::new(move |p| format!("http://127.0.0.1:{p}\\@127.0.0.1:{other_port}/")),
        Box::new(move |p| format!("//127.0.0.1:{p}/repos/octo/shop/deployments?page=2")),
    ];
    for shape in shapes {
        let shape = Arc::new(shape);
        let (server, _) = hostile({
            let shape = shape.clone();
            move |_, uri: &str| {
                let port: u16 = uri.rsplit(':').next().unwrap().parse().unwrap();
                ResponseTemplate::new(200)
                    .set_body_json(json!([record(1)]))
                    .insert_header("link", link(&shape(port)).as_str())
            }
        })
        .await;
        let dir = metrics_folder();
        let uri = server.uri();
        let port = server.address().port();
        let (run, _) = tokio::task::spawn_blocking({
            let dir = dir.path().to_path_buf();
            move || metrics(&dir, &uri, &[])
        })
        .await
        .unwrap();
        let all = everything(&run);
        let url = shape(port);
        assert!(
            other
                .received_requests()
                .await
                .unwrap_or_default()
                .is_empty(),
            "{url}: another server was reached"
        );
        assert_eq!(run.code, 1, "{url}: {all}");
        assert!(all.contains("refusing to follow it"), "{url}: {all}");
    }
}

// 5. Invisible and confusable characters in the plan comment.

/// The 14 `for_each` key shapes that went through unchanged, and what the
/// comment must show in their place.
const INVISIBLE: &[(&str, &str)] = &[
    ("\u{AD}", "U+00AD"),
    ("\u{3164}", "U+3164"),
    ("\u{FFA0}", "U+FFA0"),
    ("\u{115F}", "U+115F"),
    ("\u{1160}", "U+1160"),
    ("\u{2800}", "U+2800"),
    ("\u{E0041}\u{E0049}", "U+E0041"),
    ("\u{336}", "U+0336"),
    ("\u{34F}", "U+034F"),
    ("\u{FE0F}", "U+FE0F"),
    ("\u{206A}", "U+206A"),
    ("\u{180B}", "U+180B"),
    ("\u{17B4}", "U+17B4"),
    ("\u{FFF9}", "U+FFF9"),
];

fn plan_with_addresses(addresses: &[String]) -> String {
    let changes: Vec<Value> = addresses
        .iter()
        .map(|a| {
            json!({"address": a, "mode": "managed", "type": "terraform_data", "name": "x",
                   "change": {"actions": ["delete"], "before": {"input": "x"}, "after": null}})
        })
        .collect();
    json!({"format_version": "1.2", "planned_values": {}, "resource_changes": changes}).to_string()
}

fn plan_comment(dir: &Path, env: &[(&str, &str)]) -> Run {
    ferry_with(
        dir,
        &[
            "plan-comment",
            "--env",
            "staging",
            "--plan",
            "plan.json",
            "--dry-run",
        ],
        env,
    )
}

#[test]
fn invisible_and_confusable_keys_are_visible_in_the_plan_comment() {
    let dir = tempfile::tempdir().unwrap();
    let mut addresses: Vec<String> = INVISIBLE
        .iter()
        .map(|(hidden, _)| format!("terraform_data.x[\"prod{hidden}db\"]"))
        .collect();
    // Cyrillic а and о in a Latin address.
    addresses.push("terraform_data.x[\"prod-d\u{430}t\u{43E}base\"]".into());
    std::fs::write(
        dir.path().join("plan.json"),
        plan_with_addresses(&addresses),
    )
    .unwrap();
    let run = plan_comment(dir.path(), &[]);
    assert_eq!(run.code, 0, "{}", everything(&run));
    let comment = &run.stdout;
    for (hidden, shown) in INVISIBLE {
        // (Ferry's own emoji may hold U+FE0F: look at the key itself.)
        let key = comment
            .lines()
            .find(|l| l.contains(shown))
            .unwrap_or_else(|| panic!("{shown} not shown in {comment}"));
        assert!(
            !key.contains(&format!("prod{hidden}db")) && !key.contains(&format!("{hidden}db")),
            "{shown}: the raw character reached the comment: {key}"
        );
    }
    for c in INVISIBLE
        .iter()
        .flat_map(|(h, _)| h.chars())
        .filter(|c| *c != '\u{FE0F}')
    {
        assert!(
            !comment.contains(c),
            "U+{:04X} reached the comment",
            u32::from(c)
        );
    }
    assert!(
        comment.contains("mixes Latin and Cyrillic"),
        "no warning on the mixed-script address: {comment}"
    );
}

// 6. Plan size.

#[test]
fn a_plan_larger_than_the_limit_is_refused_with_the_limit_named() {
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(3 << 20);
    let plan = json!({"format_version": "1.2", "planned_values": {}, "resource_changes": [
        {"address": "terraform_data.a", "mode": "managed", "type": "terraform_data", "name": "a",
         "change": {"actions": ["create"], "before": null, "after": {"input": big}}}]});
    std::fs::write(dir.path().join("plan.json"), plan.to_string()).unwrap();
    let run = plan_comment(dir.path(), &[("FERRY_PLAN_MAX_BYTES", "1048576")]);
    let all = everything(&run);
    assert_eq!(run.code, 1, "{all}");
    assert!(all.contains("larger than 1 MiB"), "{all}");
    assert!(all.contains("FERRY_PLAN_MAX_BYTES"), "{all}");
    // Within the limit, the same plan is read.
    let run = plan_comment(dir.path(), &[("FERRY_PLAN_MAX_BYTES", "8388608")]);
    assert_eq!(run.code, 0, "{}", everything(&run));
}

// 7. TRACEPARENT.

#[test]
fn traceparent_is_checked_against_the_w3c_grammar_before_it_is_echoed() {
    let root = support::root();
    let id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let span = "00f067aa0ba902b7";
    let refused = [
        format!("01-{id}-{span}-01-extra\n::add-mask::x"),
        format!("01-{id}-{span}-01\nFOO=bar"),
        format!("00-{id}-{span}-01-extra"),
        format!("00-{}-{span}-01", id.to_uppercase()),
        format!("00-{}-{span}-01", "0".repeat(32)),
        format!("00-{id}-{}-01", "0".repeat(16)),
        format!("ff-{id}-{span}-01"),
        format!("00-{id}-{span}-01\r"),
        format!("01-{id}-{span}-01\u{7}"),
        format!("0-{id}-{span}-01"),
    ];
    for value in &refused {
        let (run, _) = render_check(&root, &[("GITHUB_ACTIONS", "true"), ("TRACEPARENT", value)]);
        assert_eq!(run.code, 0, "{value:?}: {}", everything(&run));
        assert!(
            !run.outputs.contains_key("traceparent"),
            "{value:?} was echoed: {:?}",
            run.outputs
        );
        let all = everything(&run);
        assert!(
            all.contains("TRACEPARENT") && all.contains("W3C"),
            "{value:?}: no warning: {all}"
        );
        assert!(!all.contains("::add-mask::x"), "{value:?} echoed: {all}");
    }
    // A future version's value is taken by its first four fields.
    let future = format!("cc-{id}-{span}-01-more-fields");
    let (run, _) = render_check(
        &root,
        &[("GITHUB_ACTIONS", "true"), ("TRACEPARENT", &future)],
    );
    assert_eq!(run.output("traceparent"), format!("00-{id}-{span}-01"));
    let valid = format!("00-{id}-{span}-01");
    let (run, _) = render_check(
        &root,
        &[("GITHUB_ACTIONS", "true"), ("TRACEPARENT", &valid)],
    );
    assert_eq!(run.output("traceparent"), valid);
    assert!(
        !everything(&run).contains("TRACEPARENT"),
        "{}",
        everything(&run)
    );
}
