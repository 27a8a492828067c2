//! Path globs with fast paths for the shapes manifests use most.
//!
//! `services/api/**` is a prefix test and `Cargo.toml` an equality test;
//! only the rest need a compiled regex. Each glob also knows its literal
//! prefix (the text before its first wildcard), which lets `detect` index a
//! thousand services' globs and test a file against only the few that can
//! match it.

use std::sync::OnceLock;

use globset::{Glob, GlobBuilder, GlobMatcher};

/// One compiled path glob (`.gitignore` semantics: `*` stays within a folder).
#[derive(Debug, Clone)]
pub struct PathGlob {
    prefix: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// No wildcard: the path itself.
    Exact,
    /// `dir/**`: anything under `dir/`.
    Under,
    /// Anything else: the regex is compiled on the first match, so loading
    /// a manifest of thousands of globs only parses them (the regex
    /// compilation is most of a glob's cost, and most globs of a run are
    /// never tested against a file thanks to the literal-prefix index).
    Regex(Box<(Glob, OnceLock<GlobMatcher>)>),
}

const META: &[char] = &['*', '?', '[', ']', '{', '}', '\\', '!'];

impl PathGlob {
    /// Parses a glob (an invalid one is refused here; its regex is
    /// compiled on first use). Callers bound its length (the manifest allows
    /// 1,024 characters), which keeps the regex far below globset's 10 MB
    /// limit: compiling it cannot fail.
    pub fn new(text: &str) -> Result<Self, globset::Error> {
        // Compile through globset even for the fast shapes: it is the one
        // judge of what is a valid glob.
        let glob = GlobBuilder::new(text).literal_separator(true).build()?;
        let literal_end = text.find(META).unwrap_or(text.len());
        let prefix = text[..literal_end].to_string();
        let kind = if literal_end == text.len() {
            Kind::Exact
        } else if text.len() >= 3 && &text[literal_end..] == "**" && prefix.ends_with('/') {
            Kind::Under
        } else {
            Kind::Regex(Box::new((glob, OnceLock::new())))
        };
        Ok(Self { prefix, kind })
    }

    /// Whether `path` (repository-relative, `/`-separated) matches.
    pub fn is_match(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.prefix,
            Kind::Under => path.len() > self.prefix.len() && path.starts_with(&self.prefix),
            Kind::Regex(m) => {
                let (glob, matcher) = &**m;
                path.starts_with(&self.prefix)
                    && matcher
                        .get_or_init(|| glob.compile_matcher())
                        .is_match(path)
            }
        }
    }

    /// The text before the first wildcard: every matching path starts with it.
    pub fn literal_prefix(&self) -> &str {
        &self.prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(glob: &str, path: &str) -> bool {
        PathGlob::new(glob).unwrap().is_match(path)
    }

    #[test]
    fn fast_paths_agree_with_globset_semantics() {
        assert!(m("services/api/**", "services/api/src/main.rs"));
        assert!(m("services/api/**", "services/api/Dockerfile"));
        assert!(!m("services/api/**", "services/apiary/x"));
        assert!(!m("services/api/**", "services/api/"));
        assert!(m("Cargo.toml", "Cargo.toml"));
        assert!(!m("Cargo.toml", "x/Cargo.toml"));
    }

    #[test]
    fn star_stays_within_a_folder() {
        assert!(m("proto/*.proto", "proto/a.proto"));
        assert!(!m("proto/*.proto", "proto/v1/a.proto"));
        assert!(m("proto/**/*.proto", "proto/v1/a.proto"));
        assert!(m("config/api.{yml,json}", "config/api.json"));
        assert!(m("**/*.md", "docs/x/readme.md"));
    }

    #[test]
    fn literal_prefix() {
        assert_eq!(
            PathGlob::new("config/svc1.{yml,json}")
                .unwrap()
                .literal_prefix(),
            "config/svc1."
        );
        assert_eq!(PathGlob::new("**/*.md").unwrap().literal_prefix(), "");
    }

    #[test]
    fn invalid_globs_are_refused() {
        assert!(PathGlob::new("src/[a-").is_err());
    }
}
