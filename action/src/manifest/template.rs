//! Name templates such as `"{project}-{env}-sampleapi"`, and the one
//! placeholder engine ([`expand`], [`placeholders`]) that the release tag
//! template (`build.tag`) is expanded and checked with too.
//!
//! The ECS service, cluster and ECR repository names differ per environment
//! and project; templates let one manifest line name them all. Placeholders
//! are checked when the manifest loads, so a typo fails before any AWS call.

use std::fmt;

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &["project", "env", "service", "region"];

/// A validated name template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

/// The values placeholders expand to.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    /// `{project}`
    pub project: &'a str,
    /// `{env}`
    pub env: &'a str,
    /// `{service}`
    pub service: &'a str,
    /// `{region}`
    pub region: &'a str,
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// Byte offset of the problem inside the template.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl Template {
    /// Parses and checks a template.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        for part in parts(text) {
            match part {
                Part::Literal(_) => {}
                Part::Placeholder(offset, name) => {
                    if !PLACEHOLDERS.contains(&name) {
                        let help = match closest(name) {
                            Some(near) => format!(
                                "did you mean `{{{near}}}`? Known placeholders: {}",
                                known()
                            ),
                            None => format!("known placeholders: {}", known()),
                        };
                        return Err(TemplateError {
                            offset,
                            message: format!("unknown placeholder `{{{name}}}` in \"{text}\""),
                            help,
                        });
                    }
                }
                Part::Unclosed(offset) => {
                    return Err(TemplateError {
                        offset,
                        message: format!("unclosed `{{` in \"{text}\""),
                        help: format!("close it with `}}`; known placeholders: {}", known()),
                    });
                }
            }
        }
        Ok(Self(text.to_string()))
    }

    /// Expands the placeholders.
    pub fn render(&self, vars: Vars<'_>) -> String {
        expand(&self.0, |name| match name {
            "project" => Some(vars.project),
            "env" => Some(vars.env),
            "service" => Some(vars.service),
            "region" => Some(vars.region),
            // Unreachable after `parse`.
            _ => None,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the template uses `{env}` (a name that must differ per environment).
    pub fn uses(&self, placeholder: &str) -> bool {
        parts(&self.0).any(|p| matches!(p, Part::Placeholder(_, n) if n == placeholder))
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `text` with each `{name}` that `value` knows replaced by its value, in
/// one pass (a value is never expanded again); an unknown placeholder and
/// an unclosed `{` stay as written.
pub fn expand<'a>(text: &str, value: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    for part in parts(text) {
        match part {
            Part::Literal(s) => out.push_str(s),
            Part::Placeholder(offset, name) => match value(name) {
                Some(v) => out.push_str(v),
                None => out.push_str(&text[offset..offset + name.len() + 2]),
            },
            Part::Unclosed(offset) => out.push_str(&text[offset..]),
        }
    }
    out
}

/// The placeholders of `text` (`{name}` → `name`), up to an unclosed `{`.
pub fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    parts(text).filter_map(|p| match p {
        Part::Placeholder(_, name) => Some(name),
        _ => None,
    })
}

fn known() -> String {
    PLACEHOLDERS
        .iter()
        .map(|p| format!("{{{p}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn closest(name: &str) -> Option<&'static str> {
    suggest(PLACEHOLDERS.iter().copied(), name)
}

/// The candidate a typo most likely meant: within edit distance 2, or
/// sharing its first four characters (`stage` → `staging`).
pub(crate) fn suggest<'a>(
    candidates: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> Option<&'a str> {
    // Only names of similar length are compared character by character, so
    // a long hostile name costs no more than its length.
    let close_length = |c: &str| c.len().abs_diff(name.len()) <= 2 && name.len() <= 255;
    candidates
        .into_iter()
        .filter_map(|c| {
            let shared = c
                .chars()
                .zip(name.chars())
                .take_while(|(a, b)| a == b)
                .count();
            let d = if close_length(c) {
                edit_distance(c, name)
            } else {
                usize::MAX
            };
            (d <= 2 || shared >= 4).then_some((d, c))
        })
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance; names are short, so the quadratic table is fine.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

enum Part<'a> {
    Literal(&'a str),
    Placeholder(usize, &'a str),
    Unclosed(usize),
}

fn parts(text: &str) -> impl Iterator<Item = Part<'_>> {
    let mut rest = 0;
    std::iter::from_fn(move || {
        if rest >= text.len() {
            return None;
        }
        let tail = &text[rest..];
        match tail.find('{') {
            Some(0) => match tail.find('}') {
                Some(end) => {
                    let part = Part::Placeholder(rest, &tail[1..end]);
                    rest += end + 1;
                    Some(part)
                }
                None => {
                    let part = Part::Unclosed(rest);
                    rest = text.len();
                    Some(part)
                }
            },
            Some(open) => {
                rest += open;
                Some(Part::Literal(&tail[..open]))
            }
            None => {
                rest = text.len();
                Some(Part::Literal(tail))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: Vars<'static> = Vars {
        project: "shop",
        env: "prod",
        service: "api",
        region: "eu-west-1",
    };

    #[test]
    fn renders_every_placeholder() {
        let t = Template::parse("{project}-{env}-{service}@{region}").unwrap();
        assert_eq!(t.render(VARS), "shop-prod-api@eu-west-1");
        assert!(t.uses("env"));
        assert_eq!(Template::parse("plain").unwrap().render(VARS), "plain");
    }

    #[test]
    fn unknown_placeholder_suggests_the_closest() {
        let err = Template::parse("{project}-{enviroment}").unwrap_err();
        assert_eq!(err.offset, 10);
        assert!(err.message.contains("`{enviroment}`"), "{}", err.message);
        let err = Template::parse("x-{evn}").unwrap_err();
        assert!(err.help.contains("did you mean `{env}`"), "{}", err.help);
    }

    #[test]
    fn unclosed_brace_is_an_error() {
        let err = Template::parse("{project}-{env").unwrap_err();
        assert_eq!(err.offset, 10);
        assert!(err.message.contains("unclosed"));
    }

    #[test]
    fn one_engine_expands_in_one_pass_and_keeps_what_it_does_not_know() {
        let value = |name: &str| match name {
            "service" => Some("{sha}"),
            "sha" => Some("abc"),
            _ => None,
        };
        assert_eq!(expand("{service}-{sha}", value), "{sha}-abc");
        assert_eq!(expand("{other}-{sha}", value), "{other}-abc");
        assert_eq!(expand("x-{sha}-{open", value), "x-abc-{open");
        assert_eq!(placeholders("{a}-{b}-{c").collect::<Vec<_>>(), ["a", "b"]);
    }
}
