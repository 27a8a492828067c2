//! `sampleapi` binary: reads the configuration, installs telemetry, serves.

use service_telemetry::shutdown::Shutdown;

fn main() {
    service_telemetry::run_service(sampleapi::Config::from_env, |c| &c.telemetry, serve);
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
