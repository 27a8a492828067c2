//! A scripted ECS endpoint: an HTTP server on 127.0.0.1:0 speaking ECS's
//! JSON protocol (awsJson1_1: `POST /`, `X-Amz-Target:
//! AmazonEC2ContainerServiceV20141113.<Op>`, JSON bodies, errors as
//! `{"__type": ..., "message": ...}` with status 400) to the real
//! aws-sdk-ecs client.
//!
//! Why scripted: moto never advances a rollout (its deployment stays
//! IN_PROGRESS or COMPLETED forever, never FAILED, no events, no stopped
//! tasks), so rollouts that complete, fail, get rolled back or superseded can
//! only be played to the client from a script. Each test answers each call
//! from a closure over (operation, body, how many times that operation was
//! called), and every request is recorded so a test can count calls per poll.
//!
//! [`progressive_ecs`] plays ECS's service deployments lifecycle (canary,
//! linear, blue/green rollouts, stopped with a rollback) on a compressed
//! clock: see [`lifecycle`], and why moto cannot.
//!
//! [`with_one_off_tasks`] plays one-off tasks (RunTask, DescribeTasks,
//! StopTask) in front of another script: moto's RunTask creates tasks but
//! never stops them or gives their containers an exit code, so a migration
//! that exits 0 or 1, or one that runs past its timeout until StopTask, can
//! only be played from a script. Their log lines stay real: the tests put
//! them in moto's CloudWatch Logs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub mod lifecycle;
pub use lifecycle::progressive_ecs;

/// One request the endpoint received.
#[derive(Debug, Clone)]
pub struct Request {
    /// The operation (`DescribeServices`, …).
    pub op: String,
    /// The JSON body.
    pub body: Value,
    /// How many earlier calls of the same operation there were.
    pub nth: usize,
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this body.
    Ok(Value),
    /// 400 with this error type and message.
    Error(&'static str, String),
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

struct Inner {
    handler: Box<Handler>,
    requests: Mutex<Vec<Request>>,
    counts: Mutex<HashMap<String, usize>>,
}

/// A running scripted endpoint (stops with the test's runtime).
pub struct Scripted {
    pub url: String,
    inner: Arc<Inner>,
}

impl Scripted {
    /// Starts the endpoint; `handler` answers every request.
    pub async fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let inner = Arc::new(Inner {
            handler: Box::new(handler),
            requests: Mutex::new(Vec::new()),
            counts: Mutex::new(HashMap::new()),
        });
        let app = axum::Router::new()
            .route("/", axum::routing::post(answer))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, inner }
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// The requests of one operation.
    pub fn calls(&self, op: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.op == op).collect()
    }
}

async fn answer(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let op = target.rsplit('.').next().unwrap_or_default().to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let nth = {
        let mut counts = inner.counts.lock().unwrap();
        let n = counts.entry(op.clone()).or_default();
        *n += 1;
        *n - 1
    };
    let request = Request { op, body, nth };
    inner.requests.lock().unwrap().push(request.clone());
    let (status, body) = if !target.starts_with("AmazonEC2ContainerServiceV20141113.") {
        (
            StatusCode::BAD_REQUEST,
            json!({"__type": "UnknownOperationException", "message": format!("unknown target {target}")}),
        )
    } else {
        match (inner.handler)(&request) {
            Reply::Ok(v) => (StatusCode::OK, v),
            Reply::Error(kind, message) => (
                StatusCode::BAD_REQUEST,
                json!({"__type": kind, "message": message}),
            ),
        }
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

/// An operation the script does not play: what an endpoint without it says.
pub fn unknown(op: &str) -> Reply {
    Reply::Error(
        "UnknownOperationException",
        format!("{op} is not supported here"),
    )
}

// The scenarios' ECS: one staging service of sampleapi whose family is at
// revision 7; a deploy registers revision 8; the last good release is 5.

/// Seconds since the epoch, as ECS's JSON protocol writes times.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

pub const CLUSTER: &str = "email-platform-staging";
pub const SERVICE: &str = "email-platform-staging-sampleapi";
pub const FAMILY: &str =
    "arn:aws:ecs:us-east-1:111111111111:task-definition/email-platform-staging-sampleapi";

pub fn arn(revision: u32) -> String {
    format!("{FAMILY}:{revision}")
}

/// A deployment as DescribeServices shows it (2 desired).
pub fn dep(id: &str, status: &str, td: &str, state: &str, running: i32) -> Value {
    json!({
        "id": id, "status": status, "taskDefinition": td,
        "desiredCount": 2, "runningCount": running, "pendingCount": 2 - running,
        "failedTasks": 0, "rolloutState": state, "createdAt": now(),
        "rolloutStateReason": format!("ECS deployment {id} {}.", state.to_lowercase()),
    })
}

pub fn set(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

pub fn event(id: &str, message: &str) -> Value {
    json!({"id": id, "createdAt": now(), "message": message})
}

/// A service of `name` with these deployments and events (newest first, as ECS).
pub fn service(name: &str, deployments: Vec<Value>, events: Vec<Value>) -> Value {
    let td = deployments
        .iter()
        .find(|d| d["status"] == "PRIMARY")
        .map(|d| d["taskDefinition"].clone())
        .unwrap_or(Value::Null);
    json!({
        "serviceName": name,
        "serviceArn": format!("arn:aws:ecs:us-east-1:111111111111:service/{CLUSTER}/{name}"),
        "status": "ACTIVE", "taskDefinition": td, "desiredCount": 2,
        "deployments": deployments, "events": events,
    })
}

pub fn services(list: Vec<Value>) -> Reply {
    Reply::Ok(json!({"services": list, "failures": []}))
}

/// The service at steady state on `td`.
pub fn steady(name: &str, id: &str, td: &str) -> Value {
    service(name, vec![dep(id, "PRIMARY", td, "COMPLETED", 2)], vec![])
}

/// What every scenario answers the same way: the family has no ACTIVE
/// revision yet (so one is registered as revision 8), UpdateService starts
/// a deployment of what it was given, and this endpoint has no service
/// deployments API.
pub fn common(r: &Request) -> Reply {
    match r.op.as_str() {
        "DescribeTaskDefinition" => Reply::Error(
            "ClientException",
            "Unable to describe task definition.".into(),
        ),
        "RegisterTaskDefinition" => Reply::Ok(json!({
            "taskDefinition": {
                "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:111111111111:task-definition/{}:8", r.body["family"].as_str().unwrap()),
                "family": r.body["family"], "revision": 8, "status": "ACTIVE",
            }
        })),
        "UpdateService" => {
            let td = r.body["taskDefinition"].as_str().unwrap();
            let id = if td.ends_with(":8") {
                "ecs-svc/new"
            } else {
                "ecs-svc/rollback"
            };
            let name = r.body["service"].as_str().unwrap();
            Reply::Ok(
                json!({"service": service(name, vec![dep(id, "PRIMARY", td, "IN_PROGRESS", 0)], vec![])}),
            )
        }
        "ListTasks" => Reply::Ok(json!({"taskArns": []})),
        "DescribeTasks" => Reply::Ok(json!({"tasks": [], "failures": []})),
        op => unknown(op),
    }
}

/// The task the circuit-breaker scenario stops, and where its logs are.
pub const FAILED_TASK: &str =
    "arn:aws:ecs:us-east-1:111111111111:task/email-platform-staging/0f1e2d3c4b5a";
pub const LOG_GROUP: &str = "/ecs/email-platform-staging/sampleapi";
pub const LOG_STREAM: &str = "sampleapi/sampleapi/0f1e2d3c4b5a";

/// Puts `lines` in the failed task's log stream (moto's CloudWatch Logs).
pub async fn seed_logs(logs: &aws_sdk_cloudwatchlogs::Client, lines: &[&str]) {
    logs.create_log_group()
        .log_group_name(LOG_GROUP)
        .send()
        .await
        .unwrap();
    put_log_lines(logs, LOG_GROUP, LOG_STREAM, lines).await;
}

/// Creates `stream` in `group` (which must exist) and puts `lines` in it,
/// one millisecond apart (moto's CloudWatch Logs).
pub async fn put_log_lines(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    lines: &[&str],
) {
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await
        .unwrap();
    let ms = (now() * 1000.0) as i64;
    let events: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(ms + i as i64)
                .message(*l)
                .build()
                .unwrap()
        })
        .collect();
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
}

/// The service event of the failed deployment.
pub fn failing_event() -> String {
    format!("(service {SERVICE}) deployment ecs-svc/new deployment failed: tasks failed to start.")
}

/// A rollout of revision 8 over 7 whose tasks exit 1 until the ECS circuit
/// breaker rolls it back (`message` is the failure's service event), then a
/// rollback to revision 5 that completes.
pub fn circuit_breaker(r: &Request, message: &str) -> Reply {
    match (r.op.as_str(), r.nth) {
        ("DescribeServices", 0) => services(vec![steady(SERVICE, "ecs-svc/old", &arn(7))]),
        ("DescribeServices", 1) => services(vec![service(
            SERVICE,
            vec![
                set(
                    dep("ecs-svc/new", "PRIMARY", &arn(8), "IN_PROGRESS", 0),
                    "failedTasks",
                    json!(1),
                ),
                dep("ecs-svc/old", "ACTIVE", &arn(7), "COMPLETED", 2),
            ],
            vec![event(
                "e1",
                &format!("(service {SERVICE}) has started 1 tasks: (task 0f1e2d3c4b5a)."),
            )],
        )]),
        ("DescribeServices", 2) => services(vec![service(
            SERVICE,
            vec![
                dep("ecs-svc/old", "PRIMARY", &arn(7), "IN_PROGRESS", 2),
                set(
                    set(
                        dep("ecs-svc/new", "ACTIVE", &arn(8), "FAILED", 0),
                        "failedTasks",
                        json!(3),
                    ),
                    "rolloutStateReason",
                    json!("ECS deployment circuit breaker: tasks failed to start."),
                ),
            ],
            vec![
                event("e2", message),
                event(
                    "e1",
                    &format!("(service {SERVICE}) has started 1 tasks: (task 0f1e2d3c4b5a)."),
                ),
            ],
        )]),
        // After our rollback to revision 5.
        ("DescribeServices", _) => services(vec![steady(SERVICE, "ecs-svc/rollback", &arn(5))]),
        ("ListTasks", _) => {
            assert_eq!(r.body["startedBy"], "ecs-svc/new");
            assert_eq!(r.body["desiredStatus"], "STOPPED");
            Reply::Ok(json!({"taskArns": [FAILED_TASK]}))
        }
        ("DescribeTasks", _) => Reply::Ok(json!({"tasks": [{
            "taskArn": FAILED_TASK, "lastStatus": "STOPPED", "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited", "stoppedAt": now(),
            "containers": [{"name": "sampleapi", "exitCode": 1, "reason": null}],
        }], "failures": []})),
        _ => common(r),
    }
}

/// The task definitions an ECS stand-in registered, per family: the latest
/// of a family is what DescribeTaskDefinition answers (so an identical
/// render is reused).
#[derive(Default)]
pub struct Families(HashMap<String, Vec<Value>>);

impl Families {
    /// RegisterTaskDefinition: the next revision of the body's family.
    pub fn register(&mut self, body: &Value) -> Reply {
        let family = body["family"].as_str().unwrap().to_string();
        let revisions = self.0.entry(family.clone()).or_default();
        let revision = revisions.len() + 1;
        let mut td = body.clone();
        td["taskDefinitionArn"] = json!(format!(
            "arn:aws:ecs:us-east-1:111111111111:task-definition/{family}:{revision}"
        ));
        td["revision"] = json!(revision);
        td["status"] = json!("ACTIVE");
        // As ECS: tags are stored beside the definition, not in it.
        let tags = td
            .as_object_mut()
            .and_then(|o| o.remove("tags"))
            .unwrap_or(json!([]));
        revisions.push(json!({"taskDefinition": td, "tags": tags}));
        Reply::Ok(json!({"taskDefinition": td, "tags": tags}))
    }

    /// DescribeTaskDefinition of a family (or a revision of it): its latest.
    pub fn describe(&self, body: &Value) -> Reply {
        let asked = body["taskDefinition"].as_str().unwrap_or_default();
        let family = asked.rsplit('/').next().unwrap_or(asked);
        let family = family.split(':').next().unwrap_or(family);
        match self.0.get(family).and_then(|v| v.last()) {
            Some(described) => Reply::Ok(described.clone()),
            None => Reply::Error(
                "ClientException",
                "Unable to describe task definition.".into(),
            ),
        }
    }
}

/// An ECS where every rollout completes at once, with just enough state for
/// a release to be repeated: registered task definitions (the latest of a
/// family is what DescribeTaskDefinition answers, so an identical render is
/// reused) and the task definition each service runs (at steady state after
/// UpdateService). Services start on a bootstrap revision, as Terraform
/// leaves them. For tests that need a deploy to *succeed*: moto keeps a
/// rollout as it was created.
pub fn completing_ecs() -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    #[derive(Default)]
    struct Ecs {
        families: Families,
        running: HashMap<String, String>,
    }
    let state = Mutex::new(Ecs::default());
    let bootstrap = "arn:aws:ecs:us-east-1:111111111111:task-definition/bootstrap:1".to_string();
    let deployment_id = |arn: &str| format!("ecs-svc/{}", arn.rsplit('/').next().unwrap_or(arn));
    move |r| {
        let mut ecs = state.lock().unwrap();
        match r.op.as_str() {
            "RegisterTaskDefinition" => ecs.families.register(&r.body),
            "DescribeTaskDefinition" => ecs.families.describe(&r.body),
            "DescribeServices" => {
                let names: Vec<String> = r.body["services"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect();
                services(
                    names
                        .iter()
                        .map(|name| {
                            let td = ecs.running.get(name).unwrap_or(&bootstrap);
                            steady(name, &deployment_id(td), td)
                        })
                        .collect(),
                )
            }
            "UpdateService" => {
                let name = r.body["service"].as_str().unwrap().to_string();
                let td = r.body["taskDefinition"].as_str().unwrap().to_string();
                ecs.running.insert(name.clone(), td.clone());
                Reply::Ok(json!({"service": service(
                    &name,
                    vec![dep(&deployment_id(&td), "PRIMARY", &td, "IN_PROGRESS", 0)],
                    vec![],
                )}))
            }
            "ListTasks" => Reply::Ok(json!({"taskArns": []})),
            "DescribeTasks" => Reply::Ok(json!({"tasks": [], "failures": []})),
            op => unknown(op),
        }
    }
}

/// How a scripted one-off task ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEnding {
    /// It stops on the second DescribeTasks, its first container exiting
    /// with this code.
    Exits(i32),
    /// It runs until StopTask.
    RunsUntilStopped,
}

/// The one-off tasks' ARNs: `<TASK_PREFIX><n>` for the n-th RunTask.
pub const TASK_PREFIX: &str = "arn:aws:ecs:us-east-1:123456789012:task/shop-staging/oneoff";

/// `inner` with one-off tasks played in front of it (see the module doc):
/// each RunTask starts a task whose container is the override's (or
/// `main`), seen RUNNING once, then ending as `ending(n)` says for the n-th
/// task (0-based); StopTask stops it with the caller's reason. The services
/// `inner` describes get the network configuration Terraform gives them
/// (awsvpc, two subnets, a security group, Fargate), which RunTask copies.
pub fn with_one_off_tasks(
    inner: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ending: impl Fn(usize) -> TaskEnding + Send + Sync + 'static,
) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    #[derive(Default)]
    struct OneOff {
        /// Per task: its container, DescribeTasks calls so far, StopTask's reason.
        tasks: Vec<(String, usize, Option<String>)>,
    }
    let state = Mutex::new(OneOff::default());
    move |r| {
        let task = |n: usize,
                    container: &str,
                    status: &str,
                    exit: Option<i32>,
                    stop: Option<(&str, &str)>| {
            let mut t = json!({
                "taskArn": format!("{TASK_PREFIX}{n}"), "lastStatus": status,
                "containers": [{"name": container, "exitCode": exit}],
            });
            if let Some((code, reason)) = stop {
                t["stopCode"] = json!(code);
                t["stoppedReason"] = json!(reason);
                t["stoppedAt"] = json!(now());
            }
            t
        };
        match r.op.as_str() {
            "DescribeServices" => match inner(r) {
                Reply::Ok(mut v) => {
                    for s in v["services"].as_array_mut().into_iter().flatten() {
                        s["launchType"] = json!("FARGATE");
                        s["networkConfiguration"] = json!({"awsvpcConfiguration": {
                            "subnets": ["subnet-0a", "subnet-0b"],
                            "securityGroups": ["sg-0app"], "assignPublicIp": "DISABLED"}});
                    }
                    Reply::Ok(v)
                }
                e => e,
            },
            "RunTask" => {
                let container = r.body["overrides"]["containerOverrides"][0]["name"]
                    .as_str()
                    .unwrap_or("main")
                    .to_string();
                let mut s = state.lock().unwrap();
                let n = s.tasks.len();
                s.tasks.push((container.clone(), 0, None));
                Reply::Ok(
                    json!({"tasks": [task(n, &container, "PROVISIONING", None, None)], "failures": []}),
                )
            }
            "StopTask" => {
                let arn = r.body["task"].as_str().unwrap_or_default();
                let Some(n) = arn
                    .strip_prefix(TASK_PREFIX)
                    .and_then(|n| n.parse::<usize>().ok())
                else {
                    return Reply::Error("InvalidParameterException", "unknown task".into());
                };
                let mut s = state.lock().unwrap();
                let Some(t) = s.tasks.get_mut(n) else {
                    return Reply::Error("InvalidParameterException", "unknown task".into());
                };
                t.2 = Some(r.body["reason"].as_str().unwrap_or_default().to_string());
                let container = t.0.clone();
                Reply::Ok(
                    json!({"task": task(n, &container, "STOPPED", None, Some(("UserInitiated", "stopped")))}),
                )
            }
            "DescribeTasks" => {
                let arn = r.body["tasks"][0].as_str().unwrap_or_default();
                let Some(n) = arn
                    .strip_prefix(TASK_PREFIX)
                    .and_then(|n| n.parse::<usize>().ok())
                else {
                    return inner(r);
                };
                let mut s = state.lock().unwrap();
                let Some(t) = s.tasks.get_mut(n) else {
                    return Reply::Ok(
                        json!({"tasks": [], "failures": [{"arn": arn, "reason": "MISSING"}]}),
                    );
                };
                t.1 += 1;
                let described = match (&t.2, ending(n)) {
                    (Some(reason), _) => {
                        task(n, &t.0, "STOPPED", None, Some(("UserInitiated", reason)))
                    }
                    (None, TaskEnding::Exits(code)) if t.1 > 1 => task(
                        n,
                        &t.0,
                        "STOPPED",
                        Some(code),
                        Some((
                            "EssentialContainerExited",
                            "Essential container in task exited",
                        )),
                    ),
                    _ => task(n, &t.0, "RUNNING", None, None),
                };
                Reply::Ok(json!({"tasks": [described], "failures": []}))
            }
            _ => inner(r),
        }
    }
}
