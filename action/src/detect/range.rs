//! Which commits to compare, decided from the event alone.
//!
//! A pure function of the event and the options: it names candidate bases
//! in order of preference, and the adapter tries them against the history it
//! has. Keeping the decision here makes every event's rule testable on the
//! real webhook payloads without a repository.

use crate::gha::Event;
use crate::gha::event::Push;
use crate::git::{ObjectId, Rev};
use crate::inputs::ServiceSelection;

/// Where the comparison starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// A commit named by the event or the user.
    Commit {
        /// Commit id or rev.
        rev: Rev,
        /// Where it came from, for the summary ("the push's `before`").
        label: String,
    },
    /// The merge base of `rev` and the head (a PR's fork point, a new branch's origin).
    MergeBase {
        /// The other side.
        rev: Rev,
        /// Where it came from.
        label: String,
    },
    /// The commit of each service's last successful deployment to this
    /// environment (read from GitHub Deployments).
    LastDeployment {
        /// The environment.
        env: String,
    },
}

impl Base {
    /// A short description for the summary.
    pub fn describe(&self) -> String {
        // "origin/main (origin/main)" says nothing twice.
        let named = |label: &str, rev: &Rev| {
            if label == rev.as_str() {
                label.to_string()
            } else {
                format!("{label} ({})", short(rev.as_str()))
            }
        };
        match self {
            Self::Commit { rev, label } => named(label, rev),
            Self::MergeBase { rev, label } => format!("merge base with {}", named(label, rev)),
            Self::LastDeployment { env } => format!("last successful deployment to {env}"),
        }
    }
}

pub use crate::git::short_rev as short;

/// What `detect` should do for this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Compare `head` with the first base that resolves.
    Compare {
        /// The commit being released or reviewed.
        head: Rev,
        /// Candidate bases, most preferred first.
        bases: Vec<Base>,
        /// A pull request (its file list may come from the API).
        pull_request: Option<u64>,
        /// GitHub's count of the PR's changed files.
        expected_files: Option<u64>,
        /// A push to the release branch: when no candidate base tells what
        /// it has not deployed yet, every service is affected (never none).
        release: bool,
    },
    /// Every service, for a stated reason (a schedule, a dispatch without a list).
    All {
        /// Why.
        why: String,
    },
    /// These services, named by a person.
    Selected {
        /// Names as given (checked against the manifest later).
        names: Vec<String>,
        /// Why.
        why: String,
    },
    /// Nothing to do (a deleted branch).
    Nothing {
        /// Why.
        why: String,
    },
}

/// What the user asked on the command line (or through action inputs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `--base`.
    pub base: Option<String>,
    /// `--head`.
    pub head: Option<String>,
    /// `--services`.
    pub services: Option<ServiceSelection>,
    /// The commit under test (`GITHUB_SHA`).
    pub sha: Option<String>,
    /// The manifest's release branch.
    pub release_branch: String,
    /// The first environment of the promotion chain.
    pub first_env: Option<String>,
    /// Whether GitHub Deployments can be read (a token and a repository).
    pub can_read_deployments: bool,
}

/// The plan of services a person selected.
fn selection(selected: &ServiceSelection, why: String) -> Plan {
    match selected {
        ServiceSelection::All => Plan::All { why },
        ServiceSelection::Named(names) => Plan::Selected {
            names: names.clone(),
            why,
        },
    }
}

/// A revision a person gave (`--base`, `--head`, `GITHUB_SHA`), checked.
fn user_rev(text: &str, what: &str) -> Result<Rev, String> {
    Rev::parse(text.trim()).map_err(|e| format!("{what}: {e}"))
}

/// A commit id from the event payload: full hex, nothing else.
fn event_commit(text: &str, field: &str) -> Result<Rev, String> {
    ObjectId::parse(text)
        .map(Rev::from)
        .map_err(|e| format!("the event payload's `{field}`: {e}"))
}

/// `origin/<branch>` for the default branch the event names.
fn default_branch_rev(branch: &str) -> Result<Rev, String> {
    Rev::parse(branch)
        .and_then(|_| Rev::parse(&format!("origin/{branch}")))
        .map_err(|e| format!("the event payload's `repository.default_branch`: {e}"))
}

/// Decides the comparison for `event`; an error when a revision given by
/// a person or the event is not one Ferry hands to git.
pub fn plan(event: &Event, req: &Request) -> Result<Plan, String> {
    if let Some(selected) = &req.services {
        return Ok(selection(selected, "services given with --services".into()));
    }
    let sha = match &req.sha {
        Some(s) => Some(user_rev(s, "GITHUB_SHA")?),
        None => None,
    };
    if req.base.is_some() || req.head.is_some() {
        let head = match &req.head {
            Some(h) => user_rev(h, "--head (the `head` input)")?,
            None => Rev::parse("HEAD").map_err(|e| e.to_string())?,
        };
        let bases = match &req.base {
            Some(b) => vec![Base::Commit {
                rev: user_rev(b, "--base (the `base` input)")?,
                label: "--base".into(),
            }],
            None => local_bases(&head)?,
        };
        return Ok(Plan::Compare {
            head,
            bases,
            pull_request: None,
            expected_files: None,
            release: false,
        });
    }
    Ok(match event {
        Event::PullRequest(pr) => Plan::Compare {
            head: event_commit(&pr.head_sha, "pull_request.head.sha")?,
            bases: vec![Base::MergeBase {
                rev: event_commit(&pr.base_sha, "pull_request.base.sha")?,
                label: format!("the base branch {}", pr.base_ref),
            }],
            pull_request: Some(pr.number),
            expected_files: pr.changed_files,
            release: false,
        },
        Event::Push(push) => push_plan(push, req)?,
        Event::WorkflowDispatch(d) => {
            let text = d.inputs.get("services").map_or("", String::as_str);
            match ServiceSelection::parse(text)
                .map_err(|e| format!("the workflow_dispatch input `services`: {e}"))?
            {
                Some(selected) => selection(
                    &selected,
                    "services chosen in the workflow_dispatch form".into(),
                ),
                None => Plan::All {
                    why: "workflow_dispatch without a service list: every service".into(),
                },
            }
        }
        Event::MergeGroup(group) => {
            if group.action != "checks_requested" {
                return Ok(Plan::Nothing {
                    why: format!("the merge group was {}: nothing to test", group.action),
                });
            }
            // The group's commit is built on the base's tip: what the queue
            // would merge is exactly base..head, every queued PR included.
            Plan::Compare {
                head: event_commit(&group.head_sha, "merge_group.head_sha")?,
                bases: vec![Base::Commit {
                    rev: event_commit(&group.base_sha, "merge_group.base_sha")?,
                    label: format!("the merge queue's base {}", group.base_branch()),
                }],
                pull_request: None,
                expected_files: None,
                release: false,
            }
        }
        Event::Schedule => Plan::All {
            why: "scheduled run".into(),
        },
        Event::Other(name) => Plan::All {
            why: format!("the `{name}` event names no commit range"),
        },
        Event::Local => {
            let head = match sha {
                Some(s) => s,
                None => Rev::parse("HEAD").map_err(|e| e.to_string())?,
            };
            Plan::Compare {
                bases: local_bases(&head)?,
                head,
                pull_request: None,
                expected_files: None,
                release: false,
            }
        }
    })
}

/// The comparison for a push: from the last deployment (a release), else
/// from the push's `before` (or, for a new or force-pushed branch, where it
/// meets the default branch).
fn push_plan(push: &Push, req: &Request) -> Result<Plan, String> {
    if push.deleted {
        return Ok(Plan::Nothing {
            why: format!("the push deleted {}", push.git_ref),
        });
    }
    let head = event_commit(&push.after, "after")?;
    // The default branch the payload names, else the one the clone
    // knows (`origin/HEAD`): never a guessed name.
    let from_default = match &push.default_branch {
        Some(branch) => {
            if push.before_is_null() && push.branch() == Some(branch.as_str()) {
                // The push that creates the default branch: there is
                // nothing before it, so every file is new.
                return Ok(Plan::All {
                    why: format!(
                        "the first push of the default branch {branch} (no commit before it): every service"
                    ),
                });
            }
            Base::MergeBase {
                rev: default_branch_rev(branch)?,
                label: format!("the default branch {branch}"),
            }
        }
        None => remote_default()?,
    };
    let release = push.branch() == Some(req.release_branch.as_str());
    let mut bases = Vec::new();
    if release
        && req.can_read_deployments
        && let Some(env) = &req.first_env
    {
        bases.push(Base::LastDeployment { env: env.clone() });
    }
    if push.before_is_null() {
        bases.push(from_default);
    } else if push.forced {
        // The old tip may have vanished; where the histories meet is what changed.
        bases.push(Base::MergeBase {
            rev: event_commit(&push.before, "before")?,
            label: "the force-pushed-over commit".into(),
        });
        bases.push(from_default);
    } else {
        bases.push(Base::Commit {
            rev: event_commit(&push.before, "before")?,
            label: "the push's `before`".into(),
        });
    }
    Ok(Plan::Compare {
        head,
        bases,
        pull_request: None,
        expected_files: None,
        release,
    })
}

/// The remote's default branch as the clone knows it (`origin/HEAD`, which
/// `git clone` sets; `git remote set-head origin --auto` sets it later).
fn remote_default() -> Result<Base, String> {
    Ok(Base::MergeBase {
        rev: Rev::parse("origin/HEAD").map_err(|e| e.to_string())?,
        label: "origin/HEAD (the remote's default branch)".into(),
    })
}

/// Outside Actions: the fork point from the remote's default branch, else
/// the parent commit (the summary says when it falls back).
fn local_bases(head: &Rev) -> Result<Vec<Base>, String> {
    Ok(vec![
        remote_default()?,
        Base::Commit {
            rev: head.parent(),
            label: "the parent commit".into(),
        },
    ])
}
