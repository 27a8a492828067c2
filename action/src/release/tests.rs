use super::*;

#[test]
fn a_laptop_without_credentials_gets_a_dry_run_and_ci_gets_an_error() {
    assert_eq!(choose_mode(false, false, true).unwrap(), Mode::Live);
    assert!(
        matches!(choose_mode(false, false, false).unwrap(), Mode::DryRun(why) if why.contains("no AWS credentials"))
    );
    assert!(matches!(
        choose_mode(true, true, true).unwrap(),
        Mode::DryRun(_)
    ));
    let err = choose_mode(false, true, false).unwrap_err();
    assert!(
        err.contains("--dry-run") && err.contains("configure-aws-credentials"),
        "{err}"
    );
}

#[test]
fn the_plan_names_services_images_changes_and_the_comment() {
    let plan = DryRunReport {
        env: "staging".into(),
        why_dry: "no AWS credentials are configured".into(),
        source: "git diff a1b2c3d..e4f5a6b".into(),
        notes: vec![],
        unaffected: vec!["sampleworker".into()],
        services: vec![
            DryRunService {
                service: "sampleapi".into(),
                why: vec![
                    "services/sampleapi/src/main.rs matches services/sampleapi/** | x".into(),
                ],
                image: "ECR/email-platform/sampleapi:sampleapi-e4f5a6b-20261126000000".into(),
                task_definition_file: ".ferry/release/sampleapi.staging.json".into(),
                changes: None,
                changes_note: Some(
                    "Not compared with the running service: no AWS credentials.".into(),
                ),
                rollout: "rolling".into(),
            },
            DryRunService {
                service: "other".into(),
                why: vec!["forced".into()],
                image: "i".into(),
                task_definition_file: "f".into(),
                changes: Some(vec!["~ cpu: \"256\" → \"512\"".into()]),
                changes_note: None,
                rollout: "canary: 10% for 5m, then all; bake 5m".into(),
            },
        ],
        comment: "<!-- ferry:deploy -->\n| env | service |".into(),
        waves: vec![],
    };
    let with_waves = DryRunReport {
        waves: vec!["wave 1/2: other".into(), "wave 2/2: sampleapi".into()],
        ..plan.clone()
    };
    let waves = plan_markdown(&with_waves);
    assert!(
        waves.contains(
            "Rolls out in waves (`depends-on`):\n\n- wave 1/2: other\n- wave 2/2: sampleapi\n"
        ),
        "{waves}"
    );
    let text = plan_markdown(&plan);
    assert!(!text.contains("could not be rendered"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn the_built_image_replaces_the_planned_one_in_every_container_that_uses_it() {
    let planned = "ACCOUNT.dkr.ecr.eu-west-1.amazonaws.com/p/api:api-abc1234-20261204";
    let built = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/p/api@sha256:00ff";
    let read = |v| crate::taskdef::TaskDefinition::read(v).unwrap();
    let mut td = read(serde_json::json!({
        "containerDefinitions": [
            {"name": "app", "image": planned, "environment": [{"name": "IMAGE", "value": planned}]},
            {"name": "sidecar", "image": "public.ecr.aws/otel/collector:1"},
            {"name": "migrate", "image": planned}
        ]
    }));
    assert_eq!(pin_image(&mut td, planned, built), 2);
    let images: Vec<&str> = td.containers().map(|c| c.image().unwrap()).collect();
    assert_eq!(images, [built, "public.ecr.aws/otel/collector:1", built]);
    // Only container images are pinned: values the Jsonnet derived stay.
    assert_eq!(
        td.containers().next().unwrap().variable("IMAGE"),
        Some(planned)
    );
    // A definition that transformed the image: nothing pinned, the caller renders again.
    let mut other =
        read(serde_json::json!({"containerDefinitions": [{"image": format!("{planned}-x")}]}));
    assert_eq!(pin_image(&mut other, planned, built), 0);
    assert_eq!(
        pin_image(&mut read(serde_json::json!({})), planned, built),
        0
    );
}

/// Sidecars keep what they were written with, even when their image looks
/// like the release's (same repository, another tag; the reference as a
/// prefix); every container of the release image, wherever it stands, is
/// pinned.
#[test]
fn only_the_release_image_is_pinned_whatever_the_container_order() {
    let planned = "ACCOUNT.dkr.ecr.eu-west-1.amazonaws.com/p/api:api-abc1234-20261204";
    let built = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/p/api@sha256:00ff";
    let log_router = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4";
    let same_repository = "ACCOUNT.dkr.ecr.eu-west-1.amazonaws.com/p/api:debug-tools";
    let prefixed = format!("{planned}-debug");
    let mut td = crate::taskdef::TaskDefinition::read(serde_json::json!({
        "containerDefinitions": [
            {"name": "log-router", "image": log_router, "firelensConfiguration": {"type": "fluentbit"}},
            {"name": "worker", "image": planned},
            {"name": "tools", "image": same_repository},
            {"name": "debug", "image": prefixed},
            {"name": "no-image"},
            {"name": "api", "image": planned}
        ]
    }))
    .unwrap();
    assert_eq!(pin_image(&mut td, planned, built), 2);
    let images: Vec<Option<&str>> = td.containers().map(|c| c.image()).collect();
    assert_eq!(
        images,
        [
            Some(log_router),
            Some(built),
            Some(same_repository),
            Some(prefixed.as_str()),
            None,
            Some(built)
        ]
    );
    // Pinning again (a re-run with the same build) changes nothing more.
    assert_eq!(pin_image(&mut td, planned, built), 0);
    assert_eq!(pin_image(&mut td, built, built), 2);
}
