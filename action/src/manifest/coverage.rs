//! Every `paths` glob must match a file of the checked-out commit: a glob
//! that matches nothing (`servces/web/**`) is a service that is never
//! released, silently. The check is pure, over the commit's file list.

use std::collections::BTreeSet;

use super::Manifest;
use super::glob::PathGlob;
use super::template::suggest;
use crate::diagnostic::Diagnostic;

/// A `paths` glob that matches no file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    /// The service whose `paths` it is.
    pub service: String,
    /// The glob as written.
    pub glob: String,
    /// Listed in the service's `pending-paths`: a warning, not an error.
    pub pending: bool,
    /// The deepest existing folder on the glob's way, with a typo fixed
    /// where one folder name is close to an existing one (`services/web/`).
    pub nearest: String,
    /// The glob with those typos fixed, when that differs from the glob.
    pub suggestion: Option<String>,
}

impl Unmatched {
    /// The problem as a diagnostic of the manifest file, with the fix.
    pub fn diagnostic(&self, manifest: &std::path::Path, commit: &str) -> Diagnostic {
        let folder = if self.nearest.is_empty() {
            "the repository root".to_string()
        } else {
            format!("`{}`", self.nearest)
        };
        let fix = match &self.suggestion {
            Some(s) => format!("did you mean \"{s}\"? (the nearest existing folder is {folder})"),
            None => format!("the nearest existing folder is {folder}; correct the glob"),
        };
        let message = format!(
            "service `{}`: path glob \"{}\" matches no file at {commit}",
            self.service, self.glob
        );
        if self.pending {
            Diagnostic::new(manifest, format!("{message} (listed in `pending-paths`)")).help(
                format!("{fix}; once the folder exists, remove it from `pending-paths`"),
            )
        } else {
            Diagnostic::new(manifest, message).help(format!(
                "{fix}; for a folder that does not exist yet, list the glob in the service's `pending-paths`"
            ))
        }
    }
}

/// The services' globs that match none of `files` (sorted, `/`-separated,
/// relative to the repository root). `!` globs are not checked: one that
/// excludes nothing releases too often, never too rarely.
pub fn unmatched(manifest: &Manifest, files: &[String]) -> Vec<Unmatched> {
    let mut folders: Option<BTreeSet<&str>> = None;
    let mut out = Vec::new();
    for svc in manifest.services.values() {
        for (glob, text) in svc.paths.matchers.iter().zip(&svc.paths.globs) {
            if glob.is_negated() || matches_any(glob, files) {
                continue;
            }
            let folders = folders.get_or_insert_with(|| folders_of(files));
            let (nearest, fixed) = nearest_folder(glob.literal_prefix(), folders);
            let suggestion = fixed
                .and_then(|(from, to)| text.strip_prefix(from.as_str()).map(|rest| to + rest))
                .filter(|s| PathGlob::new(s).is_ok_and(|g| matches_any(&g, files)));
            out.push(Unmatched {
                service: svc.name.clone(),
                glob: text.clone(),
                pending: svc.pending_paths.contains(text),
                nearest,
                suggestion,
            });
        }
    }
    out
}

/// Whether `glob` matches one of the sorted `files`: only the files that
/// start with its literal prefix are tested.
fn matches_any(glob: &PathGlob, files: &[String]) -> bool {
    let prefix = glob.literal_prefix();
    let start = files.partition_point(|f| f.as_str() < prefix);
    files[start..]
        .iter()
        .take_while(|f| f.starts_with(prefix))
        .any(|f| glob.is_match(f))
}

/// Every folder of `files`, each with its trailing `/`.
fn folders_of(files: &[String]) -> BTreeSet<&str> {
    let mut set = BTreeSet::new();
    for f in files {
        for (i, _) in f.match_indices('/') {
            set.insert(&f[..=i]);
        }
    }
    set
}

/// Walks the folders of `prefix` from the root: each that exists is kept,
/// one that does not is replaced by its closest sibling when there is one.
/// Returns the deepest folder reached, and (when a name was replaced) the
/// prefix's folder part as written and as corrected.
fn nearest_folder(prefix: &str, folders: &BTreeSet<&str>) -> (String, Option<(String, String)>) {
    let written_end = prefix.rfind('/').map_or(0, |i| i + 1);
    let mut reached = String::new();
    let mut consumed = 0;
    let mut replaced = false;
    for part in prefix[..written_end].split_terminator('/') {
        let candidate = format!("{reached}{part}/");
        if folders.contains(candidate.as_str()) {
            reached = candidate;
        } else {
            let siblings = folders
                .range(reached.as_str()..)
                .take_while(|f| f.starts_with(reached.as_str()))
                .filter_map(|f| {
                    let rest = &f[reached.len()..];
                    let name = rest.strip_suffix('/')?;
                    (!name.is_empty() && !name.contains('/')).then_some(name)
                });
            let Some(name) = suggest(siblings, part) else {
                break;
            };
            reached = format!("{reached}{name}/");
            replaced = true;
        }
        consumed += part.len() + 1;
    }
    let fix = (replaced && consumed > 0).then(|| (prefix[..consumed].to_string(), reached.clone()));
    (reached, fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(paths: &str, pending: &str) -> Manifest {
        let text = format!(
            "project: p\nregion: eu-west-1\nenvironments:\n  staging: {{ cluster: c }}\nservices:\n  web:\n    paths: {paths}\n{pending}"
        );
        Manifest::parse(&text, std::path::Path::new(".github/ferry.yml")).unwrap()
    }

    fn files() -> Vec<String> {
        let mut f: Vec<String> = [
            "services/web/src/main.go",
            "services/web/Dockerfile",
            "services/api/main.py",
            "libs/shared/x.go",
            "go.mod",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        f.sort();
        f
    }

    #[test]
    fn a_typo_names_the_nearest_folder_and_the_corrected_glob() {
        let m = manifest("[servces/web/**, go.mod, '!services/web/none/**']", "");
        let u = unmatched(&m, &files());
        assert_eq!(u.len(), 1, "{u:?}");
        assert_eq!(u[0].glob, "servces/web/**");
        assert_eq!(u[0].nearest, "services/web/");
        assert_eq!(u[0].suggestion.as_deref(), Some("services/web/**"));
        assert!(!u[0].pending);
        let d = u[0].diagnostic(std::path::Path::new(".github/ferry.yml"), "abc1234");
        let text = d.to_string();
        assert!(
            text.contains("path glob \"servces/web/**\" matches no file at abc1234"),
            "{text}"
        );
        assert!(text.contains("did you mean \"services/web/**\""), "{text}");
        assert!(text.contains("`pending-paths`"), "{text}");
    }

    #[test]
    fn a_missing_folder_names_the_deepest_existing_one() {
        let m = manifest("[services/web/cmd/**]", "");
        let u = unmatched(&m, &files());
        assert_eq!(u[0].nearest, "services/web/");
        assert_eq!(u[0].suggestion, None);
        let m = manifest("['**/*.rs']", "");
        let u = unmatched(&m, &files());
        assert_eq!(u[0].nearest, "");
        let text = u[0].diagnostic(std::path::Path::new("f"), "c").to_string();
        assert!(text.contains("the repository root"), "{text}");
    }

    #[test]
    fn pending_paths_are_a_warning_and_must_be_paths() {
        let m = manifest(
            "[services/web/**, services/next/**]",
            "    pending-paths: [services/next/**]\n",
        );
        let u = unmatched(&m, &files());
        assert_eq!(u.len(), 1);
        assert!(u[0].pending);
        let text = u[0].diagnostic(std::path::Path::new("f"), "c").to_string();
        assert!(text.contains("listed in `pending-paths`"), "{text}");

        let text = "project: p\nregion: eu-west-1\nenvironments:\n  staging: { cluster: c }\nservices:\n  web:\n    pending-paths: [services/nxt/**]\n";
        let err = Manifest::parse(text, std::path::Path::new("f"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pending path \"services/nxt/**\" is not one of service `web`'s `paths`"),
            "{err}"
        );
        assert!(err.contains("services/web/**"), "{err}");
    }

    #[test]
    fn the_default_paths_are_checked_too() {
        let text = "project: p\nregion: eu-west-1\nenvironments:\n  staging: { cluster: c }\nservices:\n  worker: {}\n";
        let m = Manifest::parse(text, std::path::Path::new("f")).unwrap();
        let u = unmatched(&m, &files());
        assert_eq!(u[0].glob, "services/worker/**");
        assert_eq!(u[0].nearest, "services/");
    }
}
