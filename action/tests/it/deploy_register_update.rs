//! `ferry deploy`'s ECS side against moto: the real aws-sdk-ecs over HTTP.
//! Registration (and skipping an identical definition), UpdateService on the
//! cluster and service names the manifest gives each environment, two
//! services in parallel, and an idempotent re-run. Moto stores task
//! definitions and services for real but never advances a rollout, so these
//! run with `wait: false`; the rollouts are tested in `deploy_rollout.rs`.
//! Each test starts its own moto with `MOTO_ECS_SERVICE_RUNNING=1` (a
//! service at steady state), which the shared test bed's moto cannot set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::deploy as deploy_support;

use deploy_support::{
    Moto, clients, create_environment, create_fargate_service, image, manifest, render, revisions,
};
use ferry::deploy::register::ensure_registered;
use ferry::deploy::{PlanInput, RolloutOptions, Status, plans, roll_out};

fn no_wait() -> RolloutOptions {
    RolloutOptions {
        wait: false,
        ..RolloutOptions::default()
    }
}

#[tokio::test]
async fn registers_once_and_reuses_an_identical_definition() {
    let moto = Moto::start(1);
    let c = clients(&moto.url).await;
    let budget = ferry::deploy::budget::Budget::new(10.0, 5);
    let td = render("sampleapi", "staging", &image("sampleapi", "1"));
    let family = "email-platform-staging-sampleapi";

    let first = ensure_registered(&c, &budget, &td).await.unwrap();
    assert!(first.registered);
    assert!(first.arn.ends_with(&format!("{family}:1")), "{}", first.arn);

    // The same rendering again: nothing registered, the same ARN.
    let second = ensure_registered(&c, &budget, &td).await.unwrap();
    assert_eq!(second.arn, first.arn);
    assert!(!second.registered);
    assert_eq!(revisions(&c.ecs, family).await.len(), 1);

    // A new image is a new revision.
    let td2 = render("sampleapi", "staging", &image("sampleapi", "2"));
    let third = ensure_registered(&c, &budget, &td2).await.unwrap();
    assert!(third.registered);
    assert!(third.arn.ends_with(&format!("{family}:2")), "{}", third.arn);
    assert_eq!(revisions(&c.ecs, family).await.len(), 2);
}

#[tokio::test]
async fn deploys_two_services_in_parallel_on_the_manifest_names_of_each_environment() {
    let moto = Moto::start(1);
    let c = clients(&moto.url).await;
    let m = manifest();
    for env in ["staging", "prod"] {
        create_environment(&c.ecs, &moto.url, env).await;
    }
    for env in ["staging", "prod"] {
        let inputs = ["sampleapi", "sampleworker"]
            .into_iter()
            .map(|service| PlanInput {
                service: service.into(),
                image: Some(image(service, "7")),
                task_definition: render(service, env, &image(service, "7")),
                rollback_to: None,
            })
            .collect();
        let p = plans(&m, env, inputs).unwrap();
        let mut lines = Vec::new();
        let outcomes = roll_out(
            &c.port(),
            p,
            &no_wait(),
            &mut |l| lines.push(l.to_string()),
            None,
        )
        .await
        .outcomes;
        assert_eq!(outcomes.len(), 2);
        for (o, service) in outcomes.iter().zip(["sampleapi", "sampleworker"]) {
            assert_eq!(o.service, service);
            assert_eq!(o.status, Status::Started, "{o:#?}\n{lines:#?}");
            assert!(o.registered);
            let arn = o.task_definition_arn.clone().unwrap();
            // The family of this environment, revision 2 (1 was Terraform's).
            assert!(
                arn.ends_with(&format!(
                    ":task-definition/email-platform-{env}-{service}:2"
                )),
                "{arn}"
            );
            assert_eq!(o.cluster, format!("email-platform-{env}"));
            assert_eq!(o.ecs_service, format!("email-platform-{env}-{service}"));
            assert_eq!(
                deploy_support::service_task_definition(&c.ecs, &o.cluster, &o.ecs_service).await,
                arn
            );
        }
    }
    // Staging's deploy did not touch prod's services, and the other way round.
    let staging_api = deploy_support::service_task_definition(
        &c.ecs,
        "email-platform-staging",
        "email-platform-staging-sampleapi",
    )
    .await;
    assert!(staging_api.contains("/email-platform-staging-sampleapi:"));
}

#[tokio::test]
async fn a_second_identical_deploy_is_unchanged_and_registers_nothing() {
    let moto = Moto::start(1);
    let c = clients(&moto.url).await;
    let (cluster, service) = (
        "email-platform-staging",
        "email-platform-staging-sampleworker",
    );
    create_fargate_service(
        &c.ecs,
        &moto.url,
        cluster,
        service,
        &render("sampleworker", "staging", &image("sampleworker", "0")),
    )
    .await;
    let plan = || {
        plans(
            &manifest(),
            "staging",
            vec![PlanInput {
                service: "sampleworker".into(),
                image: Some(image("sampleworker", "3")),
                task_definition: render("sampleworker", "staging", &image("sampleworker", "3")),
                rollback_to: None,
            }],
        )
        .unwrap()
    };
    let first = roll_out(&c.port(), plan(), &no_wait(), &mut |_| {}, None)
        .await
        .outcomes;
    assert_eq!(first[0].status, Status::Started, "{:#?}", first[0]);
    let family = "email-platform-staging-sampleworker";
    let count = revisions(&c.ecs, family).await.len();

    let mut lines = Vec::new();
    let again = roll_out(
        &c.port(),
        plan(),
        &no_wait(),
        &mut |l| lines.push(l.to_string()),
        None,
    )
    .await
    .outcomes;
    assert_eq!(again[0].status, Status::Unchanged, "{:#?}", again[0]);
    assert!(!again[0].registered);
    assert_eq!(again[0].task_definition_arn, first[0].task_definition_arn);
    assert_eq!(revisions(&c.ecs, family).await.len(), count);
    assert!(lines.iter().any(|l| l.contains("unchanged")), "{lines:#?}");
}

#[tokio::test]
async fn a_missing_service_fails_with_what_to_do_and_changes_nothing() {
    let moto = Moto::start(1);
    let c = clients(&moto.url).await;
    c.ecs
        .create_cluster()
        .cluster_name("email-platform-staging")
        .send()
        .await
        .unwrap();
    let p = plans(
        &manifest(),
        "staging",
        vec![PlanInput {
            service: "sampleapi".into(),
            image: None,
            task_definition: render("sampleapi", "staging", &image("sampleapi", "1")),
            rollback_to: None,
        }],
    )
    .unwrap();
    let out = roll_out(&c.port(), p, &no_wait(), &mut |_| {}, None)
        .await
        .outcomes;
    assert_eq!(out[0].status, Status::Failed);
    let reason = &out[0].diagnosis.as_ref().unwrap().reason;
    assert_eq!(
        reason,
        "ECS service email-platform-staging-sampleapi was not found in cluster email-platform-staging: create it with Terraform (terraform/aws) first"
    );
    assert!(
        revisions(&c.ecs, "email-platform-staging-sampleapi")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn missing_credentials_are_an_error_that_suggests_dry_run() {
    // `connect` reads the process environment (the default credentials
    // chain), so the check runs in a child copy of this test with a clean
    // environment: no keys, no profile files, no instance metadata.
    if std::env::var_os("FERRY_TEST_NO_CREDENTIALS").is_some() {
        let e = ferry::aws::connect("us-east-1")
            .await
            .unwrap_err()
            .to_string();
        println!("ERROR: {e}");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "deploy_register_update::missing_credentials_are_an_error_that_suggests_dry_run",
            "--exact",
            "--nocapture",
        ])
        .env_clear()
        .env("FERRY_TEST_NO_CREDENTIALS", "1")
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The error's first line says what is missing; its help (the next
    // line) says what to do.
    let at = stdout.find("ERROR: ").unwrap_or_else(|| panic!("{stdout}"));
    let error = &stdout[at..];
    assert!(error.starts_with("ERROR: no AWS credentials"), "{error}");
    assert!(error.contains("--dry-run"), "{error}");
}
