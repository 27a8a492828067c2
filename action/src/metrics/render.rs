//! The report as people and tools read it: the job summary (a table and a
//! Mermaid chart per environment), JSON, and Prometheus text exposition.

use std::fmt::Write as _;

use serde::Serialize;

use super::compute::{Keys, Report};
use crate::markdown;
use crate::prometheus::escape_label as label;
use crate::time::date;

const SUMMARY: &str = include_str!("../../templates/metrics-summary.md.tera");

/// A duration in the one style of every report ([`crate::time::duration`]).
fn duration(secs: u64) -> String {
    crate::time::duration(secs as f64)
}

/// A name inside a Mermaid string: only characters that cannot end the
/// string or the block.
fn mermaid_text(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ' | ':') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect()
}

#[derive(Debug, Serialize)]
struct Row<'a> {
    environment: &'a str,
    service: &'a str,
    all: bool,
    deployments: u64,
    failures: u64,
    rollbacks: u64,
    frequency: String,
    lead_time: String,
    change_failure_rate: String,
    time_to_restore: String,
}

#[derive(Debug, Serialize)]
struct View<'a> {
    from: String,
    to: String,
    days: u64,
    rows: Vec<Row<'a>>,
    charts: Vec<String>,
}

fn row(k: &Keys) -> Row<'_> {
    let lead_time = match k.lead_time_median_secs {
        None => "–".to_string(),
        Some(s) => format!(
            "{}{} ({} sample{})",
            if k.lead_time_lower_bound { "≥ " } else { "" },
            duration(s),
            k.lead_time_samples,
            if k.lead_time_samples == 1 { "" } else { "s" }
        ),
    };
    let time_to_restore = match (k.time_to_restore_median_secs, k.unrestored) {
        (None, 0) => "–".to_string(),
        (None, n) => format!("{n} not restored"),
        (Some(s), 0) => duration(s),
        (Some(s), n) => format!("{} ({n} not restored)", duration(s)),
    };
    Row {
        environment: &k.environment,
        service: &k.service,
        all: k.service == "*",
        deployments: k.deployments,
        failures: k.failures,
        rollbacks: k.rollbacks,
        frequency: format!("{:.1}", k.frequency_per_week),
        lead_time,
        change_failure_rate: k
            .change_failure_rate
            .map_or_else(|| "–".to_string(), |r| format!("{:.0} %", r * 100.0)),
        time_to_restore,
    }
}

/// One Mermaid bar chart of an environment's successful deployments per week.
fn chart(k: &Keys, window_start: u64) -> String {
    let labels: Vec<String> = (0..k.weekly_successes.len() as u64)
        .map(|w| format!("\"{}\"", &date(window_start + w * 7 * 86_400)[5..]))
        .collect();
    let values: Vec<String> = k.weekly_successes.iter().map(u64::to_string).collect();
    format!(
        "```mermaid\nxychart-beta\n    title \"{}: successful deployments per week\"\n    x-axis [{}]\n    y-axis \"deployments\"\n    bar [{}]\n```",
        mermaid_text(&k.environment),
        labels.join(", "),
        values.join(", ")
    )
}

/// The job summary: the four keys per service and environment, and a chart
/// of each environment's weekly deployments.
pub fn summary(report: &Report) -> String {
    let view = View {
        from: date(report.window.start),
        to: date(report.window.end),
        days: report.window.end.saturating_sub(report.window.start) / 86_400,
        rows: report.keys.iter().map(row).collect(),
        charts: report
            .keys
            .iter()
            .filter(|k| k.service == "*")
            .map(|k| chart(k, report.window.start))
            .collect(),
    };
    let mut tera = markdown::tera();
    tera.add_raw_template("metrics-summary.md", SUMMARY)
        .and_then(|_| tera::Context::from_serialize(&view))
        .and_then(|c| tera.render("metrics-summary.md", &c))
        .unwrap_or_else(|e| format!("metrics summary could not be rendered: {e}\n"))
}

/// The report as JSON (pretty, with a trailing newline).
pub fn json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

/// A float as the exposition format writes it.
fn number(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "NaN".into()
    }
}

/// The report in Prometheus text exposition format (for a Pushgateway or a
/// node exporter's textfile collector). Every series is labelled `service`
/// (`*` for the whole environment) and `environment`; a key without a value
/// (no sample in the window) is left out rather than written as 0.
pub fn prometheus(report: &Report) -> String {
    type Get = fn(&Keys) -> Option<f64>;
    let families: [(&str, &str, Get); 8] = [
        (
            "ferry_dora_deployments",
            "Finished deployments in the window.",
            |k| Some(k.deployments as f64),
        ),
        (
            "ferry_dora_change_failures",
            "Deployments counted as change failures (failed, or rolled back) in the window.",
            |k| Some(k.failures as f64),
        ),
        (
            "ferry_dora_deployment_frequency_per_week",
            "Successful deployments per week over the window.",
            |k| Some(k.frequency_per_week),
        ),
        (
            "ferry_dora_lead_time_median_seconds",
            "Median time from the first commit of a change to its successful deployment.",
            |k| k.lead_time_median_secs.map(|s| s as f64),
        ),
        (
            "ferry_dora_change_failure_ratio",
            "Change failures over finished deployments.",
            |k| k.change_failure_rate,
        ),
        (
            "ferry_dora_time_to_restore_median_seconds",
            "Median time from a failed deployment to the next successful one.",
            |k| k.time_to_restore_median_secs.map(|s| s as f64),
        ),
        (
            "ferry_dora_unrestored_failures",
            "Change failures not restored by the end of the window.",
            |k| Some(k.unrestored as f64),
        ),
        (
            "ferry_dora_lead_time_samples",
            "Deployments the lead time was measured on.",
            |k| Some(k.lead_time_samples as f64),
        ),
    ];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP ferry_dora_window_seconds The length of the window the keys cover.\n# TYPE ferry_dora_window_seconds gauge\nferry_dora_window_seconds {}",
        report.window.end.saturating_sub(report.window.start)
    );
    for (name, help, get) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for k in &report.keys {
            if let Some(v) = get(k) {
                let _ = writeln!(
                    out,
                    "{name}{{service=\"{}\",environment=\"{}\"}} {}",
                    label(&k.service),
                    label(&k.environment),
                    number(v)
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_793_491_200), "2026-11-01");
    }

    #[test]
    fn label_values_cannot_end_the_label() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(mermaid_text("p\"r`o\nd"), "p_r_o_d");
    }
}
