//! The Prometheus adapter: the only HTTP client to Prometheus. An instant
//! query ([`Prometheus::query`]) and a range query
//! ([`Prometheus::query_range`]) of the HTTP API, answering plain typed
//! samples; each request has a deadline and a size limit, and every error
//! names the URL and the query. What the numbers mean (an SLO burn, a canary
//! verdict) is the caller's decision.

use std::collections::BTreeMap;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use serde::Deserialize;

use crate::github::encode;

/// A label value as Prometheus reads it, in the text exposition format and
/// in a PromQL string literal alike: `\`, `"` and line feeds escaped, so a
/// value cannot end its label and start another.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// How long one request may take, the answer's body included.
const TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer read (a range query over many series is big; more is
/// a query that selects far more than it should).
const MAX_BODY_BYTES: usize = 16 << 20;

/// A Prometheus request that failed.
#[derive(Debug, thiserror::Error)]
#[error("Prometheus at {url}: {detail}{}", query.as_deref().map(|q| format!(" (query {})", crate::text::quote(q))).unwrap_or_default())]
pub struct PrometheusError {
    /// The base URL (never with credentials: they are refused).
    pub url: String,
    /// The PromQL, when a query was made.
    pub query: Option<String>,
    /// What went wrong.
    pub detail: String,
}

/// One series of an instant query: its labels and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels (`__name__` included when the query keeps it).
    pub labels: BTreeMap<String, String>,
    /// The value (NaN as Prometheus writes it).
    pub value: f64,
}

/// One series of a range query: its labels and its points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: BTreeMap<String, String>,
    /// `(seconds since the epoch, value)`, oldest first.
    pub points: Vec<(f64, f64)>,
}

/// A client for one Prometheus server.
#[derive(Debug, Clone)]
pub struct Prometheus {
    base: String,
    client: Client<crate::http::Https, Empty<Bytes>>,
}

impl Prometheus {
    /// A client for the server at `url` (`https://prometheus.example.com`,
    /// `http://127.0.0.1:9090`, with a path prefix when it has one).
    pub fn new(url: &str) -> Result<Self, PrometheusError> {
        let base = url.trim().trim_end_matches('/').to_string();
        let fail = |detail: String| PrometheusError {
            url: redacted(&base),
            query: None,
            detail,
        };
        crate::manifest::names::http_url(&base).map_err(|why| fail(format!("bad URL: {why}")))?;
        let client = crate::http::client().map_err(|e| fail(format!("no TLS roots: {e}")))?;
        Ok(Self { base, client })
    }

    /// The instant query `expr` evaluated at `at` (seconds since the epoch):
    /// one sample per series. A query that yields a scalar, a string or a
    /// range vector is an error.
    pub async fn query(&self, expr: &str, at: u64) -> Result<Vec<Sample>, PrometheusError> {
        let path = format!("/api/v1/query?query={}&time={at}", encode(expr));
        let data = self.get(&path, expr).await?;
        let fail = |detail: String| self.error(expr, detail);
        if data.result_type != "vector" {
            return Err(fail(format!(
                "the query must return an instant vector, not a {}",
                data.result_type
            )));
        }
        data.result
            .into_iter()
            .map(|s| {
                let (_, v) = s
                    .value
                    .ok_or_else(|| fail("a series has no value".into()))?;
                Ok(Sample {
                    labels: s.metric,
                    value: number(&v).map_err(fail)?,
                })
            })
            .collect()
    }

    /// The range query `expr` from `start` to `end` (seconds since the
    /// epoch) every `step`: one series of points per series.
    pub async fn query_range(
        &self,
        expr: &str,
        start: u64,
        end: u64,
        step: Duration,
    ) -> Result<Vec<Series>, PrometheusError> {
        let path = format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step={}",
            encode(expr),
            step.as_secs_f64()
        );
        let data = self.get(&path, expr).await?;
        let fail = |detail: String| self.error(expr, detail);
        if data.result_type != "matrix" {
            return Err(fail(format!(
                "a range query must return a matrix, not a {}",
                data.result_type
            )));
        }
        data.result
            .into_iter()
            .map(|s| {
                let points = s
                    .values
                    .into_iter()
                    .map(|(t, v)| Ok((t, number(&v)?)))
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(fail)?;
                Ok(Series {
                    labels: s.metric,
                    points,
                })
            })
            .collect()
    }

    fn error(&self, expr: &str, detail: String) -> PrometheusError {
        PrometheusError {
            url: redacted(&self.base),
            query: Some(expr.to_string()),
            detail,
        }
    }

    /// GET `path`, within the deadline and the size limit; the `data` of a
    /// `success` answer.
    async fn get(&self, path: &str, expr: &str) -> Result<Data, PrometheusError> {
        let fail = |detail: String| self.error(expr, detail);
        let uri: hyper::Uri = format!("{}{path}", self.base)
            .parse()
            .map_err(|e| fail(format!("bad URL: {e}")))?;
        let request = async {
            let response = self
                .client
                .get(uri)
                .await
                .map_err(|e| format!("unreachable: {}", crate::outside::chain(&e)))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| format!("HTTP {status}, the answer could not be read: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, body))
        };
        let (status, body) = tokio::time::timeout(TIMEOUT, request)
            .await
            .map_err(|_| fail(format!("no answer within {}s", TIMEOUT.as_secs())))?
            .map_err(fail)?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            fail(format!(
                "HTTP {status}, not a Prometheus API answer ({e}): {}",
                crate::outside::body_detail(&String::from_utf8_lossy(&body))
            ))
        })?;
        if answer.status != "success" {
            return Err(fail(format!(
                "the query failed: {}",
                answer.error.unwrap_or_else(|| format!("HTTP {status}"))
            )));
        }
        answer
            .data
            .ok_or_else(|| fail("the answer has no data".into()))
    }
}

/// A value as the API writes it: a string holding a number, `NaN` or `±Inf`.
fn number(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        v => v
            .parse::<f64>()
            .map_err(|e| format!("value {v:?} is not a number: {e}")),
    }
}

/// `url` with any `user:password@` replaced by `***@`, for messages.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[end..]),
        None => url.to_string(),
    }
}

#[derive(Debug, Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<RawSeries>,
}

#[derive(Debug, Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<(f64, String)>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_as_prometheus_writes_them() {
        assert_eq!(number("1.5"), Ok(1.5));
        assert!(number("NaN").unwrap().is_nan());
        assert_eq!(number("+Inf"), Ok(f64::INFINITY));
        assert!(number("many").unwrap_err().contains("\"many\""));
    }

    #[test]
    fn credentials_never_reach_a_message() {
        assert_eq!(
            redacted("https://u:p@prom.example.com/x?y"),
            "https://***@prom.example.com/x?y"
        );
        assert_eq!(redacted("http://127.0.0.1:9090"), "http://127.0.0.1:9090");
        let e = Prometheus::new("https://u:secret@prom.example.com").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(e.to_string().contains("user name or password"), "{e}");
    }

    #[test]
    fn errors_name_the_url_and_the_query() {
        let e = PrometheusError {
            url: "http://prom".into(),
            query: Some("up\n== 0".into()),
            detail: "unreachable: refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "Prometheus at http://prom: unreachable: refused (query `up\\n== 0`)"
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_is_an_error_naming_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let e = Prometheus::new(&url)
            .unwrap()
            .query("up", 0)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("Prometheus at {url}: unreachable")),
            "{e}"
        );
    }
}
