//! The two kinds of revision Ferry hands to git, each checked when built: a
//! full object id ([`ObjectId`]) and a revision a person named ([`Rev`]).

use std::fmt;

/// A revision Ferry refuses to hand to git, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{shown} is not a revision Ferry accepts: {why}. Give a commit id, or a branch or tag name optionally followed by ~N or ^N"
)]
pub struct RevError {
    /// The text, quoted and cut short, with control characters escaped.
    pub shown: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// The longest revision accepted (git's own ref names stay far below).
pub const MAX_REV_LEN: usize = 255;

/// A full commit (or other object) id: 40 (SHA-1) or 64 (SHA-256) hex
/// digits, lower case. What git prints, and the only form accepted from an
/// event payload or the GitHub API.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(String);

impl ObjectId {
    /// Checks `text` is a full hex object id.
    pub fn parse(text: &str) -> Result<Self, RevError> {
        let fail = |why| RevError {
            shown: crate::text::quote(text),
            why,
        };
        if text.len() != 40 && text.len() != 64 {
            return Err(fail("a commit id has 40 (or 64) hex digits"));
        }
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail("a commit id has hex digits only"));
        }
        Ok(Self(text.to_ascii_lowercase()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 7 digits, for people.
    pub fn short(&self) -> &str {
        &self.0[..7]
    }
}

/// Abbreviates a full commit id for people; leaves symbolic revs alone.
pub fn short_rev(rev: &str) -> &str {
    if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        &rev[..7]
    } else {
        rev
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A revision a person named (`--base`, `--head`, an input, the default
/// branch): a commit id, or a branch or tag name with optional `~N`/`^N`
/// suffixes. Checked when built, so it never reads as an option and never
/// uses git's richer syntax (`@{…}`, `:/text`, `a..b`, `rev:path`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rev(pub(super) String);

impl Rev {
    /// Checks `text` against the revision grammar Ferry accepts.
    pub fn parse(text: &str) -> Result<Self, RevError> {
        let fail = |why| RevError {
            shown: crate::text::quote(text),
            why,
        };
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        if text.len() > MAX_REV_LEN {
            return Err(fail("it is longer than 255 characters"));
        }
        if text.starts_with('-') {
            return Err(fail("it starts with `-`, as an option would"));
        }
        if let Some(c) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "/._-~^@".contains(*c)))
        {
            return Err(fail(if c.is_control() {
                "it contains a control character"
            } else if c.is_whitespace() {
                "it contains white space"
            } else {
                "it contains a character git reads as revision syntax (only letters, digits and / . _ - @ ~ ^ are accepted)"
            }));
        }
        // name(~N|^N)*: the suffixes only after the name.
        let cut = text.find(['~', '^']).unwrap_or(text.len());
        let (name, suffixes) = text.split_at(cut);
        if !suffixes
            .chars()
            .all(|c| c.is_ascii_digit() || c == '~' || c == '^')
        {
            return Err(fail("~ and ^ may only be followed by digits"));
        }
        if name.is_empty() {
            return Err(fail("it has no name before ~ or ^"));
        }
        if name.contains("..") {
            return Err(fail("it contains `..` (a range, not a commit)"));
        }
        if name.contains("@{") || name == "@" {
            return Err(fail("it uses git's @ syntax"));
        }
        if name
            .split('/')
            .any(|part| part.is_empty() || part.starts_with(['.', '-']))
        {
            return Err(fail(
                "a part of the name is empty or starts with `.` or `-`",
            ));
        }
        if name.ends_with(".lock") {
            return Err(fail("it ends with `.lock`"));
        }
        Ok(Self(text.to_string()))
    }

    /// The revision as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent (`<rev>~1`), still a valid revision.
    pub fn parent(&self) -> Self {
        Self(format!("{}~1", self.0))
    }

    /// The branch of a remote-tracking name `origin/<branch>`.
    pub fn origin_branch(&self) -> Option<&str> {
        self.0
            .strip_prefix("origin/")
            .filter(|b| !b.contains(['~', '^']))
    }
}

impl From<ObjectId> for Rev {
    fn from(id: ObjectId) -> Self {
        Self(id.0)
    }
}

impl fmt::Display for Rev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn revisions_people_write_are_accepted() {
        for ok in [
            "main",
            "HEAD",
            "HEAD~1",
            "HEAD^",
            "HEAD^2~3",
            "origin/main",
            "release/2024-01",
            "v1.2.3",
            "feature/a_b-c",
            "user@example",
            &"a".repeat(40),
        ] {
            assert!(Rev::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn option_and_revision_syntax_shapes_are_refused() {
        for bad in [
            "",
            "-",
            "--upload-pack=touch /tmp/x",
            "--output=/tmp/x",
            "-c",
            "-ccore.pager=x",
            "--end-of-options",
            "HEAD@{1}",
            "@{-1}",
            "@",
            "main@{upstream}",
            ":/fix",
            "HEAD:Cargo.toml",
            "main..feature",
            "main...feature",
            "a\nb",
            "a\0b",
            "a b",
            "a\tb",
            "main\r",
            "origin/-x",
            "origin/.hidden",
            "a//b",
            "a/",
            "/a",
            "x.lock",
            "^main",
            "~1",
            "HEAD~x",
            "HEAD^{tree}",
            "HEAD^!",
            "a*",
            "a?",
            "a[1]",
            "a\\b",
            "$(touch x)",
            "`id`",
            "a;b",
            "a|b",
            "%2e%2e",
            "é",
            &"a".repeat(256),
        ] {
            let err = Rev::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("not a revision"), "{err}");
            assert!(!err.to_string().contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn object_ids_are_full_hex_only() {
        assert!(ObjectId::parse(&"A".repeat(40)).is_ok());
        assert_eq!(
            ObjectId::parse(&"AB".repeat(20)).unwrap().as_str(),
            "ab".repeat(20)
        );
        assert!(ObjectId::parse(&"c".repeat(64)).is_ok());
        for bad in [
            "",
            "abc1234",
            &"g".repeat(40),
            &"a".repeat(39),
            &"a".repeat(41),
            &format!("-{}", "a".repeat(39)),
            &format!("{}\n", "a".repeat(39)),
            "0000000000000000000000000000000000000000 ",
        ] {
            assert!(ObjectId::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn an_accepted_revision_never_reads_as_an_option_or_syntax(text in "\\PC{0,300}") {
            if let Ok(rev) = Rev::parse(&text) {
                let s = rev.as_str();
                prop_assert!(!s.starts_with('-'));
                prop_assert!(!s.contains(".."));
                prop_assert!(!s.contains("@{"), "{}", s);
                prop_assert!(!s.contains(':'));
                prop_assert!(!s.contains(|c: char| c.is_whitespace() || c.is_control()));
                prop_assert!(s.len() <= MAX_REV_LEN);
            }
        }
    }
}
