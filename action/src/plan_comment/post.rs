//! The effects of `plan-comment`: step outputs, job summary, the comment and labels.

use std::io::Write;
use std::path::Path;

use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;

use super::env::GhContext;
use super::error::PlanCommentError;
use super::{Options, Prepared};
use crate::github::comments::{Comments, IssueRef, Upserted};
use crate::github::retry::RetryPolicy;

/// Appends `has-changes`, `has-destroy`, `add`, `change`, `destroy` to
/// `$GITHUB_OUTPUT` and the full plan to `$GITHUB_STEP_SUMMARY`, when set.
pub fn write_outputs(gh: &GhContext, p: &Prepared) -> Result<(), PlanCommentError> {
    if let Some(path) = &gh.output_file {
        let text = format!(
            "has-changes={}\nhas-destroy={}\nadd={}\nchange={}\ndestroy={}\nplan-hash={}\n",
            p.has_changes, p.has_destroy, p.counts.add, p.counts.change, p.counts.destroy, p.hash
        );
        append(path, &text)?;
    }
    if let Some(path) = &gh.summary_file {
        append(path, &format!("{}\n", p.summary))?;
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> Result<(), PlanCommentError> {
    let io = |source| PlanCommentError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)
}

/// Builds an octocrab client for `api_url` with octocrab's own retries off
/// (Ferry's retry sees statuses and headers).
pub fn client(api_url: &str, token: Option<&str>) -> Result<Octocrab, PlanCommentError> {
    let mut builder = Octocrab::builder()
        .base_uri(api_url)
        .map_err(|e| {
            PlanCommentError::Config(format!(
                "GITHUB_API_URL {api_url:?} is not a valid URL: {e}"
            ))
        })?
        .add_retry_config(RetryConfig::None);
    if let Some(token) = token {
        builder = builder.personal_token(token.to_string());
    }
    builder
        .build()
        .map_err(|e| PlanCommentError::Config(format!("cannot build the GitHub client: {e}")))
}

/// Posts (or removes) the comment and sets labels on pull request `pr`;
/// returns what happened, as lines for the run's log.
pub async fn publish(
    opts: &Options,
    gh: &GhContext,
    pr: u64,
    p: &Prepared,
) -> Result<Vec<String>, PlanCommentError> {
    let token = gh.token.as_deref().ok_or_else(|| {
        PlanCommentError::Config(
            "no GitHub token: pass `github-token: ${{ github.token }}` to the action (or set GITHUB_TOKEN), with `pull-requests: write` permission".to_string(),
        )
    })?;
    let (owner, repo) = gh.repository.clone().ok_or_else(|| {
        PlanCommentError::Config("GITHUB_REPOSITORY is not set (expected owner/repo)".to_string())
    })?;
    let crab = client(&gh.api_url, Some(token))?;
    let issue = IssueRef {
        owner,
        repo,
        number: pr,
    };
    publish_with(&crab, &issue, RetryPolicy::default(), opts, p).await
}

/// What [`publish_with`] did with the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// Created, edited or left unchanged.
    Comment(Upserted),
    /// `--skip-no-changes` on an empty plan: the old comment was deleted (or there was none).
    Removed(bool),
}

/// The posting logic against any client (tests point it at a local server).
/// Returns what happened, as lines for the run's log (the caller prints them
/// through the reporter: they quote GitHub's error messages).
pub async fn publish_with(
    crab: &Octocrab,
    issue: &IssueRef,
    retry: RetryPolicy,
    opts: &Options,
    p: &Prepared,
) -> Result<Vec<String>, PlanCommentError> {
    let mut notes = Vec::new();
    let comments = Comments::new(crab, issue, retry);
    let done = if opts.skip_no_changes && !p.has_changes {
        Published::Removed(comments.remove(&p.marker).await?)
    } else {
        match comments.upsert(&p.marker, &p.comment).await {
            Err(e) if e.status() == Some(422) => {
                notes.push(format!(
                    "plan-comment: GitHub refused the comment ({e}); posting the short version"
                ));
                Published::Comment(comments.upsert(&p.marker, &p.fallback).await?)
            }
            other => Published::Comment(other?),
        }
    };
    notes.push(format!("plan-comment: {}", describe(&done, issue)));
    if opts.labels {
        let destroy = format!("terraform:{}:destroy", opts.env);
        let empty = format!("terraform:{}:no-changes", opts.env);
        let (add, remove): (Vec<String>, Vec<String>) = match (p.has_changes, p.has_destroy) {
            (_, true) => (vec![destroy], vec![empty]),
            (true, false) => (vec![], vec![destroy, empty]),
            (false, _) => (vec![empty], vec![destroy]),
        };
        if !add.is_empty() {
            comments.add_labels(&add).await?;
        }
        for label in remove {
            comments.remove_label(&label).await?;
        }
    }
    Ok(notes)
}

fn describe(done: &Published, issue: &IssueRef) -> String {
    let n = issue.number;
    match done {
        Published::Comment(Upserted::Created(c)) => format!("created comment {} on #{n}", c.id),
        Published::Comment(Upserted::Updated(c)) => format!("edited comment {} on #{n}", c.id),
        Published::Comment(Upserted::Unchanged(c)) => {
            format!("comment {} on #{n} is up to date", c.id)
        }
        Published::Removed(true) => format!("no changes: deleted the previous comment on #{n}"),
        Published::Removed(false) => format!("no changes: nothing posted on #{n}"),
    }
}
