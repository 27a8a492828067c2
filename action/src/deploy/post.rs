//! Posting the deploy comment on every pull request of the commit: the
//! thin effect around [`comment::merge`] and [`comment::render_comment`].

use super::comment::{self, MARKER};
use super::model::DeployReport;
use crate::github::comments::{IssueRef, Upserted};
use crate::github::{GitHub, GitHubError};

/// Why the deploy comment could not be posted. The caller reports it as a
/// warning: a deploy that succeeded does not fail for a comment.
#[derive(Debug, thiserror::Error)]
pub enum CommentError {
    /// The pull requests of the commit could not be listed.
    #[error("cannot find the pull requests of commit {sha}: {source}")]
    Pulls {
        /// The commit.
        sha: String,
        /// Why.
        source: GitHubError,
    },
    /// Reading or writing the comment on one pull request failed.
    #[error("cannot post the deploy comment on #{pr}: {source}")]
    Comment {
        /// The pull request.
        pr: u64,
        /// Why.
        source: GitHubError,
    },
}

/// For each pull request of `sha`: finds the marked comment (every page),
/// merges `report` into its state, and creates or edits it. A re-run with
/// the same outcomes renders the same text and sends no edit.
///
/// Returns what happened per pull request; warnings about a previous
/// comment's state are logged.
pub async fn post_deploy_comment(
    github: &GitHub,
    sha: &str,
    report: &DeployReport,
) -> Result<Vec<(u64, Upserted)>, CommentError> {
    let pulls = github
        .pulls_for_commit(sha)
        .await
        .map_err(|source| CommentError::Pulls {
            sha: sha.to_string(),
            source,
        })?;
    let mut done = Vec::with_capacity(pulls.len());
    for pr in pulls {
        let issue = IssueRef {
            owner: github.repo().owner.clone(),
            repo: github.repo().name.clone(),
            number: pr,
        };
        let upserted = upsert(github, &issue, report)
            .await
            .map_err(|source| CommentError::Comment { pr, source })?;
        done.push((pr, upserted));
    }
    Ok(done)
}

async fn upsert(
    github: &GitHub,
    issue: &IssueRef,
    report: &DeployReport,
) -> Result<Upserted, GitHubError> {
    let comments = github.comments(issue);
    // Only Ferry's own comment: a marked comment by anyone else is ignored
    // (its state never merged, the comment never edited).
    let existing = comments.find(MARKER).await?;
    let state = comment::merge(existing.as_ref().and_then(|c| c.body.as_deref()), report);
    for w in &state.warnings {
        tracing::warn!("deploy comment on #{}: {w}", issue.number);
    }
    let body = comment::render_comment(&state);
    Ok(match existing {
        Some(c) if c.body.as_deref() == Some(body.as_str()) => Upserted::Unchanged(c),
        Some(c) => Upserted::Updated(comments.update(c.id, &body).await?),
        None => Upserted::Created(comments.create(&body).await?),
    })
}
