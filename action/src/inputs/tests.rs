#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::images::parse_all as images;
use super::*;
use crate::manifest::Manifest;

fn manifest() -> Manifest {
    Manifest::parse(
        include_str!("../../../.github/ferry.yml"),
        std::path::Path::new(".github/ferry.yml"),
    )
    .unwrap()
}

fn named(names: &[&str]) -> Option<ServiceSelection> {
    Some(ServiceSelection::Named(
        names.iter().map(|n| n.to_string()).collect(),
    ))
}

#[test]
fn services_take_every_form_any_command_took() {
    let matrix = r#"{"include":[{"service":"b","dockerfile":"x"},{"service":"a"}]}"#;
    let cases: &[(&str, Option<ServiceSelection>)] = &[
        ("", None),
        ("  \n ", None),
        (" , ,\n", None),
        ("a", named(&["a"])),
        ("a,b", named(&["a", "b"])),
        ("a b\nc", named(&["a", "b", "c"])),
        (" a ,\tb,, ", named(&["a", "b"])),
        ("b,a,b,a", named(&["b", "a"])),
        (r#"["a","b"]"#, named(&["a", "b"])),
        (r#"[" a ","a"]"#, named(&["a"])),
        ("[]", named(&[])),
        (matrix, named(&["b", "a"])),
        (r#"{"include":[]}"#, named(&[])),
        (r#"[{"service":"a"}]"#, named(&["a"])),
        ("all", Some(ServiceSelection::All)),
        (" * ", Some(ServiceSelection::All)),
        ("a,all", Some(ServiceSelection::All)),
        (r#"["all"]"#, Some(ServiceSelection::All)),
    ];
    for (text, want) in cases {
        assert_eq!(&ServiceSelection::parse(text).unwrap(), want, "{text:?}");
    }
}

#[test]
fn services_refuse_json_that_names_no_service() {
    let cases = [
        ("[a", "`services` is not valid JSON"),
        ("{}", "must be a list of names or detect's matrix"),
        (
            r#"{"include":3}"#,
            "must be a list of names or detect's matrix",
        ),
        ("[1]", "`1` is not a service name"),
        (r#"[""]"#, r#"`\"\"` is not a service name"#),
        (r#"[{"name":"a"}]"#, "is not a service name"),
        (r#"[["a"]]"#, "is not a service name"),
    ];
    for (text, want) in cases {
        let err = ServiceSelection::parse(text).unwrap_err();
        assert!(err.contains(want), "{text:?}: {err}");
    }
}

#[test]
fn services_stay_safe_on_hostile_input() {
    // Deep nesting: serde's recursion limit, an error, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(ServiceSelection::parse(&deep).is_err());
    // A huge list is read (dedupe keeps it small); the resolve error is one short line.
    let huge = "x,".repeat(200_000);
    assert_eq!(ServiceSelection::parse(&huge).unwrap(), named(&["x"]));
    // Many distinct names: read in linear time, refused by the first unknown one.
    let distinct: Vec<String> = (0..200_000).map(|i| format!("s{i}")).collect();
    let started = std::time::Instant::now();
    let sel = ServiceSelection::parse(&distinct.join(","))
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(sel, ServiceSelection::Named(distinct));
    assert!(
        sel.resolve(&manifest())
            .unwrap_err()
            .starts_with("unknown service `s0`")
    );
    let long = "y".repeat(1 << 20);
    let err = ServiceSelection::parse(&long)
        .unwrap()
        .unwrap()
        .resolve(&manifest())
        .unwrap_err();
    assert!(err.len() < 400, "{}", err.len());
    // Control characters and line breaks are escaped in the refusal.
    let sel = ServiceSelection::parse(r#"["a\u001b[31m\u2028::error::x"]"#)
        .unwrap()
        .unwrap();
    let err = sel.resolve(&manifest()).unwrap_err();
    assert!(
        !err.chars().any(|c| c.is_control() || c == '\u{2028}'),
        "{err:?}"
    );
    assert!(err.starts_with("unknown service `a\\u{1b}"), "{err}");
}

#[test]
fn services_resolve_against_the_manifest() {
    let m = manifest();
    let resolve = |text: &str| ServiceSelection::parse(text).unwrap().unwrap().resolve(&m);
    assert_eq!(resolve("all").unwrap(), ["sampleapi", "sampleworker"]);
    assert_eq!(resolve("sampleworker").unwrap(), ["sampleworker"]);
    assert_eq!(
        resolve("sampleworker sampleapi").unwrap(),
        ["sampleworker", "sampleapi"]
    );
    assert_eq!(resolve(r#"["sampleapi"]"#).unwrap(), ["sampleapi"]);
    let matrix = r#"{"include":[{"service":"sampleworker","dockerfile":"x"}]}"#;
    assert_eq!(resolve(matrix).unwrap(), ["sampleworker"]);
    assert_eq!(
        resolve("sampleapi,nope").unwrap_err(),
        "unknown service `nope`: .github/ferry.yml declares sampleapi, sampleworker"
    );
}

#[test]
fn images_from_several_values_merge_under_one_duplicate_rule() {
    let two = |a: &str, b: &str| images(&[a.to_string(), b.to_string()]);
    // The same image twice is fine, in one value or across values.
    assert_eq!(two("a=r/a:1", "a=r/a:1").unwrap().len(), 1);
    assert_eq!(images(&["a=r/a:1,a=r/a:1"]).unwrap().len(), 1);
    assert_eq!(two(r#"{"a":"r/a:1"}"#, "a=r/a:1").unwrap()["a"], "r/a:1");
    // Two images for one service: refused, naming both, however given.
    let cases = [
        two("a=r/a:1", "a=r/a:2").unwrap_err(),
        images(&["a=r/a:1\na=r/a:2"]).unwrap_err(),
        two(r#"{"a":{"image":"r/a:1"}}"#, r#"{"a":"r/a:2"}"#).unwrap_err(),
        images(&[r#"{"a":"r/a:1","a":"r/a:2"}"#]).unwrap_err(),
    ];
    for err in cases {
        assert_eq!(
            err,
            "`images`: `a` is given twice, with `r/a:1` and `r/a:2`"
        );
    }
    // Blank values (an input not given) add nothing.
    assert!(two("", "  ").unwrap().is_empty());
}

#[test]
fn images_refuse_hostile_values_in_one_short_line() {
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let long = format!("a={}", "x ".repeat(1 << 19));
    let cases = [
        deep.as_str(),
        long.as_str(),
        "a=r/a:1\u{1b}[0m",
        "=r",
        "a=-r",
        "a\u{2028}b=r",
    ];
    for text in cases {
        let err = images(&[text]).unwrap_err();
        assert!(err.starts_with("`images`"), "{err}");
        assert!(!err.chars().any(char::is_control), "{err:?}");
        assert!(err.chars().count() < 400, "{}", err.len());
    }
}

#[test]
fn booleans_take_the_spellings_github_sends() {
    for t in ["true", "True", "TRUE", " yes ", "on", "1"] {
        assert_eq!(boolean(t), Ok(true), "{t}");
    }
    for f in ["", "  ", "false", "False", "no", "off", "0"] {
        assert_eq!(boolean(f), Ok(false), "{f:?}");
    }
    let err = boolean("ture").unwrap_err();
    assert!(
        err.contains("`ture`") && err.contains("true or false"),
        "{err}"
    );
    let err = boolean("t\nrue\u{1b}").unwrap_err();
    assert!(!err.chars().any(char::is_control), "{err:?}");
}

#[test]
fn durations_take_the_units_people_write() {
    let ok: &[(&str, Duration)] = &[
        ("90", Duration::from_secs(90)),
        ("90s", Duration::from_secs(90)),
        (" 15m ", Duration::from_secs(900)),
        ("1h", Duration::from_secs(3600)),
        ("250ms", Duration::from_millis(250)),
        ("5 m", Duration::from_secs(300)),
    ];
    for (text, want) in ok {
        assert_eq!(duration(text).unwrap(), *want, "{text:?}");
    }
    let refused = [
        ("0s", "more than zero"),
        ("5d", "unknown unit `d`"),
        ("soon", "not a duration"),
        ("", "not a duration"),
        ("-5s", "not a duration"),
        ("99999999999999999999s", "not a duration"),
        ("999999999999999999h", "too long"),
        ("5\u{1b}m", "unknown unit `\\u{1b}m`"),
    ];
    for (text, want) in refused {
        let err = duration(text).unwrap_err();
        assert!(err.contains(want), "{text:?}: {err}");
    }
}

#[test]
fn parallelism_has_one_range_for_the_flag_and_the_manifest() {
    assert_eq!(parallel("4", "--parallel"), Ok(4));
    assert_eq!(parallel(" 16 ", "--parallel"), Ok(16));
    assert_eq!(parallel_count(1, "build.parallel"), Ok(1));
    let cases = [
        (
            parallel("17", "--parallel"),
            "parallel: 17 is out of range (--parallel): give a number from 1 to 16",
        ),
        (
            parallel("0", "--parallel"),
            "parallel: 0 is out of range (--parallel): give a number from 1 to 16",
        ),
        (
            parallel("two", "--parallel"),
            "parallel: `two` is out of range (--parallel): give a number from 1 to 16",
        ),
        (
            parallel("-1", "--parallel"),
            "parallel: `-1` is out of range (--parallel): give a number from 1 to 16",
        ),
        (
            parallel_count(64, "build.parallel"),
            "parallel: 64 is out of range (build.parallel): give a number from 1 to 16",
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got.unwrap_err(), want);
    }
}

#[test]
fn builders_have_one_list_of_names() {
    let cases = [
        ("", None),
        (" ", None),
        ("docker", Some(BuilderKind::Docker)),
        ("BuildX", Some(BuilderKind::Docker)),
        ("buildah", Some(BuilderKind::Buildah)),
    ];
    for (text, want) in cases {
        assert_eq!(builder(text).unwrap(), want, "{text:?}");
    }
    assert_eq!(
        builder("kaniko").unwrap_err(),
        "`kaniko` is not a builder: use docker (or buildx) or buildah"
    );
    // The manifest reads the same names.
    let raw: crate::manifest::RawBuild = serde_yaml_ng::from_str("builder: buildx").unwrap();
    assert_eq!(raw.builder, Some(BuilderKind::Docker));
}

#[test]
fn times_and_pull_requests() {
    assert_eq!(rfc3339("2026-12-01T00:00:00Z"), Ok(1_796_083_200));
    let err = rfc3339("yesterday\n").unwrap_err();
    assert_eq!(
        err,
        "`yesterday` is not an RFC 3339 time: write e.g. 2026-12-01T00:00:00Z"
    );
    assert_eq!(pr_number("#12").unwrap(), 12);
    assert_eq!(pr_number(" 7 ").unwrap(), 7);
    for bad in ["0", "-3", "twelve", "", "#", "99999999999999999999999"] {
        assert!(
            pr_number(bad)
                .unwrap_err()
                .contains("is not a pull request number"),
            "{bad}"
        );
    }
}

#[test]
fn ext_vars_are_the_prefixed_variables() {
    let got = ext_vars([
        ("FERRY_EXT_IMAGE".to_string(), "i".to_string()),
        ("FERRY_EXT_".to_string(), "no name".to_string()),
        ("IMAGE".to_string(), "no".to_string()),
        ("ferry_ext_LOWER".to_string(), "no".to_string()),
    ]);
    assert_eq!(
        got,
        BTreeMap::from([("FERRY_EXT_IMAGE".to_string(), "i".to_string())])
    );
}

#[test]
fn blank_inputs_are_absent() {
    assert_eq!(present(Some(" \n".into())), None);
    assert_eq!(present(Some("x".into())), Some("x".into()));
    assert_eq!(present(None), None);
}
