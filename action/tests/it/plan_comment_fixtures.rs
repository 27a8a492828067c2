//! Every public plan fixture (see tests/data/plans/ATTRIBUTION) parses,
//! renders within GitHub's limits, and renders as in its snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::plan_comment as plan_comment_support;

use ferry::plan_comment::{PlanCommentError, PlanInputError, load};
use plan_comment_support::{assert_limits, plans_dir, prepare_file};

fn fixtures() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(plans_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 19, "fixtures missing: {files:?}");
    files
}

#[test]
fn every_fixture_renders_within_limits_and_matches_its_snapshot() {
    for path in fixtures() {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name.contains("terragrunt-multiplan") {
            continue;
        }
        let p = prepare_file(&path);
        assert_limits(&p);
        // The hash has its own tests; snapshots show the rendering.
        insta::with_settings!({filters => vec![(r"sha256:[0-9a-f]{64}", "sha256:[hash]")]}, {
            insta::assert_snapshot!(name, p.comment);
        });
    }
}

#[test]
fn expected_counts_of_public_fixtures() {
    // (file prefix, Terraform's own `Plan:` line or none for no resource change)
    let cases = [
        ("01_", Some("Plan: 7 to add, 0 to change, 0 to destroy.")),
        ("03_", Some("Plan: 1 to add, 0 to change, 1 to destroy.")),
        (
            "07_",
            Some("Plan: 1 to import, 0 to add, 1 to change, 0 to destroy."),
        ),
        ("09_", None),
        // Terraform 1.14 prints actions after the plan line.
        (
            "10_",
            Some("Plan: 0 to add, 0 to change, 0 to destroy. Actions: 1 to invoke."),
        ),
        ("23_", Some("Plan: 12 to add, 1 to change, 0 to destroy.")),
        ("26_", Some("Plan: 5 to add, 1 to change, 2 to destroy.")),
        ("29_", Some("Plan: 300 to add, 0 to change, 0 to destroy.")),
        ("31_", Some("Plan: 7 to add, 0 to change, 0 to destroy.")),
    ];
    for (prefix, line) in cases {
        let path = fixtures()
            .into_iter()
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .unwrap();
        let p = prepare_file(&path);
        match line {
            Some(line) => assert!(p.comment.contains(line), "{prefix}: {}", p.comment),
            None => assert!(!p.counts.has_resource_changes(), "{prefix}"),
        }
    }
}

#[test]
fn terragrunt_ndjson_is_named_in_the_error() {
    let path =
        plans_dir().join("30_borchero__tests_fixtures_basic_6-terragrunt-multiplan_plan.json");
    match load::load_plan(&path, "terraform") {
        Err(PlanCommentError::Input(PlanInputError::Multiple { count, .. })) => {
            assert_eq!(count, 3)
        }
        other => panic!("expected a Multiple error, got {other:?}"),
    }
}

#[test]
fn wrapper_noise_and_utf16_are_tolerated() {
    for prefix in ["24_", "28_"] {
        let path = fixtures()
            .into_iter()
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .unwrap();
        let p = prepare_file(&path);
        assert!(p.counts.add > 0, "{prefix}");
    }
}

#[test]
fn refresh_only_mode_shows_all_drift() {
    use ferry::plan_comment::{PlanMode, prepare};
    let path = plans_dir()
        .join("25_infracost__cmd_infracost_testdata_instance_with_attachment_after_deploy.json");
    let mut opts = plan_comment_support::options("staging", &path);
    let normal = prepare(load::load_plan(&path, "terraform").unwrap(), &opts, None).unwrap();
    assert!(
        !normal.has_changes,
        "normal mode: drift the plan does not depend on is not a change"
    );
    assert!(!normal.comment.contains("Changed outside Terraform"));
    opts.mode = PlanMode::RefreshOnly;
    let refresh = prepare(load::load_plan(&path, "terraform").unwrap(), &opts, None).unwrap();
    assert!(refresh.has_changes);
    assert!(
        refresh
            .comment
            .contains("**Refresh only:** 2 object(s) changed outside Terraform"),
        "{}",
        refresh.comment
    );
    assert!(
        refresh
            .comment
            .contains("`aws_instance.ec2` was changed outside Terraform")
    );
}
