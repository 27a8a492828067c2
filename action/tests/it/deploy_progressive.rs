//! Progressive rollouts end to end (issue 16): `ferry deploy --env prod`
//! as a workflow runs it, with a canary rollout and its analysis in the
//! manifest; ECS is the scripted service deployments lifecycle
//! (`support/scripted/lifecycle.rs`: moto has none), on a compressed clock;
//! the analysis reads a real Prometheus fed with recorded per-version SLI
//! series (`support/prometheus.rs`), queried as `.github/ferry.yml` does;
//! GitHub is the stateful stand-in, every request replayed to Prism.
//!
//! The image's tag is the version: the task definition sets it as
//! `SERVICE_VERSION`, the services label their metrics with it, and the
//! analysis asks for `version="<tag>"` (canary) against `version!="<tag>"`
//! (the baseline beside it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::deploy as deploy_support;
use crate::support::scripted::{self, Scripted};

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deploy_support::{clients, copy_repo, manifest, render};
use ferry::deploy::{PlanInput, RolloutOptions, Status, plans, roll_out};
use ferry::manifest::{RolloutSettings, Strategy};
use serde_json::json;
use support::github_state::{GitHubState, TOKEN, assert_valid_github_api};
use support::prometheus::{Prometheus, gauge, now};
use support::{AWS_VARS, Run, everything, ferry_without};

/// Why these deploys skip preflight: the scripted ECS stand-in answers ECS
/// alone, with none of the example's secrets, roles or log groups
/// (preflight is tested in `preflight.rs`).
const NO_PREFLIGHT: &str =
    "the scripted ECS stand-in holds none of the example's secrets, roles or log groups";

const REPO: &str = "acme/email-platform";
const SHA: &str = "5e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";
/// The version serving before the release: the baseline.
const BASELINE: &str = "sampleapi-0a0a0a0-20250101";
/// The manifest: prod's sampleapi as a canary, with the analysis
/// `.github/ferry.yml` gives it (the same query), on a 1 s interval, with
/// the Prometheus URL and the failures allowed left to the test.
const MANIFEST: &str = r#"project: email-platform
region: us-east-1
environments:
  staging: { cluster: email-platform-staging }
  prod:
    cluster: email-platform-prod
    promote-from: staging
services:
  sampleapi:
    paths: [services/sampleapi/**]
    task-definition: task-definitions/sampleapi.jsonnet
    ecs-service: "{project}-{env}-sampleapi"
    image-repository: "{project}/sampleapi"
    rollout:
      prod: { strategy: canary, canary-percent: 10, step-bake: 1m, bake: 1m }
    analysis:
      prod:
        prometheus: PROMETHEUS
        interval: 1s
        failure-limit: FAILURES
        checks:
          - name: error-ratio
            query: >-
              sum(slo_version:sli_events_bad:rate5m{slo="api-availability",{version}})
              / sum(slo_version:sli_events_total:rate5m{slo="api-availability",{version}})
            max: 0.01
            max-vs-baseline: 2
            floor: 0.001
"#;

/// The image of `tag` (by tag and digest, as `ferry build` outputs it).
fn image(tag: &str) -> String {
    format!(
        "111111111111.dkr.ecr.us-east-1.amazonaws.com/email-platform/sampleapi:{tag}@sha256:{}",
        "ab".repeat(32)
    )
}

/// The per-version SLI series of the availability SLO, one sample a
/// second from 10 minutes ago to 2 minutes ahead: `ratio(version, t)` is
/// the error ratio (`None`: no traffic, no series) of 10 requests a second.
fn series(versions: &[&str], ratio: impl Fn(&str, u64) -> Option<f64>) -> String {
    let now = now();
    let mut bad = Vec::new();
    let mut total = Vec::new();
    for version in versions {
        let labels = format!("slo=\"api-availability\",version=\"{version}\"");
        for t in now - 600..=now + 120 {
            if let Some(r) = ratio(version, t) {
                bad.push((labels.clone(), 10.0 * r, t));
                total.push((labels.clone(), 10.0, t));
            }
        }
    }
    gauge("slo_version:sli_events_bad:rate5m", samples(&bad))
        + &gauge("slo_version:sli_events_total:rate5m", samples(&total))
}

fn samples(v: &[(String, f64, u64)]) -> Vec<(&str, f64, u64)> {
    v.iter().map(|(l, v, t)| (l.as_str(), *v, *t)).collect()
}

/// The repository's task definitions with [`MANIFEST`].
fn repository(prometheus: &str, failures: u32) -> tempfile::TempDir {
    let dir = copy_repo(&["task-definitions"]);
    let manifest = MANIFEST
        .replace("PROMETHEUS", prometheus)
        .replace("FAILURES", &failures.to_string());
    std::fs::create_dir_all(dir.path().join(".github")).unwrap();
    std::fs::write(dir.path().join(".github/ferry.yml"), manifest).unwrap();
    dir
}

/// `ferry deploy --env prod` of sampleapi at `tag`, against `ecs`.
fn deploy(dir: &Path, gh: &GitHubState, ecs: &str, tag: &str, timeout: &str) -> Run {
    let uri = gh.uri();
    let home = tempfile::tempdir().unwrap();
    let home = home.path().display().to_string();
    let mut env: Vec<(&str, &str)> = gh.env(&uri, SHA);
    env.extend([
        ("HOME", home.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", ecs),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("INPUT_SKIP-PREFLIGHT", NO_PREFLIGHT),
    ]);
    let images = format!("sampleapi={}", image(tag));
    ferry_without(
        dir,
        &[
            "deploy",
            "--env",
            "prod",
            "--images",
            &images,
            "--poll-interval",
            "50ms",
            "--timeout",
            timeout,
        ],
        &env,
        AWS_VARS,
    )
}

/// The task definition of the last good release in most scenarios.
const GOOD: &str = "arn:aws:ecs:us-east-1:111111111111:task-definition/bootstrap:1";

/// GitHub with the commit on pull request 7 and a successful prod
/// Deployment of sampleapi on `good`: the release a rollback returns to.
async fn github_with_last_good(good: &str) -> GitHubState {
    let gh = GitHubState::start(REPO).await;
    gh.set_pulls(SHA, &[7]);
    gh.seed_deployment(
        "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a",
        "prod",
        "sampleapi",
        json!({"service": "sampleapi", "image": image(BASELINE), "task_definition_arn": good}),
        &["in_progress", "success"],
    );
    gh
}

/// What a scenario needs: Prometheus, a scripted ECS at `ms_per_minute`,
/// GitHub with the commit on pull request 7, the repository.
struct Scene {
    _prometheus: Prometheus,
    ecs: Scripted,
    gh: GitHubState,
    repo: tempfile::TempDir,
}

async fn scene(om: &str, failures: u32, ms_per_minute: u64) -> Scene {
    let prometheus = Prometheus::start(om);
    let ecs = Scripted::start(scripted::progressive_ecs(ms_per_minute)).await;
    let gh = GitHubState::start(REPO).await;
    gh.set_pulls(SHA, &[7]);
    let repo = repository(&prometheus.url, failures);
    Scene {
        _prometheus: prometheus,
        ecs,
        gh,
        repo,
    }
}

impl Scene {
    fn deploy(&self, tag: &str) -> Run {
        self.deploy_within(tag, "60s")
    }

    fn deploy_within(&self, tag: &str, timeout: &str) -> Run {
        let started = Instant::now();
        let run = deploy(self.repo.path(), &self.gh, &self.ecs.url, tag, timeout);
        eprintln!("deploy of {tag}: {:.1}s", started.elapsed().as_secs_f64());
        assert!(!everything(&run).contains(TOKEN));
        run
    }

    fn comment(&self) -> String {
        let comments = self.gh.comments();
        assert_eq!(comments.len(), 1, "{comments:#?}");
        assert_eq!(comments[0].issue, 7);
        comments[0].body.clone()
    }

    /// The UpdateService calls' deployment configurations.
    fn strategies(&self) -> Vec<serde_json::Value> {
        self.ecs
            .calls("UpdateService")
            .into_iter()
            .map(|r| r.body["deploymentConfiguration"].clone())
            .collect()
    }

    /// Asserts one StopServiceDeployment, with a rollback, of this
    /// release's service deployment.
    fn stopped_once_with_a_rollback(&self) {
        let stops = self.ecs.calls("StopServiceDeployment");
        assert_eq!(stops.len(), 1, "{stops:#?}");
        assert_eq!(stops[0].body["stopType"], "ROLLBACK");
        let arn = stops[0].body["serviceDeploymentArn"].as_str().unwrap();
        assert!(
            arn.starts_with("arn:aws:ecs:us-east-1:111111111111:service-deployment/email-platform-prod/email-platform-prod-sampleapi/"),
            "{arn}"
        );
    }

    /// The log lines of the analysis rounds.
    fn rounds(run: &Run) -> Vec<String> {
        run.stdout
            .lines()
            .filter(|l| l.contains("error-ratio canary"))
            .map(str::to_string)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_canary_completes() {
    let tag = "sampleapi-5e1f0c2-healthy";
    let om = series(&[BASELINE, tag], |_, _| Some(0.001));
    let s = scene(&om, 0, 1500).await;
    let run = s.deploy(tag);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("status"), "succeeded", "{run:#?}");

    let sent = s.strategies();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["strategy"], "CANARY");
    assert_eq!(
        sent[0]["canaryConfiguration"],
        json!({"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1})
    );
    assert_eq!(sent[0]["bakeTimeInMinutes"], 1);
    assert_eq!(
        sent[0]["deploymentCircuitBreaker"],
        json!({"enable": true, "rollback": true}),
        "the service's own circuit breaker is kept"
    );
    assert!(s.ecs.calls("StopServiceDeployment").is_empty());

    let rounds = Scene::rounds(&run);
    assert!(rounds.len() >= 2, "{rounds:#?}\n{}", run.stdout);
    // Compared with the old version while it serves (10%); at 100% it
    // serves nothing and the absolute threshold alone judges.
    for r in &rounds {
        assert!(
            r.ends_with("error-ratio canary 0.001 baseline 0.001: ok")
                || r.ends_with("error-ratio canary 0.001 baseline –: ok"),
            "{r}"
        );
    }
    assert!(rounds[0].ends_with("baseline 0.001: ok"), "{rounds:#?}");
    let records = s.gh.deployments_of("prod", "sampleapi");
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].state(), Some("success"), "{records:#?}");
    assert!(s.comment().contains("succeeded"), "{}", s.comment());
    assert_valid_github_api(&s.gh.received().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_burning_its_budget_at_the_first_step_is_stopped_and_rolled_back() {
    let tag = "sampleapi-5e1f0c2-burning";
    let om = series(&[BASELINE, tag], |v, _| {
        Some(if v == tag { 0.2 } else { 0.001 })
    });
    let s = scene(&om, 0, 3000).await;
    let run = s.deploy(tag);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.output("status"), "rolled-back", "{run:#?}");

    s.stopped_once_with_a_rollback();
    let figures = "error-ratio = 0.2 is above 0.01";
    let rounds = Scene::rounds(&run);
    assert_eq!(rounds.len(), 1, "one round decided: {rounds:#?}");
    assert!(rounds[0].contains(figures), "{rounds:#?}");
    assert!(
        run.stdout
            .contains("10% traffic (PRODUCTION_TRAFFIC_SHIFT)"),
        "the first step decided:\n{}",
        run.stdout
    );
    assert!(run.summary.contains(figures), "{}", run.summary);
    let body = s.comment();
    assert!(body.contains(figures), "{body}");
    assert!(body.contains("rolled-back"), "{body}");
    let records = s.gh.deployments_of("prod", "sampleapi");
    let states = records[0].states();
    let (last, before) = states.split_last().unwrap();
    assert_eq!(*last, "failure", "{states:?}");
    assert!(
        !before.is_empty() && before.iter().all(|s| *s == "in_progress"),
        "{states:?}"
    );
    assert_valid_github_api(&s.gh.received().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_without_traffic_data_fails_closed() {
    let tag = "sampleapi-5e1f0c2-silent";
    // Only the baseline has series: the new version never got a request.
    let om = series(&[BASELINE], |_, _| Some(0.001));
    let s = scene(&om, 0, 3000).await;
    let run = s.deploy(tag);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.output("status"), "rolled-back", "{run:#?}");
    s.stopped_once_with_a_rollback();
    let said = "no data for the new version";
    assert!(run.summary.contains(said), "{}", run.summary);
    assert!(s.comment().contains(said), "{}", s.comment());
    assert_valid_github_api(&s.gh.received().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flapping_metric_within_the_failures_allowed_completes() {
    let tag = "sampleapi-5e1f0c2-flapping";
    // The canary errs 5% during two seconds, 8 s from now: inside the
    // analysis (Prometheus is up and the deploy reaches the traffic shift
    // about 1 s from now on an idle machine, 8 s of slack; the analysis then
    // lasts 12 s). Rounds come at least 1 s apart (the interval) and well
    // under 2 s, and query whole seconds, so 1 or 2 rounds fail, never 0 or
    // 3: within `failure-limit: 2`.
    let bad = now() + 8..now() + 10;
    let om = series(&[BASELINE, tag], |v, t| {
        Some(if v == tag && bad.contains(&t) {
            0.05
        } else {
            0.001
        })
    });
    let s = scene(&om, 2, 6000).await;
    let run = s.deploy(tag);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("status"), "succeeded", "{run:#?}");
    assert!(s.ecs.calls("StopServiceDeployment").is_empty());
    let rounds = Scene::rounds(&run);
    let failed = rounds
        .iter()
        .filter(|r| r.contains("error-ratio = 0.05 is above 0.01"))
        .count();
    assert!((1..=2).contains(&failed), "{rounds:#?}");
    assert!(
        rounds.last().unwrap().ends_with(": ok"),
        "it recovered: {rounds:#?}"
    );
    assert_valid_github_api(&s.gh.received().await).await;
}

/// A linear rollout through the library: each traffic step ECS reports is
/// a step of the report, in order. The lifecycle moves on one stage per
/// poll (each stage, and each step's minute of bake, shows to exactly one
/// DescribeServiceDeployments): every stage is seen however loaded the
/// machine, and none is seen only because a timer was slow.
#[tokio::test]
async fn a_linear_rollouts_steps_are_reported_in_order() {
    let script = Scripted::start(scripted::lifecycle::progressive_ecs_by_polls(
        scripted::lifecycle::Clock {
            ms_per_minute: 1000,
            stage_ms: 1000,
        },
    ))
    .await;
    let c = clients(&script.url).await;
    let tag = "sampleapi-5e1f0c2-linear";
    let mut plans = plans(
        &manifest(),
        "staging",
        vec![PlanInput {
            service: "sampleapi".into(),
            image: Some(image(tag)),
            task_definition: render("sampleapi", "staging", &image(tag)),
            rollback_to: None,
        }],
    )
    .unwrap();
    plans[0].rollout = RolloutSettings {
        strategy: Strategy::Linear,
        step_percent: 30.0,
        step_bake_secs: 60,
        bake_secs: 60,
        ..RolloutSettings::default()
    };
    let opts = RolloutOptions {
        poll_interval: Duration::from_millis(20),
        deadline: Duration::from_secs(20),
        ..RolloutOptions::default()
    };
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let report = roll_out(
        &c.port(),
        plans,
        &opts,
        &mut |l| sink.lock().unwrap().push(l.to_string()),
        None,
    )
    .await;
    let log = log.lock().unwrap().clone();
    let o = &report.outcomes[0];
    assert_eq!(o.status, Status::Succeeded, "{o:#?}\n{log:#?}");
    let sent = &script.calls("UpdateService")[0].body["deploymentConfiguration"];
    assert_eq!(sent["strategy"], "LINEAR");
    assert_eq!(
        sent["linearConfiguration"],
        json!({"stepPercent": 30.0, "stepBakeTimeInMinutes": 1})
    );
    let progress = o.progress.as_ref().unwrap();
    assert_eq!(progress.strategy, "linear");
    assert_eq!(progress.version, tag);
    let numbers: Vec<usize> = progress.steps.iter().map(|s| s.step).collect();
    assert_eq!(numbers, (1..=progress.steps.len()).collect::<Vec<_>>());
    let traffic: Vec<(&str, Option<f64>)> = progress
        .steps
        .iter()
        .filter(|s| s.traffic_percent.is_some_and(|p| p > 0.0))
        .map(|s| (s.stage.as_str(), s.traffic_percent))
        .collect();
    assert_eq!(
        traffic,
        [
            ("PRODUCTION_TRAFFIC_SHIFT", Some(30.0)),
            ("PRODUCTION_TRAFFIC_SHIFT", Some(60.0)),
            ("PRODUCTION_TRAFFIC_SHIFT", Some(90.0)),
            ("POST_PRODUCTION_TRAFFIC_SHIFT", Some(100.0)),
            ("BAKE_TIME", Some(100.0)),
            ("CLEAN_UP", Some(100.0)),
        ],
        "{:#?}",
        progress.steps
    );
    let titles: Vec<&String> = log.iter().filter(|l| l.contains("% traffic")).collect();
    assert!(
        titles[0].ends_with("30% traffic (PRODUCTION_TRAFFIC_SHIFT)"),
        "{titles:#?}"
    );
}

/// A healthy canary that outlasts `--timeout` is stopped the same way:
/// rolled back by ECS, and the reason says it was the deadline.
#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_past_its_deadline_is_stopped_and_rolled_back() {
    let tag = "sampleapi-5e1f0c2-slow";
    let om = series(&[BASELINE, tag], |_, _| Some(0.001));
    // A minute of bake lasts 3 s: the canary alone outlasts a 2-s deadline.
    let s = scene(&om, 0, 3000).await;
    let run = s.deploy_within(tag, "2s");
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.output("status"), "rolled-back", "{run:#?}");
    s.stopped_once_with_a_rollback();
    let decided: serde_json::Value = serde_json::from_str(run.output("decided-by")).unwrap();
    assert_eq!(decided["sampleapi"], "the deadline (2s)");
    assert!(
        s.comment()
            .contains("no end within 2s: the deployment was stopped"),
        "{}",
        s.comment()
    );
    let records = s.gh.deployments_of("prod", "sampleapi");
    assert_eq!(records[0].state(), Some("failure"), "{records:#?}");
    assert_valid_github_api(&s.gh.received().await).await;
}

/// A deploy role without `ecs:StopServiceDeployment` (an older role than
/// terraform/ grants): ECS refuses the stop. Ferry tries its own rollback
/// (a rolling update to the last release that succeeded in prod), which ECS
/// refuses too while the canary runs; the deploy fails saying exactly that,
/// and how to stop the canary by hand.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_stop_tries_ferrys_own_rollback_and_says_how_to_stop_by_hand() {
    let tag = "sampleapi-5e1f0c2-refused";
    let om = series(&[BASELINE, tag], |v, _| {
        Some(if v == tag { 0.2 } else { 0.001 })
    });
    let prometheus = Prometheus::start(&om);
    let lifecycle = scripted::progressive_ecs(3000);
    let ecs = Scripted::start(move |r| {
        if r.op == "StopServiceDeployment" {
            return scripted::Reply::Error(
                "AccessDeniedException",
                "User is not authorized to perform: ecs:StopServiceDeployment".into(),
            );
        }
        lifecycle(r)
    })
    .await;
    let good = GOOD;
    let gh = github_with_last_good(good).await;
    let repo = repository(&prometheus.url, 0);
    let run = deploy(repo.path(), &gh, &ecs.url, tag, "60s");
    assert!(!everything(&run).contains(TOKEN));
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.output("status"), "failed", "{run:#?}");
    assert_eq!(ecs.calls("StopServiceDeployment").len(), 1);
    // Ferry's rollback: the last good release, by a rolling update.
    let updates = ecs.calls("UpdateService");
    assert_eq!(updates.len(), 2, "{updates:#?}");
    assert_eq!(updates[1].body["taskDefinition"], good);
    assert_eq!(
        updates[1].body["deploymentConfiguration"]["strategy"],
        "ROLLING"
    );
    let summary = run.summary.clone();
    for needle in [
        "error-ratio = 0.2 is above 0.01",
        "the stop failed",
        "ecs:StopServiceDeployment",
        "AccessDeniedException: User is not authorized to perform: ecs:StopServiceDeployment",
        "aws ecs stop-service-deployment --stop-type ROLLBACK --service-deployment-arn arn:aws:ecs:us-east-1:111111111111:service-deployment/",
        "**Rollback** to `bootstrap:1`: failed",
    ] {
        assert!(summary.contains(needle), "`{needle}` missing:\n{summary}");
    }
    assert_valid_github_api(&gh.received().await).await;
}

/// The relative check of issue 26: a canary at 90 % errors beside an old
/// version at 0 errors (the commonest healthy baseline) was promoted when
/// a baseline of 0 skipped the comparison; the floor compares it now, and
/// the absolute `max` every check carries catches it anyway.
#[tokio::test(flavor = "multi_thread")]
async fn a_90_percent_error_canary_beside_a_zero_baseline_is_stopped_and_rolled_back() {
    let tag = "sampleapi-5e1f0c2-ninety";
    let om = series(&[BASELINE, tag], |v, _| {
        Some(if v == tag { 0.9 } else { 0.0 })
    });
    let s = scene(&om, 0, 3000).await;
    let run = s.deploy(tag);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.output("status"), "rolled-back", "{run:#?}");
    s.stopped_once_with_a_rollback();
    let rounds = Scene::rounds(&run);
    assert_eq!(rounds.len(), 1, "{rounds:#?}");
    for said in [
        "error-ratio = 0.9 is above 0.01",
        "error-ratio = 0.9 is above 2× max(baseline 0, floor 0.001) = 0.002",
    ] {
        assert!(rounds[0].contains(said), "{said}: {rounds:#?}");
        assert!(run.summary.contains(said), "{said}:\n{}", run.summary);
    }
    let records = s.gh.deployments_of("prod", "sampleapi");
    assert_eq!(records[0].state(), Some("failure"), "{records:#?}");
}

/// A child process killed and reaped when dropped (a test that fails
/// midway leaves no deploy running).
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `ferry deploy` running in the background, its stdout lines kept with
/// the instant each arrived (for the timings of the signal tests).
struct Running {
    child: Reaped,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    reader: std::thread::JoinHandle<()>,
    files: tempfile::TempDir,
}

impl Running {
    /// `ferry deploy --env prod` of sampleapi at `tag`, as [`deploy`] runs
    /// it, in the background.
    fn start(dir: &Path, gh: &GitHubState, ecs: &str, tag: &str, poll: &str) -> Self {
        let files = tempfile::tempdir().unwrap();
        let uri = gh.uri();
        let home = files.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let images = format!("sampleapi={}", image(tag));
        let mut cmd = support::ferry_command();
        for k in AWS_VARS {
            cmd.env_remove(k);
        }
        cmd.current_dir(dir)
            .args([
                "deploy",
                "--env",
                "prod",
                "--images",
                &images,
                "--poll-interval",
                poll,
                "--timeout",
                "120s",
            ])
            .env("GITHUB_OUTPUT", files.path().join("output"))
            .env("GITHUB_STEP_SUMMARY", files.path().join("summary"))
            .env("HOME", &home)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", ecs)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("INPUT_SKIP-PREFLIGHT", NO_PREFLIGHT)
            .env("INPUT_SKIP-PREFLIGHT", NO_PREFLIGHT)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in gh.env(&uri, SHA) {
            cmd.env(k, v);
        }
        Self::spawn(cmd, files)
    }

    /// Runs `cmd` (its GITHUB_OUTPUT and GITHUB_STEP_SUMMARY are `output`
    /// and `summary` in `files`) in the background.
    fn spawn(mut cmd: std::process::Command, files: tempfile::TempDir) -> Self {
        use std::io::BufRead;
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            let err_sink = sink.clone();
            let errs = std::thread::spawn(move || {
                for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                    err_sink.lock().unwrap().push((Instant::now(), line));
                }
            });
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push((Instant::now(), line));
            }
            errs.join().unwrap();
        });
        Self {
            child: Reaped(child),
            lines,
            reader,
            files,
        }
    }

    /// When a line containing `needle` arrived, waiting up to `within`.
    fn wait_for(&self, needle: &str, within: Duration) -> Instant {
        let deadline = Instant::now() + within;
        loop {
            if let Some((at, _)) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|(_, l)| l.contains(needle))
            {
                return *at;
            }
            assert!(
                Instant::now() < deadline,
                "no `{needle}` within {within:?}:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn text(&self) -> String {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sends `signal` (`TERM`, `INT`, `KILL`) to the process.
    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args(["-s", signal, &self.child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit (up to `within`): the exit code (None: killed by
    /// a signal), when it exited, the run's output lines, outputs and summary.
    fn finish(self, within: Duration) -> (Option<i32>, Instant, String, Run) {
        let Running {
            mut child,
            lines,
            reader,
            files,
        } = self;
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = child.0.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "still running after {within:?}");
            std::thread::sleep(Duration::from_millis(5));
        };
        let exited = Instant::now();
        reader.join().unwrap();
        let text = lines
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let read =
            |name: &str| std::fs::read_to_string(files.path().join(name)).unwrap_or_default();
        let run = Run {
            code: status.code().unwrap_or(-1),
            stdout: text.clone(),
            stderr: String::new(),
            outputs: support::parse_outputs(&read("output")),
            summary: read("summary"),
        };
        (status.code(), exited, text, run)
    }
}

/// GitHub cancels a job with SIGINT, then SIGTERM 7.5 s later, then SIGKILL.
/// Here the first signal is SIGTERM (as `docker stop` and a runner's
/// `timeout-minutes` send it), mid-canary: Ferry stops the service
/// deployment with a rollback and records the failure (GitHub status,
/// summary, outputs) well within the 7.5 s before the next signal.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_canary_stops_it_and_records_the_failure_within_the_runners_grace() {
    let tag = "sampleapi-5e1f0c2-cancelled";
    let om = series(&[BASELINE, tag], |_, _| Some(0.001));
    // The canary step lasts 60 s here: the signal comes in its middle.
    let s = scene(&om, 0, 60_000).await;
    let running = Running::start(s.repo.path(), &s.gh, &s.ecs.url, tag, "200ms");
    running.wait_for(
        "10% traffic (PRODUCTION_TRAFFIC_SHIFT)",
        Duration::from_secs(30),
    );
    running.wait_for("error-ratio canary 0.001", Duration::from_secs(10));
    let sent = Instant::now();
    running.signal("TERM");
    let (code, exited, text, run) = running.finish(Duration::from_secs(10));
    let took = exited.duration_since(sent);
    eprintln!("SIGTERM to exit: {:.2} s", took.as_secs_f64());
    assert!(took < Duration::from_millis(7500), "{took:?}\n{text}");
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(run.output("status"), "failed", "{run:#?}");
    s.stopped_once_with_a_rollback();
    assert!(text.contains("SIGTERM received"), "{text}");
    let said = "the job was cancelled (SIGTERM) during the rollout: the service deployment was stopped with a rollback (StopServiceDeployment accepted); Ferry did not wait for ECS to finish it";
    assert!(run.summary.contains(said), "{said}:\n{}", run.summary);
    // Nothing claims a rollback that was not seen to complete.
    assert!(!run.summary.contains("**Rollback**"), "{}", run.summary);
    let records = s.gh.deployments_of("prod", "sampleapi");
    assert_eq!(records[0].state(), Some("failure"), "{records:#?}");
    assert!(
        s.comment().contains("cancelled (SIGTERM)"),
        "{}",
        s.comment()
    );
    assert_valid_github_api(&s.gh.received().await).await;
}

/// `kill -9` right after UpdateService, on a version at 90 % errors: ECS
/// completes the rollout without Ferry. The re-run finds the service on this
/// release's revision with its GitHub Deployment still `in_progress` (no
/// record that the analysis completed): it does not say "unchanged", it
/// re-analyses the running version against the absolute thresholds and
/// rolls back to the last good release.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_deploy_is_re_analysed_by_its_re_run_and_rolled_back() {
    let tag = "sampleapi-5e1f0c2-killed";
    let om = series(&[BASELINE, tag], |v, _| {
        Some(if v == tag { 0.9 } else { 0.001 })
    });
    let prometheus = Prometheus::start(&om);
    // 300 ms a stage: the kill lands before the traffic shift (2.1 s in).
    let ecs = Scripted::start(scripted::lifecycle::progressive_ecs_with(
        scripted::lifecycle::Clock {
            ms_per_minute: 300,
            stage_ms: 300,
        },
    ))
    .await;
    let good = GOOD;
    let gh = github_with_last_good(good).await;
    let repo = repository(&prometheus.url, 0);

    let first = Running::start(repo.path(), &gh, &ecs.url, tag, "50ms");
    first.wait_for(
        "updated email-platform-prod-sampleapi",
        Duration::from_secs(30),
    );
    first.signal("KILL");
    let (code, _, text, _) = first.finish(Duration::from_secs(5));
    assert_eq!(code, None, "killed: {text}");
    assert!(
        !text.contains("error-ratio canary"),
        "killed before any round: {text}"
    );
    // ECS goes on alone: the canary, the bake, the clean-up (about 4 s).
    std::thread::sleep(Duration::from_secs(6));
    let records = gh.deployments_of("prod", "sampleapi");
    assert_eq!(records.last().unwrap().state(), Some("in_progress"));

    let run = deploy(repo.path(), &gh, &ecs.url, tag, "60s");
    assert!(!everything(&run).contains(TOKEN));
    assert_ne!(run.output("status"), "unchanged", "{run:#?}");
    assert_eq!(run.output("status"), "rolled-back", "{run:#?}");
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stdout.contains(
            "already runs it at steady state, with no record that this release's analysis completed: re-analysing the running version"
        ),
        "{}",
        run.stdout
    );
    let decided: serde_json::Value = serde_json::from_str(run.output("decided-by")).unwrap();
    let decided = decided["sampleapi"].as_str().unwrap();
    assert!(
        decided.starts_with("re-analysis of the running version")
            && decided.contains("error-ratio = 0.9 is above 0.01"),
        "{decided}"
    );
    let updates = ecs.calls("UpdateService");
    assert_eq!(
        updates.len(),
        2,
        "the first run's, then the rollback: {updates:#?}"
    );
    assert_eq!(updates[1].body["taskDefinition"], good);
    assert!(ecs.calls("StopServiceDeployment").is_empty());
    assert!(
        run.summary.contains(
            "**Rollback** to `bootstrap:1`: succeeded, the service runs the last good release."
        ),
        "{}",
        run.summary
    );
    let records = gh.deployments_of("prod", "sampleapi");
    assert_eq!(
        records.last().unwrap().state(),
        Some("failure"),
        "{records:#?}"
    );
    assert_valid_github_api(&gh.received().await).await;
}

/// Plain moto, which has no service deployments API (ListServiceDeployments
/// answers 500 NotImplemented): Ferry says so at the first answer, in one
/// line, and does what it can honestly do: the rolling wait on the
/// service's deployments, the analysis of the new version (here at 90 %
/// errors), and its own rollback by UpdateService to the last good release.
/// Nothing says a stop that could not happen.
#[tokio::test(flavor = "multi_thread")]
async fn without_the_service_deployments_api_ferry_says_so_and_rolls_back_by_update_service() {
    let tag = "sampleapi-5e1f0c2-plainmoto";
    let om = series(&[BASELINE, tag], |v, _| {
        Some(if v == tag { 0.9 } else { 0.0 })
    });
    let prometheus = Prometheus::start(&om);
    let moto = deploy_support::Moto::start(1);
    let c = clients(&moto.url).await;
    deploy_support::create_environment(&c.ecs, &moto.url, "prod").await;
    let (cluster, service) = ("email-platform-prod", "email-platform-prod-sampleapi");
    let good = deploy_support::service_task_definition(&c.ecs, cluster, service).await;
    let gh = github_with_last_good(&good).await;
    let repo = repository(&prometheus.url, 0);
    let poll = Duration::from_secs(1);
    let running = Running::start(repo.path(), &gh, &moto.url, tag, "1s");
    let updated = running.wait_for(
        "updated email-platform-prod-sampleapi",
        Duration::from_secs(60),
    );
    let said = running.wait_for(
        "the ECS service deployments API is not available here",
        Duration::from_secs(60),
    );
    let (code, _, text, run) = running.finish(Duration::from_secs(60));
    let after = said.duration_since(updated);
    eprintln!(
        "UpdateService to the first refusal said: {:.2} s",
        after.as_secs_f64()
    );
    assert!(after <= poll, "{after:?}\n{text}");
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(run.output("status"), "rolled-back", "{run:#?}");
    // One line per AWS error: the code and message, never the raw response.
    let refusal = text
        .lines()
        .find(|l| l.contains("the ECS service deployments API is not available here"))
        .unwrap();
    assert!(
        refusal.contains("(ListServiceDeployments email-platform-prod-samp")
            && refusal.contains(": AWS said "),
        "{refusal}"
    );
    assert!(
        !refusal.contains("DispatchFailure") && !refusal.contains("<html"),
        "{refusal}"
    );
    for said in [
        "error-ratio = 0.9 is above 0.01",
        "no service deployment was followed (the ECS service deployments API is not available here",
        "Ferry followed the service's deployments (DescribeServices) instead, and there was nothing to stop",
    ] {
        assert!(run.summary.contains(said), "`{said}`:\n{}", run.summary);
    }
    for lie in [
        "was stopped",
        "StopServiceDeployment",
        "ECS did not complete the rollback",
        "stop-service-deployment",
    ] {
        assert!(!run.summary.contains(lie), "`{lie}`:\n{}", run.summary);
        assert!(!text.contains(lie), "`{lie}`:\n{text}");
    }
    let short = good.rsplit('/').next().unwrap();
    let back =
        format!("**Rollback** to `{short}`: succeeded, the service runs the last good release.");
    assert!(run.summary.contains(&back), "{}", run.summary);
    assert_eq!(
        deploy_support::service_task_definition(&c.ecs, cluster, service).await,
        good
    );
    let records = gh.deployments_of("prod", "sampleapi");
    assert_eq!(
        records.last().unwrap().state(),
        Some("failure"),
        "{records:#?}"
    );
}

/// The cancellation as the runner sends it, through the action's own
/// wrapper: the step's shell runs action/action.yml's `run:` line (`exec
/// container-run run IMAGE`, which execs `docker run`), and SIGINT goes to
/// that shell's process, mid-canary. Ferry, PID 1 in the container, gets it
/// through docker's signal proxy, stops the service deployment with a
/// rollback and records the failure before the runner's SIGTERM (7.5 s).
#[tokio::test(flavor = "multi_thread")]
async fn sigint_to_the_actions_step_reaches_ferry_in_its_container() {
    use crate::support::container::{Docker, runner_inputs};
    let Some(docker) = Docker::get("sigint_to_the_actions_step_reaches_ferry_in_its_container")
    else {
        return;
    };
    let built = docker.action_image();
    let tag = "sampleapi-5e1f0c2-container";
    let om = series(&[BASELINE, tag], |_, _| Some(0.001));
    let s = scene(&om, 0, 60_000).await;
    let action: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(support::root().join("action/action.yml")).unwrap(),
    )
    .unwrap();
    let line = action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|step| step["run"].as_str())
        .find(|run| run.contains("container-run\" run"))
        .unwrap()
        .to_string();
    assert!(line.starts_with("exec "), "{line}");
    let files = tempfile::tempdir().unwrap();
    let script = files.path().join("step.sh");
    std::fs::write(&script, &line).unwrap();
    let uri = s.gh.uri();
    let images = format!("sampleapi={}", image(tag));
    // The step's shell, as the runner starts a `shell: bash` step.
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("DOCKER_HOST", &docker.host)
        .env("GITHUB_ACTION_PATH", support::root().join("action"))
        .env("FERRY_IMAGE", &built.tag)
        .env("FERRY_CONTAINER_NETWORK", "host")
        .env("FERRY_DOCKER_SOCKET", &docker.socket)
        .env("GITHUB_WORKSPACE", s.repo.path())
        .env("GITHUB_OUTPUT", files.path().join("output"))
        .env("GITHUB_STEP_SUMMARY", files.path().join("summary"))
        .env("RUNNER_TEMP", files.path())
        .env("AWS_ENDPOINT_URL", &s.ecs.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("INPUT_SKIP-PREFLIGHT", NO_PREFLIGHT)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("INPUT_POLL-INTERVAL", "200ms");
    for (k, v) in s.gh.env(&uri, SHA) {
        cmd.env(k, v);
    }
    for (k, v) in runner_inputs(
        &[
            ("command", "deploy"),
            ("skip-preflight", NO_PREFLIGHT),
            ("environment", "prod"),
            ("images", &images),
            ("timeout", "120s"),
        ],
        TOKEN,
    ) {
        cmd.env(k, v);
    }
    std::fs::write(files.path().join("output"), "").unwrap();
    std::fs::write(files.path().join("summary"), "").unwrap();
    let running = tokio::task::block_in_place(|| {
        let running = Running::spawn(cmd, files);
        running.wait_for(
            "10% traffic (PRODUCTION_TRAFFIC_SHIFT)",
            Duration::from_secs(60),
        );
        running.wait_for("error-ratio canary 0.001", Duration::from_secs(10));
        running
    });
    let sent = Instant::now();
    running.signal("INT");
    let (code, exited, text, run) =
        tokio::task::block_in_place(|| running.finish(Duration::from_secs(10)));
    let took = exited.duration_since(sent);
    eprintln!(
        "SIGINT to the step's shell to its exit: {:.2} s",
        took.as_secs_f64()
    );
    assert!(took < Duration::from_millis(7500), "{took:?}\n{text}");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("SIGINT received"), "{text}");
    assert_eq!(run.output("status"), "failed", "{run:#?}");
    s.stopped_once_with_a_rollback();
    assert!(
        run.summary.contains("the job was cancelled (SIGINT) during the rollout: the service deployment was stopped with a rollback"),
        "{}",
        run.summary
    );
    let records = s.gh.deployments_of("prod", "sampleapi");
    assert_eq!(records[0].state(), Some("failure"), "{records:#?}");
}

/// A local re-run (no GitHub: no record that this release's analysis
/// completed) of a release the service already runs: not "unchanged", a
/// re-analysis of the running version, here healthy, so it succeeds and
/// says so; nothing is updated.
#[tokio::test(flavor = "multi_thread")]
async fn a_local_re_run_re_analyses_the_running_version_instead_of_trusting_it() {
    let tag = "sampleapi-5e1f0c2-rerun";
    let om = series(&[BASELINE, tag], |_, _| Some(0.001));
    let s = scene(&om, 0, 300).await;
    let first = s.deploy(tag);
    assert_eq!(first.output("status"), "succeeded", "{first:#?}");
    let home = tempfile::tempdir().unwrap();
    let home = home.path().display().to_string();
    let images = format!("sampleapi={}", image(tag));
    let run = ferry_without(
        s.repo.path(),
        &[
            "deploy",
            "--env",
            "prod",
            "--images",
            &images,
            "--poll-interval",
            "50ms",
        ],
        &[
            ("HOME", home.as_str()),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ENDPOINT_URL", s.ecs.url.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("INPUT_SKIP-PREFLIGHT", NO_PREFLIGHT),
            ("INPUT_SKIP-PREFLIGHT", NO_PREFLIGHT),
        ],
        AWS_VARS,
    );
    let all = everything(&run);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("status"), "succeeded", "{run:#?}");
    assert!(!all.contains("unchanged"), "{all}");
    for said in [
        "no record that this release's analysis completed: re-analysing the running version",
        "re-analysis of the running version (no record that this release's analysis completed): 1 round against the absolute thresholds passed",
        "error-ratio canary 0.001 baseline –: ok",
    ] {
        assert!(all.contains(said), "`{said}`:\n{all}");
    }
    assert_eq!(s.ecs.calls("UpdateService").len(), 1, "nothing updated");
}

/// What the resume tests share: Prometheus with `tag` at `ratio` errors
/// beside the baseline at 0.001, a scripted ECS at 3 s per minute of bake
/// and 300 ms per stage (the traffic shift 2.1 s after UpdateService, the
/// canary step 3 s, the whole rollout about 9 s), GitHub with the last good
/// release recorded, the repository.
async fn resume_scene(
    tag: &str,
    ratio: f64,
) -> (Prometheus, Scripted, GitHubState, tempfile::TempDir) {
    let canary = tag.to_string();
    let om = series(&[BASELINE, tag], move |v, _| {
        Some(if v == canary { ratio } else { 0.001 })
    });
    let prometheus = Prometheus::start(&om);
    let ecs = Scripted::start(scripted::lifecycle::progressive_ecs_with(
        scripted::lifecycle::Clock {
            ms_per_minute: 3000,
            stage_ms: 300,
        },
    ))
    .await;
    let gh = github_with_last_good(GOOD).await;
    let repo = repository(&prometheus.url, 0);
    (prometheus, ecs, gh, repo)
}

/// Kills (SIGKILL) the deploy of `tag` once its output has `needle`, and
/// asserts the service deployment it started is still running.
fn killed_at(repo: &Path, gh: &GitHubState, ecs: &Scripted, tag: &str, needle: &str) {
    let first = Running::start(repo, gh, &ecs.url, tag, "50ms");
    first.wait_for(needle, Duration::from_secs(30));
    first.signal("KILL");
    let (code, _, text, _) = first.finish(Duration::from_secs(5));
    assert_eq!(code, None, "killed: {text}");
    assert_eq!(ecs.calls("UpdateService").len(), 1, "{text}");
}

/// Asserts what every resumed re-run shows: it said it resumed, never
/// `unchanged`, sent no UpdateService (the first run's is the only one),
/// and followed the one service deployment the first run started (every
/// DescribeServiceDeployments and StopServiceDeployment of both runs names
/// it).
fn resumed_the_same_deployment(run: &Run, ecs: &Scripted, described_before: usize) {
    let all = everything(run);
    assert!(!all.contains(TOKEN));
    assert!(!all.contains("unchanged"), "{all}");
    assert_ne!(run.output("status"), "unchanged", "{run:#?}");
    assert!(
        run.stdout.contains(
            "is already rolling this revision out (an earlier run was interrupted): resuming, following that deployment"
        ),
        "{}",
        run.stdout
    );
    let decided: serde_json::Value = serde_json::from_str(run.output("decided-by")).unwrap();
    let decided = decided["sampleapi"].as_str().unwrap();
    assert!(
        decided.starts_with("resumed the rollout an interrupted run started; "),
        "{decided}"
    );
    assert!(
        run.summary
            .contains("decided by resumed the rollout an interrupted run started; "),
        "{}",
        run.summary
    );
    assert_eq!(
        ecs.calls("UpdateService").len(),
        1,
        "the re-run sends no UpdateService"
    );
    let described = ecs.calls("DescribeServiceDeployments");
    assert!(
        described.len() > described_before,
        "the re-run followed it: {described:#?}"
    );
    let arns: std::collections::BTreeSet<String> = described
        .iter()
        .flat_map(|r| r.body["serviceDeploymentArns"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        arns.len(),
        1,
        "one service deployment, both runs: {arns:#?}"
    );
    let arn = arns.first().unwrap();
    for stop in ecs.calls("StopServiceDeployment") {
        assert_eq!(stop.body["serviceDeploymentArn"], arn.as_str());
    }
}

/// `kill -9` mid-canary (after its first analysis round, 10 % of traffic
/// on a healthy version) while the service deployment is IN_PROGRESS; the
/// re-run comes while it still runs: it resumes following that same
/// service deployment (no UpdateService), analyses the rest of the canary
/// and completes, saying it resumed.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_deploy_re_run_mid_canary_resumes_the_running_deployment_and_completes() {
    let tag = "sampleapi-5e1f0c2-resumed";
    let (_prometheus, ecs, gh, repo) = resume_scene(tag, 0.001).await;
    killed_at(repo.path(), &gh, &ecs, tag, "error-ratio canary 0.001");
    let described = ecs.calls("DescribeServiceDeployments").len();

    let run = deploy(repo.path(), &gh, &ecs.url, tag, "60s");
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("status"), "succeeded", "{run:#?}");
    resumed_the_same_deployment(&run, &ecs, described);
    assert!(ecs.calls("StopServiceDeployment").is_empty());
    let rounds = Scene::rounds(&run);
    assert!(!rounds.is_empty(), "the re-run analysed: {}", run.stdout);
    for r in &rounds {
        assert!(r.contains("error-ratio canary 0.001 baseline"), "{r}");
        assert!(r.ends_with(": ok"), "{r}");
    }
    let records = gh.deployments_of("prod", "sampleapi");
    assert_eq!(
        records.last().unwrap().state(),
        Some("success"),
        "{records:#?}"
    );
    assert_valid_github_api(&gh.received().await).await;
}

/// `kill -9` right after UpdateService, on a version at 20 % errors, while
/// the service deployment is IN_PROGRESS (before its traffic shift); the
/// re-run resumes following it (no UpdateService), its analysis fails the
/// canary at the first step, and it stops that same service deployment
/// with a rollback.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_deploy_re_run_resumes_the_running_deployment_and_rolls_a_burning_canary_back() {
    let tag = "sampleapi-5e1f0c2-resumedburning";
    let (_prometheus, ecs, gh, repo) = resume_scene(tag, 0.2).await;
    killed_at(
        repo.path(),
        &gh,
        &ecs,
        tag,
        "updated email-platform-prod-sampleapi",
    );
    let described = ecs.calls("DescribeServiceDeployments").len();

    let run = deploy(repo.path(), &gh, &ecs.url, tag, "60s");
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.output("status"), "rolled-back", "{run:#?}");
    resumed_the_same_deployment(&run, &ecs, described);
    let stops = ecs.calls("StopServiceDeployment");
    assert_eq!(stops.len(), 1, "{stops:#?}");
    assert_eq!(stops[0].body["stopType"], "ROLLBACK");
    let figures = "error-ratio = 0.2 is above 0.01";
    let rounds = Scene::rounds(&run);
    assert_eq!(rounds.len(), 1, "one round decided: {rounds:#?}");
    assert!(rounds[0].contains(figures), "{rounds:#?}");
    assert!(run.summary.contains(figures), "{}", run.summary);
    // Followed to its end: ECS's rollback of that deployment completed.
    assert!(
        run.summary.contains(
            "**Rollback** to `bootstrap:1`: succeeded, the service runs the last good release."
        ),
        "{}",
        run.summary
    );
    let records = gh.deployments_of("prod", "sampleapi");
    assert_eq!(
        records.last().unwrap().state(),
        Some("failure"),
        "{records:#?}"
    );
    assert_valid_github_api(&gh.received().await).await;
}

/// `kill -9` right after UpdateService, on a version at 90 % errors; ECS
/// then goes on alone (here the test's own DescribeServiceDeployments move
/// the poll-driven lifecycle on) to CLEAN_UP, past every stage the analysis
/// runs in, still IN_PROGRESS. The re-run resumes following that deployment, which completes
/// before any round: ECS's success is no record of an analysis, so the
/// running version is re-analysed, fails, and Ferry rolls it back.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_deployment_that_completes_before_any_round_is_re_analysed() {
    let tag = "sampleapi-5e1f0c2-resumedlate";
    let om = series(&[BASELINE, tag], |v, _| {
        Some(if v == tag { 0.9 } else { 0.001 })
    });
    let prometheus = Prometheus::start(&om);
    let ecs = Scripted::start(scripted::lifecycle::progressive_ecs_by_polls(
        scripted::lifecycle::Clock {
            ms_per_minute: 100,
            stage_ms: 100,
        },
    ))
    .await;
    let good = GOOD;
    let gh = github_with_last_good(good).await;
    let repo = repository(&prometheus.url, 0);
    // A 30 s poll: the first run describes the deployment once, at PENDING.
    let first = Running::start(repo.path(), &gh, &ecs.url, tag, "30s");
    first.wait_for(
        "updated email-platform-prod-sampleapi",
        Duration::from_secs(30),
    );
    first.signal("KILL");
    let (code, _, text, _) = first.finish(Duration::from_secs(5));
    assert_eq!(code, None, "killed: {text}");
    assert!(!text.contains("error-ratio canary"), "{text}");

    let c = clients(&ecs.url).await;
    let (cluster, service) = ("email-platform-prod", "email-platform-prod-sampleapi");
    let listed = c
        .ecs
        .list_service_deployments()
        .cluster(cluster)
        .service(service)
        .send()
        .await
        .unwrap();
    let arn = listed.service_deployments()[0]
        .service_deployment_arn()
        .unwrap()
        .to_string();
    let mut stages = Vec::new();
    // Up to BAKE_TIME, the last stage the analysis runs in: the next
    // describe shows CLEAN_UP.
    while stages.last().map(String::as_str) != Some("BAKE_TIME") {
        let described = c
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(&arn)
            .send()
            .await
            .unwrap();
        let d = &described.service_deployments()[0];
        let status = d.status().unwrap().as_str();
        assert!(
            ["PENDING", "IN_PROGRESS"].contains(&status),
            "{status} {stages:?}"
        );
        stages.push(d.lifecycle_stage().map_or("–", |s| s.as_str()).to_string());
        assert!(stages.len() < 30, "{stages:?}");
    }

    let run = deploy(repo.path(), &gh, &ecs.url, tag, "60s");
    let all = everything(&run);
    assert!(!all.contains(TOKEN));
    assert!(!all.contains("unchanged"), "{all}");
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.output("status"), "rolled-back", "{run:#?}");
    for said in [
        "is already rolling this revision out (an earlier run was interrupted): resuming, following that deployment",
        "the resumed service deployment completed before any analysis round: re-analysing the running version",
        "error-ratio canary 0.9 baseline –: error-ratio = 0.9 is above 0.01",
    ] {
        assert!(run.stdout.contains(said), "`{said}`:\n{}", run.stdout);
    }
    let decided: serde_json::Value = serde_json::from_str(run.output("decided-by")).unwrap();
    let decided = decided["sampleapi"].as_str().unwrap();
    assert!(
        decided.starts_with(
            "resumed the rollout an interrupted run started; re-analysis of the running version"
        ) && decided.contains("error-ratio = 0.9 is above 0.01"),
        "{decided}"
    );
    let updates = ecs.calls("UpdateService");
    assert_eq!(
        updates.len(),
        2,
        "the first run's, then the rollback: {updates:#?}"
    );
    assert_eq!(updates[1].body["taskDefinition"], good);
    assert!(ecs.calls("StopServiceDeployment").is_empty());
    assert!(
        run.summary.contains(
            "**Rollback** to `bootstrap:1`: succeeded, the service runs the last good release."
        ),
        "{}",
        run.summary
    );
    let records = gh.deployments_of("prod", "sampleapi");
    assert_eq!(
        records.last().unwrap().state(),
        Some("failure"),
        "{records:#?}"
    );
    assert_valid_github_api(&gh.received().await).await;
}
