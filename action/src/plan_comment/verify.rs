//! `ferry plan-verify`: refuse to apply a plan other than the reviewed one.
//!
//! The reviewed comment holds the hash of the planned changes in its hidden
//! metadata; the plan about to be applied is hashed the same way.

use super::Options;
use super::error::PlanCommentError;
use super::load::load_plan;
use super::marker;
use crate::gha::Context;
use crate::github::comments::{Comments, IssueRef};
use crate::github::retry::RetryPolicy;

/// Compares the local plan's hash with `reviewed` (from a comment or `--expected-hash`).
pub fn check(env: &str, pr: u64, reviewed: &str, current: &str) -> Result<(), PlanCommentError> {
    if reviewed == current {
        Ok(())
    } else {
        Err(PlanCommentError::PlanChanged {
            env: env.to_string(),
            pr,
            reviewed: reviewed.to_string(),
            current: current.to_string(),
        })
    }
}

/// The pull request whose reviewed plan applies to this run: `--pr`; the
/// `pull_request` event's; in the merge queue, the one the group ends with
/// (from the queue's branch, `gh-readonly-queue/<base>/pr-<N>-<sha>`); on a
/// push (after merge), the one pull request GitHub associates with the
/// pushed commit. `None` when the run has none; an error when a push's
/// commit belongs to several (say which with `--pr`).
pub async fn pull_request(
    ctx: &Context,
    given: Option<u64>,
) -> Result<Option<u64>, PlanCommentError> {
    if let Some(pr) = given.or(ctx.pull_request()) {
        return Ok(Some(pr));
    }
    match &ctx.event {
        crate::gha::Event::MergeGroup(group) => Ok(group.pull_request()),
        crate::gha::Event::Push(push) => {
            let Some(gh) = crate::github::GitHub::from_context(ctx) else {
                return Ok(None);
            };
            let pulls = gh.pulls_for_commit(&push.after).await?;
            match pulls.as_slice() {
                [] => Ok(None),
                [one] => Ok(Some(*one)),
                many => Err(PlanCommentError::Config(format!(
                    "the pushed commit {} belongs to pull requests {}: pass --pr N (the `pr` input) to say whose reviewed plan to apply",
                    crate::git::short_rev(&push.after),
                    many.iter()
                        .map(|n| format!("#{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
        _ => Ok(None),
    }
}

/// Loads the plan, finds the reviewed comment on the pull request and compares.
/// `expected` skips the API and compares with a given hash.
///
/// The reviewed comment is believed only when a trusted author wrote it
/// ([`Comments::find`]), its metadata carries Ferry's write time (signed
/// with the key, when there is one), and it was not edited after that write.
pub async fn run(
    ctx: &Context,
    opts: &Options,
    expected: Option<&str>,
) -> Result<String, PlanCommentError> {
    let plan = load_plan(&opts.plan, &opts.terraform)?;
    let key = opts.key.as_ref();
    let counts = super::counts::Counts::of(&plan);
    let unknown = counts.unknown;
    let empty = !counts.has_resource_changes() && counts.outputs == 0;
    if unknown > 0 {
        return Err(PlanCommentError::UnknownChanges {
            env: opts.env.clone(),
            count: unknown,
        });
    }
    if key.is_none() && marker::has_sensitive(&plan) {
        return Err(PlanCommentError::NeedsKey(format!(
            "the plan for `{}` has sensitive values; without a key Ferry's digest masks them (so that it leaks nothing), and cannot tell this plan from one with other secrets: give plan-comment and plan-verify the same `plan-key` (a repository secret), then run plan-comment again",
            opts.env
        )));
    }
    let current = marker::plan_hash(&plan, key);
    drop(plan);
    if let Some(expected) = expected {
        let pr = opts.pr.or(ctx.pull_request()).unwrap_or(0);
        check(&opts.env, pr, expected, &current)?;
        return Ok(current);
    }
    let pr = pull_request(ctx, opts.pr).await?.unwrap_or(0);
    if pr == 0 {
        return Err(PlanCommentError::Config(
            "plan-verify needs the pull request: pass --pr N (or --expected-hash)".to_string(),
        ));
    }
    let repo = ctx.repository.clone().ok_or_else(|| {
        PlanCommentError::Config("GITHUB_REPOSITORY is not set (expected owner/repo)".to_string())
    })?;
    let crab = crate::github::client(&ctx.api_url, ctx.token.as_ref())?;
    let issue = IssueRef {
        owner: repo.owner,
        repo: repo.name,
        number: pr,
    };
    let mark = marker::marker(
        &opts.env,
        opts.root_module.as_deref(),
        opts.workspace.as_deref(),
    )?;
    let found = match Comments::new(&crab, &issue, RetryPolicy::default(), &ctx.trusted_authors)
        .find(&mark)
        .await?
    {
        Some(found) => found,
        // A pull request that did not touch the Terraform has no plan
        // comment (the plan jobs did not run), and at the merge commit its
        // plan is empty: nothing to apply, nothing to have reviewed.
        None if empty => return Ok(current),
        None => {
            return Err(PlanCommentError::NoReviewedPlan {
                env: opts.env.clone(),
                pr,
            });
        }
    };
    let scope = marker::scope(&format!("{}/{}", issue.owner, issue.repo), pr, &mark);
    let meta = marker::untrusted_reason(
        found.body.as_deref().unwrap_or_default(),
        found
            .updated_at
            .as_deref()
            .and_then(crate::time::parse_time),
        key,
        &scope,
    )
    .map_err(|why| PlanCommentError::UntrustedReview {
        env: opts.env.clone(),
        pr,
        id: found.id,
        why,
    })?;
    let keyed = meta.hash.starts_with(marker::KEYED_PREFIX);
    if keyed != key.is_some() {
        return Err(PlanCommentError::NeedsKey(if keyed {
            "the reviewed plan's digest is keyed: give plan-verify the same `plan-key` as plan-comment".to_string()
        } else {
            "the reviewed plan comment was written without `plan-key`: give plan-comment the same `plan-key` as plan-verify and run it again".to_string()
        }));
    }
    check(&opts.env, pr, &meta.hash, &current)?;
    Ok(current)
}
