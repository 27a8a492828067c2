//! Configuration from the environment, validated at start.
//!
//! A service on ECS gets its configuration from the task definition's
//! `environment`; a typo there must stop the task at once with a line that names
//! the variable (visible in the stopped task's reason and in the logs), not
//! surface later as a confusing runtime error.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A configuration error naming the variable, its value and what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: String,
    /// What is wrong and what a valid value looks like.
    pub message: String,
}

impl ConfigError {
    /// A bad value: `value` is echoed (truncated) so the operator sees what was
    /// read.
    pub fn new(var: &str, value: &str, expected: &str) -> Self {
        let shown: String = value.chars().take(80).collect();
        Self {
            var: var.to_owned(),
            message: format!("invalid value {shown:?}: {expected}"),
        }
    }

    /// A required variable that is unset or empty.
    pub fn missing(var: &str, expected: &str) -> Self {
        Self {
            var: var.to_owned(),
            message: format!("is required but not set: {expected}"),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {} {}", self.var, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A snapshot of the environment. Services read it once at start; tests build
/// one from pairs instead of mutating the process environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The process environment (variables that are not UTF-8 are ignored).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of the given pairs, for tests.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self {
            vars: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// The trimmed value, `None` when unset or blank (an empty value in a task
    /// definition means "not set").
    pub fn optional(&self, var: &str) -> Option<String> {
        self.vars
            .get(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A required value.
    pub fn required(&self, var: &str, expected: &str) -> Result<String, ConfigError> {
        self.optional(var)
            .ok_or_else(|| ConfigError::missing(var, expected))
    }

    /// A parsed value with a default.
    pub fn parse_or<T: FromStr>(
        &self,
        var: &str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        match self.optional(var) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|_| ConfigError::new(var, &raw, expected)),
        }
    }

    /// A number within `min..=max`, with a default.
    pub fn range_or(
        &self,
        var: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        let expected = format!("an integer from {min} to {max}");
        let v: u64 = self.parse_or(var, default, &expected)?;
        if (min..=max).contains(&v) {
            Ok(v)
        } else {
            Err(ConfigError::new(var, &v.to_string(), &expected))
        }
    }

    /// A duration in milliseconds within `min..=max`, with a default.
    pub fn millis_or(
        &self,
        var: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<Duration, ConfigError> {
        self.range_or(var, default, min, max)
            .map(Duration::from_millis)
    }

    /// A boolean: `true`/`false`/`1`/`0`/`yes`/`no` (any case), with a default.
    pub fn bool_or(&self, var: &str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(var) {
            None => Ok(default),
            Some(raw) => match raw.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::new(var, &raw, "true or false")),
            },
        }
    }

    /// A TCP port (1-65535), with a default.
    pub fn port_or(&self, var: &str, default: u16) -> Result<u16, ConfigError> {
        let expected = "a TCP port from 1 to 65535";
        let p: u16 = self.parse_or(var, default, expected)?;
        if p == 0 {
            return Err(ConfigError::new(var, "0", expected));
        }
        Ok(p)
    }
}

/// Prints the error as one line on stderr and exits with status 2: the contract
/// for a bad configuration.
pub fn exit_with(error: &ConfigError) -> ! {
    eprintln!("{error}");
    std::process::exit(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_defaults() {
        let env = Env::from_pairs(&[("A", " 42 "), ("B", ""), ("F", "TRUE"), ("P", "8080")]);
        assert_eq!(env.range_or("A", 1, 0, 100).unwrap(), 42);
        assert_eq!(env.range_or("B", 7, 0, 100).unwrap(), 7);
        assert!(env.bool_or("F", false).unwrap());
        assert!(!env.bool_or("missing", false).unwrap());
        assert_eq!(env.port_or("P", 1).unwrap(), 8080);
        assert_eq!(
            env.millis_or("A", 5, 0, 100).unwrap(),
            Duration::from_millis(42)
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let env = Env::from_pairs(&[("PORT", "http"), ("N", "500"), ("F", "maybe"), ("Z", "0")]);
        let e = env.port_or("PORT", 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration error: PORT invalid value \"http\": a TCP port from 1 to 65535"
        );
        assert!(
            env.range_or("N", 1, 1, 100)
                .unwrap_err()
                .to_string()
                .contains("N ")
        );
        assert!(
            env.bool_or("F", false)
                .unwrap_err()
                .to_string()
                .contains("F ")
        );
        assert!(env.port_or("Z", 1).is_err());
        let e = env.required("SQS_QUEUE_URL", "the queue URL").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("configuration error: SQS_QUEUE_URL is required")
        );
        assert!(!e.to_string().contains('\n'));
    }
}
