//! Errors of `ferry plan-comment` and `ferry plan-verify`.
//!
//! Every message names the file and says what to do. No message ever quotes
//! a value from the plan: serde's own messages can, so they go through
//! [`sanitize_serde_message`] first.

use std::path::PathBuf;

/// Why a plan file could not be read as one Terraform plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanInputError {
    /// The file is empty or holds only whitespace.
    #[error(
        "{file}: the plan file is empty; write it with `terraform show -json tfplan > {file}` after a successful `terraform plan -out=tfplan`"
    )]
    Empty { file: String },
    /// The bytes are neither UTF-8 nor UTF-16 with a byte order mark.
    #[error(
        "{file}: not UTF-8 text (invalid byte at offset {offset}); pass the output of `terraform show -json`, or the binary plan file itself"
    )]
    NotText { file: String, offset: usize },
    /// UTF-16 text with an odd length or unpaired surrogates.
    #[error(
        "{file}: broken UTF-16 text ({detail}); re-create it with `terraform show -json tfplan > {file}`"
    )]
    BadUtf16 { file: String, detail: String },
    /// No JSON object in the file.
    #[error(
        "{file}: no JSON object found (line {line} starts with {start:?}); this is not `terraform show -json` output (the human-readable `terraform plan` text is not accepted)"
    )]
    NotJson {
        file: String,
        line: usize,
        start: String,
    },
    /// Text other than the known setup-terraform wrapper lines before the JSON.
    #[error(
        "{file}: unexpected text before the JSON on line {line} ({start:?}); remove it, or set `terraform_wrapper: false` on hashicorp/setup-terraform"
    )]
    LeadingNoise {
        file: String,
        line: usize,
        start: String,
    },
    /// The JSON ends before it is complete.
    #[error(
        "{file}: the JSON is truncated (ends at line {line} column {column}); the plan was not written completely, re-run `terraform show -json`"
    )]
    Truncated {
        file: String,
        line: usize,
        column: usize,
    },
    /// The JSON is malformed or a field has the wrong type.
    #[error("{file}: invalid plan JSON at line {line} column {column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// Several JSON documents (NDJSON), as `terragrunt run-all show -json` writes.
    #[error(
        "{file}: holds {count} JSON documents (NDJSON, as `terragrunt run-all show -json` writes); run `ferry plan-comment` once per module with `--root-module` and one plan each"
    )]
    Multiple { file: String, count: usize },
    /// Extra text after the JSON document.
    #[error(
        "{file}: unexpected text after the JSON on line {line} ({start:?}); the file must hold one plan"
    )]
    TrailingNoise {
        file: String,
        line: usize,
        start: String,
    },
    /// A value of a change cannot be read whole: nested deeper than JSON
    /// parsers go, or a number beyond any float. Showing or hashing it in
    /// part would let an unreviewed change through, so the plan is refused.
    #[error(
        "{file}: `{field}` of {change} cannot be read ({reason}); Ferry refuses a plan it cannot show and hash whole. Simplify that value in the configuration (values nested deeper than {max_depth} levels or numbers beyond 1e308 are not supported)"
    )]
    UnreadableValue {
        file: String,
        change: String,
        field: &'static str,
        reason: String,
        max_depth: usize,
    },
    /// The document is a JSON array or scalar.
    #[error(
        "{file}: the JSON document is {kind}, not an object; pass `terraform show -json` output of a plan"
    )]
    NotObject { file: String, kind: &'static str },
    /// A state file (`terraform show -json` without a plan argument).
    #[error(
        "{file}: this is a state file (it has `values` but no `resource_changes`); run `terraform show -json tfplan` on the saved plan, not `terraform show -json` on the state"
    )]
    StateFile { file: String },
    /// A JSON object without the keys of a plan.
    #[error(
        "{file}: not a Terraform plan (no `format_version`/`planned_values`); pass the output of `terraform show -json tfplan`"
    )]
    NotAPlan { file: String },
    /// A `format_version` Ferry does not know.
    #[error(
        "{file}: plan format_version {version:?} is not supported (0.1 to 1.x are); use Terraform 0.12 or later, or upgrade Ferry"
    )]
    UnsupportedVersion { file: String, version: String },
}

/// Everything that can stop `plan-comment` or `plan-verify`.
#[derive(Debug, thiserror::Error)]
pub enum PlanCommentError {
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The plan file is not one readable plan.
    #[error(transparent)]
    Input(#[from] PlanInputError),
    /// `terraform show -json` on a binary plan failed.
    #[error(
        "`{program} show -json {plan}` failed: {detail}; run it in the directory where `terraform init` ran, or pass the JSON plan"
    )]
    TerraformShow {
        program: String,
        plan: String,
        detail: String,
    },
    /// A template failed to parse or render.
    #[error("template {name}: {detail}")]
    Template { name: String, detail: String },
    /// A `--redact` pattern is not a valid regular expression.
    #[error("--redact pattern #{index}: invalid regular expression: {detail}")]
    RedactPattern { index: usize, detail: String },
    /// An option or the environment is missing something.
    #[error("{0}")]
    Config(String),
    /// The GitHub API refused or failed.
    #[error(transparent)]
    Github(#[from] crate::github::GitHubError),
    /// `plan-verify`: the plan differs from the reviewed one.
    #[error(
        "the plan for `{env}` differs from the one reviewed on pull request #{pr} (reviewed {reviewed}, now {current}){}; re-run the plan on the pull request and review it again",
        colon(.differences)
    )]
    PlanChanged {
        env: String,
        pr: u64,
        reviewed: String,
        current: String,
        /// What differs, address and action (see [`super::review::message`]).
        differences: String,
    },
    /// `plan-verify`: a group applied together (a merge-queue batch) plans
    /// something other than what its pull requests were reviewed for.
    #[error(
        "the plan for `{env}` differs from what pull requests {group} were reviewed for together; {differing}: {differences}; re-run the plan on those pull requests (or take them out of the group) and review them again"
    )]
    GroupChanged {
        env: String,
        group: String,
        differing: String,
        differences: String,
    },
    /// `plan-verify`: no reviewed comment to compare with.
    #[error(
        "no plan comment for `{env}` on pull request #{pr}; run `ferry plan-comment --env {env}` on the pull request first"
    )]
    NoReviewedPlan { env: String, pr: u64 },
    /// `plan-verify`: Ferry's comment is there but cannot be believed.
    #[error(
        "the plan comment for `{env}` on pull request #{pr} (comment {id}) is not trusted: {why}; run `ferry plan-comment --env {env}` on the pull request again and review it"
    )]
    UntrustedReview {
        env: String,
        pr: u64,
        id: u64,
        why: String,
    },
    /// The plan has changes whose kind this version of Ferry does not know.
    #[error(
        "the plan for `{env}` has {count} change(s) whose actions this version of Ferry does not know (named in the comment): Ferry cannot say what applying it does; read the plan output, and update Ferry"
    )]
    UnknownChanges { env: String, count: usize },
    /// `plan-applied`: Terraform's apply failed (the outcome is on the PR).
    #[error(
        "the apply to `{env}` failed ({resources}); the outcome is in the plan comment and the job summary"
    )]
    ApplyFailed { env: String, resources: String },
    /// `plan-verify` without the key cannot verify this plan.
    #[error("{0}")]
    NeedsKey(String),
}

/// `: text`, or nothing for no text.
fn colon(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// Removes quoted values from a serde_json message (`invalid type: string "x"`),
/// so that a malformed plan cannot make an error print a secret.
pub fn sanitize_serde_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_quote: Option<char> = None;
    for c in message.chars() {
        match in_quote {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                in_quote = None;
            }
            Some(_) => {}
            None if c == '"' || c == '`' => {
                out.push(c);
                in_quote = Some(c);
            }
            None => out.push(c),
        }
    }
    if in_quote.is_some() {
        out.push('…');
    }
    // Drop serde's position suffix: the error already carries line and column.
    match out.find(" at line ") {
        Some(i) => out[..i].to_string(),
        None => out,
    }
}

/// A plan's problems are told in the message (which never quotes the plan):
/// no located diagnostics.
impl crate::diagnostic::Diagnose for PlanCommentError {
    fn diagnostics(&self) -> Vec<crate::diagnostic::Diagnostic> {
        Vec::new()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_lose_their_values() {
        let m = sanitize_serde_message(
            "invalid type: string \"hunter2\", expected a sequence at line 1 column 9",
        );
        assert_eq!(m, "invalid type: string \"…\", expected a sequence");
        assert_eq!(
            sanitize_serde_message("unknown variant `s3cr`"),
            "unknown variant `…`"
        );
    }
}
