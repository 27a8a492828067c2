use super::*;
use crate::manifest::PathRules;

fn m(glob: &str, path: &str) -> bool {
    PathGlob::new(glob).unwrap().is_match(path)
}

fn rules(globs: &[&str]) -> Result<PathRules, GlobError> {
    Ok(PathRules {
        globs: globs.iter().map(|g| g.to_string()).collect(),
        matchers: globs
            .iter()
            .map(|g| PathGlob::new(g))
            .collect::<Result<_, _>>()?,
    })
}

/// The dialect's table: GitHub's own examples, picomatch's tests and the
/// shapes issue 24 found, with Ferry's answer and, where it differs from
/// the source's, why (tests/data/glob-dialect/cases.tsv).
#[test]
fn dialect_table() {
    let table = include_str!("../../../tests/data/glob-dialect/cases.tsv");
    let mut wrong = Vec::new();
    let (mut rows, mut disagreements, mut github) = (0, 0, 0);
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 6, "six columns: {line:?}");
        let [source, patterns, path, says, ferry_says, why] = cols[..] else {
            unreachable!()
        };
        rows += 1;
        let patterns: Vec<&str> = patterns.split(" ; ").collect();
        let answer = match rules(&patterns) {
            Err(_) => "refused",
            Ok(r) if r.first_match(path).is_some() => "match",
            Ok(_) => "no",
        };
        if answer != ferry_says {
            wrong.push(format!(
                "{patterns:?} on {path:?}: Ferry says {answer}, the table {ferry_says}"
            ));
        }
        if says != ferry_says {
            disagreements += 1;
            assert!(
                !why.is_empty(),
                "a disagreement with {source} must say why: {line:?}"
            );
            assert!(
                !source.starts_with("github:"),
                "Ferry's dialect is GitHub's: it may not disagree with GitHub's own example {line:?}"
            );
        }
        github += usize::from(source.starts_with("github:"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        rows >= 150 && github >= 50,
        "{rows} rows, {github} from GitHub"
    );
    println!("{rows} cases, {disagreements} documented disagreements");
}

#[test]
fn fast_paths_agree_with_the_dialect() {
    assert!(m("services/api/**", "services/api/src/main.rs"));
    assert!(m("services/api/**", "services/api/Dockerfile"));
    assert!(!m("services/api/**", "services/apiary/x"));
    assert!(!m("services/api/**", "services/api/"));
    assert!(m("Cargo.toml", "Cargo.toml"));
    assert!(!m("Cargo.toml", "x/Cargo.toml"));
}

#[test]
fn literal_prefix() {
    let prefix = |g: &str| PathGlob::new(g).unwrap().literal_prefix().to_string();
    assert_eq!(prefix("config/svc1.{yml,json}"), "config/svc1.");
    assert_eq!(prefix("**/*.md"), "");
    // `?` and `+` make the character before them optional or repeated.
    assert_eq!(prefix("src/page.jsx?"), "src/page.js");
    assert_eq!(prefix("v1+/x"), "v");
    assert_eq!(prefix("!docs/**"), "docs/");
    assert!(PathGlob::new("!docs/**").unwrap().is_negated());
}

/// Each refused form, with what its message names and the fix it gives.
#[test]
fn refused_forms_say_how_to_write_them() {
    let cases: &[(&str, &str, &str)] = &[
        ("**/*.@(js|ts)", "extglob `@(js|ts)`", "`{js,ts}`"),
        ("src/*(a|b)", "extglob `*(a|b)`", "`{a,b}`"),
        ("+(a|b)", "extglob `+(a|b)`", "braces"),
        ("!(a|b)", "extglob `!(a|b)`", "later `!` glob"),
        ("services/{1..3}/**", "range `{1..3}`", "`{1,2,3}`"),
        ("[!a]*", "negated class", "later `!` glob"),
        ("[^a]*", "negated class", "`[a-f0-9]`"),
        ("[[:alpha:]]", "POSIX class", "`[a-zA-Z0-9]`"),
        ("[a-Z]x", "range `a-Z`", "`[A-Z]`"),
        ("[z-a]", "range `z-a`", "`[a-f]`"),
        ("[]", "empty class", "`[ab]`"),
        ("a[/]b", "`/` inside `[]`", "outside the class"),
        ("src/[ab", "`[` that no `]` closes", "`\\[`"),
        ("src/{a,b", "`{` that no `}` closes", "`{yml,yaml}`"),
        ("src/a}", "`}` that closes no `{`", "`\\}`"),
        ("src/{a}", "single alternative", "`{,.prod}`"),
        ("docs/", "ends with `/`", "\"docs/**\""),
        ("?x", "`?` after no character", "`*.jsx?`"),
        ("*+", "`+` after no character", "`\\+`"),
        ("a\\", "`\\` that escapes nothing", "`\\\\`"),
        ("!", "negates nothing", "\"!services/api/docs/**\""),
        ("{a,b}+", "repeats a brace group", "`{a,aa}`"),
    ];
    for (glob, names, fix) in cases {
        let err = PathGlob::new(glob).expect_err(glob);
        assert!(
            err.message.contains(&format!("\"{glob}\"")) && err.message.contains(names),
            "{glob}: {}",
            err.message
        );
        assert!(err.help.contains(fix), "{glob}: {}", err.help);
    }
}

#[test]
fn negation_order_matters() {
    let r = rules(&["**/*.md", "!docs/**", "docs/keep.md"]).unwrap();
    assert_eq!(r.first_match("README.md"), Some("**/*.md"));
    assert_eq!(r.first_match("docs/a.md"), None);
    assert_eq!(r.first_match("docs/keep.md"), Some("docs/keep.md"));
}
