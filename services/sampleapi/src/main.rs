//! `sampleapi` binary: reads the configuration, installs telemetry, serves.

use service_telemetry::config::exit_with;
use service_telemetry::shutdown::Shutdown;
use service_telemetry::{Env, init};

fn main() {
    // ECS's container health check runs `<binary> healthcheck URL` (no shell in the image).
    if let Some(code) = service_telemetry::healthcheck::from_args() {
        std::process::exit(code);
    }
    let config = match sampleapi::Config::from_env(&Env::from_process()) {
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

async fn run(config: sampleapi::Config) -> i32 {
    let telemetry = match init(&config.telemetry) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let code = serve(config).await;
    telemetry.shutdown();
    code
}

async fn serve(config: sampleapi::Config) -> i32 {
    let shutdown = match Shutdown::on_signals() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return 1;
        }
    };
    let addr = std::net::SocketAddr::from(([0, 0, 0, 0], config.port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, port = config.port, "cannot listen; is PORT free?");
            return 1;
        }
    };
    let sqs = sampleapi::sqs_client(&config.region, config.sqs_timeout).await;
    tracing::info!(port = config.port, queue_url = %config.queue_url, "sampleapi listening");
    let app = sampleapi::App::new(config, sqs, shutdown);
    match sampleapi::serve(listener, app).await {
        Ok(()) => {
            tracing::info!("sampleapi stopped");
            0
        }
        Err(e) => {
            tracing::error!(error = %e, "server error");
            1
        }
    }
}
