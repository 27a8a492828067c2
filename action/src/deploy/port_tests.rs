//! The waiting loop, the progressive follow and the roll-out on the
//! in-memory ECS port ([`super::memory`]): what they decide and which calls
//! they make, with no server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::analysis::Reading;
use super::memory::{Memory, Script};
use super::metrics::Metrics;
use super::progressive::{Ending, Stop};
use super::rollout::{Limits, Ours, Verdict};
use super::wait::{Target, wait_all};
use super::{RolloutOptions, ServicePlan, Status};
use crate::aws::ecs::{Deployment, Ecs, Event, Service, ServiceDeployment, Started};
use crate::manifest::{AnalysisCheck, AnalysisSettings, RolloutSettings, Strategy};

const OURS: &str = "arn:aws:ecs:us-east-1:1:task-definition/app:8";
const OLD: &str = "arn:aws:ecs:us-east-1:1:task-definition/app:7";

fn deployment(id: &str, td: &str, state: &str, running: i32) -> Deployment {
    Deployment {
        id: id.into(),
        status: "PRIMARY".into(),
        task_definition: td.into(),
        rollout_state: Some(state.into()),
        desired: 2,
        running,
        pending: 2 - running,
        created_at: 100.0,
        ..Deployment::default()
    }
}

fn service(td: &str, deployments: Vec<Deployment>, events: &[(&str, f64)]) -> Service {
    Service {
        name: "api".into(),
        arn: "arn:aws:ecs:us-east-1:1:service/c/api".into(),
        task_definition: Some(td.into()),
        deployments,
        events: events
            .iter()
            .map(|(message, at)| Event {
                id: format!("{message}-{at}"),
                created_at: *at,
                at: format!("t{at}"),
                message: (*message).into(),
            })
            .collect(),
        ..Service::default()
    }
}

fn ours() -> Ours {
    Ours {
        deployment_id: Some("ecs-svc/2".into()),
        task_definition: OURS.into(),
        previous_task_definition: Some(OLD.into()),
        started_at: Some(100.0),
    }
}

fn fast() -> Limits {
    Limits {
        interval: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        deadline: Duration::from_secs(5),
        ..Limits::default()
    }
}

#[tokio::test]
async fn the_wait_follows_describe_services_to_completion_and_streams_each_event_once() {
    let old = Deployment {
        status: "ACTIVE".into(),
        ..deployment("ecs-svc/1", OLD, "COMPLETED", 2)
    };
    let ecs = Memory::new(Script {
        services: [
            service(
                OURS,
                vec![deployment("ecs-svc/2", OURS, "IN_PROGRESS", 1), old],
                &[("started 1 task", 101.0), ("history", 50.0)],
            ),
            service(
                OURS,
                vec![deployment("ecs-svc/2", OURS, "COMPLETED", 2)],
                &[("started 1 task", 101.0), ("steady state", 102.0)],
            ),
        ]
        .into(),
        ..Script::default()
    });
    let target = Target {
        cluster: "c".into(),
        service: "api".into(),
        ours: ours(),
    };
    let mut log = Vec::new();
    let (waited, stats) =
        wait_all(&ecs, vec![target], fast(), &mut |l| log.push(l.to_string())).await;
    assert_eq!(waited[0].verdict, Verdict::Completed);
    assert_eq!((stats.polls, stats.describe_services), (2, 2));
    let events: Vec<&String> = log.iter().filter(|l| l.starts_with("api: t")).collect();
    assert_eq!(
        events,
        ["api: t101 started 1 task", "api: t102 steady state"]
    );
    // The endpoint without the service deployments API is said once, then
    // DescribeServices alone decides.
    let said = log.iter().filter(|l| l.contains("not available here"));
    assert_eq!(said.count(), 1, "{log:?}");
    let listed = ecs.calls().into_iter().filter(|c| c.starts_with("List"));
    assert_eq!(listed.count(), 1);
}

#[tokio::test]
async fn a_wait_past_its_deadline_is_a_deadline_verdict() {
    let ecs = Memory::new(Script {
        services: [service(
            OURS,
            vec![deployment("ecs-svc/2", OURS, "IN_PROGRESS", 0)],
            &[],
        )]
        .into(),
        ..Script::default()
    });
    let target = Target {
        cluster: "c".into(),
        service: "api".into(),
        ours: ours(),
    };
    let limits = Limits {
        deadline: Duration::from_millis(30),
        ..fast()
    };
    let (waited, _) = wait_all(&ecs, vec![target], limits, &mut |_| {}).await;
    assert_eq!(waited[0].verdict, Verdict::DeadlineExceeded);
}

/// Every query answers `value`.
struct Fixed(f64);

impl Metrics for Fixed {
    fn sample<'a>(&'a self, _query: &'a str) -> Pin<Box<dyn Future<Output = Reading> + Send + 'a>> {
        Box::pin(async move { Reading::Value(self.0) })
    }
}

fn canary() -> (RolloutSettings, AnalysisSettings) {
    let rollout = RolloutSettings {
        strategy: Strategy::Canary,
        canary_percent: 10.0,
        step_percent: 25.0,
        step_bake_secs: 300,
        bake_secs: 300,
    };
    let analysis = AnalysisSettings {
        prometheus: "http://prometheus".into(),
        interval_secs: 0,
        failure_limit: 0,
        checks: vec![AnalysisCheck {
            name: "error-ratio".into(),
            query: "errors{version=\"{version}\"}".into(),
            max: Some(0.01),
            min: None,
            relative: None,
            allow_negative: false,
        }],
    };
    (rollout, analysis)
}

fn stage(status: &str, stage: &str, weight: Option<f64>) -> ServiceDeployment {
    ServiceDeployment {
        arn: "arn:sd/1".into(),
        status: status.into(),
        lifecycle_stage: stage.into(),
        traffic_weight: weight,
        ..ServiceDeployment::default()
    }
}

async fn follow(ecs: &Memory, error_ratio: f64) -> (super::progressive::FollowReport, Vec<String>) {
    let (rollout, analysis) = canary();
    let target = super::progressive::Followed {
        service: "api".into(),
        env: "production".into(),
        cluster: "c".into(),
        ecs_service: "api".into(),
        ours: ours(),
        mode: super::progressive::Mode::Follow,
        version: "8".into(),
        rollout,
        analysis: Some(analysis),
    };
    let pace = super::progressive::Pace {
        poll: Duration::from_millis(1),
        deadline: Duration::from_secs(5),
    };
    let mut steps = Vec::new();
    let report = super::follow::follow(
        ecs,
        &Fixed(error_ratio),
        &target,
        pace,
        &mut |_| {},
        &mut |s| steps.push(s.title()),
    )
    .await;
    (report, steps)
}

#[tokio::test]
async fn a_healthy_canary_is_followed_step_by_step_to_its_end() {
    let ecs = Memory::new(Script {
        listed: Some(vec![("arn:sd/1".into(), 100.0)]),
        deployments: [
            stage("IN_PROGRESS", "SCALE_UP", None),
            stage("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", Some(10.0)),
            stage("IN_PROGRESS", "BAKE_TIME", Some(100.0)),
            stage("SUCCESSFUL", "CLEAN_UP", Some(100.0)),
        ]
        .into(),
        ..Script::default()
    });
    let (report, steps) = follow(&ecs, 0.0).await;
    assert_eq!(report.ending, Ending::Completed);
    assert_eq!(report.stop, Stop::NotAsked);
    assert_eq!(
        steps,
        [
            "step 1: 10% traffic (PRODUCTION_TRAFFIC_SHIFT)",
            "step 2: 100% traffic (BAKE_TIME)"
        ]
    );
    assert_eq!(
        report.progress.decided_by.as_deref(),
        Some("step 2: 100% traffic (BAKE_TIME)")
    );
    assert!(ecs.calls().iter().all(|c| !c.starts_with("Stop")));
}

#[tokio::test]
async fn an_unhealthy_canary_is_stopped_with_a_rollback_and_says_which_check_decided() {
    let ecs = Memory::new(Script {
        listed: Some(vec![("arn:sd/1".into(), 100.0)]),
        deployments: [
            stage("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", Some(10.0)),
            stage("ROLLBACK_SUCCESSFUL", "CLEAN_UP", None),
        ]
        .into(),
        ..Script::default()
    });
    let (report, _) = follow(&ecs, 0.5).await;
    let Ending::Aborted {
        reason,
        rolled_back,
    } = &report.ending
    else {
        panic!("{:?}", report.ending);
    };
    assert!(rolled_back);
    assert!(
        reason.starts_with("analysis failed at step 1: 10% traffic"),
        "{reason}"
    );
    assert!(reason.contains("error-ratio"), "{reason}");
    assert_eq!(report.stop, Stop::Requested);
    let stops: Vec<String> = ecs
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("Stop"))
        .collect();
    assert_eq!(stops, ["StopServiceDeployment arn:sd/1"]);
}

fn plan(registered: &str) -> ServicePlan {
    ServicePlan {
        service: "api".into(),
        env: "staging".into(),
        cluster: "c".into(),
        ecs_service: "api".into(),
        image: Some("r/api:8".into()),
        task_definition: crate::taskdef::TaskDefinition::read(json!({"family": "api"})).unwrap(),
        rollback_to: Some(OLD.into()),
        registered: Some(super::register::Registered {
            arn: registered.into(),
            registered: false,
        }),
        rollout: RolloutSettings::default(),
        analysis: None,
        version: "8".into(),
        verified: false,
        tasks: Default::default(),
    }
}

fn quick() -> RolloutOptions {
    RolloutOptions {
        poll_interval: Duration::from_millis(1),
        deadline: Duration::from_secs(5),
        ..RolloutOptions::default()
    }
}

#[tokio::test]
async fn a_service_already_steady_on_the_release_is_unchanged_and_not_updated() {
    let memory = Arc::new(Memory::new(Script {
        services: [service(
            OURS,
            vec![deployment("ecs-svc/2", OURS, "COMPLETED", 2)],
            &[],
        )]
        .into(),
        ..Script::default()
    }));
    let ecs: Arc<dyn Ecs> = memory.clone();
    let report = super::roll_out(&ecs, vec![plan(OURS)], &quick(), &mut |_| {}, None).await;
    assert_eq!(report.outcomes[0].status, Status::Unchanged);
    assert!(memory.calls().iter().all(|c| !c.starts_with("Update")));
}

#[tokio::test]
async fn a_rolling_update_is_sent_then_waited_on_to_success() {
    let memory = Arc::new(Memory::new(Script {
        services: [
            service(OLD, vec![deployment("ecs-svc/1", OLD, "COMPLETED", 2)], &[]),
            service(
                OURS,
                vec![deployment("ecs-svc/2", OURS, "IN_PROGRESS", 1)],
                &[],
            ),
            service(
                OURS,
                vec![deployment("ecs-svc/2", OURS, "COMPLETED", 2)],
                &[],
            ),
        ]
        .into(),
        started: Started {
            deployment_id: Some("ecs-svc/2".into()),
            created_at: Some(100.0),
        },
        ..Script::default()
    }));
    let ecs: Arc<dyn Ecs> = memory.clone();
    let report = super::roll_out(&ecs, vec![plan(OURS)], &quick(), &mut |_| {}, None).await;
    let out = &report.outcomes[0];
    assert_eq!(out.status, Status::Succeeded);
    assert_eq!(out.deployment_id.as_deref(), Some("ecs-svc/2"));
    let updates: Vec<String> = memory
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("Update"))
        .collect();
    assert_eq!(updates, [format!("UpdateService api to {OURS} (rolling)")]);
}
