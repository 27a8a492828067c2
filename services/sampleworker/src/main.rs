//! `sampleworker` binary: reads the configuration, installs telemetry, serves
//! `/metrics` and `/health`, and consumes the queue until SIGTERM.

use std::sync::Arc;

use service_telemetry::config::exit_with;
use service_telemetry::shutdown::Shutdown;
use service_telemetry::{Env, init};

fn main() {
    // ECS's container health check runs `<binary> healthcheck URL` (no shell in the image).
    if let Some(code) = service_telemetry::healthcheck::from_args() {
        std::process::exit(code);
    }
    let config = match sampleworker::Config::from_env(&Env::from_process()) {
        Ok(c) => c,
        Err(e) => exit_with(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(run(config));
    std::process::exit(code);
}

async fn run(config: sampleworker::Config) -> i32 {
    let telemetry = match init(&config.telemetry) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let code = work(config).await;
    telemetry.shutdown();
    code
}

async fn work(config: sampleworker::Config) -> i32 {
    let shutdown = match Shutdown::on_signals() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return 1;
        }
    };
    let metrics = Arc::new(sampleworker::WorkerMetrics::new());
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
