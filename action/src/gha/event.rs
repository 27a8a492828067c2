//! The parts of a GitHub webhook payload Ferry decides on.
//!
//! Only the fields a stage needs are read, and a payload missing one of them
//! is refused with the field's JSON path, so a misconfigured trigger fails
//! with a message instead of a wrong diff.

use std::collections::BTreeMap;

use serde_json::Value;

/// The event that started the workflow run.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `pull_request` (and `pull_request_target`, which Ferry's workflows don't use).
    PullRequest(PullRequest),
    /// `push`.
    Push(Push),
    /// `workflow_dispatch`: a person asked for a run.
    WorkflowDispatch(Dispatch),
    /// `merge_group`: GitHub's merge queue asks for checks on a group of
    /// pull requests merged onto the base branch's tip.
    MergeGroup(MergeGroup),
    /// `schedule`: cron.
    Schedule,
    /// Any other event, by name.
    Other(String),
    /// Not in GitHub Actions (a laptop).
    Local,
}

/// What Ferry reads from a `pull_request` payload.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRequest {
    /// The PR number.
    pub number: u64,
    /// The base branch's commit the PR was compared with.
    pub base_sha: String,
    /// The base branch name.
    pub base_ref: String,
    /// The PR head commit.
    pub head_sha: String,
    /// GitHub's count of changed files, to notice a truncated file list.
    pub changed_files: Option<u64>,
    /// The repository's default branch.
    pub default_branch: Option<String>,
}

/// What Ferry reads from a `push` payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// The full ref pushed (`refs/heads/release`).
    pub git_ref: String,
    /// The commit the ref pointed at before (all zeros for a new branch).
    pub before: String,
    /// The commit it points at now.
    pub after: String,
    /// A force push (`before` may no longer exist).
    pub forced: bool,
    /// The ref was created by this push.
    pub created: bool,
    /// The ref was deleted by this push.
    pub deleted: bool,
    /// The repository's default branch.
    pub default_branch: Option<String>,
    /// The ids of the commits pushed (`commits[].id`), as GitHub lists them.
    pub commits: Vec<String>,
}

impl Push {
    /// The branch name, when the ref is a branch.
    pub fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }

    /// Whether `before` names no commit (a new branch).
    pub fn before_is_null(&self) -> bool {
        self.before.bytes().all(|b| b == b'0')
    }
}

/// What Ferry reads from a `merge_group` payload.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeGroup {
    /// `checks_requested` (the queue wants this group tested) or
    /// `destroyed` (merged, dequeued or invalidated: nothing to test).
    pub action: String,
    /// The base branch's commit the group is built on.
    pub base_sha: String,
    /// The base branch (`refs/heads/main`).
    pub base_ref: String,
    /// The group's merge commit: the base plus every queued pull request
    /// up to and including this one.
    pub head_sha: String,
    /// The queue's temporary branch
    /// (`refs/heads/gh-readonly-queue/main/pr-104-<sha>`).
    pub head_ref: String,
}

impl MergeGroup {
    /// The pull request this group ends with, from the queue's branch name
    /// (`gh-readonly-queue/<base>/pr-<N>-<sha>`); `None` for another shape.
    /// The pull requests ahead of it in the group are not in the payload.
    pub fn pull_request(&self) -> Option<u64> {
        let rest = self
            .head_ref
            .strip_prefix("refs/heads/gh-readonly-queue/")?;
        let (_, tail) = rest.rsplit_once("/pr-")?;
        let (number, sha) = tail.split_once('-')?;
        let valid = !number.is_empty()
            && number.len() <= 19
            && number.bytes().all(|b| b.is_ascii_digit())
            && crate::git::ObjectId::parse(sha).is_ok();
        if valid { number.parse().ok() } else { None }
    }

    /// The base branch's name (`main`).
    pub fn base_branch(&self) -> &str {
        self.base_ref
            .strip_prefix("refs/heads/")
            .unwrap_or(&self.base_ref)
    }
}

/// What Ferry reads from a `workflow_dispatch` payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    /// The ref the run was started on.
    pub git_ref: Option<String>,
    /// The inputs, as strings (GitHub sends booleans and numbers as JSON values).
    pub inputs: BTreeMap<String, String>,
}

/// A payload that lacks what Ferry needs.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Not JSON.
    #[error("the event payload {path} is not valid JSON: {source}")]
    NotJson {
        /// The file.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A required field is missing or has the wrong type.
    #[error(
        "the {event} event payload has no {field}; is this workflow triggered by `{event}` as GitHub sends it?"
    )]
    Missing {
        /// The event name.
        event: String,
        /// The JSON path of the field.
        field: String,
    },
    /// A field has a value GitHub never sends (a forged or corrupted payload):
    /// refused before it reaches git.
    #[error("the {event} event payload's `{field}` is {value}: {expected}")]
    Invalid {
        /// The event name.
        event: String,
        /// The JSON path of the field.
        field: String,
        /// The value, quoted and shortened.
        value: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
}

fn invalid(event: &str, path: &str, value: &str, expected: &'static str) -> EventError {
    EventError::Invalid {
        event: event.into(),
        field: path.into(),
        value: crate::text::quote(value),
        expected,
    }
}

/// An error about `commits[i]`'s field, named with its index.
fn at_index(e: EventError, i: usize) -> EventError {
    match e {
        EventError::Invalid {
            event,
            field,
            value,
            expected,
        } => EventError::Invalid {
            event,
            field: format!("commits[{i}].{field}"),
            value,
            expected,
        },
        EventError::Missing { event, field } => EventError::Missing {
            event,
            field: field.replacen('`', &format!("`commits[{i}]."), 1),
        },
        other => other,
    }
}

/// A commit id: 40 (SHA-1) or 64 (SHA-256) hex digits.
fn commit(v: &Value, event: &str, path: &str) -> Result<String, EventError> {
    let text = string(v, event, path)?;
    if crate::git::ObjectId::parse(&text).is_ok() {
        Ok(text)
    } else {
        Err(invalid(
            event,
            path,
            &text,
            "expected a commit id (40 or 64 hex digits)",
        ))
    }
}

/// Whether `name` is a ref name git accepts and cannot mistake for an
/// option: no leading `-`, no whitespace or control characters, none of
/// `~^:?*[\`, no `..` or `@{`.
fn valid_ref(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 1024
        && !name.starts_with('-')
        && !name.contains("..")
        && !name.contains("@{")
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c))
}

const REF_EXPECTED: &str = "expected a git ref name (no leading `-`, spaces, control characters, `~^:?*[\\`, `..` or `@{`)";

fn ref_name(v: &Value, event: &str, path: &str) -> Result<String, EventError> {
    let text = string(v, event, path)?;
    if valid_ref(&text) {
        Ok(text)
    } else {
        Err(invalid(event, path, &text, REF_EXPECTED))
    }
}

fn optional_ref(v: &Value, event: &str, path: &str) -> Result<Option<String>, EventError> {
    match optional_string(v, path) {
        Some(text) if !valid_ref(&text) => Err(invalid(event, path, &text, REF_EXPECTED)),
        other => Ok(other),
    }
}

fn field<'a>(v: &'a Value, event: &str, path: &str) -> Result<&'a Value, EventError> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.get(part).ok_or_else(|| EventError::Missing {
            event: event.into(),
            field: format!("`{path}`"),
        })?;
    }
    Ok(cur)
}

fn string(v: &Value, event: &str, path: &str) -> Result<String, EventError> {
    field(v, event, path)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| EventError::Missing {
            event: event.into(),
            field: format!("`{path}` (a string)"),
        })
}

fn optional_string(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    cur.as_str().map(str::to_string)
}

/// Interprets the payload of event `name`.
pub fn parse(name: &str, payload: &Value) -> Result<Event, EventError> {
    match name {
        "pull_request" | "pull_request_target" => {
            let number = field(payload, name, "pull_request.number")?
                .as_u64()
                .or_else(|| payload.get("number").and_then(Value::as_u64))
                .ok_or_else(|| EventError::Missing {
                    event: name.into(),
                    field: "`pull_request.number` (a number)".into(),
                })?;
            Ok(Event::PullRequest(PullRequest {
                number,
                base_sha: commit(payload, name, "pull_request.base.sha")?,
                base_ref: ref_name(payload, name, "pull_request.base.ref")?,
                head_sha: commit(payload, name, "pull_request.head.sha")?,
                changed_files: payload
                    .get("pull_request")
                    .and_then(|p| p.get("changed_files"))
                    .and_then(Value::as_u64),
                default_branch: optional_ref(payload, name, "repository.default_branch")?,
            }))
        }
        "push" => Ok(Event::Push(Push {
            git_ref: ref_name(payload, name, "ref")?,
            before: commit(payload, name, "before")?,
            after: commit(payload, name, "after")?,
            forced: payload
                .get("forced")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            created: payload
                .get("created")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            deleted: payload
                .get("deleted")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            default_branch: match optional_ref(payload, name, "repository.default_branch")? {
                Some(branch) => Some(branch),
                None => optional_ref(payload, name, "repository.master_branch")?,
            },
            commits: match payload.get("commits") {
                Some(Value::Array(list)) => list
                    .iter()
                    .enumerate()
                    .map(|(i, c)| commit(c, name, "id").map_err(|e| at_index(e, i)))
                    .collect::<Result<_, _>>()?,
                _ => Vec::new(),
            },
        })),
        "workflow_dispatch" => {
            let inputs = match payload.get("inputs") {
                Some(Value::Object(map)) => map
                    .iter()
                    .map(|(k, v)| {
                        let s = match v {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        (k.clone(), s)
                    })
                    .collect(),
                _ => BTreeMap::new(),
            };
            Ok(Event::WorkflowDispatch(Dispatch {
                git_ref: optional_ref(payload, name, "ref")?,
                inputs,
            }))
        }
        "merge_group" => {
            let action = string(payload, name, "action")?;
            if !matches!(action.as_str(), "checks_requested" | "destroyed") {
                return Err(invalid(
                    name,
                    "action",
                    &action,
                    "expected `checks_requested` or `destroyed`",
                ));
            }
            Ok(Event::MergeGroup(MergeGroup {
                action,
                base_sha: commit(payload, name, "merge_group.base_sha")?,
                base_ref: ref_name(payload, name, "merge_group.base_ref")?,
                head_sha: commit(payload, name, "merge_group.head_sha")?,
                head_ref: ref_name(payload, name, "merge_group.head_ref")?,
            }))
        }
        "schedule" => Ok(Event::Schedule),
        other => Ok(Event::Other(other.to_string())),
    }
}
