//! The rollout state machine on the sequences real ECS produces (moto never
//! advances a rollout), and the plans.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::model::ServiceEvent;
use super::rollout::{
    DeploymentView, EventView, Limits, Observation, Ours, Polled, ServiceDeploymentView, Tracker,
    Verdict,
};
use super::{PlanInput, plans};
use crate::manifest::Manifest;

const OURS: &str = "arn:aws:ecs:us-east-1:1:task-definition/app:8";
const OLD: &str = "arn:aws:ecs:us-east-1:1:task-definition/app:7";
const NEWER: &str = "arn:aws:ecs:us-east-1:1:task-definition/app:9";

/// A deployment, built up readably: `dep("ecs-svc/2", OURS).primary().counts(2, 1)`.
fn dep(id: &str, td: &str) -> DeploymentView {
    DeploymentView {
        id: id.into(),
        status: "PRIMARY".into(),
        task_definition: td.into(),
        rollout_state: Some("IN_PROGRESS".into()),
        desired: 2,
        pending: 2,
        created_at: 1000.0,
        ..DeploymentView::default()
    }
}

impl DeploymentView {
    fn active(mut self) -> Self {
        self.status = "ACTIVE".into();
        self
    }
    fn inactive(mut self) -> Self {
        self.status = "INACTIVE".into();
        self
    }
    fn completed(mut self) -> Self {
        self.rollout_state = Some("COMPLETED".into());
        self.running = self.desired;
        self.pending = 0;
        self
    }
    fn failed_rollout(mut self, reason: &str) -> Self {
        self.rollout_state = Some("FAILED".into());
        self.rollout_state_reason = Some(reason.into());
        self
    }
    fn running(mut self, running: i32, pending: i32) -> Self {
        self.running = running;
        self.pending = pending;
        self
    }
    fn failed(mut self, failed: i32) -> Self {
        self.failed = failed;
        self
    }
    fn created(mut self, at: f64) -> Self {
        self.created_at = at;
        self
    }
}

fn seen(deployments: Vec<DeploymentView>) -> Polled {
    Polled::Observed(Observation {
        deployments,
        ..Observation::default()
    })
}

fn event(id: &str, at: f64, message: &str) -> EventView {
    EventView {
        id: id.into(),
        created_at: at,
        event: ServiceEvent {
            at: format!("t{at}"),
            message: message.into(),
        },
    }
}

/// A rollout followed poll by poll, 6 s apart.
struct Rollout {
    tracker: Tracker,
    polls: u32,
}

impl Rollout {
    fn new(ours: Ours) -> Self {
        Self::with(ours, Limits::default())
    }
    fn with(ours: Ours, limits: Limits) -> Self {
        Self {
            tracker: Tracker::new(ours, limits),
            polls: 0,
        }
    }
    fn poll(&mut self, p: Polled) -> Verdict {
        self.polls += 1;
        self.tracker
            .step(p, Duration::from_secs(6 * u64::from(self.polls)))
            .verdict
    }
}

fn ours() -> Ours {
    Ours {
        deployment_id: Some("ecs-svc/new".into()),
        task_definition: OURS.into(),
        previous_task_definition: Some(OLD.into()),
        started_at: Some(1000.0),
    }
}

fn progress(v: &Verdict) -> &str {
    match v {
        Verdict::Waiting { progress } => progress,
        other => panic!("expected waiting, got {other:?}"),
    }
}

#[test]
fn a_rollout_completes_when_ours_is_primary_completed_and_fully_running() {
    let mut r = Rollout::new(ours());
    let old = || dep("ecs-svc/old", OLD).active().completed().created(500.0);
    let v = r.poll(seen(vec![dep("ecs-svc/new", OURS), old()]));
    assert_eq!(progress(&v), "0/2 running, 2 pending");
    let v = r.poll(seen(vec![dep("ecs-svc/new", OURS).running(1, 1), old()]));
    assert_eq!(progress(&v), "1/2 running, 1 pending");
    // COMPLETED but still short of the desired count: not yet.
    let mut short = dep("ecs-svc/new", OURS).completed();
    short.running = 1;
    assert!(!r.poll(seen(vec![short])).is_final());
    assert_eq!(
        r.poll(seen(vec![dep("ecs-svc/new", OURS).completed()])),
        Verdict::Completed
    );
}

#[test]
fn without_a_known_id_ours_is_the_deployment_of_our_task_definition() {
    let mut r = Rollout::new(Ours {
        deployment_id: None,
        ..ours()
    });
    r.poll(seen(vec![dep("ecs-svc/new", OURS)]));
    assert_eq!(
        r.tracker.ours().deployment_id.as_deref(),
        Some("ecs-svc/new")
    );
}

#[test]
fn the_circuit_breaker_rolling_back_is_a_failure_not_a_success() {
    let mut r = Rollout::new(ours());
    r.poll(seen(vec![dep("ecs-svc/new", OURS).failed(2)]));
    // ECS marks ours FAILED and a new PRIMARY runs the old definition; the
    // service is at steady state again, but not on our release.
    let v = r.poll(seen(vec![
        dep("ecs-svc/back", OLD).completed().created(1100.0),
        dep("ecs-svc/new", OURS)
            .active()
            .failed(4)
            .failed_rollout("ECS deployment circuit breaker: tasks failed to start."),
    ]));
    assert_eq!(
        v,
        Verdict::RolledBackByEcs {
            reason: "ECS deployment circuit breaker: tasks failed to start.".into()
        }
    );
}

#[test]
fn a_rollback_seen_only_as_the_old_definition_back_on_primary_is_a_rollback() {
    let mut r = Rollout::new(ours());
    r.poll(seen(vec![dep("ecs-svc/new", OURS)]));
    let v = r.poll(seen(vec![
        dep("ecs-svc/back", OLD).created(1100.0),
        dep("ecs-svc/new", OURS).inactive(),
    ]));
    assert!(matches!(v, Verdict::RolledBackByEcs { .. }), "{v:?}");
    // Ours vanished altogether.
    let mut r = Rollout::new(ours());
    r.poll(seen(vec![dep("ecs-svc/new", OURS)]));
    let v = r.poll(seen(vec![dep("ecs-svc/back", OLD).completed()]));
    assert!(matches!(v, Verdict::RolledBackByEcs { .. }), "{v:?}");
}

#[test]
fn the_service_deployments_api_says_rollback_outright() {
    let mut r = Rollout::new(ours());
    let p = Polled::Observed(Observation {
        deployments: vec![dep("ecs-svc/new", OURS)],
        service_deployment: Some(ServiceDeploymentView {
            arn: "arn:sd".into(),
            status: "ROLLBACK_IN_PROGRESS".into(),
            status_reason: Some("deployment circuit breaker triggered".into()),
        }),
        ..Observation::default()
    });
    assert_eq!(
        r.poll(p),
        Verdict::RolledBackByEcs {
            reason: "deployment circuit breaker triggered".into()
        }
    );
}

#[test]
fn a_failed_rollout_without_the_circuit_breaker_is_failed() {
    let mut r = Rollout::new(ours());
    let v = r.poll(seen(vec![
        dep("ecs-svc/new", OURS).failed_rollout("tasks failed to start"),
    ]));
    assert_eq!(
        v,
        Verdict::Failed {
            reason: "tasks failed to start".into()
        }
    );
}

#[test]
fn a_newer_deployment_supersedes_ours() {
    let mut r = Rollout::new(ours());
    r.poll(seen(vec![dep("ecs-svc/new", OURS).running(1, 1)]));
    let v = r.poll(seen(vec![
        dep("ecs-svc/newer", NEWER).created(1200.0),
        dep("ecs-svc/new", OURS).active().running(1, 0),
    ]));
    assert_eq!(
        v,
        Verdict::Superseded {
            by: format!("ecs-svc/newer ({NEWER})")
        }
    );
}

#[test]
fn tasks_that_keep_stopping_are_reported_with_their_reasons() {
    let mut r = Rollout::new(ours());
    let stopping = |failed: i32, reasons: &[&str]| {
        Polled::Observed(Observation {
            deployments: vec![dep("ecs-svc/new", OURS).failed(failed)],
            stopped_reasons: reasons.iter().map(ToString::to_string).collect(),
            ..Observation::default()
        })
    };
    let v = r.poll(stopping(1, &["EssentialContainerExited: exit 1"]));
    assert_eq!(
        progress(&v),
        "0/2 running, 2 pending; tasks keep stopping (1 failed): EssentialContainerExited: exit 1"
    );
    let v = r.poll(stopping(
        3,
        &[
            "EssentialContainerExited: exit 1",
            "TaskFailedToStart: CannotPullContainerError",
        ],
    ));
    assert_eq!(
        progress(&v),
        "0/2 running, 2 pending; tasks keep stopping (3 failed): EssentialContainerExited: exit 1; TaskFailedToStart: CannotPullContainerError"
    );
    assert_eq!(r.tracker.stop_reasons().len(), 2);
}

#[test]
fn the_deadline_passes() {
    let limits = Limits {
        deadline: Duration::from_secs(60),
        ..Limits::default()
    };
    let mut t = Tracker::new(ours(), limits);
    let waiting = || seen(vec![dep("ecs-svc/new", OURS)]);
    assert!(
        !t.step(waiting(), Duration::from_secs(59))
            .verdict
            .is_final()
    );
    assert_eq!(
        t.step(waiting(), Duration::from_secs(60)).verdict,
        Verdict::DeadlineExceeded
    );
    // Finishing on the deadline's poll still counts.
    let mut t = Tracker::new(ours(), limits);
    assert_eq!(
        t.step(
            seen(vec![dep("ecs-svc/new", OURS).completed()]),
            Duration::from_secs(61)
        )
        .verdict,
        Verdict::Completed
    );
}

#[test]
fn the_default_deadline_is_fifteen_minutes() {
    let mut t = Tracker::new(ours(), Limits::default());
    let waiting = || seen(vec![dep("ecs-svc/new", OURS)]);
    assert!(
        !t.step(waiting(), Duration::from_secs(899))
            .verdict
            .is_final()
    );
    assert_eq!(
        t.step(waiting(), Duration::from_secs(900)).verdict,
        Verdict::DeadlineExceeded
    );
}

#[test]
fn throttling_backs_off_and_is_no_verdict() {
    let limits = Limits {
        interval: Duration::from_secs(6),
        max_backoff: Duration::from_secs(30),
        ..Limits::default()
    };
    let mut t = Tracker::new(ours(), limits);
    let at = Duration::from_secs(10);
    let waits: Vec<u64> = (0..5)
        .map(|_| {
            let step = t.step(Polled::Throttled, at);
            assert!(!step.verdict.is_final(), "{:?}", step.verdict);
            step.next_poll_in.as_secs()
        })
        .collect();
    assert_eq!(waits, [12, 24, 30, 30, 30]);
    let step = t.step(seen(vec![dep("ecs-svc/new", OURS).completed()]), at);
    assert_eq!(step.verdict, Verdict::Completed);
    // After an answer the interval is back to normal.
    let mut t = Tracker::new(ours(), limits);
    t.step(Polled::Throttled, at);
    let step = t.step(seen(vec![dep("ecs-svc/new", OURS)]), at);
    assert_eq!(step.next_poll_in.as_secs(), 6);
}

#[test]
fn repeated_errors_fail_after_the_limit() {
    let mut t = Tracker::new(ours(), Limits::default());
    for _ in 0..3 {
        let v = t.step(Polled::Error("boom".into()), Duration::ZERO).verdict;
        assert!(!v.is_final());
    }
    let v = t.step(Polled::Error("boom".into()), Duration::ZERO).verdict;
    assert_eq!(
        v,
        Verdict::Failed {
            reason: "polling ECS failed 4 times in a row: boom".into()
        }
    );
}

#[test]
fn events_are_streamed_once_oldest_first_and_only_since_our_deployment() {
    let mut t = Tracker::new(ours(), Limits::default());
    let with = |events: Vec<EventView>| {
        Polled::Observed(Observation {
            deployments: vec![dep("ecs-svc/new", OURS)],
            events,
            ..Observation::default()
        })
    };
    let step = t.step(
        with(vec![
            event("3", 1010.0, "has started 2 tasks"),
            event("2", 1001.0, "registered 1 targets"),
            event("1", 900.0, "an old event"),
        ]),
        Duration::ZERO,
    );
    let text: Vec<&str> = step.new_events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(text, ["registered 1 targets", "has started 2 tasks"]);
    let step = t.step(
        with(vec![
            event("4", 1020.0, "has reached a steady state."),
            event("3", 1010.0, "has started 2 tasks"),
        ]),
        Duration::ZERO,
    );
    let text: Vec<&str> = step.new_events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(text, ["has reached a steady state."]);
    assert_eq!(t.events().len(), 3);
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn plans_name_the_cluster_and_service_of_each_environment() {
    let root = repo_root();
    let manifest = Manifest::load(
        &root.join(".github/ferry.yml"),
        Path::new(".github/ferry.yml"),
    )
    .unwrap();
    let input = |service: &str| PlanInput {
        service: service.into(),
        image: None,
        task_definition: crate::taskdef::TaskDefinition::default(),
        rollback_to: None,
    };
    for env in ["staging", "prod"] {
        let p = plans(
            &manifest,
            env,
            vec![input("sampleapi"), input("sampleworker")],
        )
        .unwrap();
        let names: Vec<(&str, &str)> = p
            .iter()
            .map(|p| (p.cluster.as_str(), p.ecs_service.as_str()))
            .collect();
        let cluster = format!("email-platform-{env}");
        assert_eq!(
            names,
            [
                (
                    cluster.as_str(),
                    format!("email-platform-{env}-sampleapi").as_str()
                ),
                (
                    cluster.as_str(),
                    format!("email-platform-{env}-sampleworker").as_str()
                ),
            ]
        );
    }
    let e = plans(&manifest, "qa", vec![input("sampleapi")]).unwrap_err();
    assert!(e.contains("unknown environment `qa`"), "{e}");
    let e = plans(&manifest, "prod", vec![input("nope")]).unwrap_err();
    assert!(e.contains("unknown service `nope`"), "{e}");
}
