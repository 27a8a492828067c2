//! What a service's image is built from, read at one commit: the input side
//! of the content tag.
//!
//! The same association `detect` makes, minus what does not go into the
//! image: the service's path globs, the manifest's global paths, its
//! Dockerfile, the folders of its crate and of every workspace crate it
//! depends on, the workspace `Cargo.toml`, and the `Cargo.lock` packages of
//! its resolved tree. The task definition is left out on purpose: changing
//! it redeploys the same image.

use std::collections::BTreeSet;

use super::tag::ContentInputs;
use crate::crates::{Lockfile, Workspace};
use crate::manifest::{Manifest, Service};

/// One file of a commit's tree, as `git ls-tree -r` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// File mode (`100644`, `100755`, `120000`).
    pub mode: String,
    /// The blob id.
    pub blob: String,
    /// Path from the repository root.
    pub path: String,
}

/// Parses `git ls-tree -r -z <rev>` output (`mode type id\tpath\0`).
pub fn parse_ls_tree(out: &str) -> Vec<TreeEntry> {
    out.split('\0')
        .filter_map(|rec| {
            let (meta, path) = rec.split_once('\t')?;
            let mut parts = meta.split(' ');
            let mode = parts.next()?;
            let kind = parts.next()?;
            let blob = parts.next()?;
            (kind == "blob").then(|| TreeEntry {
                mode: mode.into(),
                blob: blob.into(),
                path: path.into(),
            })
        })
        .collect()
}

/// Which paths are inputs of one service's image.
#[derive(Debug, Clone)]
pub struct Selector<'a> {
    manifest: &'a Manifest,
    service: &'a Service,
    crate_dirs: Vec<String>,
}

impl<'a> Selector<'a> {
    /// The selector of `service`, with its crate closure from `workspace`.
    pub fn new(manifest: &'a Manifest, service: &'a Service, workspace: &Workspace) -> Self {
        let crate_dirs = service
            .crate_name
            .as_deref()
            .map(|root| {
                workspace
                    .local_closure(root)
                    .iter()
                    .filter_map(|name| workspace.crates.get(name))
                    .map(|c| c.dir.clone())
                    .collect()
            })
            .unwrap_or_default();
        Self {
            manifest,
            service,
            crate_dirs,
        }
    }

    /// Whether a change to `path` can change the image.
    pub fn is_input(&self, path: &str) -> bool {
        let under = |dir: &str| {
            !dir.is_empty()
                && path.starts_with(dir)
                && path.as_bytes().get(dir.len()) == Some(&b'/')
        };
        self.service.paths.first_match(path).is_some()
            || self.manifest.global_paths.first_match(path).is_some()
            || path == self.service.dockerfile
            || (!self.crate_dirs.is_empty() && path == "Cargo.toml")
            || self.crate_dirs.iter().any(|d| under(d))
    }
}

/// Selects the service's inputs from the files of a commit (pure).
pub fn select(
    manifest: &Manifest,
    service: &Service,
    workspace: &Workspace,
    lockfile: Option<&Lockfile>,
    files: &[TreeEntry],
) -> ContentInputs {
    let selector = Selector::new(manifest, service, workspace);
    let selected = files
        .iter()
        .filter(|f| selector.is_input(&f.path))
        .map(|f| (f.path.clone(), f.mode.clone(), f.blob.clone()))
        .collect();
    let packages: BTreeSet<String> = match (lockfile, service.crate_name.as_deref()) {
        (Some(lock), Some(root)) => lock
            .closure(root)
            .into_iter()
            .map(|p| {
                format!(
                    "{} {} {}",
                    p.name,
                    p.version,
                    p.source.as_deref().unwrap_or("path")
                )
            })
            .collect(),
        _ => BTreeSet::new(),
    };
    ContentInputs {
        files: selected,
        packages: packages.into_iter().collect(),
        settings: vec![
            ("dockerfile".into(), service.dockerfile.clone()),
            ("context".into(), service.context.clone()),
        ],
    }
}
