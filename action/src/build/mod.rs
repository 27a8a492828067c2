//! `ferry build`: one image per service, tagged, pushed, and reused when
//! nothing it is built from has changed.
//!
//! The plan is data ([`Plan`]: tags, labels, where the image goes), computed
//! by pure functions ([`tag`], [`inputs`], [`builder`] argument vectors); the
//! effects are thin adapters: git (what the image is built from), the builder
//! (docker buildx or buildah), and the registry: ECR's API (login, which tags
//! exist, re-tagging) for an ECR host only, the registry's own HTTP API
//! ([`crate::registry`]) for any other. `--no-push` builds with no registry at all.

pub mod builder;
mod execute;
pub mod inputs;
mod report;
pub mod tag;

use std::time::SystemTime;

use crate::crates::{Lockfile, Workspace};
use crate::diagnostic::{Diagnose, Diagnostic};
use crate::gha::{Context, Reporter};
use crate::git::{Git, GitTree, Rev};
use crate::inputs::ServiceSelection;
use crate::manifest::{BuilderKind, Manifest};
use crate::project::{Project, ProjectError, StageError};
pub use execute::{Outcome, Settings, Status};
pub use report::summary_markdown;

/// Options of `ferry build`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The services to build (default: all).
    pub services: Option<ServiceSelection>,
    /// Overrides the manifest's builder.
    pub builder: Option<BuilderKind>,
    /// Overrides the manifest's registry host.
    pub registry: Option<String>,
    /// Overrides the manifest's parallelism.
    pub parallel: Option<usize>,
    /// Build and report only: no login, no push, no reuse (pull requests).
    pub no_push: bool,
    /// The registry login from inputs (else the Docker config file's).
    pub credentials: Option<crate::registry::Credentials>,
}

/// What one service's build is: decided before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The service.
    pub service: String,
    /// The image repository in the registry (`image-repository`).
    pub repository: String,
    /// Release tag (`<service>-<sha7>-<timestamp>`).
    pub tag: String,
    /// Content tag (hash of the inputs).
    pub content_tag: String,
    /// Dockerfile, relative to the root.
    pub dockerfile: String,
    /// Build context, relative to the root.
    pub context: String,
    /// Image labels.
    pub labels: Vec<(String, String)>,
    /// Input files whose work-tree state differs from the commit: the image
    /// would not be what the content tag says, so it is neither reused nor
    /// given the content tag.
    pub dirty: Vec<String>,
    /// Tags of the service's last images, whose layer cache the build
    /// reads: the content tag at the commit's first parent, when it differs
    /// (the image the previous build of this line pushed). Empty when the
    /// parent is not in the clone (a shallow checkout): no cache.
    pub cache_from: Vec<String>,
}

/// `build` failed before or while building.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The manifest, or bad input: unknown service, missing Dockerfile, no
    /// git, bad tag.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// Git could not read the commit.
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    /// ECR login or lookup failed (an ECR host only).
    #[error(transparent)]
    Ecr(#[from] crate::aws::ecr::EcrError),
    /// The builder refused the registry login.
    #[error(
        "{builder} login to {host} failed: {detail}\n  help: check that the registry is reachable and that its credentials (ECR's, the registry-username/registry-token inputs, or docker/login-action's) are valid"
    )]
    Login {
        /// docker or buildah.
        builder: String,
        /// The registry host.
        host: String,
        /// The builder's words (secrets scrubbed by the reporter).
        detail: String,
    },
    /// One or more services failed to build; each is in the summary.
    #[error("{} of {total} image builds failed: {}", failed.len(), failed.join("; "))]
    Failed {
        /// `service: reason` lines.
        failed: Vec<String>,
        /// How many were attempted.
        total: usize,
    },
}

impl Diagnose for BuildError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Project(e) => e.diagnostics(),
            _ => Vec::new(),
        }
    }
}

impl StageError for BuildError {}

/// What the plans are computed from: one commit, already read.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    /// The commit id.
    pub sha: &'a str,
    /// Its files (`git ls-tree -r`).
    pub files: &'a [inputs::TreeEntry],
    /// Its Cargo workspace.
    pub workspace: &'a Workspace,
    /// Its Cargo.lock, if any.
    pub lockfile: Option<&'a Lockfile>,
    /// The repository URL (the `source` label), if known.
    pub source: Option<&'a str>,
    /// Paths where the work tree (the build context) differs from the commit.
    pub dirty: &'a [String],
}

/// Computes each service's plan from the commit (pure).
pub fn plan(
    manifest: &Manifest,
    names: &[String],
    commit: &Commit<'_>,
    now: SystemTime,
) -> Result<Vec<Plan>, BuildError> {
    let Commit {
        sha,
        files,
        workspace,
        lockfile,
        source,
        dirty,
    } = *commit;
    let stamp = tag::utc_stamp(now);
    let created = tag::rfc3339(now);
    let mut plans = Vec::new();
    for name in names {
        let Some(service) = manifest.services.get(name) else {
            continue;
        };
        if !files.iter().any(|f| f.path == service.dockerfile) {
            return Err(BuildError::input(format!(
                "{}: the Dockerfile of `{name}` does not exist at commit {}\n  help: add it, or set services.{name}.dockerfile in {}",
                service.dockerfile,
                &sha[..sha.len().min(7)],
                manifest.file.display()
            )));
        }
        let content = inputs::select(manifest, service, workspace, lockfile, files);
        let selector = inputs::Selector::new(manifest, service, workspace);
        let dirty: Vec<String> = dirty
            .iter()
            .filter(|p| {
                selector.is_input(p) || (service.crate_name.is_some() && *p == "Cargo.lock")
            })
            .cloned()
            .collect();
        let content_tag = tag::content_tag(name, &tag::content_digest(&content));
        let release = tag::release_tag(
            &manifest.build.tag,
            tag::TagVars {
                service: name,
                project: &manifest.project,
                sha,
                timestamp: &stamp,
            },
        )
        .map_err(|e| BuildError::input(e.to_string()))?;
        let labels = tag::labels(tag::LabelVars {
            source,
            revision: sha,
            created: &created,
            service: name,
            version: &release,
            content: &content_tag,
        });
        plans.push(Plan {
            service: name.clone(),
            repository: service.ecr_repository.render(manifest.vars(name, "")),
            tag: release,
            content_tag,
            dockerfile: service.dockerfile.clone(),
            context: service.context.clone(),
            labels,
            dirty,
            cache_from: Vec::new(),
        });
    }
    Ok(plans)
}

/// Each service's content tag at `parent` (the commit before the one
/// built), read the way [`plan`] reads the commit; None when the parent is
/// not in the clone or cannot be planned (no Dockerfile there yet).
fn parent_content_tags(
    git: &Git,
    manifest: &Manifest,
    names: &[String],
    parent: &crate::git::ObjectId,
) -> Option<std::collections::BTreeMap<String, String>> {
    let files = inputs::parse_ls_tree(&git.ls_tree_recursive(parent).ok()?);
    let tree = GitTree::new(git, parent.clone());
    let workspace = Workspace::load(&tree).unwrap_or_default();
    let lockfile =
        crate::crates::Tree::read(&tree, "Cargo.lock").and_then(|t| Lockfile::parse(&t).ok());
    let commit = Commit {
        sha: parent.as_str(),
        files: &files,
        workspace: &workspace,
        lockfile: lockfile.as_ref(),
        source: None,
        dirty: &[],
    };
    // Per service: one whose Dockerfile is missing at the parent has no
    // last image, the others still do.
    let mut tags = std::collections::BTreeMap::new();
    for name in names {
        if let Ok(plans) = plan(
            manifest,
            std::slice::from_ref(name),
            &commit,
            SystemTime::now(),
        ) {
            tags.extend(plans.into_iter().map(|p| (p.service, p.content_tag)));
        }
    }
    Some(tags)
}

/// Everything `build` decides before it runs a builder: the plans, and
/// where and how they would be built. `release --dry-run` stops here.
#[derive(Debug)]
pub struct Prepared {
    /// The commit built.
    pub sha: String,
    /// One plan per service, in the order asked for.
    pub plans: Vec<Plan>,
    /// Builder, registry override, parallelism.
    pub settings: execute::Settings,
}

/// The repository `build` reads (content tags hash its files).
pub fn open_git(root: &std::path::Path) -> Result<Git, BuildError> {
    Git::open(root).map_err(|e| {
        BuildError::input(format!(
            "build needs the git repository (content tags hash its files): {e}"
        ))
    })
}

/// Reads the run's commit in `git` (the project's repository) and computes
/// the plans of the selected services (git only: no builder, no AWS).
pub fn prepare(
    ctx: &Context,
    project: &Project,
    git: &Git,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<Prepared, BuildError> {
    let manifest = &project.manifest;
    let names = opts
        .services
        .as_ref()
        .unwrap_or(&ServiceSelection::All)
        .resolve(manifest)
        .map_err(BuildError::input)?;
    let names = &names;
    let root = git.root().to_path_buf();
    let rev = ctx.sha.clone().unwrap_or_else(|| "HEAD".into());
    let rev = Rev::parse(rev.trim()).map_err(|e| BuildError::input(format!("GITHUB_SHA: {e}")))?;
    let sha = git.resolve(&rev)?.ok_or_else(|| {
        BuildError::input(if git.is_empty() {
            crate::git::EMPTY_REPOSITORY.to_string()
        } else {
            format!("commit `{rev}` is not in this clone (GITHUB_SHA)")
        })
    })?;
    let files = inputs::parse_ls_tree(&git.ls_tree_recursive(&sha)?);
    let tree = GitTree::new(git, sha.clone());
    let workspace = Workspace::load(&tree).unwrap_or_default();
    let lockfile =
        crate::crates::Tree::read(&tree, "Cargo.lock").and_then(|t| Lockfile::parse(&t).ok());
    // The builder reads the work tree: note where it is not the commit.
    let dirty = git.dirty_files(&sha)?;
    let sha = sha.as_str().to_string();
    let source = ctx
        .repository
        .as_ref()
        .map(|r| format!("https://github.com/{r}"));
    let commit = Commit {
        sha: &sha,
        files: &files,
        workspace: &workspace,
        lockfile: lockfile.as_ref(),
        source: source.as_deref(),
        dirty: &dirty,
    };
    let mut plans = plan(manifest, names, &commit, SystemTime::now())?;
    let parent = Rev::parse(&sha)
        .ok()
        .map(|r| r.parent())
        .and_then(|r| git.resolve(&r).ok().flatten());
    if let Some(last) = parent.and_then(|p| parent_content_tags(git, manifest, names, &p)) {
        for p in &mut plans {
            if let Some(tag) = last.get(&p.service).filter(|t| **t != p.content_tag) {
                p.cache_from.push(tag.clone());
            }
        }
    }
    for p in plans.iter().filter(|p| !p.dirty.is_empty()) {
        let mut files = p
            .dirty
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if p.dirty.len() > 3 {
            files.push_str(&format!(" and {} more", p.dirty.len() - 3));
        }
        reporter
            .info(&format!(
                "warning: {}: the work tree differs from {} in {files}: building it without a content tag (it will not be reused)",
                p.service,
                &sha[..7.min(sha.len())]
            ))
            .map_err(|e| BuildError::input(format!("cannot write the log: {e}")))?;
    }
    let settings = execute::Settings {
        kind: opts.builder.unwrap_or(manifest.build.builder),
        registry: opts
            .registry
            .clone()
            .or_else(|| manifest.build.registry.clone()),
        parallel: opts.parallel.unwrap_or(manifest.build.parallel).max(1),
        region: manifest.region.clone(),
        root,
        push: !opts.no_push,
        credentials: opts.credentials.clone(),
    };
    Ok(Prepared {
        sha,
        plans,
        settings,
    })
}

/// Runs `build` on the project (`git`: its repository) and writes its
/// outputs and summary.
pub async fn run(
    ctx: &Context,
    project: &Project,
    git: &Git,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<Vec<Outcome>, BuildError> {
    project
        .manifest
        .report_warnings(|w| reporter.warning(w))
        .map_err(|e| BuildError::input(format!("cannot write the log: {e}")))?;
    let Prepared {
        plans, settings, ..
    } = prepare(ctx, project, git, opts, reporter)?;
    execute(&settings, plans, reporter).await
}

/// Builds (or reuses) the planned images and writes `build`'s outputs; an
/// error names every service that failed.
pub async fn execute(
    settings: &Settings,
    plans: Vec<Plan>,
    reporter: &mut Reporter,
) -> Result<Vec<Outcome>, BuildError> {
    let outcomes = execute::execute(settings, plans, reporter).await?;
    report::write(reporter, &outcomes)
        .map_err(|e| BuildError::input(format!("cannot write the outputs: {e}")))?;
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| match &o.status {
            Status::Failed(why) => Some(format!("{}: {why}", o.service)),
            _ => None,
        })
        .collect();
    if failed.is_empty() {
        Ok(outcomes)
    } else {
        Err(BuildError::Failed {
            failed,
            total: outcomes.len(),
        })
    }
}

#[cfg(test)]
mod tests;
