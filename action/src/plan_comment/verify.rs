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

/// Loads the plan, finds the reviewed comment on the pull request and compares.
/// `expected` skips the API and compares with a given hash.
pub async fn run(
    ctx: &Context,
    opts: &Options,
    expected: Option<&str>,
) -> Result<String, PlanCommentError> {
    let plan = load_plan(&opts.plan, &opts.terraform)?;
    let current = marker::plan_hash(&plan);
    let pr = opts.pr.or(ctx.pull_request()).unwrap_or(0);
    if let Some(expected) = expected {
        check(&opts.env, pr, expected, &current)?;
        return Ok(current);
    }
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
    let found = Comments::new(&crab, &issue, RetryPolicy::default())
        .find(&mark)
        .await?;
    let reviewed = found
        .and_then(|c| c.body)
        .and_then(|b| marker::hash_in(&b))
        .ok_or_else(|| PlanCommentError::NoReviewedPlan {
            env: opts.env.clone(),
            pr,
        })?;
    check(&opts.env, pr, &reviewed, &current)?;
    Ok(current)
}
