//! From candidate bases to a list of changed files: git first (fetching and
//! deepening a shallow clone as needed), the GitHub API second, and "every
//! service" with the reason when neither can answer.

use crate::detect::DetectError;
use crate::detect::range::{Base, short};
use crate::gha::Context;
use crate::git::{FileChange, Git, ObjectId, Rev};
use crate::github::GitHub;
use crate::manifest::Manifest;
use crate::project::StageError;

/// How many times a shallow clone is deepened (doubling each time from
/// [`FIRST_DEEPEN`]) before giving up on finding a merge base: 32 → 8,192.
const DEEPEN_ROUNDS: u32 = 9;
const FIRST_DEEPEN: u32 = 32;

/// The changed files and where they came from.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// The files.
    pub files: Vec<FileChange>,
    /// The base commit, when it is in the local clone (to read old files).
    pub base_sha: Option<ObjectId>,
    /// The head commit, when it is in the local clone.
    pub head_sha: Option<ObjectId>,
    /// "git diff a..b", "GitHub API: pull request #3 files".
    pub source: String,
    /// What the user should know.
    pub notes: Vec<String>,
    /// What the user should fix (a fallback that may change the answer).
    pub warnings: Vec<String>,
    /// Services affected whatever changed (never deployed), with why.
    pub forced: Vec<(String, String)>,
}

pub(super) struct Resolver<'a> {
    pub ctx: &'a Context,
    pub manifest: &'a Manifest,
    pub git: Option<&'a Git>,
    pub use_api: bool,
}

/// Every service is affected: why, and the warnings met on the way.
#[derive(Debug, Clone, Default)]
pub struct Fallback {
    /// Why no comparison could be trusted.
    pub why: String,
    /// What the user should fix (as in [`Changes::warnings`]).
    pub warnings: Vec<String>,
}

/// What the candidate bases tried so far left: why each could not be used,
/// the notes and warnings to carry on, and the candidates that were the
/// pushed commit itself.
#[derive(Default)]
struct Attempts {
    tried: Vec<String>,
    notes: Vec<String>,
    warnings: Vec<String>,
    itself: Vec<usize>,
}

impl Attempts {
    /// `base` could not be used, for `why`; `next` is the candidate tried
    /// instead. A last deployment that cannot be read is a warning: the
    /// fallback may miss a change that was never deployed.
    fn unusable(&mut self, base: &Base, next: Option<&Base>, why: String) {
        if matches!(base, Base::LastDeployment { .. }) {
            // A 403 is the usual cause: say what to grant.
            let fix = if why.starts_with("cannot read GitHub Deployments") {
                " Grant the job `permissions: deployments: read`."
            } else {
                ""
            };
            self.warnings.push(format!(
                "{} could not be used ({why}); compared with {} instead, which may miss a change that was never deployed.{fix}",
                base.describe(),
                next.map_or_else(|| "nothing".to_string(), Base::describe)
            ));
        }
        self.tried.push(format!("{}: {why}", base.describe()))
    }
}

/// Ok(Ok(changes)), Ok(Err(every service, why)), or Err(bad input).
type Outcome = Result<Result<Changes, Fallback>, DetectError>;

impl Resolver<'_> {
    fn github(&self) -> Option<GitHub> {
        if !self.use_api {
            return None;
        }
        GitHub::from_context(self.ctx)
    }

    pub async fn changes(
        &self,
        head: &Rev,
        bases: &[Base],
        pull_request: Option<u64>,
        expected_files: Option<u64>,
        release: bool,
    ) -> Outcome {
        let mut a = Attempts::default();
        if let Some(git) = self.git {
            if let Some(changes) = self
                .changes_from_git(git, head, bases, release, &mut a)
                .await?
            {
                return Ok(Ok(changes));
            }
        } else {
            a.tried.push("this folder is not a git clone".into());
        }
        let Attempts {
            mut tried,
            notes,
            warnings,
            itself,
        } = a;

        let open: Vec<Base> = bases
            .iter()
            .enumerate()
            .filter(|(i, _)| !itself.contains(i))
            .map(|(_, b)| b.clone())
            .collect();
        let api_can_answer = pull_request.is_some()
            || open
                .iter()
                .any(|b| !matches!(b, Base::LastDeployment { .. }));
        if let Some(gh) = self
            .github()
            .filter(|_| itself.is_empty() || api_can_answer)
        {
            match self
                .changes_from_api(&gh, head, &open, pull_request, expected_files)
                .await
            {
                Ok(Ok(mut changes)) => {
                    changes.notes.splice(0..0, notes);
                    changes.warnings.splice(0..0, warnings);
                    return Ok(Ok(changes));
                }
                Ok(Err(why)) => return Ok(Err(Fallback { why, warnings })),
                Err(e) => tried.push(format!("GitHub API: {e}")),
            }
        } else if self.git.is_none() {
            return Err(DetectError::input(
                "this folder is not a git clone and no GitHub token is set: run detect inside the repository, set GITHUB_TOKEN (with GITHUB_REPOSITORY), or name the services with --services",
            ));
        }
        Ok(Err(Fallback {
            why: format!(
                "no base commit could be found ({}); every service is treated as affected so that nothing is skipped",
                tried.join("; ")
            ),
            warnings,
        }))
    }

    /// The changes against the first candidate base git can compare the
    /// head with (fetching what it needs); None when none can be used, with
    /// each candidate's reason in `a`.
    async fn changes_from_git(
        &self,
        git: &Git,
        head: &Rev,
        bases: &[Base],
        release: bool,
        a: &mut Attempts,
    ) -> Result<Option<Changes>, DetectError> {
        let user_given = |b: &Base| matches!(b, Base::Commit { label, .. } if label == "--base");
        let head_sha = match ensure_commit(git, head, &mut a.notes)? {
            None if !self.ctx.in_actions => {
                return Err(DetectError::input(format!(
                    "unknown revision `{head}`: it names no commit in {}",
                    git.root().display()
                )));
            }
            None => {
                a.tried.push(format!(
                    "the head {} is not in this clone and could not be fetched",
                    short(head.as_str())
                ));
                return Ok(None);
            }
            Some(head_sha) => head_sha,
        };
        for (i, base) in bases.iter().enumerate() {
            let mut forced = Vec::new();
            match self
                .resolve_base(git, base, &head_sha, &mut a.notes, &mut forced)
                .await?
            {
                // The head is already on that base (working on main locally):
                // an empty range says nothing; the next candidate does.
                Ok(base_sha)
                    if base_sha == head_sha && forced.is_empty() && i + 1 < bases.len() =>
                {
                    a.notes.push(format!(
                        "{} is the head itself; compared with the next candidate instead",
                        base.describe()
                    ));
                }
                // A release branch pushed with no commit of its own (its
                // first push, at the default branch's tip): comparing the
                // commit with itself would release nothing that was never
                // deployed.
                Ok(base_sha) if base_sha == head_sha && forced.is_empty() && release => {
                    a.itself.push(i);
                    a.tried.push(format!(
                        "{} is the pushed commit itself, which tells nothing about what is deployed",
                        base.describe()
                    ));
                }
                Ok(base_sha) => {
                    if base_sha == head_sha && forced.is_empty() {
                        a.notes.push(format!(
                            "{} is {} itself: this push adds no commit, so no file changed",
                            base.describe(),
                            short(head_sha.as_str())
                        ));
                    }
                    if !a.tried.is_empty() {
                        // A fallback may miss a change: say which base was
                        // used, and why the better ones were not.
                        a.notes.push(format!(
                            "compared with {} because {}",
                            base.describe(),
                            a.tried.join("; ")
                        ));
                    }
                    let files = git.changed_files(&base_sha, &head_sha)?;
                    return Ok(Some(Changes {
                        files,
                        source: format!(
                            "git diff {}..{} ({})",
                            base_sha.short(),
                            head_sha.short(),
                            base.describe()
                        ),
                        base_sha: Some(base_sha),
                        head_sha: Some(head_sha),
                        notes: std::mem::take(&mut a.notes),
                        warnings: std::mem::take(&mut a.warnings),
                        forced,
                    }));
                }
                Err(why) if user_given(base) => {
                    return Err(DetectError::input(format!("unknown revision: {why}")));
                }
                Err(why) => a.unusable(base, bases.get(i + 1), why),
            }
        }
        Ok(None)
    }

    async fn resolve_base(
        &self,
        git: &Git,
        base: &Base,
        head_sha: &ObjectId,
        notes: &mut Vec<String>,
        forced: &mut Vec<(String, String)>,
    ) -> Result<Result<ObjectId, String>, DetectError> {
        match base {
            Base::Commit { rev, .. } => Ok(ensure_commit(git, rev, notes)?
                .ok_or_else(|| format!("`{rev}` is not in this clone and could not be fetched"))),
            Base::MergeBase { rev, .. } => {
                let Some(other) = ensure_commit(git, rev, notes)? else {
                    return Ok(Err(format!(
                        "`{rev}` is not in this clone and could not be fetched"
                    )));
                };
                Ok(
                    merge_base_deepening(git, &other, head_sha, notes)?.ok_or_else(|| {
                        "the histories share no commit, even after deepening the clone".to_string()
                    }),
                )
            }
            Base::LastDeployment { env } => {
                let Some(gh) = self.github() else {
                    return Ok(Err(
                        "GitHub Deployments cannot be read without a token".into()
                    ));
                };
                let mut shas = Vec::new();
                for name in self.manifest.services.keys() {
                    match gh.last_successful(env, name, 30).await {
                        // The API's answer is outside input: a commit id or nothing.
                        Ok(Some(record)) => match ObjectId::parse(&record.sha) {
                            Ok(id) => shas.push(Rev::from(id)),
                            Err(e) => {
                                forced.clear();
                                return Ok(Err(format!(
                                    "the last deployment of {name} names no commit: {e}"
                                )));
                            }
                        },
                        Ok(None) => forced.push((
                            name.clone(),
                            format!("never deployed successfully to {env}"),
                        )),
                        Err(e) => {
                            forced.clear();
                            return Ok(Err(format!("cannot read GitHub Deployments: {e}")));
                        }
                    }
                }
                // Nothing deployed yet: every service is new there. The head
                // as the base makes each one affected for that reason alone.
                if shas.is_empty() {
                    return Ok(Ok(head_sha.clone()));
                }
                // The oldest common point of every service's last release covers them all.
                let mut base = match ensure_commit(git, &shas[0], notes)? {
                    Some(s) => s,
                    None => {
                        return Ok(Err(format!(
                            "the deployed commit {} is not in this clone",
                            short(shas[0].as_str())
                        )));
                    }
                };
                for sha in &shas[1..] {
                    let Some(other) = ensure_commit(git, sha, notes)? else {
                        return Ok(Err(format!(
                            "the deployed commit {} is not in this clone",
                            short(sha.as_str())
                        )));
                    };
                    match merge_base_deepening(git, &base, &other, notes)? {
                        Some(mb) => base = mb,
                        None => return Ok(Err("deployed commits share no history".into())),
                    }
                }
                Ok(Ok(base))
            }
        }
    }

    async fn changes_from_api(
        &self,
        gh: &GitHub,
        head: &Rev,
        bases: &[Base],
        pull_request: Option<u64>,
        expected_files: Option<u64>,
    ) -> Result<Result<Changes, String>, crate::github::GitHubError> {
        if let Some(number) = pull_request {
            let (files, listed) = gh.pull_request_files(number).await?;
            if let Some(expected) = expected_files
                && (listed as u64) < expected
            {
                return Ok(Err(format!(
                    "pull request #{number} changes {expected} files but the GitHub API listed {listed} (it stops at {}); every service is treated as affected",
                    crate::github::PR_FILES_LIMIT
                )));
            }
            return Ok(Ok(Changes {
                files,
                source: format!("GitHub API: files of pull request #{number}"),
                ..Changes::default()
            }));
        }
        for base in bases {
            // Checked revisions: no `/..`, `?` or `#` can reach the URL path.
            let rev = match base {
                Base::Commit { rev, .. } | Base::MergeBase { rev, .. } => {
                    rev.origin_branch().unwrap_or(rev.as_str())
                }
                Base::LastDeployment { .. } => continue,
            };
            let head = head.as_str();
            let cmp = gh.compare_files(rev, head).await?;
            if !cmp.complete {
                return Ok(Err(format!(
                    "the comparison {}...{} reaches GitHub's {}-file limit; every service is treated as affected",
                    short(rev),
                    short(head),
                    crate::github::COMPARE_FILES_LIMIT
                )));
            }
            return Ok(Ok(Changes {
                files: cmp.files,
                source: format!("GitHub API: compare {}...{}", short(rev), short(head)),
                ..Changes::default()
            }));
        }
        Ok(Err("no base commit to compare with".into()))
    }
}

/// Resolves `rev`, fetching it from `origin` when the clone lacks it.
fn ensure_commit(
    git: &Git,
    rev: &Rev,
    notes: &mut Vec<String>,
) -> Result<Option<ObjectId>, DetectError> {
    if let Some(sha) = git.resolve(rev)? {
        return Ok(Some(sha));
    }
    if !git.has_origin() {
        return Ok(None);
    }
    if git.fetch(&[rev], Some(1), None).is_ok()
        && let Some(sha) = git.resolve(rev)?
    {
        notes.push(format!("fetched {} from origin", short(rev.as_str())));
        return Ok(Some(sha));
    }
    Ok(None)
}

/// The merge base of `a` and `b`, deepening a shallow clone step by step.
fn merge_base_deepening(
    git: &Git,
    a: &ObjectId,
    b: &ObjectId,
    notes: &mut Vec<String>,
) -> Result<Option<ObjectId>, DetectError> {
    let mut deepen = FIRST_DEEPEN;
    let mut total = 0;
    for _ in 0..DEEPEN_ROUNDS {
        if let Some(mb) = git.merge_base(a, b)? {
            if total > 0 {
                notes.push(format!(
                    "the clone was shallow: deepened by {total} commits to find the merge base"
                ));
            }
            return Ok(Some(mb));
        }
        if !git.is_shallow()? || !git.has_origin() {
            return Ok(None);
        }
        let (ra, rb) = (Rev::from(a.clone()), Rev::from(b.clone()));
        if git.fetch(&[&ra, &rb], None, Some(deepen)).is_err() {
            return Ok(None);
        }
        total += deepen;
        deepen *= 2;
    }
    Ok(git.merge_base(a, b)?)
}
