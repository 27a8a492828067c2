//! The run's budget: the limits on outside input that a workflow may tune,
//! one place for their defaults (README's security table lists them) and
//! for reading them, once, at the binary's edge.
//!
//! A run meets each limit with a clear error that names the variable to
//! raise; the library reads [`current`], which holds the defaults until the
//! binary calls [`init`].

use std::sync::OnceLock;
use std::time::Duration;

/// The tunable limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// All Jsonnet evaluation of the run together (`FERRY_JSONNET_BUDGET_SECONDS`).
    pub jsonnet_run: Duration,
    /// The size of a plan's JSON (`FERRY_PLAN_MAX_BYTES`).
    pub plan_bytes: u64,
    /// The size of one GitHub answer (`FERRY_GITHUB_PAGE_BYTES`).
    pub github_page_bytes: usize,
    /// Pages read of one GitHub listing (`FERRY_GITHUB_MAX_PAGES`).
    pub github_pages: usize,
}

/// The variables that tune the budget, with what each sets.
pub const VARIABLES: [&str; 4] = [
    JSONNET_BUDGET_VAR,
    PLAN_BYTES_VAR,
    GITHUB_PAGE_BYTES_VAR,
    GITHUB_PAGES_VAR,
];

/// Tunes [`Budget::jsonnet_run`] (seconds).
pub const JSONNET_BUDGET_VAR: &str = "FERRY_JSONNET_BUDGET_SECONDS";
/// Tunes [`Budget::plan_bytes`].
pub const PLAN_BYTES_VAR: &str = "FERRY_PLAN_MAX_BYTES";
/// Tunes [`Budget::github_page_bytes`].
pub const GITHUB_PAGE_BYTES_VAR: &str = "FERRY_GITHUB_PAGE_BYTES";
/// Tunes [`Budget::github_pages`].
pub const GITHUB_PAGES_VAR: &str = "FERRY_GITHUB_MAX_PAGES";

/// The defaults: generous for any real repository, small enough that an
/// attack ends within minutes and within a runner's memory.
pub const DEFAULT: Budget = Budget {
    jsonnet_run: Duration::from_secs(120),
    plan_bytes: 256 << 20,
    github_page_bytes: 16 << 20,
    github_pages: 100,
};

static CURRENT: OnceLock<Budget> = OnceLock::new();

/// The run's budget ([`DEFAULT`] until [`init`]).
pub fn current() -> Budget {
    CURRENT.get().copied().unwrap_or(DEFAULT)
}

/// Reads the budget from the environment (`env` looks a variable up) and
/// makes it the run's. A value that is not a positive whole number is an
/// error naming the variable.
pub fn init(env: &dyn Fn(&str) -> Option<String>) -> Result<Budget, String> {
    let budget = from_env(env)?;
    let _ = CURRENT.set(budget);
    Ok(current())
}

/// The budget the environment describes, without making it the run's.
pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Budget, String> {
    let read = |name: &str, default: u64| -> Result<u64, String> {
        match env(name).map(|v| v.trim().to_string()) {
            None => Ok(default),
            Some(v) if v.is_empty() => Ok(default),
            Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!(
                    "{name} must be a positive whole number (default {default}), not {}",
                    crate::text::quote(&v)
                )
            }),
        }
    };
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Ok(Budget {
        jsonnet_run: Duration::from_secs(read(JSONNET_BUDGET_VAR, DEFAULT.jsonnet_run.as_secs())?),
        plan_bytes: read(PLAN_BYTES_VAR, DEFAULT.plan_bytes)?,
        github_page_bytes: size(read(
            GITHUB_PAGE_BYTES_VAR,
            DEFAULT.github_page_bytes as u64,
        )?),
        github_pages: size(read(GITHUB_PAGES_VAR, DEFAULT.github_pages as u64)?),
    })
}

/// `bytes` for a person: whole MiB or KiB when exact, else bytes.
pub fn show_bytes(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_bad_values_name_their_variable() {
        assert_eq!(from_env(&|_| None), Ok(DEFAULT));
        let small = from_env(&|k| (k == PLAN_BYTES_VAR).then(|| "1024".into())).unwrap();
        assert_eq!(small.plan_bytes, 1024);
        for bad in ["0", "-1", "1e6", "lots"] {
            let e = from_env(&|k| (k == GITHUB_PAGES_VAR).then(|| bad.into())).unwrap_err();
            assert!(e.starts_with(GITHUB_PAGES_VAR), "{e}");
        }
        assert_eq!(show_bytes(16 << 20), "16 MiB");
        assert_eq!(show_bytes(65536), "64 KiB");
        assert_eq!(show_bytes(1000), "1000 bytes");
    }
}
