//! `ferry plan-comment` and `ferry plan-verify`: review-ready Terraform plan
//! comments, one per environment, edited in place on every push.
//!
//! The flow is one way: plan file → [`RawPlan`](model::RawPlan) →
//! [`PlanView`](view::PlanView) (everything, ordered by risk) → a comment
//! within GitHub's size limits and a full job summary → posted (or printed
//! on a dry run). [`prepare`] is pure and holds all decisions; [`run`] adds
//! the effects.

pub mod apply;
pub mod budget;
pub mod build;
pub mod changes;
pub mod compare;
pub mod counts;
pub mod diff;
pub mod digest;
pub mod drift;
pub mod error;
pub mod input;
pub mod load;
pub mod marker;
pub mod model;
pub mod post;
pub mod redact;
pub mod render;
pub mod review;
pub mod verify;
pub mod view;

use std::path::{Path, PathBuf};

use crate::gha::{Context, Reporter};

pub use error::{PlanCommentError, PlanInputError};

use build::ViewContext;
use counts::Counts;
use model::RawPlan;
use redact::Redactor;
use render::{Limits, Renderer};

/// The plan mode, which the plan JSON does not record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlanMode {
    /// `terraform plan`.
    #[default]
    Normal,
    /// `terraform plan -destroy`.
    Destroy,
    /// `terraform plan -refresh-only`.
    RefreshOnly,
}

impl PlanMode {
    fn as_str(self) -> &'static str {
        match self {
            PlanMode::Normal => "normal",
            PlanMode::Destroy => "destroy",
            PlanMode::RefreshOnly => "refresh-only",
        }
    }
}

/// Options of `ferry plan-comment`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Environment name (`staging`, `prod`).
    pub env: String,
    /// `terraform show -json` output, or a binary plan.
    pub plan: PathBuf,
    /// Plan mode.
    pub mode: PlanMode,
    /// Root module directory, part of the marker when given.
    pub root_module: Option<String>,
    /// Terraform workspace, part of the marker when given.
    pub workspace: Option<String>,
    /// A tera template replacing the built-in one.
    pub template: Option<PathBuf>,
    /// Regular expressions whose matches are redacted from every output.
    pub redact: Vec<String>,
    /// Print the comment instead of posting it.
    pub dry_run: bool,
    /// When the plan has no changes, delete the previous comment and post none.
    pub skip_no_changes: bool,
    /// Set `terraform:<env>:destroy` and `terraform:<env>:no-changes` labels.
    pub labels: bool,
    /// Program run for binary plans.
    pub terraform: String,
    /// Pull request number, overriding the event's.
    pub pr: Option<u64>,
    /// The `plan-key` repository secret: keys the published digest and
    /// signs the comment's metadata (see [`marker::plan_hash`]) and keys the
    /// change digests ([`marker::ChangeDigest`]).
    pub key: Option<crate::gha::Secret>,
    /// Another environment's plan (its name and file), compared with this
    /// one in the comment ([`compare`]).
    pub compare_with: Option<(String, PathBuf)>,
}

/// The result of the pure part: what would be posted and reported.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The comment body (within GitHub's limits, redacted).
    pub comment: String,
    /// The full rendering for the job summary (within 1 MiB, redacted).
    pub summary: String,
    /// A short body used when GitHub refuses the comment.
    pub fallback: String,
    /// Counts of the plan.
    pub counts: Counts,
    /// Resources or outputs change.
    pub has_changes: bool,
    /// Something is destroyed.
    pub has_destroy: bool,
    /// The hidden marker.
    pub marker: String,
    /// Hash of the planned changes.
    pub hash: String,
    /// The hidden block of change digests ([`marker::changes_block`]) put
    /// under the metadata line when the comment is written; `None` when the
    /// plan has more changes than [`CHANGES_MAX_BYTES`] can record (then a
    /// refusal can only say that the plan differs, not where).
    pub changes: Option<String>,
}

/// The most the change-digest block may take of a comment (about 350
/// changes with long addresses); the rest of the comment shrinks by it.
pub const CHANGES_MAX_BYTES: usize = 20_000;

/// Renders a parsed plan: comment, summary, counts, marker and hash.
///
/// Takes the plan by value to free it before rendering: only the view,
/// the hash and the redactor are needed from then on.
pub fn prepare(
    plan: RawPlan,
    opts: &Options,
    run_url: Option<&str>,
) -> Result<Prepared, PlanCommentError> {
    let redactor = Redactor::new(&plan, &opts.redact)?;
    let marker = marker::marker(
        &opts.env,
        opts.root_module.as_deref(),
        opts.workspace.as_deref(),
    )?;
    let (hash, digests) = marker::digests(&plan, opts.key.as_ref());
    let changes = Some(marker::changes_block(&digests)).filter(|b| b.len() <= CHANGES_MAX_BYTES);
    drop(digests);
    // The block is ASCII: as many characters as bytes, and a line break.
    let reserved = changes.as_ref().map_or(0, |b| b.len() + 1);
    let comment_limits = Limits {
        chars: Limits::COMMENT.chars - reserved,
        bytes: Limits::COMMENT.bytes - reserved,
    };
    let template = match &opts.template {
        Some(path) => Some((path.display().to_string(), read_text(path)?)),
        None => None,
    };
    let renderer = Renderer::new(template.as_ref().map(|(n, t)| (n.as_str(), t.as_str())))?;
    let ctx = ViewContext {
        env: opts.env.clone(),
        root_module: opts.root_module.clone(),
        workspace: opts.workspace.clone(),
        mode: opts.mode.as_str().to_string(),
        marker: marker.clone(),
        // Stamped with the write time (and signed) when it is posted.
        metadata: marker::metadata(&marker::Meta {
            hash: hash.clone(),
            changes: None,
            written: None,
            sig: None,
        }),
        full_report_url: run_url.map(str::to_string),
    };
    // Secrets out of the data before anything escapes it (escaping would
    // hide them from the redactor); the rendered text is redacted again.
    let mut view = build::build_view_scrubbed(&plan, &ctx, &|s: String| redactor.redact_owned(s));
    drop(plan);
    // The summary first: the comment says whether it holds the whole plan.
    view.is_summary = true;
    let full_report_url = view.full_report_url.take();
    let (summary, summary_shortened) =
        renderer.render_within(&view, &redactor, Limits::SUMMARY, false)?;
    view.is_summary = false;
    view.full_report_url = full_report_url;
    view.summary_complete = !summary_shortened;
    let (comment, _) = renderer.render_within(&view, &redactor, comment_limits, true)?;
    let fallback = redactor.redact(&render::minimal(
        &view,
        &format!(
            "GitHub refused the full comment; the plan is in the job summary{}.",
            run_url
                .and_then(crate::markdown::url)
                .map(|u| format!(" of [this run]({u})"))
                .unwrap_or_default()
        ),
    ));
    Ok(Prepared {
        comment,
        summary,
        fallback,
        counts: view.counts,
        has_changes: view.has_changes,
        has_destroy: view.has_destroy,
        marker,
        hash,
        changes,
    })
}

fn read_text(path: &Path) -> Result<String, PlanCommentError> {
    std::fs::read_to_string(path).map_err(|source| PlanCommentError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `ferry plan-comment`: load, render, write outputs and summary, post or print.
pub async fn run(
    ctx: &Context,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<Prepared, PlanCommentError> {
    let plan = load::load_plan(&opts.plan, &opts.terraform)?;
    let comparison = match &opts.compare_with {
        Some((env, path)) => {
            let other = load::load_plan(path, &opts.terraform)?;
            let c = compare::compare(
                compare::Side {
                    env: &opts.env,
                    plan: &plan,
                },
                compare::Side { env, plan: &other },
            );
            Some(Redactor::from_parts(Vec::new(), &opts.redact)?.redact(&compare::render(&c)))
        }
        None => None,
    };
    let mut prepared = prepare(plan, opts, ctx.run_url.as_deref())?;
    if let Some(section) = comparison {
        let reserved = prepared.changes.as_ref().map_or(0, |b| b.len() + 1);
        prepared.comment = compare::with_section(
            &prepared.comment,
            &section,
            crate::markdown::COMMENT_MAX_CHARS - reserved,
            crate::markdown::COMMENT_MAX_BYTES - reserved,
        );
        prepared.summary = compare::with_section(
            &prepared.summary,
            &section,
            usize::MAX,
            render::SUMMARY_MAX_BYTES,
        );
    }
    post::write_outputs(ctx, reporter, &prepared)?;
    let pr = opts.pr.or(ctx.pull_request());
    let io = |source| PlanCommentError::Io {
        path: PathBuf::from("<stdout>"),
        source,
    };
    match (opts.dry_run || !ctx.in_actions, pr) {
        (false, Some(pr)) => {
            for note in post::publish(ctx, opts, pr, &prepared).await? {
                reporter.info(&note).map_err(io)?;
            }
        }
        (_, _) => {
            if !opts.dry_run {
                reporter
                    .info(
                        "plan-comment: not on a pull request in GitHub Actions: printing the comment instead of posting it",
                    )
                    .map_err(io)?;
            }
            reporter.print(&prepared.comment).map_err(io)?;
        }
    }
    // Shown to the reviewers first, then a failure: never "no changes".
    if prepared.counts.unknown > 0 {
        return Err(PlanCommentError::UnknownChanges {
            env: opts.env.clone(),
            count: prepared.counts.unknown,
        });
    }
    Ok(prepared)
}
