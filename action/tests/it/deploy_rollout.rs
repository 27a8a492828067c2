//! Rollouts end to end through `roll_out`, the real aws-sdk-ecs client and a
//! scripted ECS endpoint (see `support/scripted.rs` for why it is
//! scripted: moto never advances a rollout). The failed tasks' log lines
//! come from moto's CloudWatch Logs (a private moto server, seeded here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::deploy as deploy_support;
use crate::support::scripted::*;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deploy_support::{Moto, clients, image, manifest, render};
use ferry::deploy::{PlanInput, RolloutOptions, ServiceOutcome, Status, plans, roll_out};
use ferry::taskdef::Field;
use serde_json::{Value, json};

fn plan(rollback_to: Option<String>) -> Vec<ferry::deploy::ServicePlan> {
    plans(
        &manifest(),
        "staging",
        vec![PlanInput {
            service: "sampleapi".into(),
            image: Some(image("sampleapi", "8")),
            task_definition: render("sampleapi", "staging", &image("sampleapi", "8")),
            rollback_to,
        }],
    )
    .unwrap()
}

fn fast() -> RolloutOptions {
    RolloutOptions {
        poll_interval: Duration::from_millis(20),
        deadline: Duration::from_secs(20),
        register_per_second: 100.0,
        register_burst: 20,
        ..RolloutOptions::default()
    }
}

struct Run {
    outcome: ServiceOutcome,
    log: Vec<String>,
    stats: ferry::deploy::wait::Stats,
}

async fn run(
    c: &ferry::aws::Clients,
    plans: Vec<ferry::deploy::ServicePlan>,
    opts: &RolloutOptions,
) -> Run {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let report = roll_out(
        &c.port(),
        plans,
        opts,
        &mut |l| sink.lock().unwrap().push(l.to_string()),
        None,
    )
    .await;
    let log = log.lock().unwrap().clone();
    Run {
        outcome: report.outcomes.into_iter().next().unwrap(),
        log,
        stats: report.stats,
    }
}

#[tokio::test]
async fn a_rollout_that_completes_succeeds_and_streams_each_event_once() {
    let script = Scripted::start(|r| match (r.op.as_str(), r.nth) {
        // Before the update: steady on revision 7.
        ("DescribeServices", 0) => services(vec![steady(SERVICE, "ecs-svc/old", &arn(7))]),
        ("DescribeServices", 1) => services(vec![service(
            SERVICE,
            vec![dep("ecs-svc/new", "PRIMARY", &arn(8), "IN_PROGRESS", 1), dep("ecs-svc/old", "ACTIVE", &arn(7), "COMPLETED", 2)],
            vec![event("e1", "(service email-platform-staging-sampleapi) has started 2 tasks: (task 1) (task 2).")],
        )]),
        ("DescribeServices", _) => services(vec![service(
            SERVICE,
            vec![dep("ecs-svc/new", "PRIMARY", &arn(8), "COMPLETED", 2)],
            vec![
                event("e2", "(service email-platform-staging-sampleapi) has reached a steady state."),
                event("e1", "(service email-platform-staging-sampleapi) has started 2 tasks: (task 1) (task 2)."),
            ],
        )]),
        _ => common(r),
    })
    .await;
    let c = clients(&script.url).await;
    let r = run(&c, plan(Some(arn(5))), &fast()).await;
    let o = &r.outcome;
    assert_eq!(o.status, Status::Succeeded, "{o:#?}\n{:#?}", r.log);
    assert_eq!(o.task_definition_arn.as_deref(), Some(arn(8).as_str()));
    assert!(o.registered);
    assert_eq!(o.deployment_id.as_deref(), Some("ecs-svc/new"));
    assert!(o.diagnosis.is_none() && o.rollback.is_none());
    let started = r
        .log
        .iter()
        .filter(|l| l.contains("has started 2 tasks"))
        .count();
    let steady = r
        .log
        .iter()
        .filter(|l| l.contains("has reached a steady state"))
        .count();
    assert_eq!((started, steady), (1, 1), "{:#?}", r.log);
    // The update went to the right service with the new revision.
    let updates = script.calls("UpdateService");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].body["cluster"], CLUSTER);
    assert_eq!(updates[0].body["service"], SERVICE);
    assert_eq!(updates[0].body["taskDefinition"], arn(8));
    // No service deployments API here: tried once, then DescribeServices only.
    assert_eq!(script.calls("ListServiceDeployments").len(), 1);
    assert_eq!(r.stats.describe_services, r.stats.polls);
}

#[tokio::test]
async fn a_circuit_breaker_rollback_is_diagnosed_then_rolled_back_to_the_last_good_release() {
    // The failed task's log lines, in moto's CloudWatch Logs.
    let moto = Moto::start(0);
    let stream = LOG_STREAM;
    let logs = clients(&moto.url).await.logs;
    let lines = [
        "starting sampleapi",
        "config: SQS_QUEUE_URL is set",
        "error: cannot reach SQS: connection refused",
        "exiting with status 1",
    ];
    seed_logs(&logs, &lines).await;
    let failing = failing_event();
    let message = failing.clone();
    let script = Scripted::start(move |r| circuit_breaker(r, &message)).await;
    let mut c = clients(&script.url).await;
    c.logs = logs;
    let opts = RolloutOptions {
        log_lines: 3,
        ..fast()
    };
    let r = run(&c, plan(Some(arn(5))), &opts).await;
    let o = &r.outcome;
    assert_eq!(o.status, Status::RolledBack, "{o:#?}\n{:#?}", r.log);
    let d = o.diagnosis.as_ref().unwrap();
    assert_eq!(
        d.reason,
        "the ECS deployment circuit breaker rolled the deployment back: ECS deployment circuit breaker: tasks failed to start."
    );
    assert_eq!(d.stopped_tasks.len(), 1);
    let t = &d.stopped_tasks[0];
    assert_eq!(t.stop_code.as_deref(), Some("EssentialContainerExited"));
    assert_eq!(
        t.stopped_reason.as_deref(),
        Some("Essential container in task exited")
    );
    assert_eq!(
        (t.containers[0].name.as_str(), t.containers[0].exit_code),
        ("sampleapi", Some(1))
    );
    assert!(
        d.events.iter().any(|e| e.message == failing),
        "{:#?}",
        d.events
    );
    // The last 3 lines of the failed container, oldest first.
    let got: Vec<(&str, &str)> = d
        .log_lines
        .iter()
        .map(|l| (l.stream.as_str(), l.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [(stream, lines[1]), (stream, lines[2]), (stream, lines[3])]
    );
    // While waiting, the stopping tasks were reported with their reason.
    assert!(
        r.log.iter().any(|l| l.contains("tasks keep stopping (1 failed): EssentialContainerExited: Essential container in task exited (sampleapi, exit 1)")),
        "{:#?}", r.log
    );
    // Rolled back to the last good release, not to the previous revision.
    let rb = o.rollback.as_ref().unwrap();
    assert_eq!(rb.task_definition_arn, arn(5));
    assert!(rb.succeeded);
    let updates: Vec<Value> = script
        .calls("UpdateService")
        .into_iter()
        .map(|r| r.body["taskDefinition"].clone())
        .collect();
    assert_eq!(updates, [json!(arn(8)), json!(arn(5))]);
}

#[tokio::test]
async fn a_newer_deployment_supersedes_ours_and_is_not_rolled_back() {
    let script = Scripted::start(|r| match (r.op.as_str(), r.nth) {
        ("DescribeServices", 0) => services(vec![steady(SERVICE, "ecs-svc/old", &arn(7))]),
        ("DescribeServices", 1) => services(vec![service(
            SERVICE,
            vec![dep("ecs-svc/new", "PRIMARY", &arn(8), "IN_PROGRESS", 1)],
            vec![],
        )]),
        ("DescribeServices", _) => services(vec![service(
            SERVICE,
            vec![
                dep("ecs-svc/newer", "PRIMARY", &arn(9), "IN_PROGRESS", 0),
                dep("ecs-svc/new", "ACTIVE", &arn(8), "IN_PROGRESS", 1),
            ],
            vec![],
        )]),
        _ => common(r),
    })
    .await;
    let c = clients(&script.url).await;
    let r = run(
        &c,
        plan(Some(arn(5))),
        &RolloutOptions {
            log_lines: 0,
            ..fast()
        },
    )
    .await;
    let o = &r.outcome;
    assert_eq!(o.status, Status::Failed, "{o:#?}");
    let d = o.diagnosis.as_ref().unwrap();
    assert_eq!(
        d.reason,
        format!(
            "a newer deployment superseded ours: ecs-svc/newer ({})",
            arn(9)
        )
    );
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("a newer deployment owns the service")),
        "{:#?}",
        d.notes
    );
    assert!(o.rollback.is_none());
    assert_eq!(
        script.calls("UpdateService").len(),
        1,
        "the newer deployment must not be undone"
    );
}

#[tokio::test]
async fn a_rollout_past_its_deadline_fails_and_without_an_earlier_release_is_not_rolled_back() {
    let script = Scripted::start(|r| match (r.op.as_str(), r.nth) {
        ("DescribeServices", 0) => services(vec![steady(SERVICE, "ecs-svc/old", &arn(7))]),
        ("DescribeServices", _) => services(vec![service(
            SERVICE,
            vec![
                dep("ecs-svc/new", "PRIMARY", &arn(8), "IN_PROGRESS", 0),
                dep("ecs-svc/old", "ACTIVE", &arn(7), "COMPLETED", 2),
            ],
            vec![],
        )]),
        _ => common(r),
    })
    .await;
    let c = clients(&script.url).await;
    let opts = RolloutOptions {
        deadline: Duration::from_millis(300),
        log_lines: 0,
        ..fast()
    };
    let started = std::time::Instant::now();
    let r = run(&c, plan(None), &opts).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let o = &r.outcome;
    assert_eq!(o.status, Status::Failed, "{o:#?}");
    let d = o.diagnosis.as_ref().unwrap();
    assert_eq!(
        d.reason,
        "the deadline passed before the deployment finished"
    );
    assert!(
        d.notes.iter().any(|n| n == "not rolled back: there is no earlier successful release to roll back to"),
        "{:#?}", d.notes
    );
    assert!(o.rollback.is_none());
    assert!(r.stats.polls >= 3, "{:?}", r.stats);
    // The same progress on every poll is logged once.
    let progress = r
        .log
        .iter()
        .filter(|l| l.ends_with(": 0/2 running, 2 pending"))
        .count();
    assert_eq!(progress, 1, "{:#?}", r.log);
}

#[tokio::test]
async fn throttled_polls_are_retried_with_backoff_and_are_no_verdict() {
    // Six ThrottlingExceptions in a row: more than the SDK's five attempts,
    // so one poll reaches the rollout logic as throttled and is retried.
    let script = Scripted::start(|r| match (r.op.as_str(), r.nth) {
        ("DescribeServices", 0) => services(vec![steady(SERVICE, "ecs-svc/old", &arn(7))]),
        ("DescribeServices", 1..=6) => Reply::Error("ThrottlingException", "Rate exceeded".into()),
        ("DescribeServices", _) => services(vec![service(
            SERVICE,
            vec![dep("ecs-svc/new", "PRIMARY", &arn(8), "COMPLETED", 2)],
            vec![],
        )]),
        _ => common(r),
    })
    .await;
    let c = clients(&script.url).await;
    let r = run(&c, plan(Some(arn(5))), &fast()).await;
    assert_eq!(
        r.outcome.status,
        Status::Succeeded,
        "{:#?}\n{:#?}",
        r.outcome,
        r.log
    );
    assert!(
        r.log
            .iter()
            .any(|l| l.contains("ECS is throttling; polling again")),
        "{:#?}",
        r.log
    );
    assert_eq!(script.calls("DescribeServices").len(), 8);
    assert_eq!(r.stats.polls, 2);
}

#[tokio::test]
async fn the_service_deployments_api_reports_an_ecs_rollback_when_the_endpoint_has_it() {
    let script = Scripted::start(|r| match (r.op.as_str(), r.nth) {
        ("DescribeServices", 0) => services(vec![steady(SERVICE, "ecs-svc/old", &arn(7))]),
        ("DescribeServices", 1) => services(vec![service(SERVICE, vec![dep("ecs-svc/new", "PRIMARY", &arn(8), "IN_PROGRESS", 0)], vec![])]),
        // Ours is no longer PRIMARY: DescribeServices alone cannot say why.
        ("DescribeServices", _) => services(vec![service(
            SERVICE,
            vec![dep("ecs-svc/back", "PRIMARY", &arn(6), "IN_PROGRESS", 0), dep("ecs-svc/new", "ACTIVE", &arn(8), "IN_PROGRESS", 0)],
            vec![],
        )]),
        ("ListServiceDeployments", _) => Reply::Ok(json!({"serviceDeployments": [
            {"serviceDeploymentArn": "arn:aws:ecs:us-east-1:111111111111:service-deployment/email-platform-staging/sampleapi/new", "createdAt": now(), "status": "IN_PROGRESS"},
        ]})),
        ("DescribeServiceDeployments", _) => Reply::Ok(json!({"serviceDeployments": [{
            "serviceDeploymentArn": "arn:aws:ecs:us-east-1:111111111111:service-deployment/email-platform-staging/sampleapi/new",
            "status": "ROLLBACK_SUCCESSFUL", "statusReason": "Service deployment rolled back because the circuit breaker threshold was exceeded.",
        }], "failures": []})),
        _ => common(r),
    })
    .await;
    let c = clients(&script.url).await;
    let opts = RolloutOptions {
        rollback: false,
        log_lines: 0,
        ..fast()
    };
    let r = run(&c, plan(Some(arn(5))), &opts).await;
    let o = &r.outcome;
    assert_eq!(o.status, Status::Failed, "{o:#?}");
    let d = o.diagnosis.as_ref().unwrap();
    assert_eq!(
        d.reason,
        "the ECS deployment circuit breaker rolled the deployment back: Service deployment rolled back because the circuit breaker threshold was exceeded."
    );
    assert!(
        d.notes.iter().any(|n| n.contains("--no-rollback")),
        "{:#?}",
        d.notes
    );
    // Detail asked only when DescribeServices showed something other than progress.
    assert_eq!(script.calls("DescribeServiceDeployments").len(), 1);
    assert_eq!(script.calls("UpdateService").len(), 1);
}

#[tokio::test]
async fn twenty_services_cost_two_describe_services_calls_per_poll() {
    let names: Vec<String> = (0..20).map(|i| format!("svc{i:02}")).collect();
    let polls_to_finish = 3;
    let script = Scripted::start(move |r| match r.op.as_str() {
        "DescribeServices" => {
            let asked: Vec<String> = r.body["services"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
            // The 20 calls before the updates come first; then polls of 2 calls.
            let poll = r.nth.saturating_sub(20) / 2;
            services(
                asked
                    .iter()
                    .map(|name| {
                        let td = format!("arn:aws:ecs:us-east-1:111111111111:task-definition/email-platform-staging-sampleapi-{name}:8");
                        if r.nth < 20 {
                            steady(name, "ecs-svc/old", &td.replace(":8", ":7"))
                        } else if poll + 1 >= polls_to_finish {
                            steady(name, "ecs-svc/new", &td)
                        } else {
                            service(name, vec![dep("ecs-svc/new", "PRIMARY", &td, "IN_PROGRESS", 1)], vec![])
                        }
                    })
                    .collect(),
            )
        }
        _ => common(r),
    })
    .await;
    let c = clients(&script.url).await;
    let base = render("sampleapi", "staging", &image("sampleapi", "8"));
    let many: Vec<ferry::deploy::ServicePlan> = names
        .iter()
        .map(|name| {
            let mut td = base.clone();
            td.family = Some(Field::Typed(format!(
                "email-platform-staging-sampleapi-{name}"
            )));
            ferry::deploy::ServicePlan {
                service: name.clone(),
                env: "staging".into(),
                cluster: CLUSTER.into(),
                ecs_service: name.clone(),
                image: None,
                task_definition: td,
                rollback_to: None,
                registered: None,
                rollout: Default::default(),
                analysis: None,
                version: String::new(),
                verified: false,
                tasks: Default::default(),
            }
        })
        .collect();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let report = roll_out(
        &c.port(),
        many,
        &fast(),
        &mut |l| sink.lock().unwrap().push(l.to_string()),
        None,
    )
    .await;
    for o in &report.outcomes {
        assert_eq!(
            o.status,
            Status::Succeeded,
            "{o:#?}\n{:#?}",
            log.lock().unwrap()
        );
    }
    let polls = script
        .calls("DescribeServices")
        .into_iter()
        .filter(|r| r.nth >= 20)
        .collect::<Vec<_>>();
    assert_eq!(report.stats.polls, 3);
    assert_eq!(polls.len(), 6, "2 calls per poll");
    assert!(
        polls
            .iter()
            .all(|r| r.body["services"].as_array().unwrap().len() == 10)
    );
    assert_eq!(report.stats.describe_services, 6);
    // Plus the one probe of the service deployments API.
    assert_eq!(report.stats.calls, 7);
}
