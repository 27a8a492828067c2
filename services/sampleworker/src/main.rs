//! `sampleworker` binary: reads the configuration, installs telemetry, serves
//! `/metrics` and `/health`, and consumes the queue until SIGTERM.
//! `sampleworker check-queue` is the release's before-deploy task (the
//! manifest's `before-deploy`): it checks that the queue exists and that
//! the task's role may read it, and exits 0, or 1 before the service is
//! updated.

use std::sync::Arc;

use service_telemetry::shutdown::Shutdown;

fn main() {
    service_telemetry::run_service(sampleworker::Config::from_env, |c| &c.telemetry, work);
}

async fn work(config: sampleworker::Config) -> i32 {
    if std::env::args().nth(1).as_deref() == Some("check-queue") {
        return check_queue(&config).await;
    }
    let shutdown = match Shutdown::on_signals() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return 1;
        }
    };
    let metrics = Arc::new(sampleworker::WorkerMetrics::new(
        &config.telemetry.service_version,
    ));
    let addr = std::net::SocketAddr::from(([0, 0, 0, 0], config.metrics_port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, port = config.metrics_port, "cannot listen; is METRICS_PORT free?");
            return 1;
        }
    };
    let server_stop = Shutdown::new();
    let stop = server_stop.clone();
    let server = tokio::spawn(
        axum::serve(listener, sampleworker::metrics_router(&metrics))
            .with_graceful_shutdown(async move { stop.wait().await })
            .into_future(),
    );
    tracing::info!(metrics_port = config.metrics_port, queue_url = %config.queue_url, "sampleworker starting");
    let sqs = sampleworker::sqs_client(&config).await;
    let worker = sampleworker::Worker::new(config, sqs, metrics);
    worker.run(shutdown).await;
    // Metrics stay scrapeable until the queue work is done.
    server_stop.trigger();
    let _ = server.await;
    0
}

/// The before-deploy check: GetQueueAttributes of the queue the new
/// revision will consume; 0 when it answers, 1 (with AWS's reason) if not.
async fn check_queue(config: &sampleworker::Config) -> i32 {
    let sqs = sampleworker::sqs_client(config).await;
    let asked = sqs
        .get_queue_attributes()
        .queue_url(&config.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await;
    match asked {
        Ok(out) => {
            let backlog = out
                .attributes()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                })
                .cloned()
                .unwrap_or_default();
            tracing::info!(queue_url = %config.queue_url, backlog = %backlog, "check-queue: the queue answers");
            0
        }
        Err(e) => {
            tracing::error!(
                queue_url = %config.queue_url,
                error = %aws_sdk_sqs::error::DisplayErrorContext(&e),
                "check-queue: cannot read the queue"
            );
            1
        }
    }
}
