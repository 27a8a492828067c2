//! `ferry metrics`' renderers on any names and values: the summary stays one
//! table (a row per key, seven cells each) with one Mermaid block per
//! environment, no name escapes its cell or code span, and every exposition
//! line is a comment or `name{labels} value` with labels that parse back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferry::metrics::render::{prometheus, summary};
use ferry::metrics::{Keys, Report, Window};
use proptest::prelude::*;
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

fn keys(service: String, environment: String, n: u64, secs: Option<u64>) -> Keys {
    Keys {
        service,
        environment,
        deployments: n,
        successes: n / 2,
        failures: n - n / 2,
        rollbacks: n / 3,
        frequency_per_week: n as f64 / 4.0,
        lead_time_median_secs: secs,
        lead_time_samples: n,
        lead_time_lower_bound: n.is_multiple_of(2),
        change_failure_rate: (n > 0).then_some(0.5),
        time_to_restore_median_secs: secs.map(|s| s / 2),
        restored: n / 2,
        unrestored: n % 3,
        weekly_successes: vec![n; 5],
    }
}

/// Labels of one exposition line, parsed as Prometheus does.
fn parse_labels(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let name: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if chars.next() != Some('=') || chars.next() != Some('"') {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    _ => return None,
                },
                '"' => break,
                '\n' => return None,
                c => value.push(c),
            }
        }
        out.push((name, value));
        match chars.next() {
            Some(',') => continue,
            None => return Some(out),
            _ => return None,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_names_keep_the_summary_one_table_and_the_exposition_parseable(
        names in prop::collection::vec(("\\PC{0,20}|[|`<>\\\\\"\n\r@#*]{1,6}", "\\PC{0,12}|[\"`\n]{1,4}"), 1..6),
        n in 0u64..50,
        secs in prop::option::of(0u64..10_000_000),
    ) {
        let report = Report {
            window: Window { start: 1_793_491_200, end: 1_793_491_200 + 30 * 86_400 },
            keys: names.iter().map(|(s, e)| keys(s.clone(), e.clone(), n, secs)).collect(),
        };
        let md = summary(&report);
        let mut rows = 0;
        let mut cells = 0;
        let mut mermaid = 0;
        let mut in_row = false;
        for event in Parser::new_ext(&md, Options::ENABLE_TABLES) {
            match event {
                Event::Start(Tag::TableRow) => { rows += 1; in_row = true; cells = 0; }
                Event::Start(Tag::TableCell) if in_row => cells += 1,
                Event::End(TagEnd::TableRow) => { prop_assert_eq!(cells, 7, "{}", md); in_row = false; }
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
                    prop_assert_eq!(lang.as_ref(), "mermaid");
                    mermaid += 1;
                }
                Event::Html(h) | Event::InlineHtml(h) => prop_assert!(false, "HTML {h} in {md}"),
                _ => {}
            }
        }
        prop_assert_eq!(rows, report.keys.len());
        prop_assert_eq!(mermaid, report.keys.iter().filter(|k| k.service == "*").count());

        for line in prometheus(&report).lines() {
            if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            prop_assert!(value.parse::<f64>().is_ok() || value == "NaN", "{line}");
            let Some((name, labels)) = series.split_once('{') else {
                prop_assert_eq!(series, "ferry_dora_window_seconds");
                continue;
            };
            prop_assert!(name.starts_with("ferry_dora_"));
            let labels = parse_labels(labels.strip_suffix('}').unwrap());
            prop_assert!(labels.is_some(), "{line}");
            let labels = labels.unwrap();
            prop_assert_eq!(labels[0].0.as_str(), "service");
            prop_assert!(report.keys.iter().any(|k| k.service == labels[0].1 && k.environment == labels[1].1), "{line}");
        }
    }
}
