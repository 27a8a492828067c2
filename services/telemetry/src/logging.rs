//! JSON log lines on stdout, one object per event, carrying the OpenTelemetry
//! `trace_id` and `span_id` of the span the event happened in.
//!
//! `tracing-subscriber`'s own JSON formatter does not know OpenTelemetry ids, and
//! those ids are what links a Loki line to its Jaeger trace; hence this layer.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::TraceContextExt as _;
use serde_json::{Map, Value};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Subscriber, span};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Where the lines go: stdout in the services, a buffer in tests.
#[derive(Clone)]
enum Sink {
    Stdout,
    Buffer(Arc<Mutex<Vec<u8>>>),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::Stdout => f.write_str("Stdout"),
            Sink::Buffer(_) => f.write_str("Buffer"),
        }
    }
}

/// The layer that writes one JSON object per event.
#[derive(Debug, Clone)]
pub struct JsonLayer {
    sink: Sink,
    /// The subscriber this layer is part of, to read OpenTelemetry ids from
    /// inside `on_event` (where `dispatcher::get_default` is not re-entrant).
    dispatch: Arc<OnceLock<WeakDispatch>>,
}

impl JsonLayer {
    /// Writes to stdout (the container log driver ships it to Loki/CloudWatch).
    pub fn stdout() -> Self {
        Self {
            sink: Sink::Stdout,
            dispatch: Arc::default(),
        }
    }

    /// Writes into a shared buffer, for tests of the format.
    pub fn buffer(buffer: Arc<Mutex<Vec<u8>>>) -> Self {
        Self {
            sink: Sink::Buffer(buffer),
            dispatch: Arc::default(),
        }
    }

    fn write_line(&self, line: &[u8]) {
        match &self.sink {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                // A closed stdout cannot be reported anywhere else.
                let _ = out.write_all(line);
                let _ = out.flush();
            }
            Sink::Buffer(buf) => {
                if let Ok(mut b) = buf.lock() {
                    b.extend_from_slice(line);
                }
            }
        }
    }
}

/// The fields of a span, recorded at creation and on `record`, kept in the span's
/// extensions.
#[derive(Debug, Default)]
struct SpanFields(Map<String, Value>);

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(s) = source {
            let _ = write!(text, ": {s}");
            source = s.source();
        }
        self.0.insert(field.name().to_owned(), Value::from(text));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}

impl<S> Layer<S> for JsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut fields = SpanFields::default();
            attrs.record(&mut JsonVisitor(&mut fields.0));
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(fields) = ext.get_mut::<SpanFields>() {
                values.record(&mut JsonVisitor(&mut fields.0));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut obj = Map::new();
        obj.insert("timestamp".into(), Value::from(rfc3339_now()));
        obj.insert("level".into(), Value::from(meta.level().as_str()));
        obj.insert("target".into(), Value::from(meta.target()));

        // Span fields, outermost first so inner spans win on a name clash.
        let mut leaf: Option<span::Id> = None;
        if let Some(scope) = ctx.event_scope(event) {
            let spans: Vec<_> = scope.from_root().collect();
            for span in &spans {
                let ext = span.extensions();
                if let Some(fields) = ext.get::<SpanFields>() {
                    for (k, v) in &fields.0 {
                        obj.insert(k.clone(), v.clone());
                    }
                }
            }
            if let Some(last) = spans.last() {
                obj.insert("span".into(), Value::from(last.name()));
                leaf = Some(last.id());
            }
        }

        let mut fields = Map::new();
        event.record(&mut JsonVisitor(&mut fields));
        for (k, v) in fields {
            obj.insert(k, v);
        }

        // No extension lock is held here: get_otel_context takes its own.
        if let Some(id) = leaf {
            let cx = self
                .dispatch
                .get()
                .and_then(WeakDispatch::upgrade)
                .and_then(|d| tracing_opentelemetry::get_otel_context(&id, &d));
            if let Some(cx) = cx {
                let span = cx.span();
                let sc = span.span_context();
                if sc.is_valid() {
                    obj.insert("trace_id".into(), Value::from(sc.trace_id().to_string()));
                    obj.insert("span_id".into(), Value::from(sc.span_id().to_string()));
                }
            }
        }

        let mut line = serde_json::to_vec(&Value::Object(obj)).unwrap_or_default();
        line.push(b'\n');
        self.write_line(&line);
    }
}

/// The current UTC time as RFC 3339 with milliseconds (what Loki and Grafana
/// parse), computed without a date crate.
fn rfc3339_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(d.as_secs(), d.subsec_millis())
}

fn format_rfc3339(secs: u64, millis: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant), days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn formats_dates() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(
            format_rfc3339(1_795_651_199, 999),
            "2026-11-25T23:59:59.999Z"
        );
    }

    #[test]
    fn lines_carry_trace_and_span_ids_and_fields() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")))
            .with(JsonLayer::buffer(buf.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(outside = 1, "no span");
            let span = tracing::info_span!("work", request_id = "r-1");
            let _g = span.enter();
            tracing::warn!(count = 3, "inside");
        });
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["message"], "no span");
        assert_eq!(lines[0]["outside"], 1);
        assert!(lines[0].get("trace_id").is_none());
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["message"], "inside");
        assert_eq!(lines[1]["request_id"], "r-1");
        assert_eq!(lines[1]["span"], "work");
        assert_eq!(lines[1]["count"], 3);
        assert_eq!(lines[1]["trace_id"].as_str().unwrap().len(), 32);
        assert_eq!(lines[1]["span_id"].as_str().unwrap().len(), 16);
    }
}
