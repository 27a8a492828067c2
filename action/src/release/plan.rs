//! The decisions of a release that need no service: whether it is a dry
//! run, and what the dry run prints.

use serde::Serialize;

/// Whether a release touches anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Build, push, register and roll out.
    Live,
    /// Print the plan only; why.
    DryRun(String),
}

/// Chooses the mode. On a laptop without AWS credentials a release is a dry
/// run (that is what someone trying Ferry wants to see); in GitHub Actions a
/// missing credential is an error, because a job that lost its role must
/// fail rather than pass without deploying.
pub fn choose_mode(dry_run: bool, in_actions: bool, aws_credentials: bool) -> Result<Mode, String> {
    match (dry_run, in_actions, aws_credentials) {
        (true, _, _) => Ok(Mode::DryRun("--dry-run was given".into())),
        (false, _, true) => Ok(Mode::Live),
        (false, false, false) => Ok(Mode::DryRun(
            "no AWS credentials are configured (set AWS_PROFILE or AWS_ACCESS_KEY_ID to release for real)".into(),
        )),
        (false, true, false) => Err(
            "no AWS credentials: configure aws-actions/configure-aws-credentials with the role from Terraform's \
             `github_actions_role_arns` output before this step, or pass --dry-run (the `dry-run` input) to only \
             print the plan"
                .into(),
        ),
    }
}

/// One service of the plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DryRunService {
    /// The service.
    pub service: String,
    /// Why detect selected it.
    pub why: Vec<String>,
    /// The image it would run.
    pub image: String,
    /// The rendered task definition's file.
    pub task_definition_file: String,
    /// How it would roll out (strategy, steps, analysis).
    pub rollout: String,
    /// What would change on the running service (`+`/`-`/`~` lines), or
    /// `None` when the running definition could not be read.
    pub changes: Option<Vec<String>>,
    /// Why `changes` is missing.
    pub changes_note: Option<String>,
}

/// Everything a dry run prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DryRunReport {
    /// The environment.
    pub env: String,
    /// Why this is a dry run.
    pub why_dry: String,
    /// How detect found the changes.
    pub source: String,
    /// Detect's notes.
    pub notes: Vec<String>,
    /// Services not affected.
    pub unaffected: Vec<String>,
    /// The affected services.
    pub services: Vec<DryRunService>,
    /// The waves they would roll out in (`depends-on`), one line each
    /// (`wave 1/2: db, cache`); empty for a release in one wave.
    pub waves: Vec<String>,
    /// The deploy comment a live run would post.
    pub comment: String,
}

const TEMPLATE: &str = include_str!("../../templates/release-plan.md.tera");

/// The plan as markdown (the terminal and the job summary).
pub fn plan_markdown(plan: &DryRunReport) -> String {
    // Autoescape on: a value without a filter is escaped as prose.
    let mut tera = crate::markdown::tera();
    let rendered = tera
        .add_raw_template("release-plan", TEMPLATE)
        .and_then(|()| {
            tera.render(
                "release-plan",
                &tera::Context::from_serialize(plan).unwrap_or_default(),
            )
        });
    match rendered {
        Ok(text) => text,
        // The template is built in and tested; this keeps a broken edit visible.
        Err(e) => format!("release plan could not be rendered: {e:?}\n"),
    }
}
