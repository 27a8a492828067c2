//! `deploy`'s GitHub side: Deployments, statuses, the commit's pull requests
//! and the deploy comment.
//!
//! Two stand-ins. The scenarios that need particular answers (a comment on
//! page 2, a re-run that finds its own records, a 502, a rate limit) run
//! against a recorded-response server (wiremock, a dev-dependency), because
//! Prism is stateless and answers only the spec's examples. Every request
//! those scenarios send is then replayed to Prism serving GitHub's OpenAPI
//! description, which answers 422 (with `sl-violations`) to anything that is
//! not valid GitHub API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::{Duration, Instant};

use ferry::deploy::comment::MARKER;
use ferry::deploy::post::{CommentError, post_deploy_comment};
use ferry::deploy::{DeployReport, DeploymentPayload};
use ferry::gha::{RepoSlug, Secret};
use ferry::github::GitHub;
use ferry::github::comments::Upserted;
use ferry::github::deployments::{DeploymentState, NewDeployment, NewStatus};
use ferry::github::retry::RetryPolicy;
use serde_json::{Value, json};
use support::deploy::staging_api_report;
use support::github_state::assert_valid_github_api;
use support::testbed_url;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api@sha256:1a2b3c4d5e6f00112233445566778899aabbccddeeff00112233445566778899";
const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-staging-api:12";

fn github(url: &str) -> GitHub {
    let mut gh = GitHub::new(
        url,
        Some(&Secret::new("ghs_deploytesttoken")),
        RepoSlug::parse("octo/shop").unwrap(),
    )
    .unwrap();
    gh.retry = RetryPolicy::fast();
    gh
}

fn payload() -> DeploymentPayload {
    DeploymentPayload {
        service: "api".into(),
        image: Some(IMAGE.into()),
        task_definition_arn: Some(ARN.into()),
    }
}

fn new_deployment(p: &DeploymentPayload) -> NewDeployment<'_> {
    NewDeployment {
        sha: SHA,
        environment: "staging",
        service: "api",
        payload: p,
        description: "ferry: shop-staging-api:12",
        production: false,
    }
}

fn report() -> DeployReport {
    staging_api_report(SHA, IMAGE, ARN)
}

/// A deployment as GitHub returns it.
fn deployment_json(id: u64, p: &DeploymentPayload) -> Value {
    json!({
        "id": id, "sha": SHA, "ref": SHA, "task": "deploy:api", "environment": "staging",
        "payload": p, "created_at": "2024-05-01T10:00:00Z", "creator": {"login": "github-actions[bot]", "type": "Bot"}
    })
}

fn comment_json(id: u64, body: &str) -> Value {
    json!({"id": id, "body": body, "html_url": format!("https://github.com/octo/shop/pull/7#issuecomment-{id}"),
           "user": {"login": "github-actions[bot]", "type": "Bot"}, "updated_at": "2024-05-01T10:00:00Z"})
}

async fn mount_pulls(server: &MockServer, numbers: &[u64]) {
    let pulls: Vec<Value> = numbers.iter().map(|n| json!({"number": n})).collect();
    Mock::given(method("GET"))
        .and(path(format!("/repos/octo/shop/commits/{SHA}/pulls")))
        .respond_with(ResponseTemplate::new(200).set_body_json(pulls))
        .mount(server)
        .await;
}

fn count(requests: &[Request], verb: &str, p: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == p)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_is_recorded_once_and_a_rerun_reuses_the_record() {
    // First run: no record yet, so one is created and given statuses.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/octo/shop/deployments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(deployment_json(77, &payload())))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/octo/shop/deployments/77/statuses"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": 1, "state": "success"})),
        )
        .expect(2)
        .mount(&server)
        .await;
    let gh = github(&server.uri());
    let p = payload();
    let created = gh.create_deployment(&new_deployment(&p)).await.unwrap();
    assert_eq!(created.record.id, 77);
    assert!(!created.reused);
    for state in [DeploymentState::InProgress, DeploymentState::Success] {
        gh.set_status(
            77,
            &NewStatus {
                state,
                log_url: Some("https://github.com/octo/shop/actions/runs/42"),
                environment_url: Some("https://staging.shop.example.com"),
                description: &"ferry deployed shop-staging-api:12 ".repeat(10),
            },
        )
        .await
        .unwrap();
    }
    let requests = server.received_requests().await.unwrap();
    let create = requests
        .iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == "/repos/octo/shop/deployments")
        .unwrap();
    let body: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["ref"], SHA);
    assert_eq!(body["task"], "deploy:api");
    assert_eq!(body["environment"], "staging");
    assert_eq!(body["auto_merge"], false);
    assert_eq!(body["required_contexts"], json!([]));
    assert_eq!(body["payload"]["image"], IMAGE);
    assert_eq!(body["payload"]["task_definition_arn"], ARN);
    let status: Value = serde_json::from_slice(&requests.last().unwrap().body).unwrap();
    assert_eq!(status["state"], "success");
    assert_eq!(status["description"].as_str().unwrap().chars().count(), 140);
    assert_valid_github_api(&requests).await;

    // The re-run: GitHub lists the record; nothing is created.
    let rerun = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .and(query_param("sha", SHA))
        .and(query_param("task", "deploy:api"))
        .and(query_param("environment", "staging"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            deployment_json(
                78,
                &DeploymentPayload {
                    image: Some("other@sha256:ff".into()),
                    ..payload()
                }
            ),
            deployment_json(77, &payload()),
        ])))
        .mount(&rerun)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/octo/shop/deployments"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&rerun)
        .await;
    let again = github(&rerun.uri())
        .create_deployment(&new_deployment(&p))
        .await
        .unwrap();
    assert_eq!(
        again.record.id, 77,
        "the record of the same image and task definition"
    );
    assert!(again.reused);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_answered_502_is_looked_up_before_it_is_sent_again() {
    let server = MockServer::start().await;
    // The 502 came after GitHub stored the record: the second look finds it.
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([deployment_json(5, &payload())])),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/octo/shop/deployments"))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .expect(1)
        .mount(&server)
        .await;
    let p = payload();
    let d = github(&server.uri())
        .create_deployment(&new_deployment(&p))
        .await
        .unwrap();
    assert_eq!(d.record.id, 5);
    assert!(d.reused, "no second record");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_502_then_success_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/octo/shop/commits/{SHA}/pulls")))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_pulls(&server, &[7, 9]).await;
    let pulls = github(&server.uri()).pulls_for_commit(SHA).await.unwrap();
    assert_eq!(pulls, [7, 9]);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secondary_rate_limit_is_waited_out_as_told() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments/3/statuses"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments/3/statuses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"state": "success", "creator": {"login": "github-actions[bot]", "type": "Bot"}}])))
        .mount(&server)
        .await;
    let mut gh = github(&server.uri());
    gh.retry = RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(5),
    };
    let started = Instant::now();
    assert_eq!(
        gh.latest_state(3).await.unwrap(),
        Some(DeploymentState::Success)
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured ({:?})",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deploy_comment_on_page_2_is_edited_and_a_rerun_sends_nothing() {
    let server = MockServer::start().await;
    mount_pulls(&server, &[7]).await;
    // An earlier run's comment (an older release), on the second page.
    let older = {
        let mut r = report();
        r.outcomes[0].task_definition_arn = Some(ARN.replace(":12", ":11"));
        ferry::deploy::comment::render_comment(&ferry::deploy::comment::merge(None, &r))
    };
    let page1: Vec<Value> = (1..=100).map(|i| comment_json(i, "LGTM @octo")).collect();
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/issues/7/comments"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([comment_json(555, &older)])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/issues/7/comments"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page1.clone()).insert_header(
            "link",
            "<https://api.github.com/repositories/1/issues/7/comments?page=2>; rel=\"next\"",
        ))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/repos/octo/shop/issues/comments/555"))
        .respond_with(|req: &Request| {
            let body: Value = serde_json::from_slice(&req.body).unwrap();
            ResponseTemplate::new(200)
                .set_body_json(comment_json(555, body["body"].as_str().unwrap()))
        })
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/octo/shop/issues/7/comments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(comment_json(1, "x")))
        .expect(0)
        .mount(&server)
        .await;
    let gh = github(&server.uri());
    let done = post_deploy_comment(&gh, SHA, &report()).await.unwrap();
    assert!(
        matches!(done[..], [(7, Upserted::Updated(ref c))] if c.id == 555),
        "{done:?}"
    );
    let requests = server.received_requests().await.unwrap();
    let patch = requests
        .iter()
        .find(|r| r.method.as_str() == "PATCH")
        .unwrap();
    let edited: Value = serde_json::from_slice(&patch.body).unwrap();
    let edited = edited["body"].as_str().unwrap().to_string();
    assert!(edited.starts_with(MARKER));
    assert!(edited.contains("shop-staging-api:12") && !edited.contains("shop-staging-api:11"));
    assert_valid_github_api(&requests).await;

    // The re-run (another duration): GitHub now holds the edited comment; nothing is sent.
    let rerun = MockServer::start().await;
    mount_pulls(&rerun, &[7]).await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/issues/7/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([comment_json(555, &edited)])))
        .mount(&rerun)
        .await;
    let mut again = report();
    again.outcomes[0].duration_secs = 75.0;
    let done = post_deploy_comment(&github(&rerun.uri()), SHA, &again)
        .await
        .unwrap();
    assert!(
        matches!(done[..], [(7, Upserted::Unchanged(_))]),
        "{done:?}"
    );
    let requests = rerun.received_requests().await.unwrap();
    assert_eq!(
        count(&requests, "PATCH", "/repos/octo/shop/issues/comments/555"),
        0
    );
    assert_eq!(
        count(&requests, "POST", "/repos/octo/shop/issues/7/comments"),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_deploy_creates_the_comment() {
    let server = MockServer::start().await;
    mount_pulls(&server, &[7]).await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/issues/7/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([comment_json(1, "hi")])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/octo/shop/issues/7/comments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(comment_json(2, "created")))
        .expect(1)
        .mount(&server)
        .await;
    let done = post_deploy_comment(&github(&server.uri()), SHA, &report())
        .await
        .unwrap();
    assert!(matches!(done[..], [(7, Upserted::Created(_))]), "{done:?}");
    assert_valid_github_api(&server.received_requests().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_comment_that_keeps_failing_is_an_error_value() {
    let server = MockServer::start().await;
    mount_pulls(&server, &[7]).await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/issues/7/comments"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"message": "Server Error"})))
        .expect(4)
        .mount(&server)
        .await;
    let err = post_deploy_comment(&github(&server.uri()), SHA, &report())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CommentError::Comment { pr: 7, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("#7") && text.contains("500"), "{text}");
    assert!(!text.contains("ghs_deploytesttoken"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_successful_deployment_is_the_newest_that_succeeded() {
    let server = MockServer::start().await;
    let old = DeploymentPayload {
        task_definition_arn: Some(ARN.replace(":12", ":10")),
        ..payload()
    };
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            deployment_json(9, &payload()),
            {"id": 8, "sha": SHA, "payload": "{\"service\":\"api\",\"image\":null,\"task_definition_arn\":null}", "created_at": "2024-04-01T00:00:00Z", "creator": {"login": "github-actions[bot]", "type": "Bot"}},
            deployment_json(7, &old),
        ])))
        .mount(&server)
        .await;
    for (id, state) in [(9, "failure"), (8, "error"), (7, "inactive")] {
        Mock::given(method("GET"))
            .and(path(format!("/repos/octo/shop/deployments/{id}/statuses")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"state": state, "creator": {"login": "github-actions[bot]", "type": "Bot"}}])))
            .mount(&server)
            .await;
    }
    let gh = github(&server.uri());
    let last = gh
        .last_successful("staging", "api", 30)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        last.id, 7,
        "inactive is what GitHub makes of a success superseded later"
    );
    assert_eq!(
        last.payload,
        Some(old),
        "the rollback target's task definition"
    );
    let listed = gh.deployments("staging", "api", None, 30).await.unwrap();
    assert_eq!(
        listed[1].payload.as_ref().unwrap().image,
        None,
        "a string payload is read too"
    );
    assert_valid_github_api(&server.received_requests().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn posts_are_valid_against_prism_directly() {
    // Prism answers POSTs with the spec's example: the exchange is the check.
    let gh = github(&testbed_url("PRISM_URL"));
    gh.set_status(
        1,
        &NewStatus {
            state: DeploymentState::Failure,
            log_url: Some("https://github.com/octo/shop/actions/runs/42"),
            environment_url: None,
            description: "rolled back",
        },
    )
    .await
    .unwrap();
}
