//! The GitHub Actions context this command needs: a view of the shared
//! [`Context`], which reads the environment and the event payload once for
//! every command.

use std::path::PathBuf;

use crate::gha::{Context, Event};

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
    /// The parts of the shared run context (`gha::Context`) this command uses.
    pub fn from_context(ctx: &Context) -> GhContext {
        GhContext {
            in_actions: ctx.in_actions,
            repository: ctx
                .repository
                .as_ref()
                .map(|r| (r.owner.clone(), r.name.clone())),
            pr_number: match &ctx.event {
                Event::PullRequest(pr) => Some(pr.number),
                _ => None,
            },
            token: ctx.token.as_ref().map(|t| t.expose().to_string()),
            api_url: ctx.api_url.clone(),
            output_file: ctx.output_file.clone(),
            summary_file: ctx.summary_file.clone(),
            run_url: ctx.run_url.clone(),
        }
    }
}
