//! The action image built from action/Dockerfile and run as GitHub's runner
//! runs a container action, on a copy of this repository owned by another
//! user than the container's root: `detect` on a push event and `render`
//! write their outputs and summary through the file commands. The image's
//! size and a container's start time are printed (`--nocapture`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::container as container_support;
use crate::support::deploy as deploy_support;

use std::time::{Duration, Instant};

use container_support::{ContainerStep, Docker, chown_workspace, runner_inputs};
use deploy_support::{
    EXAMPLE_PATHS, Moto, clients, copy_repo, create_environment, service_task_definition,
};
use serde_json::json;
use support::git_in;
use support::github_state::{GitHubState, TOKEN};

/// A copy of the repository with two commits (the second changes
/// sampleapi), owned by the runner's user; returns (dir, before, after).
fn workspace() -> (tempfile::TempDir, String, String) {
    let dir = copy_repo(EXAMPLE_PATHS);
    let git = |args: &[&str]| git_in(dir.path(), args);
    support::init_repo(dir.path());
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "the platform"]);
    let before = git(&["rev-parse", "HEAD"]).trim().to_string();
    let main_rs = dir.path().join("services/sampleapi/src/main.rs");
    let text = std::fs::read_to_string(&main_rs).unwrap();
    std::fs::write(&main_rs, format!("{text}\n// a change\n")).unwrap();
    git(&["commit", "-q", "-am", "sampleapi: a change"]);
    let after = git(&["rev-parse", "HEAD"]).trim().to_string();
    chown_workspace(dir.path());
    (dir, before, after)
}

fn push_event(before: &str, after: &str) -> serde_json::Value {
    json!({
        "ref": "refs/heads/main", "before": before, "after": after,
        "forced": false, "created": false, "deleted": false,
        "repository": { "default_branch": "main", "full_name": "acme/email-platform" }
    })
}

#[test]
fn detect_and_render_run_in_the_image_as_the_runner_starts_it() {
    let Some(docker) = Docker::get("detect_and_render_run_in_the_image_as_the_runner_starts_it")
    else {
        return;
    };
    let image = docker.action_image();
    let (ws, before, after) = workspace();

    let detect = ContainerStep {
        docker: &docker,
        image: &image.tag,
        args: vec![],
        workspace: ws.path(),
        event_name: "push",
        event: push_event(&before, &after),
        inputs: runner_inputs(&[("command", "detect")], "ghs_test"),
        env: vec![
            ("GITHUB_SHA".into(), after.clone()),
            ("GITHUB_REF".into(), "refs/heads/main".into()),
        ],
    }
    .run();
    assert_eq!(detect.code, 0, "{detect:#?}");
    assert_eq!(detect.output("services"), r#"["sampleapi"]"#, "{detect:#?}");
    assert_eq!(detect.output("any"), "true");
    let matrix: serde_json::Value = serde_json::from_str(detect.output("matrix")).unwrap();
    assert_eq!(matrix["include"][0]["service"], "sampleapi", "{matrix}");
    assert!(
        detect.summary.contains("sampleapi"),
        "the job summary names the service: {}",
        detect.summary
    );
    // Nothing was printed as a workflow command but what ferry means to.
    for line in detect.stdout.lines().filter(|l| l.starts_with("::")) {
        assert!(
            [
                "::group::",
                "::endgroup::",
                "::notice",
                "::add-mask::",
                "::debug::"
            ]
            .iter()
            .any(|p| line.starts_with(p)),
            "unexpected workflow command: {line}"
        );
    }

    let image_uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sampleapi:sampleapi-abc1234";
    let render = ContainerStep {
        docker: &docker,
        image: &image.tag,
        args: vec![],
        workspace: ws.path(),
        event_name: "push",
        event: push_event(&before, &after),
        inputs: runner_inputs(
            &[
                ("command", "render"),
                ("service", "sampleapi"),
                ("environment", "staging"),
                ("image", image_uri),
            ],
            "ghs_test",
        ),
        env: vec![("GITHUB_SHA".into(), after.clone())],
    }
    .run();
    assert_eq!(render.code, 0, "{render:#?}");
    let file = render.output("task-definition");
    // A path the next step (on the host, or in another container) can open.
    let host_file = if let Some(rel) = file.strip_prefix("/github/workspace/") {
        ws.path().join(rel)
    } else {
        ws.path().join(file)
    };
    let task: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&host_file).unwrap()).unwrap();
    let containers = task["containerDefinitions"].as_array().unwrap();
    assert!(
        containers.iter().any(|c| c["image"] == image_uri),
        "{task:#}"
    );
}

#[test]
fn the_image_is_small_and_a_container_starts_fast() {
    let Some(docker) = Docker::get("the_image_is_small_and_a_container_starts_fast") else {
        return;
    };
    let image = docker.action_image();
    // The local image carries a stripped debug build of ferry on Debian;
    // the published one a release musl build on Alpine (smaller).
    eprintln!("action image size: {:.1} MB", image.size as f64 / 1e6);
    assert!(image.size < 400_000_000, "{} bytes", image.size);

    let mut runs = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let out = docker
            .cmd()
            .args(["run", "--rm", "--network", "host", &image.tag, "--version"])
            .output()
            .unwrap();
        runs.push(started.elapsed());
        assert!(out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("ferry "));
    }
    runs.sort();
    eprintln!(
        "container start to exit (`ferry --version`), median of 3: {:.2} s",
        runs[1].as_secs_f64()
    );
    // Generous: catches a hang, not a slow machine.
    assert!(runs[1] < Duration::from_secs(60));
}

/// The runner sets every declared input, empty when the workflow gives
/// none: no command refuses those empty values (an empty `timeout` or
/// `values` is an absent one). Runs the host binary: no daemon needed.
#[test]
fn no_command_refuses_the_empty_inputs_the_runner_sets() {
    let dir = tempfile::tempdir().unwrap();
    for command in [
        "detect",
        "build",
        "render",
        "deploy",
        "gate",
        "plan-comment",
        "plan-verify",
        "release",
    ] {
        let out = support::ferry_command()
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .envs(runner_inputs(&[("command", command)], "ghs_test"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // An input a command needs may be missing (deploy's environment);
        // an empty one is never taken for a value.
        assert!(
            !stderr.contains("a value is required") && !stderr.contains("invalid value ''"),
            "{command}: {stderr}"
        );
        assert!(!out.status.success(), "{command}: no manifest here");
    }
}

/// `deploy` from the image to a moto of its own (ECS), recording the
/// deployment in the stateful GitHub stand-in; `--no-wait` because moto
/// never completes a rollout.
#[tokio::test(flavor = "multi_thread")]
async fn deploy_runs_in_the_image_against_moto() {
    let Some(docker) = Docker::get("deploy_runs_in_the_image_against_moto") else {
        return;
    };
    let image = docker.action_image();
    let moto = Moto::start(1);
    let c = clients(&moto.url).await;
    create_environment(&c.ecs, &moto.url, "staging").await;
    let gh = GitHubState::start("acme/email-platform").await;
    let (ws, before, after) = workspace();
    let images = json!({
        "sampleapi": deploy_support::image("sampleapi", "7"),
        "sampleworker": deploy_support::image("sampleworker", "7"),
    })
    .to_string();
    let uri = gh.uri();
    let mut env: Vec<(String, String)> = gh
        .env(&uri, &after)
        .into_iter()
        .filter(|(k, _)| *k != "GITHUB_ACTIONS")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.extend(
        [
            ("AWS_ENDPOINT_URL", moto.url.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let step = ContainerStep {
        docker: &docker,
        image: &image.tag,
        args: vec![],
        workspace: ws.path(),
        event_name: "push",
        event: push_event(&before, &after),
        inputs: runner_inputs(
            &[
                ("command", "deploy"),
                ("environment", "staging"),
                ("images", &images),
                ("no-wait", "true"),
                // Its moto holds none of the example's secrets or roles
                // (preflight is tested in preflight.rs).
                (
                    "skip-preflight",
                    "this moto holds none of the example's secrets or roles",
                ),
            ],
            TOKEN,
        ),
        env,
    };
    // The GitHub stand-in answers on this runtime while the step runs.
    let run = tokio::task::block_in_place(|| step.run());
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("status"), "started", "{run:#?}");
    let arns: serde_json::Value = serde_json::from_str(run.output("task-definition-arns")).unwrap();
    for service in ["sampleapi", "sampleworker"] {
        let arn = arns[service].as_str().unwrap();
        assert!(
            arn.ends_with(&format!(
                ":task-definition/email-platform-staging-{service}:2"
            )),
            "{arn}"
        );
        let running = service_task_definition(
            &c.ecs,
            "email-platform-staging",
            &format!("email-platform-staging-{service}"),
        )
        .await;
        assert_eq!(running, arn, "the service runs what deploy registered");
        assert_eq!(gh.deployments_of("staging", service).len(), 1);
    }
    assert!(run.summary.contains("sampleworker"), "{}", run.summary);
}

/// `plan-comment` from the image on a pull request, against Prism serving
/// GitHub's OpenAPI description: every request it sends is valid GitHub
/// API (Prism refuses the others with 422).
#[test]
fn plan_comment_runs_in_the_image_against_prism() {
    let Some(docker) = Docker::get("plan_comment_runs_in_the_image_against_prism") else {
        return;
    };
    let image = docker.action_image();
    let prism = support::testbed_url("PRISM_URL");
    let (ws, before, after) = workspace();
    std::fs::copy(
        support::root().join("action/tests/data/plans/01_tfjson__testdata_basic_plan.json"),
        ws.path().join("plan.json"),
    )
    .unwrap();
    chown_workspace(ws.path());
    let event = json!({
        "action": "synchronize", "number": 7,
        "pull_request": { "number": 7,
            "base": { "sha": before, "ref": "main" },
            "head": { "sha": after, "ref": "feature" } },
        "repository": { "default_branch": "main", "full_name": "octo-org/ferry-demo" }
    });
    let run = ContainerStep {
        docker: &docker,
        image: &image.tag,
        args: vec![],
        workspace: ws.path(),
        event_name: "pull_request",
        event,
        inputs: runner_inputs(
            &[
                ("command", "plan-comment"),
                ("environment", "staging"),
                ("plan", "plan.json"),
            ],
            TOKEN,
        ),
        env: vec![
            ("GITHUB_API_URL".into(), prism),
            ("GITHUB_REPOSITORY".into(), "octo-org/ferry-demo".into()),
            ("GITHUB_SHA".into(), after.clone()),
        ],
    }
    .run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("has-changes"), "true", "{run:#?}");
    // Posted to Prism's pull request 7 (created or, Prism's example comment
    // being found, edited), not printed instead.
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("created comment") || all.contains("edited comment"),
        "{run:#?}"
    );
    assert!(all.contains("on #7"), "{run:#?}");
    assert!(
        !run.stdout.contains(TOKEN) && !run.summary.contains(TOKEN),
        "the token leaked"
    );
}
