//! The GitHub Actions context this command needs, read from the environment.
//!
//! Temporary: the shared `gha` module replaces this at merge. Kept small and
//! injectable (`from_lookup`) so tests never touch the process environment.

use std::path::PathBuf;

use serde_json::Value;

/// What `plan-comment` needs to know about the run.
#[derive(Clone, Default)]
pub struct GhContext {
    /// `GITHUB_ACTIONS=true`.
    pub in_actions: bool,
    /// `owner/repo` from `GITHUB_REPOSITORY`.
    pub repository: Option<(String, String)>,
    /// Pull request number from the event payload.
    pub pr_number: Option<u64>,
    /// `GITHUB_TOKEN` or the action input `github-token`.
    pub token: Option<String>,
    /// `GITHUB_API_URL`, default `https://api.github.com`.
    pub api_url: String,
    /// File for step outputs.
    pub output_file: Option<PathBuf>,
    /// File for the job summary.
    pub summary_file: Option<PathBuf>,
    /// Link to this run's page, where the job summary is shown.
    pub run_url: Option<String>,
}

impl std::fmt::Debug for GhContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhContext")
            .field("in_actions", &self.in_actions)
            .field("repository", &self.repository)
            .field("pr_number", &self.pr_number)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl GhContext {
    /// Reads the process environment.
    pub fn from_env() -> GhContext {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Reads variables through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> GhContext {
        let repository = get("GITHUB_REPOSITORY").and_then(|r| {
            let (o, n) = r.split_once('/')?;
            Some((o.to_string(), n.to_string()))
        });
        let pr_number = get("GITHUB_EVENT_PATH")
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|e| pr_number_of(&e));
        let server = get("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".to_string());
        let run_url = match (get("GITHUB_REPOSITORY"), get("GITHUB_RUN_ID")) {
            (Some(repo), Some(run)) => Some(format!("{server}/{repo}/actions/runs/{run}")),
            _ => None,
        };
        GhContext {
            in_actions: get("GITHUB_ACTIONS").as_deref() == Some("true"),
            repository,
            pr_number,
            token: get("INPUT_GITHUB-TOKEN").or_else(|| get("GITHUB_TOKEN")),
            api_url: get("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".to_string()),
            output_file: get("GITHUB_OUTPUT").map(PathBuf::from),
            summary_file: get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            run_url,
        }
    }
}

/// The pull request number of a `pull_request*` or `issue_comment` event.
pub fn pr_number_of(event: &Value) -> Option<u64> {
    if let Some(n) = event
        .pointer("/pull_request/number")
        .and_then(Value::as_u64)
    {
        return Some(n);
    }
    let issue = event.get("issue")?;
    issue.get("pull_request")?;
    issue.get("number").and_then(Value::as_u64)
}
