//! A recorder: a tiny local HTTP listener that answers every request with
//! `500` and remembers its request line. Hand-written on purpose: the tests
//! point `AWS_ENDPOINT_URL` here to prove that *no* AWS call is made (moto
//! would answer, and an answer could hide a call); no stand-in records
//! "nothing happened".

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// The listener and what it has seen.
pub struct Recorder {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    /// Starts listening on a free loopback port (a thread that lives as long
    /// as the test process).
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut first = String::new();
                let _ = BufReader::new(&stream).read_line(&mut first);
                log.lock().unwrap().push(first.trim().to_string());
                let _ = stream.write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Self { url, seen }
    }

    /// The request lines received so far.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// One AWS request a [`RecordingProxy`] passed on.
#[derive(Debug, Clone)]
pub struct Call {
    /// The operation (`DescribeSecret`, `RegisterTaskDefinition`, `GetRole`).
    pub op: String,
    /// When it arrived.
    pub at: std::time::Instant,
    /// Its body, as text.
    pub body: String,
}

/// A recording proxy in front of a real stand-in (moto): every request is
/// passed on unchanged and its operation remembered, so a test can assert
/// which AWS calls a run made, in which order, and that no mutating one
/// was among them. Hand-written on purpose: moto keeps no request log a
/// test could read. The operation comes from `X-Amz-Target` (JSON
/// protocols), the `Action` of a query-protocol form (IAM, STS), or the
/// path of an RPC v2 request.
pub struct RecordingProxy {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl RecordingProxy {
    /// Starts the proxy to `upstream` on a thread and runtime of its own (a
    /// test that blocks on the binary does not starve it).
    pub fn start(upstream: &str) -> Self {
        use axum::body::Bytes;
        use axum::http::Request;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls: Arc<Mutex<Vec<Call>>> = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&calls);
        let upstream = upstream.trim_end_matches('/').to_string();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let client: hyper_util::client::legacy::Client<_, http_body_util::Full<Bytes>> =
                    hyper_util::client::legacy::Client::builder(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .build_http();
                let app = axum::Router::new().fallback(move |req: Request<axum::body::Body>| {
                    let (client, log, upstream) = (client.clone(), log.clone(), upstream.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = axum::body::to_bytes(body, 64 << 20).await.unwrap();
                        log.lock().unwrap().push(Call {
                            op: operation(&parts.headers, parts.uri.path(), &body),
                            at: std::time::Instant::now(),
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        let uri = format!(
                            "{upstream}{}",
                            parts.uri.path_and_query().map_or("/", |p| p.as_str())
                        );
                        let mut out = Request::builder().method(parts.method).uri(uri);
                        for (k, v) in &parts.headers {
                            out = out.header(k, v);
                        }
                        let answer = client
                            .request(out.body(http_body_util::Full::new(body)).unwrap())
                            .await
                            .unwrap();
                        let (parts, body) = answer.into_parts();
                        let body = http_body_util::BodyExt::collect(body)
                            .await
                            .unwrap()
                            .to_bytes();
                        let mut back = axum::http::Response::builder().status(parts.status);
                        for (k, v) in &parts.headers {
                            if k != "transfer-encoding" && k != "connection" {
                                back = back.header(k, v);
                            }
                        }
                        back.body(axum::body::Body::from(body)).unwrap()
                    }
                });
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        Self { url, calls }
    }

    /// The calls passed on so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The operations passed on so far, in order.
    pub fn ops(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.op).collect()
    }
}

/// The operation of an AWS request.
fn operation(headers: &axum::http::HeaderMap, path: &str, body: &[u8]) -> String {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    if let Some((_, op)) = path.rsplit_once("/operation/") {
        return op.to_string();
    }
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .map(str::to_string)
        .unwrap_or_else(|| format!("? {path}"))
}
