//! `sampleworker` binary: reads the configuration, installs telemetry, serves
//! `/metrics` and `/health`, and consumes the queue until SIGTERM.

use std::sync::Arc;

use service_telemetry::shutdown::Shutdown;

fn main() {
    service_telemetry::run_service(sampleworker::Config::from_env, |c| &c.telemetry, work);
}

async fn work(config: sampleworker::Config) -> i32 {
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
