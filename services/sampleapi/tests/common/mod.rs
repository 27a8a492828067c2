//! Test bed helpers shared by the services' integration tests: a real SQS
//! (moto server, started by `scripts/test`, URL in `MOTO_URL`) reached through
//! the real aws-sdk-sqs, and uniquely named queues per test (moto is shared by
//! tests running in parallel and is never reset).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;

/// The moto endpoint; panics with the fix when the test bed is not running.
pub fn moto_url() -> String {
    std::env::var("MOTO_URL").unwrap_or_else(|_| {
        panic!(
            "MOTO_URL is not set: these tests need the test bed's SQS (moto server). \
             Run them through `scripts/test`, or start moto yourself \
             (`moto_server -H 127.0.0.1 -p 5100`) and set MOTO_URL=http://127.0.0.1:5100"
        )
    })
}

/// An SQS client for `endpoint` with moto's test credentials (set on the client,
/// not in the process environment).
pub fn client_for(endpoint: &str) -> Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .timeout_config(
            aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

/// A client on moto.
pub fn moto_client() -> Client {
    client_for(&moto_url())
}

/// Environment for a service process talking to moto.
pub fn aws_env() -> Vec<(String, String)> {
    vec![
        ("AWS_ENDPOINT_URL".into(), moto_url()),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ]
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A queue name unique to this test run.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// A work queue with a DLQ after `max_receive` receives; returns (queue, dlq).
pub async fn queue_with_dlq(
    sqs: &Client,
    prefix: &str,
    visibility_seconds: u32,
    max_receive: u32,
) -> (String, String) {
    let dlq = sqs
        .create_queue()
        .queue_name(unique_name(&format!("{prefix}-dlq")))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&QueueAttributeName::QueueArn)
        .unwrap();
    let redrive =
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receive}"}}"#);
    let queue = sqs
        .create_queue()
        .queue_name(unique_name(prefix))
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_seconds.to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (queue, dlq)
}

/// (visible, in flight) message counts of a queue.
pub async fn counts(sqs: &Client, queue: &str) -> (u64, u64) {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    let get = |k: &QueueAttributeName| attrs.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
    (
        get(&QueueAttributeName::ApproximateNumberOfMessages),
        get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// Drains a queue (visibility 30 s so nothing comes back), returning the bodies
/// and message attributes of what was there.
pub async fn drain(sqs: &Client, queue: &str) -> Vec<(String, HashMap<String, String>)> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            return out;
        }
        for m in got {
            let attrs = m
                .message_attributes
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.string_value?)))
                .collect();
            out.push((m.body.unwrap_or_default(), attrs));
        }
    }
}

/// Polls `check` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Value of an unlabelled or labelled sample in a Prometheus text exposition
/// (`name` including labels exactly as exposed, e.g. `emails_sent_total{status="success"}`).
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (k, v) = l.rsplit_once(' ')?;
        (k == name).then(|| v.parse().ok()).flatten()
    })
}

/// A slow SQS (see [`slow_sqs`]).
pub struct SlowSqs {
    /// The proxy's endpoint URL.
    pub endpoint: String,
    /// Connections on which moto has answered (its first bytes): each request
    /// the API gave up on had its own connection, so this says how many of
    /// them moto has fully handled.
    pub answered: Arc<AtomicU64>,
    /// Connections the proxy opened to moto.
    pub connected: Arc<AtomicU64>,
    /// Connections the proxy is still relaying.
    pub open: Arc<AtomicU64>,
}

impl SlowSqs {
    /// Waits until nothing is relayed any more, twice a second apart with no new
    /// connection: every request that reached moto has been answered, and one
    /// the API gave up on before sending it never will.
    pub async fn wait_idle(&self, timeout: Duration) {
        let start = Instant::now();
        loop {
            let seen = self.connected.load(Ordering::Relaxed);
            if self.open.load(Ordering::Relaxed) == 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if self.open.load(Ordering::Relaxed) == 0
                    && self.connected.load(Ordering::Relaxed) == seen
                {
                    return;
                }
            }
            assert!(
                start.elapsed() < timeout,
                "the slow SQS still relays {} connections after {timeout:?}",
                self.open.load(Ordering::Relaxed)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until moto has answered on `n` connections.
    pub async fn wait_answered(&self, n: u64, timeout: Duration) {
        let start = Instant::now();
        while self.answered.load(Ordering::Relaxed) < n {
            assert!(
                start.elapsed() < timeout,
                "moto answered {} of {n} requests in {timeout:?} ({} connections opened to it)",
                self.answered.load(Ordering::Relaxed),
                self.connected.load(Ordering::Relaxed),
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A slow SQS: a TCP proxy in front of moto that passes requests at once and
/// holds every chunk of the answers for `delay_ms`. With a delay past the API's
/// `SQS_TIMEOUT_MS`, SQS stores the message but the API gives up before it
/// hears so.
pub async fn slow_sqs(delay_ms: u64) -> SlowSqs {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let upstream = moto_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let answered = Arc::new(AtomicU64::new(0));
    let connected = Arc::new(AtomicU64::new(0));
    let open = Arc::new(AtomicU64::new(0));
    let (counter, opened, relaying) = (answered.clone(), connected.clone(), open.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let (counter, opened) = (counter.clone(), opened.clone());
            relaying.fetch_add(1, Ordering::Relaxed);
            let guard = OpenGuard(relaying.clone());
            tokio::spawn(async move {
                let _guard = guard;
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                opened.fetch_add(1, Ordering::Relaxed);
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let requests = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                    let _ = server_write.shutdown().await;
                });
                let mut buf = vec![0u8; 64 * 1024];
                let mut first = true;
                loop {
                    let n = match server_read.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if std::mem::take(&mut first) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                requests.abort();
            });
        }
    });
    SlowSqs {
        endpoint,
        answered,
        connected,
        open,
    }
}

/// Counts a relayed connection down however its task ends.
struct OpenGuard(Arc<AtomicU64>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
