//! Whose records Ferry believes: the one rule every read-back goes through
//! (plain data and a pure rule, in the shared model, so both the runner
//! context that reads the input and the GitHub adapter use it).
//!
//! Ferry reads its own writes back from GitHub — plan comments, the deploy
//! comment, Deployments and their statuses — and acts on them (`plan-verify`
//! accepts a plan, `gate` promotes a digest, a rollback picks a task
//! definition). Anyone who can comment on a pull request can write a comment
//! that starts with Ferry's marker, and anyone with `deployments: write` can
//! create a Deployment with Ferry's task. So a record is believed only when
//! its author (a comment's `user`, a Deployment's or a status's `creator`) is
//! one of the [`TrustedAuthors`]: by default `github-actions[bot]`, the
//! identity of the job's `GITHUB_TOKEN`.
//!
//! Ferry does not ask GitHub who it is: `GET /user` answers 403 to a GitHub
//! App installation token (and to `GITHUB_TOKEN`, which is one), so the
//! identity is configuration (the `trusted-authors` input), never discovered.

use serde::Deserialize;

/// The input that names the trusted authors.
pub const INPUT: &str = "trusted-authors";

/// The identity of a workflow's `GITHUB_TOKEN`, trusted by default.
pub const GITHUB_ACTIONS_BOT: &str = "github-actions[bot]";

/// An account as GitHub shows it on a record: a comment's `user`, a
/// Deployment's or a status's `creator`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Author {
    /// The login (`github-actions[bot]`, `my-app[bot]`, `octocat`).
    #[serde(default)]
    pub login: String,
    /// `User`, `Bot` or `Organization`.
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// One trusted identity: a bot (login ending in `[bot]`, type `Bot`) or a
/// user (type `User`). The type is checked too, so no account can pass for
/// another kind of account with a lookalike login.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Trusted {
    /// Lower-cased: GitHub logins are case-insensitive.
    login: String,
    bot: bool,
}

/// The identities whose records Ferry believes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedAuthors(Vec<Trusted>);

impl Default for TrustedAuthors {
    /// `github-actions[bot]` alone: the job's `GITHUB_TOKEN`.
    fn default() -> Self {
        TrustedAuthors(vec![Trusted {
            login: GITHUB_ACTIONS_BOT.to_string(),
            bot: true,
        }])
    }
}

/// The `trusted-authors` input cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "trusted-authors: {0}; list GitHub logins separated by commas, spaces or new lines: `github-actions[bot]` for GITHUB_TOKEN, `<app-slug>[bot]` for a GitHub App, a user's login for a personal token"
)]
pub struct TrustError(String);

impl TrustedAuthors {
    /// Reads a list of logins separated by commas, spaces or new lines.
    /// A login ending in `[bot]` names a bot (a GitHub App's installation,
    /// `github-actions[bot]` for `GITHUB_TOKEN`); any other a user.
    pub fn parse(text: &str) -> Result<Self, TrustError> {
        let mut out: Vec<Trusted> = Vec::new();
        for entry in text.split(|c: char| c == ',' || c.is_whitespace()) {
            if entry.is_empty() {
                continue;
            }
            let (name, bot) = match entry.strip_suffix("[bot]") {
                Some(name) => (name, true),
                None => (entry, false),
            };
            if !valid_login(name) {
                let shown: String = entry
                    .chars()
                    .take(60)
                    .map(|c| if c.is_control() { '?' } else { c })
                    .collect();
                return Err(TrustError(format!(
                    "{shown:?} is not a GitHub login (letters, digits and single hyphens, at most 39, optionally followed by `[bot]`)"
                )));
            }
            let t = Trusted {
                login: entry.to_ascii_lowercase(),
                bot,
            };
            if !out.contains(&t) {
                out.push(t);
            }
        }
        if out.is_empty() {
            return Err(TrustError("no login given".to_string()));
        }
        Ok(TrustedAuthors(out))
    }

    /// Whether a record by `author` is believed: its login is listed and its
    /// type is the listed kind (`Bot` for a `[bot]` login, `User` otherwise).
    /// A record without an author is never believed.
    pub fn trusts(&self, author: Option<&Author>) -> bool {
        let Some(a) = author else { return false };
        let login = a.login.to_ascii_lowercase();
        self.0.iter().any(|t| {
            t.login == login
                && if t.bot {
                    a.kind == "Bot"
                } else {
                    a.kind == "User"
                }
        })
    }

    /// The trusted logins, for messages.
    pub fn logins(&self) -> String {
        self.0
            .iter()
            .map(|t| t.login.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Warns that record `what` (e.g. `comment 1`) by `author` carries Ferry's
/// marker but is not trusted, so it is ignored: the one wording of it.
pub fn warn_ignored(what: &str, author: Option<&Author>, trusted: &TrustedAuthors) {
    tracing::warn!(
        "{what} by {} carries Ferry's marker: ignored (trusted authors: {})",
        who(author),
        trusted.logins()
    );
}

/// An author's name for a warning: the login when it is one (GitHub's answer
/// is outside input, so anything else is not echoed).
pub fn who(author: Option<&Author>) -> String {
    match author {
        Some(a) if valid_login(a.login.strip_suffix("[bot]").unwrap_or(&a.login)) => {
            a.login.clone()
        }
        Some(_) => "an author with an unreadable login".to_string(),
        None => "no recorded author".to_string(),
    }
}

/// GitHub's login rule: 1 to 39 letters, digits and single hyphens, not
/// starting or ending with one.
fn valid_login(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 39
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn author(login: &str, kind: &str) -> Author {
        Author {
            login: login.into(),
            kind: kind.into(),
        }
    }

    #[test]
    fn the_default_is_github_actions_bot_as_a_bot_only() {
        let t = TrustedAuthors::default();
        assert!(t.trusts(Some(&author("github-actions[bot]", "Bot"))));
        assert!(t.trusts(Some(&author("GitHub-Actions[bot]", "Bot"))));
        assert!(!t.trusts(Some(&author("github-actions[bot]", "User"))));
        assert!(!t.trusts(Some(&author("github-actions", "User"))));
        assert!(!t.trusts(Some(&author("mallory", "User"))));
        assert!(!t.trusts(Some(&author("", ""))));
        assert!(!t.trusts(None));
    }

    #[test]
    fn an_apps_bot_and_a_user_are_named_by_login() {
        let t = TrustedAuthors::parse("ferry-release[bot], deploy-user\n").unwrap();
        assert!(t.trusts(Some(&author("ferry-release[bot]", "Bot"))));
        assert!(t.trusts(Some(&author("deploy-user", "User"))));
        assert!(!t.trusts(Some(&author("deploy-user[bot]", "Bot"))));
        assert!(!t.trusts(Some(&author("ferry-release", "User"))));
        assert!(!t.trusts(Some(&author("github-actions[bot]", "Bot"))));
        assert_eq!(t.logins(), "ferry-release[bot], deploy-user");
    }

    #[test]
    fn bad_lists_are_refused_naming_the_entry() {
        for bad in [
            "",
            " , ",
            "-x",
            "a--b",
            "x[bot][bot]",
            "<!--",
            "evil\u{202e}",
            &"a".repeat(40),
        ] {
            let e = TrustedAuthors::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("trusted-authors: "), "{e}");
        }
        let e = TrustedAuthors::parse("ok, x y z, b@d")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"b@d\""), "{e}");
    }

    #[test]
    fn warnings_echo_only_real_logins() {
        assert_eq!(who(Some(&author("mallory", "User"))), "mallory");
        assert_eq!(who(Some(&author("x[bot]", "Bot"))), "x[bot]");
        assert_eq!(
            who(Some(&author("::error::x", "User"))),
            "an author with an unreadable login"
        );
        assert_eq!(who(None), "no recorded author");
    }
}
