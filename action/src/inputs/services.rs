//! The `services` input of every command (`--services`, `INPUT_SERVICES`,
//! the `services` field of a `workflow_dispatch` form): which services to
//! work on.
//!
//! Accepts what people and workflows have at hand: names separated by
//! commas, spaces or newlines (as typed in a dispatch form), a JSON list
//! (detect's `services` output), detect's `matrix` output
//! (`{"include":[{"service":"a",...}]}`), or `all` (`*` too). Blank is
//! "not given": each command then picks its default.

use crate::text::quote;

/// Which services a user selected, before the manifest is consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceSelection {
    /// Every service of the manifest.
    All,
    /// These services, each once, in the order given.
    Named(Vec<String>),
}

impl ServiceSelection {
    /// Reads the input; `Ok(None)` when it is blank (or only separators).
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        let text = text.trim();
        let names = if text.starts_with('[') || text.starts_with('{') {
            from_json(text)?
        } else {
            let names: Vec<String> = text
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if names.is_empty() {
                return Ok(None);
            }
            names
        };
        if names.iter().any(|n| n == "all" || n == "*") {
            return Ok(Some(Self::All));
        }
        let mut seen = std::collections::HashSet::with_capacity(names.len());
        let unique = names
            .into_iter()
            .filter(|n| seen.insert(n.clone()))
            .collect();
        Ok(Some(Self::Named(unique)))
    }
}

/// The `services` input as given: `None` when absent or blank.
pub fn given(text: Option<&str>) -> Result<Option<ServiceSelection>, String> {
    Ok(match text {
        Some(text) => ServiceSelection::parse(text)?,
        None => None,
    })
}

/// A JSON list of names (or of detect's matrix entries), or detect's matrix.
fn from_json(text: &str) -> Result<Vec<String>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("`services` is not valid JSON ({e})"))?;
    let items = value
        .get("include")
        .and_then(|i| i.as_array())
        .or_else(|| value.as_array())
        .ok_or("`services` JSON must be a list of names or detect's matrix")?;
    items
        .iter()
        .map(|item| {
            item.get("service")
                .unwrap_or(item)
                .as_str()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    let shown = item.to_string();
                    format!(
                        "`services`: {} is not a service name (give names, or detect's matrix)",
                        quote(&shown)
                    )
                })
        })
        .collect()
}
