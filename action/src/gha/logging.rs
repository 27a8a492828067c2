//! The diagnostic log (`FERRY_LOG`) on stderr, safe at every level.
//!
//! Two guards, because neither is enough alone:
//! - a ceiling on the libraries that trace credentials: the AWS signer's
//!   canonical request carries `x-amz-security-token`, the SDK's request and
//!   response traces carry `Authorization` headers and bodies (the ECR token,
//!   STS credentials) before Ferry can mask them. Those targets never log
//!   below `debug`, whatever `FERRY_LOG` asks for;
//! - a writer that scrubs every remembered secret ([`super::secrets`]) from
//!   each formatted line and, in Actions, defuses lines the runner would run
//!   as workflow commands (it reads stderr too).

use std::io::{self, Write};

use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::commands;

/// What `FERRY_LOG` defaults to.
pub const DEFAULT_FILTER: &str = "warn,aws_config=error";

/// Targets whose trace output holds credentials, and why.
pub const CREDENTIAL_TARGETS: &[&str] = &[
    // Canonical request and string to sign (the session token header).
    "aws_sigv4",
    // `transmitting request` / `received response`: headers and bodies.
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_smithy_types",
    // Credential providers (IMDS, STS, SSO responses).
    "aws_config",
    "aws_credential_types",
    // HTTP stacks: headers, including `Authorization`.
    "hyper",
    "hyper_util",
    "hyper_rustls",
    "h2",
    "http",
    "reqwest",
    "octocrab",
    "tower",
    "tower_http",
    "rustls",
    "tokio_rustls",
];

/// The ceiling on [`CREDENTIAL_TARGETS`]: everything else is as `FERRY_LOG` says.
pub fn credential_ceiling() -> Targets {
    CREDENTIAL_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, target| t.with_target(*target, LevelFilter::DEBUG),
    )
}

/// Installs the log: `FERRY_LOG` (an `EnvFilter`, default [`DEFAULT_FILTER`])
/// under [`credential_ceiling`], written through [`SafeStderr`].
pub fn init(in_actions: bool) {
    init_with(in_actions, None);
}

/// [`init`], plus a layer that sees spans whatever `FERRY_LOG` says: the
/// trace exporter ([`crate::telemetry`]), which filters for itself.
pub fn init_with(in_actions: bool, spans: Option<crate::telemetry::SpanLayer>) {
    let filter =
        EnvFilter::try_from_env("FERRY_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // A second initialisation (tests) keeps the first subscriber.
    let _ = match spans {
        // FERRY_LOG filters everything: what it disables costs nothing.
        None => tracing_subscriber::registry()
            .with(filter)
            .with(log_layer(in_actions))
            .try_init(),
        // FERRY_LOG filters the log only; the span layer filters for itself.
        Some(spans) => tracing_subscriber::registry()
            .with(spans)
            .with(log_layer(in_actions).with_filter(filter))
            .try_init(),
    };
}

/// The log's formatting layer, under [`credential_ceiling`].
fn log_layer<S>(in_actions: bool) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(SafeStderr { in_actions })
        // Colours on a terminal only: escape codes help no log reader.
        .with_ansi(!in_actions && io::IsTerminal::is_terminal(&io::stderr()))
        .without_time()
        .with_filter(credential_ceiling())
}

/// Makes a panic's message (which may quote outside text) go through the
/// same scrubbing and defusing as the log.
pub fn install_panic_hook(in_actions: bool) {
    std::panic::set_hook(Box::new(move |info| {
        let text = format!("ferry panicked (a bug; please report it): {info}\n");
        let _ = io::stderr().write_all(safe(&text, in_actions).as_bytes());
    }));
}

/// `text` as it may reach stderr: secrets scrubbed, and in Actions, workflow
/// commands defused.
pub fn safe(text: &str, in_actions: bool) -> String {
    let scrubbed = super::secrets::scrub(text);
    if in_actions {
        commands::neutralise(&scrubbed).into_owned()
    } else {
        scrubbed.into_owned()
    }
}

/// The log's writer: each event is formatted into a buffer, then written to
/// stderr in one piece once scrubbed ([`safe`]).
#[derive(Debug, Clone, Copy)]
pub struct SafeStderr {
    /// Whether the runner reads stderr (GitHub Actions).
    pub in_actions: bool,
}

/// One event's text, written on drop.
#[derive(Debug)]
pub struct EventBuffer {
    in_actions: bool,
    buf: Vec<u8>,
}

impl Write for EventBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventBuffer {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        let _ = io::stderr()
            .lock()
            .write_all(safe(&text, self.in_actions).as_bytes());
    }
}

impl<'a> MakeWriter<'a> for SafeStderr {
    type Writer = EventBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        EventBuffer {
            in_actions: self.in_actions,
            buf: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_stops_credential_targets_at_debug_and_nothing_else() {
        let t = credential_ceiling();
        for target in [
            "aws_sigv4::http_request::sign",
            "aws_smithy_runtime::client::orchestrator",
            "hyper_util::client::legacy",
            "octocrab",
        ] {
            assert!(t.would_enable(target, &tracing::Level::DEBUG), "{target}");
            assert!(!t.would_enable(target, &tracing::Level::TRACE), "{target}");
        }
        assert!(t.would_enable("ferry::deploy", &tracing::Level::TRACE));
    }

    #[test]
    fn safe_text_defuses_only_in_actions() {
        assert_eq!(safe("x\n::error::y\n", false), "x\n::error::y\n");
        assert_eq!(safe("x\n::error::y\n", true), "x\n%3A%3Aerror%3A%3Ay\n");
    }
}
