//! The scripted ECS grown with the service deployments API, for the
//! progressive rollouts (canary, linear, blue/green): UpdateService starts
//! a service deployment that walks ECS's lifecycle on its own clock;
//! ListServiceDeployments, DescribeServiceDeployments and DescribeServices
//! answer from that state; StopServiceDeployment rolls it back (or aborts it).
//!
//! Scripted because moto (5.2.5, the test bed's) has no service deployments:
//! ListServiceDeployments answers 500 `NotImplementedError`, and its services
//! never advance a rollout anyway. Registration is kept here too (as in
//! [`super::completing_ecs`]) so that DescribeServices, the deployments and
//! the task definitions agree.
//!
//! **Time is compressed**: one minute of the manifest's bake times lasts
//! `ms_per_minute` milliseconds here, and each stage without a bake
//! (PENDING, RECONCILE_SERVICE … POST_TEST_TRAFFIC_SHIFT,
//! POST_PRODUCTION_TRAFFIC_SHIFT, CLEAN_UP, each step of a rollback) lasts
//! `stage_ms`. The state is a pure function of the time since UpdateService
//! (and since StopServiceDeployment), so a poll sees what ECS would show at
//! that point of the lifecycle.
//!
//! Shapes and names follow aws-sdk-ecs 1.111 and the ECS API reference:
//! `ServiceDeployment` (`status`, `lifecycleStage`, `statusReason`,
//! `targetServiceRevision.requestedProductionTrafficWeight`, `rollback`),
//! `ServiceDeploymentBrief`, a linear step bake "not applied after reaching
//! 100 percent traffic".

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Value, json};

use super::{Families, Reply, Request, now, services, unknown};

const ACCOUNT: &str = "arn:aws:ecs:us-east-1:111111111111";

/// How fast the scripted lifecycle runs.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// One minute of bake time, in milliseconds.
    pub ms_per_minute: u64,
    /// A stage without a bake time, in milliseconds.
    pub stage_ms: u64,
}

/// The strategy a deployment runs, from UpdateService's
/// `deploymentConfiguration` (or the service's own).
#[derive(Debug, Clone)]
struct Plan {
    strategy: String,
    canary_percent: f64,
    canary_bake: u64,
    step_percent: f64,
    step_bake: u64,
    bake: u64,
}

impl Plan {
    fn of(config: &Value) -> Self {
        let minutes = |v: &Value| v.as_u64().unwrap_or(0);
        Self {
            strategy: config["strategy"].as_str().unwrap_or("ROLLING").to_string(),
            canary_percent: config["canaryConfiguration"]["canaryPercent"]
                .as_f64()
                .unwrap_or(5.0),
            canary_bake: minutes(&config["canaryConfiguration"]["canaryBakeTimeInMinutes"]),
            step_percent: config["linearConfiguration"]["stepPercent"]
                .as_f64()
                .unwrap_or(10.0),
            step_bake: minutes(&config["linearConfiguration"]["stepBakeTimeInMinutes"]),
            bake: minutes(&config["bakeTimeInMinutes"]),
        }
    }

    /// The lifecycle as segments: (status, stage, the new revision's share
    /// of production traffic, how long).
    fn segments(
        &self,
        clock: Clock,
    ) -> Vec<(&'static str, Option<&'static str>, Option<f64>, u64)> {
        let stage = clock.stage_ms;
        let baked = |minutes: u64| minutes * clock.ms_per_minute;
        let rolling = self.strategy == "ROLLING";
        let zero = (!rolling).then_some(0.0);
        let full = (!rolling).then_some(100.0);
        let mut s = vec![("PENDING", None, zero, stage)];
        let mut before = vec![
            "RECONCILE_SERVICE",
            "PRE_SCALE_UP",
            "SCALE_UP",
            "POST_SCALE_UP",
        ];
        if !rolling {
            before.extend(["TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"]);
        }
        s.extend(
            before
                .into_iter()
                .map(|st| ("IN_PROGRESS", Some(st), zero, stage)),
        );
        if !rolling {
            let shift = Some("PRODUCTION_TRAFFIC_SHIFT");
            match self.strategy.as_str() {
                "CANARY" => s.push((
                    "IN_PROGRESS",
                    shift,
                    Some(self.canary_percent),
                    baked(self.canary_bake).max(stage),
                )),
                "LINEAR" => {
                    let mut share = self.step_percent;
                    while share < 100.0 {
                        s.push((
                            "IN_PROGRESS",
                            shift,
                            Some(share),
                            baked(self.step_bake).max(stage),
                        ));
                        share += self.step_percent;
                    }
                }
                _ => s.push(("IN_PROGRESS", shift, full, stage)),
            }
            s.push((
                "IN_PROGRESS",
                Some("POST_PRODUCTION_TRAFFIC_SHIFT"),
                full,
                stage,
            ));
            if self.bake > 0 {
                s.push(("IN_PROGRESS", Some("BAKE_TIME"), full, baked(self.bake)));
            }
        }
        s.push(("IN_PROGRESS", Some("CLEAN_UP"), full, stage));
        s
    }
}

/// What a service deployment shows at one moment.
#[derive(Debug, Clone)]
struct View {
    status: &'static str,
    stage: Option<&'static str>,
    weight: Option<f64>,
    reason: Option<String>,
    /// Secs after creation the deployment ended, when it did.
    ended: Option<f64>,
}

/// One service deployment.
#[derive(Debug, Clone)]
struct Deployment {
    id: u64,
    cluster: String,
    service: String,
    created: f64,
    born: Instant,
    source: String,
    target: String,
    config: Value,
    plan: Plan,
    /// When StopServiceDeployment came (milliseconds on this deployment's
    /// clock), and its stop type.
    stop: Option<(u64, String)>,
    /// On a clock driven by the polls ([`progressive_ecs_by_polls`]): how
    /// many DescribeServiceDeployments answered for it so far. None: on the
    /// wall clock.
    polls: Option<u64>,
}

impl Deployment {
    fn arn(&self) -> String {
        format!(
            "{ACCOUNT}:service-deployment/{}/{}/{}",
            self.cluster, self.service, self.id
        )
    }

    /// The service revision of `td`: this deployment's number for its
    /// target, the one before for its source (what the previous
    /// deployment made, as far as these ARNs need to tell them apart).
    fn revision_arn(&self, td: &str) -> String {
        let n = if td == self.target {
            self.id
        } else {
            self.id - 1
        };
        format!(
            "{ACCOUNT}:service-revision/{}/{}/{n}",
            self.cluster, self.service
        )
    }

    /// Milliseconds since its creation at `at`: on the wall clock, or
    /// `stage_ms` per DescribeServiceDeployments answered when the polls
    /// drive it.
    fn clock_ms(&self, clock: Clock, at: Instant) -> u64 {
        match self.polls {
            Some(n) => n * clock.stage_ms,
            None => at.duration_since(self.born).as_millis() as u64,
        }
    }

    /// The lifecycle at `at` (an instant after its creation).
    fn view(&self, clock: Clock, at: Instant) -> View {
        let now_ms = self.clock_ms(clock, at);
        let mut t = self.stop.as_ref().map_or(now_ms, |(s, _)| (*s).min(now_ms));
        let mut view = View {
            status: "SUCCESSFUL",
            stage: Some("CLEAN_UP"),
            weight: (self.plan.strategy != "ROLLING").then_some(100.0),
            reason: Some("Service deployment completed successfully.".into()),
            ended: None,
        };
        let mut total = 0;
        let mut done = true;
        for (status, stage, weight, ms) in self.plan.segments(clock) {
            total += ms;
            if t < ms {
                view = View {
                    status,
                    stage,
                    weight,
                    reason: None,
                    ended: None,
                };
                done = false;
                break;
            }
            t -= ms;
        }
        if done {
            view.ended = Some(total as f64 / 1000.0);
            return view;
        }
        let Some((stopped, kind)) = &self.stop else {
            return view;
        };
        let since = now_ms.saturating_sub(*stopped);
        let stopped_secs = *stopped as f64 / 1000.0;
        let (steps, end): (&[&'static str], &'static str) = if kind == "ROLLBACK" {
            (
                &[
                    "ROLLBACK_REQUESTED",
                    "ROLLBACK_IN_PROGRESS",
                    "ROLLBACK_IN_PROGRESS",
                ],
                "ROLLBACK_SUCCESSFUL",
            )
        } else {
            (&["STOP_REQUESTED"], "STOPPED")
        };
        let n = (since / clock.stage_ms.max(1)) as usize;
        view.reason = Some(format!(
            "Service deployment stopped by StopServiceDeployment (stopType {kind})."
        ));
        view.status = steps.get(n).copied().unwrap_or(end);
        if n >= steps.len() {
            view.ended = Some(stopped_secs + (steps.len() as u64 * clock.stage_ms) as f64 / 1000.0);
        }
        if view.weight.is_some() && kind == "ROLLBACK" && n >= 1 {
            view.weight = Some(0.0);
        }
        view
    }

    fn brief(&self, v: &View) -> Value {
        json!({
            "serviceDeploymentArn": self.arn(),
            "serviceArn": service_arn(&self.cluster, &self.service),
            "clusterArn": format!("{ACCOUNT}:cluster/{}", self.cluster),
            "createdAt": self.created,
            "startedAt": self.created,
            "finishedAt": v.ended.map(|s| self.created + s),
            "targetServiceRevisionArn": self.revision_arn(&self.target),
            "status": v.status,
            "statusReason": v.reason,
        })
    }

    fn describe(&self, v: &View) -> Value {
        let revision = |td: &str, weight: Option<f64>| {
            json!({
                "arn": self.revision_arn(td),
                "requestedTaskCount": 2, "runningTaskCount": 2, "pendingTaskCount": 0,
                "requestedProductionTrafficWeight": weight,
            })
        };
        let mut d = self.brief(v);
        d["sourceServiceRevisions"] = json!([revision(&self.source, v.weight.map(|w| 100.0 - w))]);
        d["targetServiceRevision"] = revision(&self.target, v.weight);
        d["lifecycleStage"] = json!(v.stage);
        d["deploymentConfiguration"] = self.config.clone();
        d["updatedAt"] = json!(now());
        d["deploymentCircuitBreaker"] =
            json!({"status": "MONITORING", "failureCount": 0, "threshold": 3});
        if let Some((stopped, kind)) = &self.stop {
            let at = self.created + *stopped as f64 / 1000.0;
            d["stoppedAt"] = json!(at);
            if kind == "ROLLBACK" {
                d["rollback"] = json!({
                    "reason": "StopServiceDeployment with stopType ROLLBACK",
                    "startedAt": at,
                    "serviceRevisionArn": self.revision_arn(&self.source),
                });
            }
        }
        d
    }

    /// The task definition the service runs (or goes back to) as `v` shows.
    fn running(&self, v: &View) -> &str {
        match v.status {
            "ROLLBACK_IN_PROGRESS" | "ROLLBACK_SUCCESSFUL" => &self.source,
            _ => &self.target,
        }
    }
}

fn service_arn(cluster: &str, service: &str) -> String {
    format!("{ACCOUNT}:service/{cluster}/{service}")
}

#[derive(Default)]
struct Ecs {
    /// Whether the polls drive the deployments' clocks.
    by_polls: bool,
    families: Families,
    /// Per service name: its own deployment configuration (as Terraform left
    /// it, then as UpdateService set it).
    configs: HashMap<String, Value>,
    deployments: Vec<Deployment>,
}

impl Ecs {
    fn latest(&self, service: &str) -> Option<&Deployment> {
        self.deployments.iter().rev().find(|d| d.service == service)
    }
}

/// A service deployment id (`ecs-svc/<n>` in DescribeServices, `<n>` at the
/// end of its ARN).
fn deployment_id(n: u64) -> String {
    format!("ecs-svc/{n}")
}

/// What a service's DescribeServices shows: its deployments (PRIMARY and
/// ACTIVE while both revisions run), its configuration and its events.
fn describe_service(ecs: &Ecs, clock: Clock, cluster: &str, name: &str, bootstrap: &str) -> Value {
    let config = ecs
        .configs
        .get(name)
        .cloned()
        .unwrap_or_else(initial_configuration);
    let row = |id: String, status: &str, td: &str, state: &str, created: f64| {
        json!({
            "id": id, "status": status, "taskDefinition": td,
            "desiredCount": 2, "runningCount": 2, "pendingCount": 0, "failedTasks": 0,
            "rolloutState": state, "createdAt": created,
            "rolloutStateReason": format!("ECS deployment {id} {}.", state.to_lowercase()),
        })
    };
    let (td, deployments, events) = match ecs.latest(name) {
        None => (
            bootstrap.to_string(),
            vec![row(
                deployment_id(0),
                "PRIMARY",
                bootstrap,
                "COMPLETED",
                now() - 3600.0,
            )],
            vec![],
        ),
        Some(d) => {
            let v = d.view(clock, Instant::now());
            let (new, old) = (deployment_id(d.id), deployment_id(d.id - 1));
            let started = json!({"id": format!("{}-started", d.id), "createdAt": d.created + 0.1,
                "message": format!("(service {name}) has started 2 tasks: (task {}a) (task {}b).", d.id, d.id)});
            let mut events = vec![started];
            let rows = match v.status {
                "SUCCESSFUL" => vec![row(new, "PRIMARY", &d.target, "COMPLETED", d.created)],
                "ROLLBACK_SUCCESSFUL" => {
                    vec![row(old, "PRIMARY", &d.source, "COMPLETED", d.created)]
                }
                "ROLLBACK_IN_PROGRESS" => vec![
                    row(old, "PRIMARY", &d.source, "IN_PROGRESS", d.created),
                    row(new, "ACTIVE", &d.target, "FAILED", d.created),
                ],
                _ => vec![
                    row(new, "PRIMARY", &d.target, "IN_PROGRESS", d.created),
                    row(old, "ACTIVE", &d.source, "COMPLETED", d.created - 3600.0),
                ],
            };
            if let Some(secs) = v.ended {
                let message = match v.status {
                    "SUCCESSFUL" => format!("(service {name}) has reached a steady state."),
                    status => format!(
                        "(service {name}) service deployment {} ended {status}: {}",
                        d.arn(),
                        v.reason.clone().unwrap_or_default()
                    ),
                };
                events.insert(0, json!({"id": format!("{}-ended", d.id), "createdAt": d.created + secs, "message": message}));
            }
            (d.running(&v).to_string(), rows, events)
        }
    };
    json!({
        "serviceName": name,
        "serviceArn": service_arn(cluster, name),
        "clusterArn": format!("{ACCOUNT}:cluster/{cluster}"),
        "status": "ACTIVE", "taskDefinition": td, "desiredCount": 2,
        "deploymentConfiguration": config,
        "deploymentController": {"type": "ECS"},
        "deployments": deployments, "events": events,
    })
}

/// A service's configuration as Terraform leaves it: rolling, with the
/// circuit breaker on (which a strategy change must keep).
fn initial_configuration() -> Value {
    json!({
        "deploymentCircuitBreaker": {"enable": true, "rollback": true},
        "maximumPercent": 200, "minimumHealthyPercent": 100,
        "strategy": "ROLLING",
    })
}

/// An ECS that runs the service deployments lifecycle (see the module
/// docs) at `ms_per_minute` milliseconds per minute of bake time and 40 ms
/// per other stage. Every service exists (any cluster), on a bootstrap
/// revision, with a rolling configuration and the circuit breaker on.
pub fn progressive_ecs(ms_per_minute: u64) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    progressive_ecs_with(Clock {
        ms_per_minute,
        stage_ms: 40,
    })
}

/// [`progressive_ecs`] on any [`Clock`].
pub fn progressive_ecs_with(clock: Clock) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    lifecycle(clock, false)
}

/// [`progressive_ecs_with`] on a clock the polls drive instead of the wall
/// clock: each DescribeServiceDeployments answered for a deployment moves
/// it `stage_ms` on. With `ms_per_minute == stage_ms` and whole-minute
/// bakes, every stage and traffic step shows to exactly that many polls
/// (one per minute of bake), however late they come: a test of what the
/// follower reports for each stage races no timer on a loaded machine.
/// A rolling deployment (Ferry's own rollback, which it follows by
/// DescribeServices) stays on the wall clock.
pub fn progressive_ecs_by_polls(
    clock: Clock,
) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    lifecycle(clock, true)
}

fn lifecycle(clock: Clock, by_polls: bool) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    let state = Mutex::new(Ecs {
        by_polls,
        ..Ecs::default()
    });
    let bootstrap = "arn:aws:ecs:us-east-1:111111111111:task-definition/bootstrap:1".to_string();
    move |r| {
        let mut ecs = state.lock().unwrap();
        let cluster = r.body["cluster"].as_str().unwrap_or("default").to_string();
        match r.op.as_str() {
            "RegisterTaskDefinition" => ecs.families.register(&r.body),
            "DescribeTaskDefinition" => ecs.families.describe(&r.body),
            "DescribeServices" => services(
                r.body["services"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| {
                        describe_service(&ecs, clock, &cluster, s.as_str().unwrap(), &bootstrap)
                    })
                    .collect(),
            ),
            "UpdateService" => {
                let name = r.body["service"].as_str().unwrap().to_string();
                let target = r.body["taskDefinition"].as_str().unwrap().to_string();
                let before = describe_service(&ecs, clock, &cluster, &name, &bootstrap);
                if let Some(d) = ecs.latest(&name) {
                    let v = d.view(clock, Instant::now());
                    if v.ended.is_none() {
                        return Reply::Error(
                            "InvalidParameterException",
                            format!("service deployment {} is still {}", d.arn(), v.status),
                        );
                    }
                }
                let config = match &r.body["deploymentConfiguration"] {
                    Value::Null => before["deploymentConfiguration"].clone(),
                    given => given.clone(),
                };
                ecs.configs.insert(name.clone(), config.clone());
                let id = ecs.deployments.len() as u64 + 1_000_001;
                // A rolling deployment (Ferry's own rollback), which Ferry
                // follows by DescribeServices, keeps the wall clock.
                let polls = (ecs.by_polls && Plan::of(&config).strategy != "ROLLING").then_some(0);
                ecs.deployments.push(Deployment {
                    id,
                    cluster: cluster.clone(),
                    service: name.clone(),
                    created: now(),
                    born: Instant::now(),
                    source: before["taskDefinition"].as_str().unwrap().to_string(),
                    target,
                    plan: Plan::of(&config),
                    config,
                    stop: None,
                    polls,
                });
                Reply::Ok(
                    json!({"service": describe_service(&ecs, clock, &cluster, &name, &bootstrap)}),
                )
            }
            "ListServiceDeployments" => {
                let name = r.body["service"].as_str().unwrap_or_default();
                let name = name.rsplit('/').next().unwrap_or(name);
                let at = Instant::now();
                let list: Vec<Value> = ecs
                    .deployments
                    .iter()
                    .rev()
                    .filter(|d| d.service == name && d.cluster == cluster)
                    .map(|d| d.brief(&d.view(clock, at)))
                    .collect();
                Reply::Ok(json!({"serviceDeployments": list}))
            }
            "DescribeServiceDeployments" => {
                let at = Instant::now();
                let mut found = Vec::new();
                let mut failures = Vec::new();
                for arn in r.body["serviceDeploymentArns"].as_array().unwrap() {
                    match ecs.deployments.iter_mut().find(|d| d.arn() == *arn) {
                        Some(d) => {
                            found.push(d.describe(&d.view(clock, at)));
                            if let Some(n) = &mut d.polls {
                                *n += 1;
                            }
                        }
                        None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
                    }
                }
                Reply::Ok(json!({"serviceDeployments": found, "failures": failures}))
            }
            "StopServiceDeployment" => {
                let arn = r.body["serviceDeploymentArn"].as_str().unwrap_or_default();
                let kind = r.body["stopType"]
                    .as_str()
                    .unwrap_or("ROLLBACK")
                    .to_string();
                let at = Instant::now();
                let Some(d) = ecs.deployments.iter_mut().find(|d| d.arn() == arn) else {
                    return Reply::Error(
                        "ServiceDeploymentNotFoundException",
                        format!("{arn} was not found"),
                    );
                };
                let v = d.view(clock, at);
                if d.stop.is_some() || v.ended.is_some() {
                    return Reply::Error(
                        "ConflictException",
                        format!(
                            "service deployment {arn} is {}: it cannot be stopped",
                            v.status
                        ),
                    );
                }
                d.stop = Some((d.clock_ms(clock, at), kind));
                Reply::Ok(json!({"serviceDeploymentArn": arn}))
            }
            "ListTasks" => Reply::Ok(json!({"taskArns": []})),
            "DescribeTasks" => Reply::Ok(json!({"tasks": [], "failures": []})),
            op => unknown(op),
        }
    }
}
