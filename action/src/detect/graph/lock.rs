//! Lockfiles: which services a changed lockfile touches, and the resolved
//! versions it changed for them (or that it cannot tell).

use std::collections::{BTreeMap, BTreeSet};

use super::super::affected::Reason;
use super::{Ecosystem, Graph, Project, Resolved, js, python};
use crate::crates::{PackageChange, Tree};

/// Lockfiles: name, language, and whether Ferry can read per-package
/// versions from it.
pub(super) const LOCKFILES: &[(&str, Ecosystem, bool)] = &[
    ("package-lock.json", Ecosystem::JavaScript, true),
    ("npm-shrinkwrap.json", Ecosystem::JavaScript, true),
    ("pnpm-lock.yaml", Ecosystem::JavaScript, true),
    ("yarn.lock", Ecosystem::JavaScript, false),
    ("bun.lock", Ecosystem::JavaScript, false),
    ("bun.lockb", Ecosystem::JavaScript, false),
    ("uv.lock", Ecosystem::Python, true),
    ("poetry.lock", Ecosystem::Python, false),
    ("pdm.lock", Ecosystem::Python, false),
];

impl Graph {
    /// A changed lockfile: for each service using it, the resolved versions
    /// that changed, or every one of them when the lockfile cannot tell.
    pub(super) fn lockfile(
        &self,
        (file, dir, eco, readable): (&String, &str, Ecosystem, bool),
        services: &[&crate::manifest::Service],
        head: &dyn Tree,
        base: Option<&dyn Tree>,
        out: &mut [Vec<Reason>],
    ) {
        // The projects this lockfile resolves: its folder's, and its workspace's.
        let uses =
            |p: &Project| p.eco == eco && (p.dir == dir || p.workspace.as_deref() == Some(dir));
        let users: Vec<(usize, Vec<usize>)> = self
            .closure
            .iter()
            .enumerate()
            .filter(|(s, _)| services[*s].paths.decide(file).is_none())
            .map(|(s, c)| {
                (
                    s,
                    c.iter()
                        .copied()
                        .filter(|&p| uses(&self.projects[p]))
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, ps)| !ps.is_empty())
            .collect();
        if users.is_empty() {
            return;
        }
        let all = |why: String, out: &mut [Vec<Reason>]| {
            for (s, _) in &users {
                out[*s].push(Reason::PackageLockAll {
                    file: file.clone(),
                    why: why.clone(),
                });
            }
        };
        if !readable {
            return all(
                format!(
                    "Ferry cannot tell from {} which package uses which version",
                    file.rsplit('/').next().unwrap_or(file)
                ),
                out,
            );
        }
        let Some(base) = base else {
            return all("the base commit is not in this clone".into(), out);
        };
        let name = file.rsplit('/').next().unwrap_or(file);
        let resolver = match Lock::read(name, base.read(file), head.read(file)) {
            Ok(r) => r,
            Err(why) => return all(why, out),
        };
        for (s, projects) in users {
            let importers: Vec<(String, String)> = projects
                .iter()
                .map(|&p| {
                    let project = &self.projects[p];
                    let rel = if dir.is_empty() {
                        project.dir.clone()
                    } else {
                        project
                            .dir
                            .strip_prefix(&format!("{dir}/"))
                            .unwrap_or("")
                            .to_string()
                    };
                    (rel, project.name.clone())
                })
                .collect();
            match resolver.changes(&importers) {
                Ok(changes) if changes.is_empty() => {}
                Ok(changes) => out[s].push(Reason::PackageLock {
                    file: file.clone(),
                    packages: changes,
                }),
                Err(why) => out[s].push(Reason::PackageLockAll {
                    file: file.clone(),
                    why,
                }),
            }
        }
    }
}

/// Both sides of a readable lockfile, parsed once.
enum Lock {
    Npm(serde_json::Value, serde_json::Value),
    Pnpm(serde_json::Value, serde_json::Value),
    Uv(toml::Table, toml::Table),
}

impl Lock {
    fn read(name: &str, old: Option<String>, new: Option<String>) -> Result<Self, String> {
        // A lockfile added or removed: compared with an empty one.
        let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
        fn side<T>(what: &str, r: Result<T, String>) -> Result<T, String> {
            r.map_err(|e| format!("its {what} version cannot be read: {e}"))
        }
        Ok(match name {
            "pnpm-lock.yaml" => {
                let parse = |t: &str| {
                    if t.is_empty() {
                        Ok(serde_json::json!({"importers": {}}))
                    } else {
                        js::parse_pnpm_lock(t)
                    }
                };
                Self::Pnpm(side("base", parse(&old))?, side("head", parse(&new))?)
            }
            "uv.lock" => {
                let parse =
                    |t: &str| python::parse_uv_lock(if t.is_empty() { "package = []" } else { t });
                Self::Uv(side("base", parse(&old))?, side("head", parse(&new))?)
            }
            _ => {
                let parse = |t: &str| {
                    if t.is_empty() {
                        Ok(serde_json::json!({"lockfileVersion": 3, "packages": {}}))
                    } else {
                        js::parse_npm_lock(t)
                    }
                };
                Self::Npm(side("base", parse(&old))?, side("head", parse(&new))?)
            }
        })
    }

    /// The versions that differ for these importers (folder, name).
    fn changes(&self, importers: &[(String, String)]) -> Result<Vec<String>, String> {
        let resolve = |old: bool| -> Resolved {
            let mut all = BTreeSet::new();
            for (dir, name) in importers {
                all.extend(match self {
                    Self::Npm(o, n) => js::npm_lock(if old { o } else { n }, dir)?,
                    Self::Pnpm(o, n) => js::pnpm_lock(if old { o } else { n }, dir)?,
                    Self::Uv(o, n) => python::uv_lock(if old { o } else { n }, name)?,
                });
            }
            Ok(all)
        };
        let (before, after) = (resolve(true)?, resolve(false)?);
        let mut by_name: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for (n, v) in before.difference(&after) {
            by_name.entry(n).or_default().0.push(v.clone());
        }
        for (n, v) in after.difference(&before) {
            by_name.entry(n).or_default().1.push(v.clone());
        }
        Ok(by_name
            .into_iter()
            .map(|(name, (before, after))| {
                PackageChange {
                    name: name.to_string(),
                    before,
                    after,
                }
                .to_string()
            })
            .collect())
    }
}
