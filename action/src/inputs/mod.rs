//! The grammar of every value a user gives Ferry: command-line flags, action
//! inputs (`INPUT_*`, which the runner sets empty when not given) and the
//! manifest's settings.
//!
//! One set of rules for all of them, so a value that one command accepts
//! another accepts too, and a refusal reads the same wherever it happens.
//! The binary parses at its edge (bad input fails before any work); the
//! library's options carry the typed results.

pub mod images;
pub mod services;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

pub use services::ServiceSelection;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::text::quote;

/// How many services may build at once: the same range for `--parallel`
/// and the manifest's `build.parallel`.
pub const PARALLEL: std::ops::RangeInclusive<u64> = 1..=16;

/// Which program builds and pushes images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(transform = builder_alias)]
pub enum BuilderKind {
    /// `docker buildx build --push` (GitHub-hosted runners have it).
    #[default]
    #[serde(alias = "buildx")]
    Docker,
    /// `buildah build` + `buildah push` (no daemon needed).
    Buildah,
}

/// The schema lists `buildx`, which the manifest reads as `docker` (as the
/// command line does), so editors accept what Ferry accepts.
fn builder_alias(schema: &mut schemars::Schema) {
    if let Some(serde_json::Value::Array(variants)) = schema.get_mut("oneOf") {
        variants.push(serde_json::json!({
            "const": "buildx",
            "description": "Another name for `docker`.",
            "type": "string",
        }));
    }
}

/// An action input the runner set empty means "not given".
pub fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// A boolean flag value or action input: `true`/`false` (any case), also
/// `yes`/`no`, `on`/`off`, `1`/`0`; empty (an input not given) is false.
/// Anything else is refused rather than guessed.
pub fn boolean(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "off" | "0" => Ok(false),
        "true" | "yes" | "on" | "1" => Ok(true),
        _ => Err(format!(
            "{} is not a boolean: use true or false",
            quote(text.trim())
        )),
    }
}

/// A duration (`--timeout`, `--poll-interval`): `90` (seconds), `90s`,
/// `15m`, `1h`, `250ms`; more than zero.
pub fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{} is not a duration: write 90s, 15m or 1h", quote(t)))?;
    let d = match unit.trim() {
        "" | "s" => Some(Duration::from_secs(n)),
        "ms" => Some(Duration::from_millis(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        other => {
            return Err(format!(
                "{}: unknown unit {}; use ms, s, m or h",
                quote(t),
                quote(other)
            ));
        }
    };
    match d {
        None => Err(format!("{}: too long", quote(t))),
        Some(d) if d.is_zero() => Err(format!("{}: a duration must be more than zero", quote(t))),
        Some(d) => Ok(d),
    }
}

/// How many services build at once, from `origin` (the flag or the
/// manifest key, named in the refusal): a whole number in [`PARALLEL`].
pub fn parallel(text: &str, origin: &str) -> Result<usize, String> {
    let t = text.trim();
    let n: u64 = t.parse().map_err(|_| parallel_refusal(&quote(t), origin))?;
    parallel_count(n, origin)
}

/// [`parallel`] for a number already read (the manifest's YAML).
pub fn parallel_count(n: u64, origin: &str) -> Result<usize, String> {
    usize::try_from(n)
        .ok()
        .filter(|_| PARALLEL.contains(&n))
        .ok_or_else(|| parallel_refusal(&n.to_string(), origin))
}

fn parallel_refusal(shown: &str, origin: &str) -> String {
    format!(
        "parallel: {shown} is out of range ({origin}): give a number from {} to {}",
        PARALLEL.start(),
        PARALLEL.end()
    )
}

/// The image builder: `docker` (`buildx` is another name for it) or
/// `buildah`, in any case; empty means "not given".
pub fn builder(text: &str) -> Result<Option<BuilderKind>, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "docker" | "buildx" => Ok(Some(BuilderKind::Docker)),
        "buildah" => Ok(Some(BuilderKind::Buildah)),
        _ => Err(format!(
            "{} is not a builder: use docker (or buildx) or buildah",
            quote(text.trim())
        )),
    }
}

/// An RFC 3339 time (`--until`), as Unix seconds.
pub fn rfc3339(text: &str) -> Result<u64, String> {
    crate::time::parse_time(text.trim()).ok_or_else(|| {
        format!(
            "{} is not an RFC 3339 time: write e.g. 2026-12-01T00:00:00Z",
            quote(text.trim())
        )
    })
}

/// A pull request number (`--pr`, the `pr` input); `#12` is accepted.
pub fn pr_number(text: &str) -> Result<u64, String> {
    let t = text.trim().trim_start_matches('#');
    t.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{} is not a pull request number", quote(text.trim())))
}

/// The `FERRY_EXT_<NAME>` variables among `vars` (the process environment),
/// which rendering passes to Jsonnet as ext-strs.
pub fn ext_vars(vars: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    vars.into_iter()
        .filter(|(k, _)| k.strip_prefix("FERRY_EXT_").is_some_and(|n| !n.is_empty()))
        .collect()
}
