//! The effects of `plan-comment`: step outputs, job summary, the comment and labels.

use std::path::PathBuf;

use octocrab::Octocrab;

use super::error::PlanCommentError;
use super::marker;
use super::{Options, Prepared};
use crate::gha::{Context, Reporter};
use crate::github::GitHubError;
use crate::github::comments::{Comments, IssueRef, Upserted};
use crate::github::retry::RetryPolicy;
use crate::trust::TrustedAuthors;

/// Writes `has-changes`, `has-destroy`, `add`, `change`, `destroy`,
/// `plan-hash` to `$GITHUB_OUTPUT` and the full plan to
/// `$GITHUB_STEP_SUMMARY`, when set (stdout holds the printed comment).
pub fn write_outputs(
    ctx: &Context,
    reporter: &mut Reporter,
    p: &Prepared,
) -> Result<(), PlanCommentError> {
    let io = |file: &Option<PathBuf>| {
        let path = file.clone().unwrap_or_default();
        move |source| PlanCommentError::Io { path, source }
    };
    let counts = [
        ("has-changes", p.has_changes.to_string()),
        ("has-destroy", p.has_destroy.to_string()),
        ("add", p.counts.add.to_string()),
        ("change", p.counts.change.to_string()),
        ("destroy", p.counts.destroy.to_string()),
        ("plan-hash", p.hash.clone()),
    ];
    for (key, value) in counts {
        reporter
            .output_to_file(key, &value)
            .map_err(io(&ctx.output_file))?;
    }
    reporter
        .summary_to_file(&format!("{}\n", p.summary))
        .map_err(io(&ctx.summary_file))
}

/// Posts (or removes) the comment and sets labels on pull request `pr`;
/// returns what happened, as lines for the run's log.
pub async fn publish(
    ctx: &Context,
    opts: &Options,
    pr: u64,
    p: &Prepared,
) -> Result<Vec<String>, PlanCommentError> {
    let token = ctx.token.as_ref().ok_or_else(|| {
        PlanCommentError::Config(
            "no GitHub token: pass `github-token: ${{ github.token }}` to the action (or set GITHUB_TOKEN), with `pull-requests: write` permission".to_string(),
        )
    })?;
    let repo = ctx.repository.clone().ok_or_else(|| {
        PlanCommentError::Config("GITHUB_REPOSITORY is not set (expected owner/repo)".to_string())
    })?;
    let crab = crate::github::client(&ctx.api_url, Some(token))?;
    let issue = IssueRef {
        owner: repo.owner,
        repo: repo.name,
        number: pr,
    };
    publish_with(
        &crab,
        &issue,
        RetryPolicy::default(),
        &ctx.trusted_authors,
        opts,
        p,
    )
    .await
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
/// Only a comment by a `trusted` author is ever edited or deleted: a marked
/// comment by anyone else is left alone and a new one is posted.
pub async fn publish_with(
    crab: &Octocrab,
    issue: &IssueRef,
    retry: RetryPolicy,
    trusted: &TrustedAuthors,
    opts: &Options,
    p: &Prepared,
) -> Result<Vec<String>, PlanCommentError> {
    let mut notes = Vec::new();
    let comments = Comments::new(crab, issue, retry, trusted);
    let done = if opts.skip_no_changes && !p.has_changes {
        Published::Removed(comments.remove(&p.marker).await?)
    } else {
        match upsert_stamped(&comments, issue, opts, p, &p.comment).await {
            Err(e) if e.status() == Some(422) => {
                notes.push(format!(
                    "plan-comment: GitHub refused the comment ({e}); posting the short version"
                ));
                Published::Comment(upsert_stamped(&comments, issue, opts, p, &p.fallback).await?)
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

/// Creates or edits Ferry's comment, with the change digests under its
/// metadata line and the metadata stamped with the write time (and signed
/// with the key) just before the write. A comment
/// that already says the same, and is still believable as Ferry's own
/// write, is left as it is.
async fn upsert_stamped(
    comments: &Comments<'_>,
    issue: &IssueRef,
    opts: &Options,
    p: &Prepared,
    body: &str,
) -> Result<Upserted, GitHubError> {
    let scope = marker::scope(
        &format!("{}/{}", issue.owner, issue.repo),
        issue.number,
        &p.marker,
    );
    let body = match &p.changes {
        Some(block) => marker::with_changes(body, block),
        None => body.to_string(),
    };
    let existing = comments.find(&p.marker).await?;
    if let Some(c) = &existing
        && let Some(old) = c.body.as_deref()
        && marker::without_meta(old) == marker::without_meta(&body)
        && marker::untrusted_reason(
            old,
            c.updated_at.as_deref().and_then(crate::time::parse_time),
            opts.key.as_ref(),
            &scope,
        )
        .is_ok_and(|meta| meta.hash == p.hash)
    {
        return Ok(Upserted::Unchanged(c.clone()));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let body = marker::stamp(&body, &p.hash, now, opts.key.as_ref(), &scope);
    Ok(match existing {
        Some(c) => Upserted::Updated(comments.update(c.id, &body).await?),
        None => Upserted::Created(comments.create(&body).await?),
    })
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
