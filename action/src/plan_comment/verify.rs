//! `ferry plan-verify`: refuse to apply a plan other than the reviewed one.
//!
//! The reviewed comment holds the hash of the planned changes in its hidden
//! metadata, and one digest per change under it; the plan about to be
//! applied is hashed the same way, and judged by [`review`].

use super::Options;
use super::error::PlanCommentError;
use super::load::load_plan;
use super::marker;
use super::redact::Redactor;
use super::review::{self, Reviewed, Verdict};
use crate::gha::{Context, Reporter};
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
            differences: String::new(),
        })
    }
}

/// At most this many commits of a push are looked up (one request each).
pub const PUSH_COMMITS_MAX: usize = 250;

/// The most entries a group is walked back through (GitHub's merge queue
/// builds groups of at most 100).
const QUEUE_GROUP_MAX: usize = 100;

/// The pull requests of a merge-queue group, oldest first: the one the
/// group ends with (from its branch) and each entry queued ahead of it in
/// the group, found by walking the group's head back by first parents
/// while a queue branch points at the commit ([`review::queue_entry_at`]).
async fn queue_batch(
    gh: &crate::github::GitHub,
    group: &crate::gha::event::MergeGroup,
) -> Result<Vec<u64>, PlanCommentError> {
    let Some(last) = group.pull_request() else {
        return Ok(Vec::new());
    };
    let refs = gh.queue_refs(group.base_branch()).await?;
    let mut prs = vec![last];
    if refs.len() < 2 {
        return Ok(prs);
    }
    let mut at = group.head_sha.clone();
    while prs.len() < QUEUE_GROUP_MAX {
        let Some(parent) = gh.first_parent(&at).await? else {
            break;
        };
        match review::queue_entry_at(&refs, group.base_branch(), &parent) {
            Some(pr) if !prs.contains(&pr) => prs.push(pr),
            _ => break,
        }
        at = parent;
    }
    prs.reverse();
    Ok(prs)
}

/// The pull requests whose reviewed plans apply to this run, applied
/// together: `--pr`; the `pull_request` event's; in the merge queue, the
/// one the group ends with and those queued ahead of it in the group
/// ([`queue_batch`]); on a push (after merge), every pull request
/// GitHub associates with a pushed commit (a merge-queue batch lands as
/// one push). Empty when the run has none.
pub async fn pull_requests(
    ctx: &Context,
    given: Option<u64>,
) -> Result<Vec<u64>, PlanCommentError> {
    if let Some(pr) = given.or(ctx.pull_request()) {
        return Ok(vec![pr]);
    }
    let Some(gh) = crate::github::GitHub::from_context(ctx) else {
        return Ok(match &ctx.event {
            crate::gha::Event::MergeGroup(group) => group.pull_request().into_iter().collect(),
            _ => Vec::new(),
        });
    };
    match &ctx.event {
        crate::gha::Event::MergeGroup(group) => {
            if group.pull_request().is_none() {
                return Ok(Vec::new());
            }
            queue_batch(&gh, group).await
        }
        crate::gha::Event::Push(push) => {
            let mut commits: Vec<&str> = vec![push.after.as_str()];
            commits.extend(push.commits.iter().map(String::as_str));
            commits.dedup();
            if commits.len() > PUSH_COMMITS_MAX {
                return Err(PlanCommentError::Config(format!(
                    "the push has more than {PUSH_COMMITS_MAX} commits: pass --pr N (the `pr` input) to say whose reviewed plan to apply"
                )));
            }
            let mut prs: Vec<u64> = Vec::new();
            for sha in commits {
                for pr in gh.pulls_for_commit(sha).await? {
                    if !prs.contains(&pr) {
                        prs.push(pr);
                    }
                }
            }
            prs.sort_unstable();
            Ok(prs)
        }
        _ => Ok(Vec::new()),
    }
}

/// Loads the plan, finds the reviewed comments of the pull requests applied
/// with it, and judges it ([`review::judge`]). `expected` skips the API and
/// compares with a given hash. A refusal names what differs (address and
/// action) in the error and the job summary.
///
/// A reviewed comment is believed only when a trusted author wrote it
/// ([`Comments::find`]), its metadata carries Ferry's write time (signed
/// with the key, when there is one) and its change digests are whole, and
/// it was not edited after that write.
pub async fn run(
    ctx: &Context,
    opts: &Options,
    expected: Option<&str>,
    reporter: &mut Reporter,
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
    let (current, changes) = marker::digests(&plan, key);
    let redactor = Redactor::new(&plan, &opts.redact)?;
    drop(plan);
    if let Some(expected) = expected {
        let pr = opts.pr.or(ctx.pull_request()).unwrap_or(0);
        check(&opts.env, pr, expected, &current)?;
        return Ok(current);
    }
    let group = pull_requests(ctx, opts.pr).await?;
    let Some(&last) = group.last() else {
        return Err(PlanCommentError::Config(
            "plan-verify needs the pull request: pass --pr N (or --expected-hash)".to_string(),
        ));
    };
    let reviewed = reviewed_in(ctx, opts, &group).await?;
    // Pull requests that did not touch the Terraform have no plan comment
    // (the plan jobs did not run), and at the merge commit their plan is
    // empty: nothing to apply, nothing to have reviewed.
    if reviewed.is_empty() {
        return if empty {
            Ok(current)
        } else {
            Err(PlanCommentError::NoReviewedPlan {
                env: opts.env.clone(),
                pr: last,
            })
        };
    }
    let verdict = review::judge(&current, &changes, &reviewed);
    if verdict == Verdict::Same {
        return Ok(current);
    }
    let summary = redactor.redact(&review::markdown(&opts.env, &group, &verdict));
    reporter
        .summary_to_file(&format!("{summary}\n"))
        .map_err(|source| PlanCommentError::Io {
            path: ctx.summary_file.clone().unwrap_or_default(),
            source,
        })?;
    let differences = redactor.redact(&review::message(&verdict));
    match (group.as_slice(), reviewed.as_slice()) {
        ([_], [one]) => Err(PlanCommentError::PlanChanged {
            env: opts.env.clone(),
            pr: one.pr,
            reviewed: one.hash.clone(),
            current,
            differences,
        }),
        _ => Err(PlanCommentError::GroupChanged {
            env: opts.env.clone(),
            group: review::prs(&group),
            differing: match verdict.differing().as_slice() {
                [] => "it has changes no pull request's review had".to_string(),
                [one] => format!("the plan of #{one} differs"),
                prs => format!("the plans of {} differ", review::prs(prs)),
            },
            differences,
        }),
    }
}

/// The believed plan comments of the pull requests in `group` (those
/// without one are left out).
async fn reviewed_in(
    ctx: &Context,
    opts: &Options,
    group: &[u64],
) -> Result<Vec<Reviewed>, PlanCommentError> {
    let repo = ctx.repository.clone().ok_or_else(|| {
        PlanCommentError::Config("GITHUB_REPOSITORY is not set (expected owner/repo)".to_string())
    })?;
    let crab = crate::github::client(&ctx.api_url, ctx.token.as_ref())?;
    let mark = marker::marker(
        &opts.env,
        opts.root_module.as_deref(),
        opts.workspace.as_deref(),
    )?;
    let mut reviewed: Vec<Reviewed> = Vec::new();
    for &pr in group {
        let issue = IssueRef {
            owner: repo.owner.clone(),
            repo: repo.name.clone(),
            number: pr,
        };
        if let Some(r) = reviewed_on(&crab, ctx, opts, &issue, &mark).await? {
            reviewed.push(r);
        }
    }
    Ok(reviewed)
}

/// The believed plan comment for the marker on one pull request, with its
/// digest and change digests; `None` when it has none.
async fn reviewed_on(
    crab: &octocrab::Octocrab,
    ctx: &Context,
    opts: &Options,
    issue: &IssueRef,
    mark: &str,
) -> Result<Option<Reviewed>, PlanCommentError> {
    let key = opts.key.as_ref();
    let pr = issue.number;
    let Some(found) = Comments::new(crab, issue, RetryPolicy::default(), &ctx.trusted_authors)
        .find(mark)
        .await?
    else {
        return Ok(None);
    };
    let scope = marker::scope(&format!("{}/{}", issue.owner, issue.repo), pr, mark);
    let body = found.body.as_deref().unwrap_or_default();
    let untrusted = |why: String| PlanCommentError::UntrustedReview {
        env: opts.env.clone(),
        pr,
        id: found.id,
        why,
    };
    let meta = marker::untrusted_reason(
        body,
        found
            .updated_at
            .as_deref()
            .and_then(crate::time::parse_time),
        key,
        &scope,
    )
    .map_err(untrusted)?;
    let keyed = meta.hash.starts_with(marker::KEYED_PREFIX);
    if keyed != key.is_some() {
        return Err(PlanCommentError::NeedsKey(if keyed {
            "the reviewed plan's digest is keyed: give plan-verify the same `plan-key` as plan-comment".to_string()
        } else {
            "the reviewed plan comment was written without `plan-key`: give plan-comment the same `plan-key` as plan-verify and run it again".to_string()
        }));
    }
    let changes = marker::changes_in(body).map_err(untrusted)?;
    Ok(Some(Reviewed {
        pr,
        hash: meta.hash,
        changes,
    }))
}
