//! The second line of defence for secrets.
//!
//! Rendering already replaces every value marked sensitive. The redactor
//! then scrubs the finished text (comment, summary, stdout) of every
//! sensitive value the plan holds, of sensitive variables' values (which the
//! plan JSON stores in clear), and of the user's `--redact` patterns, so a
//! secret that also shows up unmarked somewhere (a provider that forgot to
//! mark it, a template that prints too much) still never leaves.

use regex::Regex;
use serde_json::Value;

use super::diff::{Mask, mask_of};
use super::error::PlanCommentError;
use super::model::{RawChange, RawPlan};

/// Text that replaces a redacted value.
pub const REDACTED: &str = "(redacted)";
/// Shorter values are not scrubbed from the text: they would hit everything.
const MIN_LITERAL_CHARS: usize = 4;

/// Scrubs known secret values and user patterns from rendered text.
#[derive(Debug, Default)]
pub struct Redactor {
    literals: Option<Regex>,
    patterns: Vec<Regex>,
}

impl Redactor {
    /// Collects the plan's sensitive values and compiles the user's patterns.
    pub fn new(plan: &RawPlan, patterns: &[String]) -> Result<Redactor, PlanCommentError> {
        let mut secrets = Vec::new();
        let changes = plan
            .resource_changes
            .iter()
            .flatten()
            .chain(plan.resource_drift.iter())
            .map(|rc| &rc.change)
            .chain(
                plan.deferred_changes
                    .iter()
                    .map(|d| &d.resource_change.change),
            )
            .chain(plan.output_changes.values());
        for change in changes {
            collect_change(change, &mut secrets);
        }
        let sensitive_vars = plan
            .configuration
            .as_ref()
            .map(|c| &c.root_module.variables);
        for (name, var) in &plan.variables {
            if sensitive_vars
                .and_then(|v| v.get(name))
                .is_some_and(|v| v.sensitive)
            {
                collect(&var.value, &Value::Bool(true), &mut secrets);
            }
        }
        Self::from_parts(secrets, patterns)
    }

    /// Builds a redactor from literal secrets and regular expressions.
    pub fn from_parts(
        mut secrets: Vec<String>,
        patterns: &[String],
    ) -> Result<Redactor, PlanCommentError> {
        // Also the JSON-escaped form, which is how strings appear in diffs.
        let escaped: Vec<String> = secrets
            .iter()
            .filter_map(|s| serde_json::to_string(s).ok())
            .map(|q| q[1..q.len() - 1].to_string())
            .collect();
        secrets.extend(escaped);
        secrets.retain(|s| s.chars().count() >= MIN_LITERAL_CHARS);
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        let literals = if secrets.is_empty() {
            None
        } else {
            let alternation: Vec<String> = secrets.iter().map(|s| regex::escape(s)).collect();
            // Cannot fail: escaped literals only. Still mapped, not unwrapped.
            Some(
                regex::RegexBuilder::new(&alternation.join("|"))
                    .size_limit(64 << 20)
                    .build()
                    .map_err(|e| {
                        PlanCommentError::Config(format!(
                            "too many sensitive values to redact: {e}"
                        ))
                    })?,
            )
        };
        let patterns = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Regex::new(p).map_err(|e| PlanCommentError::RedactPattern {
                    index: i + 1,
                    // regex's message quotes the pattern, which may itself be a secret.
                    detail: e.to_string().lines().last().unwrap_or_default().to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Redactor { literals, patterns })
    }

    /// Returns `text` with every secret and pattern match replaced.
    pub fn redact(&self, text: &str) -> String {
        self.redact_owned(text.to_string())
    }

    /// Like [`Redactor::redact`], without copying text that has nothing to replace.
    pub fn redact_owned(&self, mut text: String) -> String {
        for re in self.literals.iter().chain(&self.patterns) {
            if let std::borrow::Cow::Owned(replaced) = re.replace_all(&text, REDACTED) {
                text = replaced;
            }
        }
        text
    }
}

fn collect_change(change: &RawChange, out: &mut Vec<String>) {
    // Masks are small: read them first, and the values only when they mark
    // something. A mask that cannot be read marks everything.
    let mask = |m: &Option<Box<serde_json::value::RawValue>>| {
        m.as_ref().map_or(Value::Null, |r| {
            serde_json::from_str(r.get()).unwrap_or(Value::Bool(true))
        })
    };
    let marks = |m: &Value| mask_of(m, None) != Mask::Clear;
    if !marks(&mask(&change.before_sensitive)) && !marks(&mask(&change.after_sensitive)) {
        return;
    }
    let v = change.values();
    collect(&v.before, &v.before_sensitive, out);
    collect(&v.after, &v.after_sensitive, out);
}

/// Collects the leaves of `value` that `mask` marks sensitive; where the
/// mask cannot be applied ([`mask_of`]), every leaf below.
fn collect(value: &Value, mask: &Value, out: &mut Vec<String>) {
    match (mask_of(mask, Some(value)), value) {
        (Mask::Clear, _) => {}
        (Mask::Whole, _) => collect_all(value, out),
        (Mask::Parts(Value::Object(m)), Value::Object(o)) => {
            for (k, v) in o {
                if let Some(mk) = m.get(k) {
                    collect(v, mk, out);
                }
            }
        }
        (Mask::Parts(Value::Array(m)), Value::Array(a)) => {
            for (mk, v) in m.iter().zip(a) {
                collect(v, mk, out);
            }
        }
        (Mask::Parts(_), _) => {}
    }
}

/// Every leaf of a sensitive value.
fn collect_all(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            out.push(s.clone());
            // Multi-line secrets (keys, certificates) line by line too.
            out.extend(s.lines().filter(|l| l.len() >= 8).map(str::to_string));
        }
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|v| collect_all(v, out)),
        Value::Object(o) => {
            // A map marked sensitive as a whole hides its keys too.
            for (k, v) in o {
                out.push(k.clone());
                collect_all(v, out);
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_literals_and_patterns() {
        let r = Redactor::from_parts(
            vec!["hunter2-canary".into(), "ab".into()],
            &["AKIA[0-9A-Z]{16}".into()],
        )
        .unwrap();
        let out = r.redact("x hunter2-canary y AKIAABCDEFGHIJKLMNOP ab");
        assert_eq!(out, "x (redacted) y (redacted) ab");
    }

    #[test]
    fn pattern_errors_do_not_echo_the_pattern() {
        let e = Redactor::from_parts(vec![], &["(s3cret".into()])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
    }
}
