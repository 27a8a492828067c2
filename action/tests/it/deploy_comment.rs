//! The deploy comment and job summary, rendered from plain reports (pure:
//! no server). Snapshots show what a reviewer sees; the assertions pin what
//! must hold whatever the wording: hostile text cannot break the markdown or
//! ping anyone, the size limit holds, staging rows survive the prod edit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferry::deploy::comment::{MARKER, merge, parse_state, render_comment, render_summary};
use ferry::deploy::{
    ContainerExit, DeployReport, Diagnosis, LogLine, Rollback, ServiceEvent, ServiceOutcome,
    Status, StoppedTask,
};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const RUN: &str = "https://github.com/octo/shop/actions/runs/42";

fn outcome(env: &str, service: &str, rev: u32, status: Status, secs: f64) -> ServiceOutcome {
    ServiceOutcome {
        service: service.into(),
        env: env.into(),
        cluster: format!("shop-{env}"),
        ecs_service: format!("shop-{env}-{service}"),
        image: Some(format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/{service}@sha256:1a2b3c4d5e6f{:052x}",
            rev
        )),
        task_definition_arn: Some(format!(
            "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-{env}-{service}:{rev}"
        )),
        registered: status != Status::Unchanged,
        deployment_id: Some("ecs-svc/1234567890".into()),
        status,
        duration_secs: secs,
        diagnosis: None,
        rollback: None,
        progress: None,
        tasks: Vec::new(),
    }
}

fn report(env: &str, outcomes: Vec<ServiceOutcome>) -> DeployReport {
    DeployReport {
        env: env.into(),
        sha: SHA.into(),
        run_url: Some(RUN.into()),
        environment_url: Some(format!("https://{env}.shop.example.com")),
        outcomes,
        waves: Vec::new(),
    }
}

fn hostile_diagnosis(log_lines: usize) -> Diagnosis {
    Diagnosis {
        reason: "circuit breaker: 3 tasks failed | see @platform-team <!-- x -->".into(),
        stopped_tasks: vec![StoppedTask {
            task_arn: "arn:aws:ecs:us-east-1:123456789012:task/shop-prod/0a1b2c3d4e5f".into(),
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: Some("Essential container in task exited | `rm -rf` <script>".into()),
            containers: vec![
                ContainerExit {
                    name: "app".into(),
                    exit_code: Some(1),
                    reason: Some("panicked at 'DATABASE_URL' @here".into()),
                },
                ContainerExit {
                    name: "otel".into(),
                    exit_code: None,
                    reason: None,
                },
            ],
        }],
        events: vec![
            ServiceEvent {
                at: "2024-05-01T10:00:00Z".into(),
                message: "(service shop-prod-api) has started 1 tasks: (task 0a1b2c3d4e5f).".into(),
            },
            ServiceEvent {
                at: "2024-05-01T10:01:00Z".into(),
                message: "ping @octocat | </details> ``` **bold** [x](javascript:alert(1))".into(),
            },
        ],
        log_lines: (0..log_lines)
            .map(|i| LogLine {
                stream: "app/app/0a1b2c3d4e5f".into(),
                message: format!(
                    "line {i}: ``` </details> <!-- ferry:deploy:state v1 AAAA --> @dev | \u{1b}[31mred"
                ),
            })
            .collect(),
        notes: Vec::new(),
    }
}

fn failed_prod() -> DeployReport {
    let mut api = outcome("prod", "api", 8, Status::RolledBack, 312.0);
    api.diagnosis = Some(hostile_diagnosis(10_000));
    api.rollback = Some(Rollback {
        task_definition_arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-prod-api:7"
            .into(),
        succeeded: true,
        reason: None,
    });
    report(
        "prod",
        vec![api, outcome("prod", "worker", 5, Status::Succeeded, 95.0)],
    )
}

/// Text outside fenced code blocks (where markdown is interpreted).
fn outside_code(text: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<String> = None;
    for line in text.lines() {
        let ticks: String = line.chars().take_while(|c| *c == '`').collect();
        match &fence {
            None if ticks.len() >= 3 => fence = Some(ticks),
            Some(f) if ticks.len() >= f.len() && line.trim_end() == ticks => fence = None,
            None => {
                out.push_str(line);
                out.push('\n');
            }
            Some(_) => {}
        }
    }
    out
}

/// The body without its last line (the state block).
fn visible(body: &str) -> &str {
    body.trim_end().rsplit_once('\n').unwrap().0
}

#[test]
fn all_succeeded() {
    let r = report(
        "staging",
        vec![
            outcome("staging", "api", 12, Status::Succeeded, 65.2),
            outcome("staging", "worker", 4, Status::Succeeded, 48.9),
        ],
    );
    let body = render_comment(&merge(None, &r));
    assert!(body.starts_with(&format!("{MARKER}\n")));
    insta::assert_snapshot!("all_succeeded", visible(&body));
    insta::assert_snapshot!("all_succeeded_summary", render_summary(&r));
}

#[test]
fn unchanged() {
    let r = report(
        "staging",
        vec![outcome("staging", "api", 12, Status::Unchanged, 3.0)],
    );
    insta::assert_snapshot!("unchanged", visible(&render_comment(&merge(None, &r))));
}

#[test]
fn failed_and_rolled_back_with_a_hostile_diagnosis() {
    let r = failed_prod();
    let body = render_comment(&merge(None, &r));
    assert!(body.chars().count() <= 65_536, "{}", body.len());
    let prose = outside_code(visible(&body));
    for bad in [
        "@platform-team",
        "@octocat",
        "@here",
        "@dev",
        "<!-- x",
        "<script",
        "</details> `",
    ] {
        assert!(!prose.contains(bad), "`{bad}` escaped into the markdown");
    }
    assert_eq!(
        prose.matches("<!--").count(),
        1,
        "outside code blocks, only the marker is an HTML comment"
    );
    assert_eq!(
        prose.matches("</details>").count(),
        1,
        "one failure block, closed once"
    );
    assert!(!body.contains('\u{1b}'), "terminal escapes are removed");
    for line in prose.lines().filter(|l| l.starts_with('|')) {
        // Every table row has the columns of its header: no pipe leaked.
        let pipes = line
            .char_indices()
            .filter(|(i, c)| *c == '|' && !line[..*i].ends_with('\\'))
            .count();
        assert!(pipes == 8 || pipes == 5, "{pipes} cell borders: {line}");
    }
    assert!(body.contains("of 10000"), "says how much was cut");
    insta::assert_snapshot!("failed_rolled_back", visible(&body));

    let summary = render_summary(&r);
    assert!(
        summary.contains("line 9999:") && summary.contains("line 0:"),
        "the summary has every line"
    );
    assert!(!outside_code(&summary).contains("@octocat"));
    let head: String = summary.lines().take(30).collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!("failed_rolled_back_summary_head", head);
}

#[test]
fn staging_then_prod_is_one_comment() {
    let staging = report(
        "staging",
        vec![
            outcome("staging", "api", 12, Status::Succeeded, 65.0),
            outcome("staging", "worker", 4, Status::Succeeded, 40.0),
        ],
    );
    let first = render_comment(&merge(None, &staging));
    let prod = report(
        "prod",
        vec![
            outcome("prod", "api", 8, Status::Succeeded, 70.0),
            outcome("prod", "worker", 5, Status::Succeeded, 41.0),
        ],
    );
    let second = render_comment(&merge(Some(&first), &prod));
    let state = parse_state(&second);
    let keys: Vec<(&str, &str)> = state
        .rows
        .iter()
        .map(|r| (r.env.as_str(), r.service.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("staging", "api"),
            ("staging", "worker"),
            ("prod", "api"),
            ("prod", "worker")
        ]
    );
    insta::assert_snapshot!("staging_then_prod", visible(&second));

    // A re-run of prod with other durations: the same text, so no edit.
    let mut again = prod.clone();
    for o in &mut again.outcomes {
        o.duration_secs += 17.0;
    }
    assert_eq!(render_comment(&merge(Some(&second), &again)), second);

    // A new prod release replaces the prod rows and keeps staging's.
    let newer = report(
        "prod",
        vec![outcome("prod", "api", 9, Status::Failed, 30.0)],
    );
    let third = parse_state(&render_comment(&merge(Some(&second), &newer)));
    assert_eq!(third.rows.len(), 4);
    assert_eq!(third.rows[2].status, Status::Failed);
    assert_eq!(third.rows[0].status, Status::Succeeded);
}

#[test]
fn a_corrupt_state_is_ignored_with_a_warning() {
    let r = report(
        "prod",
        vec![outcome("prod", "api", 8, Status::Succeeded, 70.0)],
    );
    let previous = format!("{MARKER}\nold table\n<!-- ferry:deploy:state v1 not-base64!! -->\n");
    let state = merge(Some(&previous), &r);
    assert_eq!(state.rows.len(), 1);
    assert_eq!(state.warnings.len(), 1, "{:?}", state.warnings);
    assert!(state.warnings[0].contains("corrupt"));
    let foreign = format!("{MARKER}\nsomeone else's text");
    assert!(merge(Some(&foreign), &r).warnings[0].contains("no state block"));
    insta::assert_snapshot!("corrupt_state", visible(&render_comment(&state)));
}

#[test]
fn many_failures_still_fit_one_comment() {
    let outcomes = (0..40)
        .map(|i| {
            let mut o = outcome("prod", &format!("svc{i}"), 3, Status::Failed, 10.0);
            o.diagnosis = Some(hostile_diagnosis(500));
            o
        })
        .collect();
    let body = render_comment(&merge(None, &report("prod", outcomes)));
    assert!(body.chars().count() <= 65_536, "{}", body.chars().count());
    assert!(body.contains("job summary has them in full"));
    assert_eq!(parse_state(&body).rows.len(), 40, "every row survives");
}

use crate::support::markup;

mod hostile_deploy {
    use super::*;
    use markup::{any_text, assert_inert, hostile, same_code, see};
    use proptest::prelude::*;

    /// One service outcome with every outside string hostile.
    fn hostile_outcome() -> impl Strategy<Value = ServiceOutcome> {
        (
            (hostile(), hostile(), any_text(), any_text()),
            (hostile(), any_text(), hostile(), any_text(), any_text()),
            (
                any_text(),
                any_text(),
                any_text(),
                any::<bool>(),
                any::<bool>(),
            ),
        )
            .prop_map(
                |(
                    (env, service, image, task_def),
                    (reason, stop_reason, event, log, container),
                    (note, stream, rollback_reason, failed, rolled_back),
                )| {
                    let mut o = outcome("prod", "api", 1, Status::Succeeded, 12.0);
                    o.env = env;
                    o.service = service;
                    o.image = Some(image);
                    o.task_definition_arn =
                        Some(format!("arn:aws:ecs:::task-definition/{task_def}"));
                    if failed {
                        o.status = Status::Failed;
                        o.diagnosis = Some(Diagnosis {
                            reason,
                            stopped_tasks: vec![StoppedTask {
                                task_arn: format!("arn:aws:ecs:::task/{stop_reason}"),
                                stop_code: Some(stop_reason.clone()),
                                stopped_reason: Some(stop_reason),
                                containers: vec![ContainerExit {
                                    name: container.clone(),
                                    exit_code: Some(137),
                                    reason: Some(container),
                                }],
                            }],
                            events: vec![ServiceEvent {
                                at: event.clone(),
                                message: event,
                            }],
                            log_lines: vec![LogLine {
                                stream,
                                message: log,
                            }],
                            notes: vec![note],
                        });
                    }
                    if rolled_back {
                        o.status = Status::RolledBack;
                        o.rollback = Some(Rollback {
                            task_definition_arn: "arn:aws:ecs:::task-definition/shop:7".into(),
                            succeeded: false,
                            reason: Some(rollback_reason),
                        });
                    }
                    o
                },
            )
    }

    fn check(outcomes: &[ServiceOutcome], md: &str, comment: bool) {
        let seen = see(md);
        let failures = outcomes
            .iter()
            .filter(|o| o.diagnosis.is_some() || o.rollback.is_some())
            .count();
        let details = regex::Regex::new(r"^<details><summary>.*</summary>$").unwrap();
        let close = regex::Regex::new(r"^</details>$").unwrap();
        let br = regex::Regex::new(r"^<br>$").unwrap();
        let code = regex::Regex::new(r"^</?code>$").unwrap();
        let marker = regex::Regex::new(r"^<!-- ferry:deploy -->$").unwrap();
        let state = regex::Regex::new(r"^<!-- ferry:deploy:state v1 [A-Za-z0-9+/=]* -->$").unwrap();
        assert_inert(
            &seen,
            &[&details, &close, &br, &code, &marker, &state],
            &[RUN],
            md,
        );
        // The <summary> line holds only Ferry's tags.
        let tags = regex::Regex::new(r"<[^>]*>").unwrap();
        for h in seen.html.iter().filter(|h| h.starts_with("<details>")) {
            for t in tags.find_iter(h) {
                assert!(
                    ["<details>", "<summary>", "</summary>", "<code>", "</code>"]
                        .contains(&t.as_str()),
                    "tag {:?} in {h:?}",
                    t.as_str()
                );
            }
        }
        assert_eq!(
            seen.details_open, failures,
            "one block per failure\n---\n{md}"
        );
        // The table: one row per outcome (plus the header), and each
        // environment and service in its own code span.
        let tasks = outcomes.iter().filter(|o| o.diagnosis.is_some()).count();
        assert_eq!(seen.tables, 1 + tasks, "tables\n---\n{md}");
        assert_eq!(
            seen.table_rows.len(),
            1 + outcomes.len() + 2 * tasks,
            "rows\n---\n{md}"
        );
        assert_eq!(seen.headings.len(), 1, "{:?}\n---\n{md}", seen.headings);
        for o in outcomes {
            assert!(
                seen.codes
                    .iter()
                    .any(|(c, d)| *d == 0 && same_code(c, &o.env)),
                "env {:?}\n---\n{md}",
                o.env
            );
            assert!(
                seen.codes
                    .iter()
                    .any(|(c, d)| *d == 0 && same_code(c, &o.service)),
                "service {:?}\n---\n{md}",
                o.service
            );
        }
        if comment {
            assert!(md.starts_with(MARKER));
            assert_eq!(md.matches(MARKER).count(), 1, "{md}");
            assert_eq!(md.matches("<!-- ferry:deploy:state").count(), 1, "{md}");
        } else {
            assert_eq!(md.matches("<!-- ferry:").count(), 0, "{md}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn hostile_ecs_text_cannot_change_what_the_comment_shows(
            outcomes in prop::collection::vec(hostile_outcome(), 1..4),
        ) {
            let r = report("prod", outcomes.clone());
            let state = merge(None, &r);
            let body = render_comment(&state);
            check(&state_outcomes(&state, &outcomes), &body, true);
            // The state read back is the state written: no content forged it.
            prop_assert_eq!(parse_state(&body).rows, state.rows);
            check(&outcomes, &render_summary(&r), false);
        }
    }

    /// The comment merges rows by (environment, service): the outcomes it shows.
    fn state_outcomes(
        state: &ferry::deploy::comment::CommentState,
        outcomes: &[ServiceOutcome],
    ) -> Vec<ServiceOutcome> {
        state
            .rows
            .iter()
            .map(|row| {
                outcomes
                    .iter()
                    .rev()
                    .find(|o| o.env == row.env && o.service == row.service)
                    .cloned()
                    .unwrap()
            })
            .collect()
    }
}
