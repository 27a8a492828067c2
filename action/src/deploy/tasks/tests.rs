//! One-off tasks on the in-memory ECS port ([`crate::deploy::memory`]): the
//! roll-out runs a service's before-deploy tasks before UpdateService and
//! stops there when one fails; a recorded success is skipped unless re-run;
//! a task past its timeout is stopped. And the pure parts: records, the
//! judgement of a stopped task, the container, the summary's escaping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::plan::{self, Phase, PlannedTask, TaskStatus};
use crate::aws::ecs::{Deployment, Ecs, Launch, Service, Started, Task, TaskState};
use crate::deploy::memory::{Memory, Script};
use crate::deploy::plan::ServicePlan;
use crate::deploy::{RolloutOptions, Status};
use crate::manifest::{OneOffTask, RolloutSettings};

const OURS: &str = "arn:aws:ecs:us-east-1:1:task-definition/app:8";
const OLD: &str = "arn:aws:ecs:us-east-1:1:task-definition/app:7";
const TASK: &str = "arn:aws:ecs:us-east-1:1:task/c/0123456789abcdef";

fn migrate(timeout: Duration) -> PlannedTask {
    PlannedTask {
        task: OneOffTask {
            name: "migrate".into(),
            command: Some(vec!["./migrate".into(), "--up".into()]),
            container: None,
            task_definition: None,
            timeout,
        },
        own: None,
    }
}

fn plan_with(before: Vec<PlannedTask>, done: &[&str]) -> ServicePlan {
    ServicePlan {
        service: "api".into(),
        env: "staging".into(),
        cluster: "c".into(),
        ecs_service: "api".into(),
        image: Some("r/api:8".into()),
        task_definition: crate::taskdef::TaskDefinition::read(json!({
            "family": "app",
            "containerDefinitions": [{
                "name": "api", "image": "r/api:8",
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": "/ecs/app", "awslogs-stream-prefix": "app",
                    "awslogs-region": "us-east-1"}},
            }],
        }))
        .unwrap(),
        rollback_to: None,
        registered: Some(crate::deploy::register::Registered {
            arn: OURS.into(),
            registered: true,
        }),
        rollout: RolloutSettings::default(),
        analysis: None,
        version: "8".into(),
        verified: false,
        tasks: super::ServiceTasks {
            before,
            after: Vec::new(),
            done: done.iter().map(|s| s.to_string()).collect(),
            poll: Some(Duration::from_millis(1)),
        },
    }
}

fn steady_on(td: &str) -> Service {
    Service {
        name: "api".into(),
        task_definition: Some(td.into()),
        deployments: vec![Deployment {
            id: "ecs-svc/1".into(),
            status: "PRIMARY".into(),
            task_definition: td.into(),
            rollout_state: Some("COMPLETED".into()),
            desired: 1,
            running: 1,
            ..Deployment::default()
        }],
        ..Service::default()
    }
}

fn state(last: &str, exit: Option<i32>) -> TaskState {
    TaskState {
        last_status: last.into(),
        task: Task {
            arn: TASK.into(),
            stop_code: (last == "STOPPED").then(|| "EssentialContainerExited".into()),
            stopped_reason: (last == "STOPPED")
                .then(|| "Essential container in task exited".into()),
            containers: vec![("api".into(), exit, None)],
        },
    }
}

fn launch() -> Launch {
    Launch {
        launch_type: Some("FARGATE".into()),
        subnets: vec!["subnet-1".into()],
        security_groups: vec!["sg-1".into()],
        ..Launch::default()
    }
}

fn memory(states: Vec<TaskState>) -> Arc<Memory> {
    Arc::new(Memory::new(Script {
        services: [steady_on(OLD), steady_on(OURS)].into(),
        launch: Some(launch()),
        task_states: states.into(),
        started: Started {
            deployment_id: Some("ecs-svc/2".into()),
            created_at: Some(100.0),
        },
        ..Script::default()
    }))
}

fn quick() -> RolloutOptions {
    RolloutOptions {
        poll_interval: Duration::from_millis(1),
        deadline: Duration::from_secs(5),
        ..RolloutOptions::default()
    }
}

async fn roll_out(memory: &Arc<Memory>, plan: ServicePlan) -> crate::deploy::ServiceOutcome {
    let ecs: Arc<dyn Ecs> = memory.clone();
    let report = crate::deploy::roll_out(&ecs, vec![plan], &quick(), &mut |_| {}, None).await;
    report.outcomes.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_failing_before_deploy_task_stops_the_rollout_before_update_service() {
    let memory = memory(vec![state("RUNNING", None), state("STOPPED", Some(3))]);
    let out = roll_out(
        &memory,
        plan_with(vec![migrate(Duration::from_secs(60))], &[]),
    )
    .await;
    assert_eq!(out.status, Status::Failed);
    let calls = memory.calls();
    assert!(
        calls.iter().all(|c| !c.starts_with("UpdateService")),
        "{calls:#?}"
    );
    assert!(
        calls.contains(&format!("RunTask {OURS} api: ./migrate --up")),
        "{calls:#?}"
    );
    let d = out.diagnosis.unwrap();
    assert_eq!(d.reason, "before-deploy task migrate failed (exit 3)");
    assert_eq!(d.log_lines[0].message, "boom");
    assert!(d.notes.contains(&"the service was not updated".to_string()));
    assert!(
        d.stopped_tasks[0]
            .stopped_reason
            .as_deref()
            .unwrap()
            .contains("api exited 3"),
        "{d:#?}"
    );
    // The log stream of the container that ran the command.
    assert!(calls.contains(&"GetLogEvents /ecs/app app/api/0123456789abcdef".to_string()));
    assert_eq!(out.tasks[0].exit_code, Some(3));
}

#[tokio::test]
async fn a_succeeding_before_deploy_task_runs_before_the_update() {
    let memory = memory(vec![state("STOPPED", Some(0))]);
    let out = roll_out(
        &memory,
        plan_with(vec![migrate(Duration::from_secs(60))], &[]),
    )
    .await;
    let calls = memory.calls();
    let run = calls.iter().position(|c| c.starts_with("RunTask")).unwrap();
    let update = calls
        .iter()
        .position(|c| c.starts_with("UpdateService"))
        .unwrap();
    assert!(run < update, "{calls:#?}");
    assert_eq!(out.tasks[0].status, TaskStatus::Succeeded);
    assert_eq!(
        super::records_of(&out),
        ["before-deploy task migrate succeeded on app:8"]
    );
}

#[tokio::test]
async fn a_recorded_success_is_skipped_and_rerun_tasks_runs_it_again() {
    let memory = memory(vec![state("STOPPED", Some(0))]);
    let out = roll_out(
        &memory,
        plan_with(vec![migrate(Duration::from_secs(60))], &["migrate"]),
    )
    .await;
    assert!(memory.calls().iter().all(|c| !c.starts_with("RunTask")));
    assert_eq!(out.tasks[0].status, TaskStatus::Skipped);
    assert!(
        memory
            .calls()
            .iter()
            .any(|c| c.starts_with("UpdateService"))
    );
    assert!(super::records_of(&out).is_empty());

    let memory2 = self::memory(vec![state("STOPPED", Some(0))]);
    let mut deploy = crate::deploy::plan::DeployPlan {
        env: "staging".into(),
        region: "us-east-1".into(),
        production: false,
        environment_url: None,
        sha: String::new(),
        services: vec![plan_with(
            vec![migrate(Duration::from_secs(60))],
            &["migrate"],
        )],
        waves: vec![vec!["api".into()]],
        schedules: Vec::new(),
    };
    let opts = RolloutOptions {
        rerun_tasks: true,
        ..quick()
    };
    super::apply_options(&mut deploy, &opts);
    let out = roll_out(&memory2, deploy.services.remove(0)).await;
    assert!(memory2.calls().iter().any(|c| c.starts_with("RunTask")));
    assert_eq!(out.tasks[0].status, TaskStatus::Succeeded);
}

#[tokio::test]
async fn a_task_past_its_timeout_is_stopped_and_reported() {
    let memory = memory(vec![state("RUNNING", None)]);
    let mut plan = plan_with(vec![migrate(Duration::from_millis(60))], &[]);
    plan.tasks.poll = Some(Duration::from_millis(10));
    let out = roll_out(&memory, plan).await;
    let calls = memory.calls();
    assert!(
        calls
            .iter()
            .any(|c| c == &format!("StopTask {TASK}: Ferry: migrate ran past its timeout")),
        "{calls:#?}"
    );
    assert!(calls.iter().all(|c| !c.starts_with("UpdateService")));
    assert_eq!(out.tasks[0].status, TaskStatus::TimedOut);
    assert_eq!(
        out.diagnosis.unwrap().reason,
        "before-deploy task migrate timed out"
    );
    // Polled while it ran (every 10 ms for 60 ms at most), then once after the stop.
    let polls = calls
        .iter()
        .filter(|c| c.starts_with("DescribeTasks"))
        .count();
    assert!((2..=8).contains(&polls), "{calls:#?}");
    let stop = calls
        .iter()
        .position(|c| c.starts_with("StopTask"))
        .unwrap();
    assert!(calls[stop + 1].starts_with("DescribeTasks"), "{calls:#?}");
}

#[tokio::test]
async fn a_service_ecs_does_not_know_fails_the_task_before_run_task() {
    let memory = memory(vec![state("STOPPED", Some(0))]);
    memory.0.lock().unwrap().launch = None;
    let out = roll_out(
        &memory,
        plan_with(vec![migrate(Duration::from_secs(60))], &[]),
    )
    .await;
    assert!(memory.calls().iter().all(|c| !c.starts_with("RunTask")));
    assert_eq!(out.status, Status::Failed);
    assert!(
        out.tasks[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("not started: ECS service api was not found")
    );
}

#[test]
fn records_are_read_back_only_in_ferrys_exact_words() {
    let line = plan::record_line("migrate", OURS);
    assert_eq!(line, "before-deploy task migrate succeeded on app:8");
    let read = plan::recorded(&[
        line,
        "before-deploy task seed succeeded on app:8".into(),
        "rolling out".into(),
        "succeeded".into(),
        "before-deploy task  succeeded".into(),
        "before-deploy task two words succeeded".into(),
        "before-deploy task migrate failed".into(),
    ]);
    assert_eq!(read, ["migrate", "seed"]);
}

#[test]
fn a_stopped_task_is_judged_by_the_container_that_ran_the_command() {
    let mut t = state("STOPPED", Some(0)).task;
    t.containers.push(("sidecar".into(), Some(137), None));
    assert_eq!(plan::judge(&t, "api").0, TaskStatus::Succeeded);
    assert_eq!(plan::judge(&t, "sidecar").0, TaskStatus::Failed);
    t.containers = vec![(
        "api".into(),
        None,
        Some("CannotPullContainerError: pull access denied".into()),
    )];
    let (status, exit, reason) = plan::judge(&t, "api");
    assert_eq!((status, exit), (TaskStatus::Failed, None));
    assert!(reason.unwrap().contains("CannotPullContainerError"));
}

#[test]
fn a_container_the_task_definition_lacks_is_named_with_those_it_has() {
    let p = plan_with(Vec::new(), &[]);
    let mut task = migrate(Duration::from_secs(1)).task;
    assert_eq!(plan::container(&task, &p.task_definition).unwrap(), "api");
    task.container = Some("db".into());
    let e = plan::container(&task, &p.task_definition).unwrap_err();
    assert!(
        e.contains("container `db`") && e.contains("it has api"),
        "{e}"
    );
}

#[test]
fn started_by_fits_ecs_and_names_the_phase() {
    assert_eq!(
        plan::started_by(Phase::BeforeDeploy, "migrate"),
        "ferry-b-migrate"
    );
    assert!(plan::started_by(Phase::AfterDeploy, &"x".repeat(24)).len() <= 36);
}

#[test]
fn the_summary_neutralises_what_the_task_printed() {
    let mut out = crate::deploy::plan::untouched(&plan_with(Vec::new(), &[]), Status::Failed);
    out.tasks.push(plan::TaskRun {
        phase: Phase::BeforeDeploy,
        name: "migrate".into(),
        command: Some(vec!["./migrate".into(), "`rm`".into()]),
        task_arn: Some(TASK.into()),
        status: TaskStatus::Failed,
        exit_code: Some(1),
        reason: Some("<img src=x> @octocat".into()),
        log_lines: vec![
            "```".into(),
            "<!-- ferry:deploy -->".into(),
            "cc @octocat #12".into(),
        ],
        duration_secs: 3.0,
    });
    let md = super::markdown(&[out]);
    assert!(md.contains("### One-off tasks"), "{md}");
    assert!(!md.contains("<img"), "{md}");
    assert!(!md.contains("<!-- ferry"), "{md}");
    assert!(!md.contains("@octocat"), "{md}");
    assert!(md.contains("(exit 1)"), "{md}");
    assert_eq!(super::markdown(&[]), "");
}

#[test]
fn a_dry_run_says_which_tasks_would_run_with_which_command() {
    let deploy = crate::deploy::plan::DeployPlan {
        env: "staging".into(),
        region: "us-east-1".into(),
        production: false,
        environment_url: None,
        sha: String::new(),
        services: vec![plan_with(vec![migrate(Duration::from_secs(600))], &[])],
        waves: vec![vec!["api".into()]],
        schedules: Vec::new(),
    };
    assert_eq!(
        super::dry_lines(&deploy),
        [
            "dry run: api (staging) would run before-deploy task migrate: `./migrate --up` in container api on the service's new revision (app), timeout 10m 00s"
        ]
    );
}
