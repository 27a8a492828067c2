//! `ferry metrics` as a user runs it: the binary, against recorded
//! Deployment histories served by a stateful GitHub stand-in (wiremock) plus
//! recorded comparisons; every request is then replayed to Prism (GitHub's
//! OpenAPI description) to prove it is valid GitHub API. The results are
//! read where a user reads them: the JSON file, the job summary parsed as
//! CommonMark, the Prometheus file checked by `promtool check metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use serde_json::{Value, json};
use support::github_state::{GitHubState, TOKEN, assert_valid_github_api, rfc3339};
use support::{Run, everything, ferry_with};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, Request, ResponseTemplate};

const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;
/// 2026-11-01T00:00:00Z: the window is November 2026.
const START: u64 = 1_793_491_200;
const END: u64 = START + 30 * DAY;

const MANIFEST: &str = "\
project: shop
region: us-east-1
environments:
  staging: { cluster: shop-staging }
  prod: { cluster: shop-prod, promote-from: staging }
services:
  api: {}
  worker: {}
  web: {}
";

fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".github")).unwrap();
    std::fs::write(dir.path().join(".github/ferry.yml"), MANIFEST).unwrap();
    dir
}

fn sha(name: &str) -> String {
    format!("{name:0>40}")
}

/// Serves `compare/{base}...{head}`: `commits` new commits, authored from
/// `first` on, one an hour (GitHub lists them oldest first).
async fn serve_compares(gh: &GitHubState, compares: &[(&str, &str, u64, u64)]) {
    let table: BTreeMap<String, (u64, u64)> = compares
        .iter()
        .map(|(b, h, first, n)| (format!("{}...{}", sha(b), sha(h)), (*first, *n)))
        .collect();
    Mock::given(method("GET"))
        .and(path_regex(r"^/repos/octo/shop/compare/.+$"))
        .respond_with(move |r: &Request| {
            let basehead = r.url.path().rsplit('/').next().unwrap_or_default();
            let Some((first, n)) = table.get(basehead) else {
                return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
            };
            let commits: Vec<Value> = (0..(*n).min(100))
                .map(|i| {
                    json!({"sha": format!("{i:040}"), "commit": {
                        "author": {"name": "dev", "email": "d@x", "date": rfc3339(first + i * HOUR)},
                        "committer": {"name": "dev", "email": "d@x", "date": rfc3339(first + i * HOUR + 60)},
                        "message": "change"
                    }})
                })
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({
                "status": "ahead", "ahead_by": n, "behind_by": 0, "total_commits": n,
                "commits": commits, "files": []
            }))
        })
        .with_priority(1)
        .mount(&gh.server)
        .await;
}

fn run(dir: &Path, gh: &GitHubState, extra: &[&str]) -> Run {
    let uri = gh.uri();
    let mut args = vec!["metrics", "--days", "30", "--until", "2026-12-01T00:00:00Z"];
    args.extend_from_slice(extra);
    ferry_with(dir, &args, &gh.env(&uri, &sha("head")))
}

/// The report's keys by (environment, service).
fn keys(dir: &Path) -> BTreeMap<(String, String), Value> {
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(".ferry/metrics/dora.json")).unwrap(),
    )
    .unwrap();
    report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                (
                    k["environment"].as_str().unwrap().to_string(),
                    k["service"].as_str().unwrap().to_string(),
                ),
                k.clone(),
            )
        })
        .collect()
}

/// The summary's table (cells as text) and its fenced code blocks (language, text).
fn parse_summary(md: &str) -> (Vec<Vec<String>>, Vec<(String, String)>) {
    let mut rows = Vec::new();
    let mut blocks = Vec::new();
    let mut row: Option<Vec<String>> = None;
    let mut cell: Option<String> = None;
    let mut block: Option<(String, String)> = None;
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::TableHead | Tag::TableRow) => row = Some(Vec::new()),
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => rows.push(row.take().unwrap()),
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => row.as_mut().unwrap().push(cell.take().unwrap()),
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
                block = Some((lang.to_string(), String::new()));
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(block.take()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                } else if let Some((_, b)) = block.as_mut() {
                    b.push_str(&t);
                }
            }
            _ => {}
        }
    }
    (rows, blocks)
}

/// Recorded histories of several shapes in one repository:
/// - api/prod: a release before the window, a release, a failure and its
///   restore by a fix, a release rolled back by re-deploying the one before;
/// - worker/prod: a quiet month (its last release is before the window);
/// - web/staging and api/staging: many small releases;
/// - noise Ferry must ignore: a record without a service, a service not in
///   the manifest, a record of the next month.
async fn recorded_history() -> GitHubState {
    let gh = GitHubState::start("octo/shop").await;
    let ok = |at: u64| vec![("in_progress", at + 60), ("success", at + 600)];
    let fail = |at: u64| vec![("in_progress", at + 60), ("failure", at + 900)];
    let seed = |s: &str, env: &str, svc: &str, at: u64, st: &[(&str, u64)]| {
        gh.seed_deployment_at(&sha(s), env, svc, at, st);
    };
    seed(
        "a",
        "prod",
        "worker",
        START - 40 * DAY,
        &ok(START - 40 * DAY),
    );
    seed("a", "prod", "api", START - 2 * DAY, &ok(START - 2 * DAY));
    for day in 0..20 {
        seed(
            &format!("s{day}"),
            "staging",
            "web",
            START + day * DAY,
            &ok(START + day * DAY),
        );
    }
    seed("b", "staging", "api", START + DAY, &ok(START + DAY));
    seed("b", "prod", "api", START + 2 * DAY, &ok(START + 2 * DAY));
    seed(
        "c",
        "prod",
        "api",
        START + 10 * DAY,
        &fail(START + 10 * DAY),
    );
    // A record with no service and one of a service not in the manifest: ignored.
    let t = START + 10 * DAY + HOUR;
    gh.seed_deployment_at(&sha("c"), "prod", "", t, &[("failure", t)]);
    gh.seed_deployment_at(&sha("x"), "prod", "billing", t, &[("failure", t)]);
    seed(
        "d",
        "prod",
        "api",
        START + 10 * DAY + 3 * HOUR,
        &ok(START + 10 * DAY + 3 * HOUR),
    );
    seed("e", "prod", "api", START + 20 * DAY, &ok(START + 20 * DAY));
    // e was bad: d is deployed again.
    seed(
        "d",
        "prod",
        "api",
        START + 20 * DAY + 2 * HOUR,
        &ok(START + 20 * DAY + 2 * HOUR),
    );
    // After the window: not counted.
    seed("f", "prod", "api", END + DAY, &fail(END + DAY));
    gh
}

#[tokio::test]
async fn recorded_histories_give_dora_keys_a_summary_json_and_prometheus() {
    let gh = recorded_history().await;
    // web's staging releases: each ships one commit authored 2 h before.
    let web: Vec<(String, String, u64)> = (1..20)
        .map(|d| {
            (
                format!("s{}", d - 1),
                format!("s{d}"),
                START + d * DAY - 2 * HOUR,
            )
        })
        .collect();
    let mut compares: Vec<(&str, &str, u64, u64)> = vec![
        // a → b: 3 commits, the first authored a day before the release.
        ("a", "b", START + DAY, 3),
        ("b", "d", START + 9 * DAY, 1),
        ("d", "e", START + 19 * DAY, 2),
        // The rollback ships no new commit.
        ("e", "d", 0, 0),
        // Staging: b is api's first release there (no base, no lead time).
    ];
    compares.extend(web.iter().map(|(b, h, t)| (b.as_str(), h.as_str(), *t, 1)));
    serve_compares(&gh, &compares).await;

    let dir = folder();
    let prom = dir.path().join("dora.prom");
    let run = run(dir.path(), &gh, &["--prometheus", prom.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!everything(&run).contains(TOKEN));
    assert_eq!(
        run.output("json"),
        dir.path()
            .join(".ferry/metrics/dora.json")
            .display()
            .to_string()
    );

    let k = keys(dir.path());
    let api = &k[&("prod".to_string(), "api".to_string())];
    // b, c (failed), d (the fix), e, d again (the rollback).
    assert_eq!(api["deployments"], 5);
    assert_eq!(api["successes"], 4);
    assert_eq!(api["failures"], 2, "c failed, e was rolled back");
    assert_eq!(api["rollbacks"], 1);
    assert_eq!(api["change_failure_rate"], 0.4);
    // Lead times: a→b 1 d 10 min, b→d 1 d 3 h 10 min, d→e 1 d 10 min.
    assert_eq!(api["lead_time_samples"], 3);
    assert_eq!(api["lead_time_median_secs"], DAY + 600);
    // Restores: c 3 h 10 min (to d's success), e 10 min (the rollback's).
    assert_eq!(api["restored"], 2);
    assert_eq!(api["time_to_restore_median_secs"], 600);
    assert_eq!(api["unrestored"], 0);
    // The quiet month: nothing to report for worker.
    assert!(!k.contains_key(&("prod".to_string(), "worker".to_string())));
    assert!(!k.keys().any(|(_, s)| s == "billing" || s.is_empty()));
    let web = &k[&("staging".to_string(), "web".to_string())];
    assert_eq!(web["successes"], 20);
    assert_eq!(web["lead_time_samples"], 19);
    assert_eq!(web["lead_time_median_secs"], 2 * HOUR + 600);
    assert_eq!(web["weekly_successes"], json!([7, 7, 6, 0, 0]));
    let staging = &k[&("staging".to_string(), "*".to_string())];
    assert_eq!(staging["successes"], 21);

    // The summary, as GitHub renders it.
    let (rows, blocks) = parse_summary(&run.summary);
    assert_eq!(
        rows[0],
        [
            "environment",
            "service",
            "deployments",
            "per week",
            "lead time (median)",
            "change failure rate",
            "time to restore (median)"
        ]
    );
    let api_row = rows
        .iter()
        .find(|r| r[0] == "prod" && r[1] == "api")
        .unwrap();
    assert_eq!(api_row[2], "5");
    assert_eq!(api_row[4], "1d 00h (3 samples)");
    assert_eq!(api_row[5], "40 % (2, 1 rollback)");
    assert_eq!(api_row[6], "10m 00s");
    assert_eq!(rows.len(), 1 + k.len());
    let charts: Vec<&(String, String)> = blocks.iter().filter(|(l, _)| l == "mermaid").collect();
    assert_eq!(charts.len(), 2, "{}", run.summary);
    assert!(
        charts[1]
            .1
            .contains("staging: successful deployments per week")
    );
    assert!(
        charts[1].1.contains("bar [8, 7, 6, 0, 0]"),
        "{}",
        charts[1].1
    );

    // The exposition format, as Prometheus reads it.
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        text.contains("ferry_dora_change_failure_ratio{service=\"api\",environment=\"prod\"} 0.4")
    );
    promtool_check(&prom);
    assert_eq!(
        exposed_names(&text),
        contract_names(),
        "what ferry metrics writes vs FERRY_METRICS in monitoring/tools/contract.py (the dashboard's contract)"
    );

    // Bounded: one comparison per pair of releases, one status per record.
    let requests = gh.received().await;
    let compares: Vec<String> = requests
        .iter()
        .filter(|r| r.url.path().contains("/compare/"))
        .map(|r| r.url.path().to_string())
        .collect();
    let mut unique = compares.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(compares.len(), unique.len());
    assert_eq!(compares.len(), 4 + 19);
    assert_valid_github_api(&requests).await;
}

/// The metric names of an exposition.
fn exposed_names(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The names monitoring/tools/contract.py promises the Grafana dashboard.
fn contract_names() -> std::collections::BTreeSet<String> {
    let contract =
        std::fs::read_to_string(support::root().join("monitoring/tools/contract.py")).unwrap();
    let block = contract.split("FERRY_METRICS = {").nth(1).unwrap();
    let block = block.split('}').next().unwrap();
    block
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"'))
        .filter_map(|l| l.split('"').next())
        .map(str::to_string)
        .collect()
}

/// `promtool check metrics` (Debian's prometheus package; PROMTOOL overrides).
fn promtool_check(file: &Path) {
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let out = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap_or_else(|e| panic!("{promtool}: {e} (apt-get install prometheus)"));
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_quiet_month_writes_an_empty_report_not_an_error() {
    let gh = GitHubState::start("octo/shop").await;
    gh.seed_deployment_at(
        &sha("a"),
        "prod",
        "api",
        START - DAY,
        &[("success", START - DAY)],
    );
    let dir = folder();
    let prom = dir.path().join("dora.prom");
    let run = run(dir.path(), &gh, &["--prometheus", prom.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(keys(dir.path()).is_empty());
    assert!(
        run.summary
            .contains("No deployment finished in this window.")
    );
    promtool_check(&prom);
    assert_valid_github_api(&gh.received().await).await;
}

#[tokio::test]
async fn hostile_shas_and_dates_stay_in_the_compare_path_and_cost_only_a_lead_time() {
    let gh = GitHubState::start("octo/shop").await;
    let hostile = [
        "../../../../user",
        "a...b?per_page=1&x=",
        "%2e%2e/%2e%2e/orgs",
        "main\n::set-output name=x::y",
    ];
    gh.seed_deployment_at(
        &sha("a"),
        "prod",
        "api",
        START + DAY,
        &[("success", START + DAY)],
    );
    for (i, h) in hostile.iter().enumerate() {
        let at = START + (i as u64 + 2) * DAY;
        gh.seed_deployment_at(h, "prod", "api", at, &[("success", at + 60)]);
    }
    // A comparison with dates that are not dates.
    Mock::given(method("GET"))
        .and(path_regex(r"^/repos/octo/shop/compare/.+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_commits": 2,
            "commits": [
                {"commit": {"author": {"date": "yesterday"}}},
                {"commit": {"author": null}}
            ]
        })))
        .with_priority(1)
        .mount(&gh.server)
        .await;
    let dir = folder();
    let run = run(dir.path(), &gh, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let api = &keys(dir.path())[&("prod".to_string(), "api".to_string())];
    assert_eq!(api["successes"], 5);
    assert_eq!(api["lead_time_samples"], 0);
    for r in gh.received().await {
        let p = r.url.path();
        assert!(p.starts_with("/repos/octo/shop/"), "{p}");
        if let Some(rest) = p.strip_prefix("/repos/octo/shop/compare/") {
            assert!(!rest.contains('/'), "{p}");
            assert!(r.url.query() == Some("per_page=100"), "{:?}", r.url.query());
        }
    }
    assert!(!run.stdout.lines().any(|l| l.starts_with("::set-output")));
}

#[tokio::test]
async fn an_unknown_environment_or_a_missing_token_says_what_to_fix() {
    let gh = GitHubState::start("octo/shop").await;
    let dir = folder();
    let bad = run(dir.path(), &gh, &["--env", "production"]);
    assert_eq!(bad.code, 1);
    assert!(
        everything(&bad).contains("staging, prod"),
        "{}",
        everything(&bad)
    );
    let uri = gh.uri();
    let env: Vec<(&str, &str)> = gh
        .env(&uri, "x")
        .into_iter()
        .filter(|(k, _)| *k != "GITHUB_TOKEN")
        .collect();
    let run = ferry_with(dir.path(), &["metrics"], &env);
    assert_eq!(run.code, 1);
    assert!(everything(&run).contains("deployments: read"));
    assert!(gh.received().await.is_empty());
}
