//! An in-memory ECS port for the unit tests of the waiting loops, the
//! progressive follow and the roll-out. A hand-written fake, on purpose:
//! moto and the scripted ECS stand-in of the integration tests need a
//! server; these tests check the loops' decisions on a script of answers
//! with no server at all. Each call answers from its own queue; the last
//! answer of a queue repeats.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::Value;

use crate::aws::AwsError;
use crate::aws::ecs::port::Call;
use crate::aws::ecs::{
    Ecs, Failure, Launch, RunTask, Service, ServiceDeployment, Started, Task, TaskState, Update,
};

/// What the in-memory ECS answers and what it was asked.
#[derive(Debug, Default)]
pub struct Script {
    /// DescribeServices answers, one per call (the last repeats).
    pub services: VecDeque<Service>,
    /// DescribeServiceDeployments answers, one per call (the last repeats).
    pub deployments: VecDeque<ServiceDeployment>,
    /// ListServiceDeployments' answer; `None`: the endpoint lacks the API.
    pub listed: Option<Vec<(String, f64)>>,
    /// The family's latest ACTIVE revision.
    pub latest: Option<(String, Value)>,
    /// The stopped tasks of any deployment.
    pub tasks: Vec<Task>,
    /// UpdateService's answer.
    pub started: Started,
    /// Every call, in order: `Operation target`.
    pub calls: Vec<String>,
    /// How the service launches (one-off tasks); `None`: unknown service.
    pub launch: Option<Launch>,
    /// DescribeTasks answers of one-off tasks, one per call (the last repeats).
    pub task_states: VecDeque<TaskState>,
}

/// The in-memory ECS.
#[derive(Debug, Default)]
pub struct Memory(pub Mutex<Script>);

impl Memory {
    /// An ECS answering from `script`.
    pub fn new(script: Script) -> Self {
        Self(Mutex::new(script))
    }

    /// The calls made so far.
    pub fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().calls.clone()
    }

    fn note(&self, call: String) {
        self.0.lock().unwrap().calls.push(call);
    }

    fn next<T: Clone>(queue: &mut VecDeque<T>) -> Option<T> {
        if queue.len() > 1 {
            queue.pop_front()
        } else {
            queue.front().cloned()
        }
    }

    fn service(&self) -> Option<Service> {
        Self::next(&mut self.0.lock().unwrap().services)
    }
}

fn unavailable() -> Failure {
    Failure {
        code: Some("InternalFailure".into()),
        message: "not implemented".into(),
    }
}

impl Ecs for Memory {
    fn describe_service<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
    ) -> Call<'a, Result<Option<Service>, AwsError>> {
        self.note(format!("DescribeServices {service} in {cluster}"));
        Box::pin(async move { Ok(self.service()) })
    }

    fn describe_services<'a>(
        &'a self,
        cluster: &'a str,
        services: Vec<String>,
    ) -> Call<'a, Result<Vec<Service>, Failure>> {
        self.note(format!(
            "DescribeServices {} in {cluster}",
            services.join(",")
        ));
        Box::pin(async move { Ok(self.service().into_iter().collect()) })
    }

    fn update_service<'a>(&'a self, update: Update<'a>) -> Call<'a, Result<Started, AwsError>> {
        self.note(format!(
            "UpdateService {} to {}{}",
            update.service,
            update.task_definition,
            update
                .rollout
                .map(|(_, r)| format!(" ({})", r.strategy.as_str()))
                .unwrap_or_default()
        ));
        Box::pin(async move { Ok(self.0.lock().unwrap().started.clone()) })
    }

    fn latest_task_definition<'a>(
        &'a self,
        family: &'a str,
    ) -> Call<'a, Result<Option<(String, Value)>, AwsError>> {
        self.note(format!("DescribeTaskDefinition {family}"));
        Box::pin(async move { Ok(self.0.lock().unwrap().latest.clone()) })
    }

    fn register_task_definition<'a>(
        &'a self,
        _rendered: &'a crate::taskdef::TaskDefinition,
    ) -> Call<'a, Result<String, AwsError>> {
        self.note("RegisterTaskDefinition".into());
        Box::pin(async move { Ok("arn:aws:ecs:us-east-1:1:task-definition/new:2".to_string()) })
    }

    fn list_service_deployments<'a>(
        &'a self,
        _cluster: &'a str,
        service: &'a str,
    ) -> Call<'a, Result<Vec<(String, f64)>, AwsError>> {
        self.note(format!("ListServiceDeployments {service}"));
        Box::pin(async move {
            self.0.lock().unwrap().listed.clone().ok_or_else(|| {
                crate::aws::call_error("ListServiceDeployments", service, "500".into())
            })
        })
    }

    fn newest_service_deployment<'a>(
        &'a self,
        _cluster: &'a str,
        service: &'a str,
        _since: Option<f64>,
    ) -> Call<'a, Result<Option<String>, Failure>> {
        self.note(format!("ListServiceDeployments {service}"));
        Box::pin(async move {
            let listed = self.0.lock().unwrap().listed.clone();
            listed
                .map(|l| l.last().map(|(arn, _)| arn.clone()))
                .ok_or_else(unavailable)
        })
    }

    fn describe_service_deployment<'a>(
        &'a self,
        arn: &'a str,
    ) -> Call<'a, Result<Option<ServiceDeployment>, AwsError>> {
        self.note(format!("DescribeServiceDeployments {arn}"));
        Box::pin(async move { Ok(Self::next(&mut self.0.lock().unwrap().deployments)) })
    }

    fn describe_service_deployments<'a>(
        &'a self,
        arns: Vec<String>,
    ) -> Call<'a, Result<Vec<ServiceDeployment>, Failure>> {
        self.note(format!("DescribeServiceDeployments {}", arns.join(",")));
        Box::pin(async move {
            Ok(Self::next(&mut self.0.lock().unwrap().deployments)
                .into_iter()
                .collect())
        })
    }

    fn stop_service_deployment<'a>(&'a self, arn: &'a str) -> Call<'a, Result<(), AwsError>> {
        self.note(format!("StopServiceDeployment {arn}"));
        Box::pin(async move { Ok(()) })
    }

    fn stopped_tasks<'a>(
        &'a self,
        _cluster: &'a str,
        deployment_id: &'a str,
    ) -> Call<'a, Result<Vec<Task>, AwsError>> {
        self.note(format!("ListTasks {deployment_id}"));
        Box::pin(async move { Ok(self.0.lock().unwrap().tasks.clone()) })
    }

    fn last_log_lines<'a>(
        &'a self,
        group: &'a str,
        stream: &'a str,
        _limit: usize,
    ) -> Call<'a, Result<Vec<String>, String>> {
        self.note(format!("GetLogEvents {group} {stream}"));
        Box::pin(async move { Ok(vec!["boom".to_string()]) })
    }

    fn service_launch<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
    ) -> Call<'a, Result<Option<Launch>, AwsError>> {
        self.note(format!("DescribeServices {service} in {cluster} (launch)"));
        Box::pin(async move { Ok(self.0.lock().unwrap().launch.clone()) })
    }

    fn run_task<'a>(&'a self, run: RunTask<'a>) -> Call<'a, Result<String, AwsError>> {
        self.note(format!(
            "RunTask {}{}",
            run.task_definition,
            run.command
                .map(|(c, cmd)| format!(" {c}: {}", cmd.join(" ")))
                .unwrap_or_default()
        ));
        Box::pin(async move { Ok("arn:aws:ecs:us-east-1:1:task/c/0123456789abcdef".to_string()) })
    }

    fn describe_task<'a>(
        &'a self,
        _cluster: &'a str,
        arn: &'a str,
    ) -> Call<'a, Result<Option<TaskState>, AwsError>> {
        self.note(format!("DescribeTasks {arn}"));
        Box::pin(async move { Ok(Self::next(&mut self.0.lock().unwrap().task_states)) })
    }

    fn stop_task<'a>(
        &'a self,
        _cluster: &'a str,
        arn: &'a str,
        reason: &'a str,
    ) -> Call<'a, Result<(), AwsError>> {
        self.note(format!("StopTask {arn}: {reason}"));
        Box::pin(async move { Ok(()) })
    }
}
