//! GitHub Actions I/O: the run's context in, outputs and reports out.
//!
//! Every command reads where it runs from here and writes through the
//! [`Reporter`], so each one behaves the same in a workflow and on a laptop:
//! in Actions, outputs go to `$GITHUB_OUTPUT`, the report to
//! `$GITHUB_STEP_SUMMARY`, problems become `::error` annotations; outside,
//! outputs are `key=value` lines on stdout and the report is markdown on
//! stderr.
//!
//! Outside text reaches stdout only through the [`Reporter`] and stderr only
//! through it or the log ([`logging`]); both scrub secrets ([`secrets`]) and
//! keep workflow commands in that text from running ([`commands`]).

mod argv;
pub mod commands;
pub mod event;
pub mod logging;
mod reporter;
pub mod secrets;

use std::fmt;
use std::path::PathBuf;

pub use argv::action_args;
pub use event::{Event, EventError};
pub use reporter::{Reporter, encode_output, escape_data, escape_property};

/// A value that must never be printed: Debug and Display show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that sends it (an HTTP header, stdin).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `owner/name` of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSlug {
    /// The owner (user or organisation).
    pub owner: String,
    /// The repository name.
    pub name: String,
}

impl fmt::Display for RepoSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl RepoSlug {
    /// Parses `owner/name`.
    pub fn parse(text: &str) -> Option<Self> {
        let (owner, name) = text.trim().split_once('/')?;
        if owner.is_empty() || name.is_empty() || name.contains('/') {
            return None;
        }
        Some(Self {
            owner: owner.into(),
            name: name.into(),
        })
    }
}

/// Where and why this run happens.
#[derive(Debug, Clone)]
pub struct Context {
    /// True inside GitHub Actions (`GITHUB_ACTIONS=true`).
    pub in_actions: bool,
    /// The event and the parts of its payload Ferry uses.
    pub event: Event,
    /// `GITHUB_SHA`: the commit the run is for.
    pub sha: Option<String>,
    /// `GITHUB_REF`.
    pub git_ref: Option<String>,
    /// `GITHUB_REPOSITORY`.
    pub repository: Option<RepoSlug>,
    /// `GITHUB_API_URL` (GitHub Enterprise Server, or a test server).
    pub api_url: String,
    /// Link to this run, for comments and deployment statuses.
    pub run_url: Option<String>,
    /// The token from the `github-token` input or `GITHUB_TOKEN`.
    pub token: Option<Secret>,
    /// `GITHUB_WORKSPACE`, else the current directory.
    pub workspace: PathBuf,
    /// `$GITHUB_OUTPUT`.
    pub output_file: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`.
    pub summary_file: Option<PathBuf>,
    /// The `trusted-authors` input: whose comments, Deployments and statuses
    /// Ferry believes when it reads them back (default `github-actions[bot]`).
    pub trusted_authors: crate::trust::TrustedAuthors,
    /// The `plan-key` input (or `FERRY_PLAN_KEY`): the repository secret
    /// that keys the published plan digest and signs the plan comment's
    /// metadata.
    pub plan_key: Option<Secret>,
}

/// The context could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// `GITHUB_EVENT_PATH` names a file that cannot be read.
    #[error("cannot read the event payload {path} (GITHUB_EVENT_PATH): {source}")]
    ReadEvent {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The payload is unusable.
    #[error(transparent)]
    Event(#[from] EventError),
    /// `GITHUB_REPOSITORY` is not `owner/name`.
    #[error("GITHUB_REPOSITORY is \"{0}\", expected owner/name")]
    Repository(String),
    /// The `trusted-authors` input is not a list of logins.
    #[error(transparent)]
    TrustedAuthors(#[from] crate::trust::TrustError),
}

impl Context {
    /// The number of the pull request the run is for, if its event is one.
    pub fn pull_request(&self) -> Option<u64> {
        match &self.event {
            Event::PullRequest(pr) => Some(pr.number),
            _ => None,
        }
    }

    /// Reads the context from the process environment.
    pub fn from_env() -> Result<Self, ContextError> {
        Self::from_lookup(&|k| std::env::var(k).ok(), &|p| std::fs::read_to_string(p))
    }

    /// Reads the context through `env` (a variable lookup) and `read` (a file
    /// reader), so tests need not touch the process environment.
    pub fn from_lookup(
        env: &dyn Fn(&str) -> Option<String>,
        read: &dyn Fn(&str) -> std::io::Result<String>,
    ) -> Result<Self, ContextError> {
        let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let in_actions = var("GITHUB_ACTIONS").as_deref() == Some("true");
        let event = match (var("GITHUB_EVENT_NAME"), var("GITHUB_EVENT_PATH")) {
            (Some(name), Some(path)) => {
                let text = read(&path).map_err(|source| ContextError::ReadEvent {
                    path: path.clone(),
                    source,
                })?;
                let payload: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|source| EventError::NotJson { path, source })?;
                event::parse(&name, &payload)?
            }
            (Some(name), None) => event::parse(&name, &serde_json::Value::Null)?,
            _ => Event::Local,
        };
        let repository = match var("GITHUB_REPOSITORY") {
            Some(r) => Some(RepoSlug::parse(&r).ok_or(ContextError::Repository(r))?),
            None => None,
        };
        let server = var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
        let run_url = match (&repository, var("GITHUB_RUN_ID")) {
            (Some(repo), Some(id)) => Some(format!("{server}/{repo}/actions/runs/{id}")),
            _ => None,
        };
        let token = input_with(env, "github-token")
            .or_else(|| var("GITHUB_TOKEN"))
            .map(Secret::new);
        let trusted_authors = match input_with(env, crate::trust::INPUT) {
            Some(text) => crate::trust::TrustedAuthors::parse(&text)?,
            None => crate::trust::TrustedAuthors::default(),
        };
        let plan_key = input_with(env, "plan-key")
            .or_else(|| var("FERRY_PLAN_KEY"))
            .map(Secret::new);
        Ok(Self {
            in_actions,
            event,
            sha: var("GITHUB_SHA"),
            git_ref: var("GITHUB_REF"),
            repository,
            api_url: var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
            run_url,
            token,
            workspace: var("GITHUB_WORKSPACE")
                .map(PathBuf::from)
                .or_else(|| std::env::current_dir().ok())
                .unwrap_or_else(|| PathBuf::from(".")),
            output_file: var("GITHUB_OUTPUT").map(PathBuf::from),
            summary_file: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            trusted_authors,
            plan_key,
        })
    }
}

/// An action input (`INPUT_<NAME>`, as the runner sets it), trimmed; empty is absent.
pub fn input(name: &str) -> Option<String> {
    input_with(&|k| std::env::var(k).ok(), name)
}

fn input_with(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    // The runner upper-cases the name and turns spaces into `_`; `-` stays
    // (`github-token` → `INPUT_GITHUB-TOKEN`). The `_` spelling is read too,
    // for wrappers that cannot set a variable with `-` in its name (shells).
    let key = format!("INPUT_{}", name.replace(' ', "_").to_uppercase());
    let read = |k: &str| {
        env(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    read(&key).or_else(|| {
        let underscored = key.replace('-', "_");
        (underscored != key).then(|| read(&underscored)).flatten()
    })
}

#[cfg(test)]
mod tests;
