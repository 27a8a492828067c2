//! The secret values of this process, so every writer can scrub them.
//!
//! The runner masks a value only once it has seen `::add-mask::`, and only in
//! what it logs; Ferry's own log lines (any `FERRY_LOG` level), error messages
//! and reports must never carry one either. Credentials from the environment
//! are remembered at start-up, and each value the [`super::Reporter`] masks
//! (the ECR password, the GitHub token) is added when it is masked.

use std::borrow::Cow;
use std::sync::RwLock;

/// Environment variables that hold credentials in a workflow or on a laptop.
pub const SECRET_VARS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "INPUT_GITHUB-TOKEN",
    "INPUT_GITHUB_TOKEN",
    "INPUT_TOKEN",
    // The plan digest's key (`plan-key`).
    "INPUT_PLAN-KEY",
    "INPUT_PLAN_KEY",
    "FERRY_PLAN_KEY",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
];

/// Shorter values are not credentials (`test` in a test bed) and scrubbing
/// them would garble every log line.
const MIN_LEN: usize = 8;

static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers `value` (trimmed) as a secret of this process.
pub fn remember(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_LEN {
        return;
    }
    let mut known = match KNOWN.write() {
        Ok(k) => k,
        Err(poisoned) => poisoned.into_inner(),
    };
    if known.iter().any(|k| k == value) {
        return;
    }
    known.push(value.to_string());
    // Longest first, so a secret that contains another is replaced whole.
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// Remembers the credentials found through `env` (a variable lookup).
pub fn remember_env(env: &dyn Fn(&str) -> Option<String>) {
    for var in SECRET_VARS {
        if let Some(value) = env(var) {
            remember(&value);
        }
    }
}

/// `text` with every remembered secret replaced by `***`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let known = match KNOWN.read() {
        Ok(k) => k,
        Err(poisoned) => poisoned.into_inner(),
    };
    let mut out = Cow::Borrowed(text);
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), "***"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_values_are_scrubbed_and_short_ones_ignored() {
        remember("  s3cr3t-value-for-scrub-test\n");
        remember("s3cr3t-value-for-scrub-test-longer");
        remember("short");
        assert_eq!(
            scrub("a s3cr3t-value-for-scrub-test-longer b s3cr3t-value-for-scrub-test c short"),
            "a *** b *** c short"
        );
        let vars = |k: &str| (k == "AWS_SESSION_TOKEN").then(|| "FwoGZXIvYXdzEXAMPLE".to_string());
        remember_env(&vars);
        assert_eq!(scrub("token=FwoGZXIvYXdzEXAMPLE"), "token=***");
    }
}
