//! Helpers shared by the plan-comment integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ferry::plan_comment::render::{COMMENT_MAX_BYTES, COMMENT_MAX_CHARS, SUMMARY_MAX_BYTES};
use ferry::plan_comment::{Options, Prepared, load, prepare};

/// The directory of the copied public plan fixtures.
pub fn plans_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/plans")
}

/// Options for environment `env` and plan `plan`, everything else default.
pub fn options(env: &str, plan: &Path) -> Options {
    Options {
        env: env.to_string(),
        plan: plan.to_path_buf(),
        terraform: "terraform".to_string(),
        ..Options::default()
    }
}

/// Loads and prepares a plan file.
pub fn prepare_file(path: &Path) -> Prepared {
    let plan =
        load::load_plan(path, "terraform").unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    prepare(
        plan,
        &options("staging", path),
        Some("https://github.com/o/r/actions/runs/1"),
    )
    .unwrap()
}

/// Asserts GitHub's limits on a comment and a job summary.
pub fn assert_limits(p: &Prepared) {
    assert!(
        p.comment.chars().count() <= COMMENT_MAX_CHARS,
        "comment has {} chars",
        p.comment.chars().count()
    );
    assert!(
        p.comment.len() <= COMMENT_MAX_BYTES,
        "comment has {} bytes",
        p.comment.len()
    );
    assert!(
        p.summary.len() <= SUMMARY_MAX_BYTES,
        "summary has {} bytes",
        p.summary.len()
    );
    assert!(p.comment.starts_with(&p.marker));
}
