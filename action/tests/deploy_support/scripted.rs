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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

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
