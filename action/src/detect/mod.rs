//! `ferry detect`: which services a change touches, and why.
//!
//! The event decides which commits to compare ([`range`]); git (deepening a
//! shallow clone as needed) or the GitHub API says which files changed; the
//! manifest's globs, the Jsonnet imports, the Cargo graph and the Go,
//! JavaScript and Python graphs ([`graph`]) decide which
//! services that affects ([`affected`]). When the answer cannot be known, every
//! service is affected and the summary says why: a release never silently
//! skips a service.

pub mod affected;
pub mod graph;
pub mod imports;
pub mod range;
mod report;
mod resolve;

use std::collections::{BTreeMap, BTreeSet};

use crate::crates::{FsTree, Lockfile, Tree, Workspace};
use crate::diagnostic::{Diagnose, Diagnostic};
use crate::gha::{Context, Reporter};
use crate::git::{Git, GitTree};
use crate::inputs::ServiceSelection;
use crate::manifest::{Manifest, ManifestError, RawManifest, yaml};
use crate::project::{Project, ProjectError, StageError};
pub use affected::{LockChange, ManifestChange, Matcher, Reason, Verdict};
pub use report::{matrix, summary_markdown};
pub use resolve::Changes;

/// Options of `ferry detect`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Compare from this commit.
    pub base: Option<String>,
    /// Compare up to this commit.
    pub head: Option<String>,
    /// Skip the comparison: these services (or all).
    pub services: Option<ServiceSelection>,
    /// Never call the GitHub API (git only).
    pub no_api: bool,
}

/// What `detect` found.
#[derive(Debug, Clone)]
pub struct Detection {
    /// One verdict per service of the manifest, in manifest order.
    pub verdicts: Vec<Verdict>,
    /// How the changed files were found ("git diff a1b2c3d..e4f5a6b", ...).
    pub source: String,
    /// Things the user should know (a deepened clone, a fallback).
    pub notes: Vec<String>,
    /// Things the user should fix: a fallback that may change the answer
    /// (Deployments unreadable). Annotations as well as summary lines.
    pub warnings: Vec<String>,
    /// How many files changed.
    pub changed_files: usize,
    /// The commit compared, when a comparison was made.
    pub head_sha: Option<crate::git::ObjectId>,
    /// Every file of `head_sha`, when it was listed (read once, for the
    /// project files and for the check that every glob matches a file).
    pub head_files: Option<Vec<String>>,
}

impl Detection {
    /// The affected services, in manifest order.
    pub fn affected(&self) -> Vec<&str> {
        self.verdicts
            .iter()
            .filter(|v| v.affected())
            .map(|v| v.service.as_str())
            .collect()
    }
}

/// `detect` could not give an answer it can stand behind.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The manifest, or bad input (unknown service, unknown ref, no way to
    /// see history).
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// Git failed in a way that is not "history missing".
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
}

impl Diagnose for DetectError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Project(e) => e.diagnostics(),
            Self::Git(_) => Vec::new(),
        }
    }
}

impl StageError for DetectError {}

/// Runs detect on the project (`git`: its repository, when it is one) and
/// writes its outputs and summary.
pub async fn run(
    ctx: &Context,
    project: &Project,
    git: Option<&Git>,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<Detection, DetectError> {
    let manifest = &project.manifest;
    manifest
        .report_warnings(|w| reporter.warning(w))
        .map_err(io_error)?;
    if let Some(token) = &ctx.token {
        reporter.mask(token).map_err(io_error)?;
    }
    let mut detection = match detect(ctx, project, git, opts).await {
        Err(DetectError::Project(ProjectError::Input(m)))
            if m.starts_with("unknown revision") && git.is_some_and(Git::is_empty) =>
        {
            return Err(DetectError::input(crate::git::EMPTY_REPOSITORY));
        }
        other => other?,
    };
    // Every `paths` glob must match a file of the commit detect looked at
    // (else the checked-out one), whichever way the answer was reached.
    if let Some(g) = git {
        let head = match &detection.head_sha {
            Some(sha) => Some(sha.clone()),
            None => g.head()?,
        };
        if let Some(head) = head {
            let files = match detection.head_files.take() {
                Some(files) if detection.head_sha.as_ref() == Some(&head) => files,
                _ => g.files(&head)?,
            };
            detection.warnings.extend(check_paths_match(
                &files,
                &head,
                manifest,
                project.manifest_path(),
            )?);
        }
    }
    for w in &detection.warnings {
        reporter
            .warning(&Diagnostic::new(".github/workflows", w.clone()))
            .map_err(io_error)?;
    }
    for v in &detection.verdicts {
        reporter
            .output(&v.service, if v.affected() { "true" } else { "false" })
            .map_err(io_error)?;
    }
    let affected = detection.affected();
    reporter
        .output(
            "services",
            &serde_json::to_string(&affected).unwrap_or_default(),
        )
        .map_err(io_error)?;
    reporter
        .output("matrix", &matrix(manifest, &affected).to_string())
        .map_err(io_error)?;
    reporter
        .output("any", if affected.is_empty() { "false" } else { "true" })
        .map_err(io_error)?;
    reporter
        .summary(&summary_markdown(&detection))
        .map_err(io_error)?;
    Ok(detection)
}

/// Every `paths` glob must match a file of the commit detect looks at: one
/// that matches none is refused (a service silently never released), one
/// listed in `pending-paths` is returned as a warning.
fn check_paths_match(
    files: &[String],
    head: &crate::git::ObjectId,
    manifest: &Manifest,
    manifest_path: &std::path::Path,
) -> Result<Vec<String>, DetectError> {
    let (pending, missing): (Vec<_>, Vec<_>) =
        crate::manifest::coverage::unmatched(manifest, files)
            .into_iter()
            .partition(|u| u.pending);
    if !missing.is_empty() {
        return Err(DetectError::from(ProjectError::from(
            ManifestError::Invalid(crate::diagnostic::Diagnostics(
                missing
                    .iter()
                    .map(|u| u.diagnostic(manifest_path, head.short()))
                    .collect(),
            )),
        )));
    }
    Ok(pending
        .iter()
        .map(|u| u.diagnostic(manifest_path, head.short()).to_string())
        .collect())
}

fn io_error(e: std::io::Error) -> DetectError {
    DetectError::input(format!("cannot write the outputs: {e}"))
}

/// The decision without the reporting: resolve the range, read the trees, match.
#[tracing::instrument(name = "detect", skip_all)]
pub async fn detect(
    ctx: &Context,
    project: &Project,
    git: Option<&Git>,
    opts: &Options,
) -> Result<Detection, DetectError> {
    let manifest = &project.manifest;
    let request = range::Request {
        base: opts.base.clone(),
        head: opts.head.clone(),
        services: opts.services.clone(),
        sha: ctx.sha.clone(),
        release_branch: manifest.release_branch.clone(),
        first_env: manifest.first_environment().map(|e| e.name.clone()),
        can_read_deployments: !opts.no_api && ctx.token.is_some() && ctx.repository.is_some(),
    };
    let plan = range::plan(&ctx.event, &request).map_err(DetectError::input)?;
    let (changes, head) = match plan {
        range::Plan::All { why } => return Ok(forced(affected::all(manifest, &why), why)),
        range::Plan::Nothing { why } => {
            return Ok(forced(affected::selected(manifest, &[], &why), why));
        }
        range::Plan::Selected { names, why } => {
            let names = ServiceSelection::Named(names)
                .resolve(manifest)
                .map_err(DetectError::input)?;
            return Ok(forced(affected::selected(manifest, &names, &why), why));
        }
        range::Plan::Compare {
            head,
            bases,
            pull_request,
            expected_files,
            release,
        } => {
            let resolver = resolve::Resolver {
                ctx,
                manifest,
                git,
                use_api: !opts.no_api,
            };
            match resolver
                .changes(&head, &bases, pull_request, expected_files, release)
                .await?
            {
                Ok(changes) => (changes, head),
                Err(resolve::Fallback { why, warnings }) => {
                    let mut detection = forced(affected::all(manifest, &why), why);
                    detection.warnings = warnings;
                    return Ok(detection);
                }
            }
        }
    };
    let (mut verdicts, mut notes, graph_warnings, head_files) = evaluate(
        manifest,
        git,
        &project.root,
        project.manifest_path(),
        &changes,
        &head,
    )?;
    notes.splice(0..0, changes.notes.iter().cloned());
    for (service, why) in &changes.forced {
        if let Some(v) = verdicts.iter_mut().find(|v| &v.service == service) {
            v.reasons.insert(0, Reason::Forced { why: why.clone() });
        }
    }
    Ok(Detection {
        verdicts,
        source: changes.source.clone(),
        notes,
        warnings: changes
            .warnings
            .iter()
            .cloned()
            .chain(graph_warnings)
            .collect(),
        changed_files: changes.files.len(),
        head_sha: changes.head_sha.clone(),
        head_files,
    })
}

fn forced(verdicts: Vec<Verdict>, why: String) -> Detection {
    Detection {
        verdicts,
        source: why,
        notes: Vec::new(),
        warnings: Vec::new(),
        changed_files: 0,
        head_sha: None,
        head_files: None,
    }
}

/// The verdicts, the notes and the warnings of one evaluation, and the
/// head commit's files when they were listed.
type Evaluation = (Vec<Verdict>, Vec<String>, Vec<String>, Option<Vec<String>>);

/// Reads what the rules need from the head tree (and the base, for
/// Cargo.lock and the manifest), then matches.
fn evaluate(
    manifest: &Manifest,
    git: Option<&Git>,
    root: &std::path::Path,
    manifest_path: &std::path::Path,
    changes: &Changes,
    head: &crate::git::Rev,
) -> Result<Evaluation, DetectError> {
    let head_tree: Box<dyn Tree + '_> = match (git, &changes.head_sha) {
        (Some(g), Some(sha)) => Box::new(GitTree::new(g, sha.clone())),
        _ => Box::new(FsTree(root.to_path_buf())),
    };
    let base_tree: Option<GitTree<'_>> = match (git, &changes.base_sha) {
        (Some(g), Some(sha)) => Some(GitTree::new(g, sha.clone())),
        _ => None,
    };
    let workspace = Workspace::load(head_tree.as_ref()).map_err(|e| {
        DetectError::input(format!("cannot read the Cargo workspace at {head}: {e}"))
    })?;
    // Every task definition and the project files of the services' folders
    // in one pipeline; their imports, mostly shared libraries, are then read
    // once each.
    let mut first_reads: Vec<String> = manifest
        .services
        .values()
        .map(|s| s.task_definition.clone())
        .collect();
    // The head's file list (one `git ls-tree`, reused for the glob check)
    // says which project files exist: asking git for each possible one
    // costs more than listing them all.
    let head_files = match (git, &changes.head_sha) {
        (Some(g), Some(sha)) => Some(g.files(sha)?),
        _ => None,
    };
    let existing: Option<std::collections::HashSet<&str>> = head_files
        .as_ref()
        .map(|f| f.iter().map(String::as_str).collect());
    first_reads.extend(
        graph::candidates(manifest)
            .into_iter()
            .filter(|c| existing.as_ref().is_none_or(|e| e.contains(c.as_str()))),
    );
    head_tree.prefetch(&first_reads);
    let exists = |p: &str| existing.as_ref().is_none_or(|e| e.contains(p));
    let graph = graph::Graph::load(head_tree.as_ref(), manifest, &exists);
    let read = |p: &str| head_tree.read(p);
    let imports = task_definition_imports(manifest, &read);
    let paths: Vec<String> = changes.files.iter().map(|f| f.path.clone()).collect();
    let lock = lock_change(&paths, head_tree.as_ref(), base_tree.as_ref());
    let manifest_path = manifest_path.to_string_lossy().replace('\\', "/");
    let manifest_change = if paths.contains(&manifest_path) {
        manifest_change(
            &read(&manifest_path),
            &base_tree.as_ref().map(|t| t.read(&manifest_path)),
        )
    } else {
        ManifestChange::default()
    };
    let matcher = Matcher::new(manifest, &workspace, &imports);
    let mut notes = unknown_crates(manifest, &workspace);
    let mut verdicts = matcher.evaluate(&paths, &lock, &manifest_change);
    let (reasons, graph_notes) = graph.reasons(
        manifest,
        &paths,
        head_tree.as_ref(),
        base_tree.as_ref().map(|t| t as &dyn Tree),
    );
    graph::apply(&mut verdicts, reasons);
    notes.extend(graph_notes);
    let warnings = graph.warnings();
    drop(existing);
    Ok((verdicts, notes, warnings, head_files))
}

/// Per service, the files its task definition imports (transitively),
/// looked up as the renderer's library path does.
fn task_definition_imports(
    manifest: &Manifest,
    read: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, Vec<String>> {
    manifest
        .services
        .values()
        .map(|s| {
            let dir = s.task_definition.rsplit_once('/').map_or("", |(d, _)| d);
            let jpath: Vec<&str> = [dir, "task-definitions", "task-definitions/lib"]
                .into_iter()
                .filter(|d| !d.is_empty())
                .collect();
            (
                s.name.clone(),
                imports::closure(&s.task_definition, read, &jpath),
            )
        })
        .collect()
}

/// A crate named in the manifest that the workspace lacks is a typo, not a
/// non-Rust service: a note says so rather than silently ignore its
/// dependencies.
fn unknown_crates(manifest: &Manifest, workspace: &Workspace) -> Vec<String> {
    manifest
        .services
        .values()
        .filter(|s| s.crate_explicit)
        .filter_map(|s| s.crate_name.as_ref().map(|c| (s, c)))
        .filter(|(_, c)| !workspace.crates.contains_key(*c))
        .map(|(s, c)| {
            format!(
                "service `{}` names crate `{c}`, which is not a member of the Cargo workspace: its Cargo dependencies are not followed",
                s.name
            )
        })
        .collect()
}

fn lock_change(paths: &[String], head: &dyn Tree, base: Option<&GitTree<'_>>) -> LockChange {
    if !paths.iter().any(|p| p == "Cargo.lock") {
        return LockChange::Unchanged;
    }
    let Some(base) = base else {
        return LockChange::Unknown("the base commit is not in this clone".into());
    };
    let parse = |text: Option<String>, side: &str| -> Result<Lockfile, String> {
        match text {
            // A lockfile added or removed: compare with an empty one.
            None => Ok(Lockfile::default()),
            Some(t) => Lockfile::parse(&t).map_err(|e| format!("{side}: {e}")),
        }
    };
    match (
        parse(base.read("Cargo.lock"), "base"),
        parse(head.read("Cargo.lock"), "head"),
    ) {
        (Ok(old), Ok(new)) => LockChange::Changed {
            old: Box::new(old),
            new: Box::new(new),
        },
        (Err(e), _) | (_, Err(e)) => LockChange::Unknown(e),
    }
}

/// Which services' manifest entries differ between the base and the head.
fn manifest_change(head: &Option<String>, base: &Option<Option<String>>) -> ManifestChange {
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| yaml::from_str::<RawManifest>(t).ok())
    };
    let (Some(new), Some(old)) = (parse(head), base.as_ref().and_then(parse)) else {
        // No readable base manifest: everything it configures may have changed.
        return ManifestChange {
            services: BTreeSet::new(),
            settings: true,
        };
    };
    // A service whose entry is unchanged still changed when a path group
    // it includes did.
    let group_changed = |svc: &crate::manifest::RawService| {
        svc.paths.iter().flatten().any(|p| {
            p.strip_prefix("group:")
                .is_some_and(|g| old.path_groups.get(g.trim()) != new.path_groups.get(g.trim()))
        })
    };
    let services = new
        .services
        .iter()
        .filter(|(name, svc)| old.services.get(*name) != Some(svc) || group_changed(svc))
        .map(|(name, _)| name.clone())
        .collect();
    let settings = yaml::to_string(&(
        &old.project,
        &old.region,
        &old.release_branch,
        &old.global_paths,
        &old.environments,
    ))
    .ok()
        != yaml::to_string(&(
            &new.project,
            &new.region,
            &new.release_branch,
            &new.global_paths,
            &new.environments,
        ))
        .ok();
    ManifestChange { services, settings }
}
