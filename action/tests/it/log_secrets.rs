//! No log level prints a secret: `ferry build` at `FERRY_LOG=trace`, in
//! Actions, against the test bed (moto's ECR hands out a real-looking
//! authorization token; every AWS call is signed with a session token), and
//! neither stdout nor stderr holds a credential, the ECR token (raw, decoded
//! or its password), or an `Authorization` value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use base64::Engine;
use support::{Repo, everything, ferry_with, testbed_url};

const SECRET_KEY: &str = "FerrySecretKeyCanary0123456789abcdefABCD";
const SESSION_TOKEN: &str =
    "FwoGZXIvYXdzEFerrySessionTokenCanary/0123456789+abcdefghijklmnopqrstuvwxyzABCDEFGH==";
const GITHUB_TOKEN: &str = "ghs_FerryGitHubTokenCanary0123456789abcd";

/// Moto's ECR authorization token for this account (what Ferry will get).
fn ecr_token(moto: &str, repository: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = aws_sdk_ecr::Config::builder()
            .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
            .region(aws_sdk_ecr::config::Region::new("us-east-1"))
            .endpoint_url(moto)
            .credentials_provider(aws_sdk_ecr::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build();
        let ecr = aws_sdk_ecr::Client::from_conf(config);
        ecr.create_repository()
            .repository_name(repository)
            .send()
            .await
            .unwrap();
        let out = ecr.get_authorization_token().send().await.unwrap();
        out.authorization_data()[0]
            .authorization_token()
            .unwrap()
            .to_string()
    })
}

#[test]
fn trace_logging_of_a_build_prints_no_credential() {
    let moto = testbed_url("MOTO_URL");
    let registry = testbed_url("REGISTRY");
    let name = support::unique("ferry-secrets/hello");
    let raw = ecr_token(&moto, &name);
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&raw)
            .unwrap(),
    )
    .unwrap();
    let password = decoded.split_once(':').unwrap().1.to_string();

    let repo = Repo::new();
    repo.write(
        ".github/ferry.yml",
        &format!(
            "project: ferrytest\nregion: us-east-1\nenvironments:\n  staging: {{ cluster: c }}\nbuild:\n  registry: http://{registry}\n  builder: buildah\nservices:\n  hello:\n    paths: [hello/**]\n    dockerfile: hello/Dockerfile\n    context: hello\n    ecr-repository: {name}\n"
        ),
    )
    .write(
        "hello/Dockerfile",
        "FROM scratch\nCOPY hello.txt /hello.txt\n",
    )
    .write("hello/hello.txt", "hello\n");
    let sha = repo.commit("hello");
    let run = ferry_with(
        repo.path(),
        &["build"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", &sha),
            ("GITHUB_REPOSITORY", "acme/platform"),
            ("GITHUB_TOKEN", GITHUB_TOKEN),
            ("FERRY_LOG", "trace"),
            ("AWS_ENDPOINT_URL", &moto),
            ("AWS_ACCESS_KEY_ID", "AKIAFERRYCANARY00001"),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_SESSION_TOKEN", SESSION_TOKEN),
            ("AWS_REGION", "us-east-1"),
            ("STORAGE_DRIVER", "vfs"),
            ("BUILDAH_ISOLATION", "chroot"),
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    // The log did run at trace level (else this test proves nothing).
    let traced = run.stderr.lines().filter(|l| l.contains("TRACE")).count();
    assert!(traced > 20, "only {traced} trace lines:\n{}", run.stderr);
    assert!(
        run.stderr.contains("GetAuthorizationToken"),
        "the ECR call is logged"
    );

    let text = everything(&run);
    for (what, secret) in [
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        ("GITHUB_TOKEN", GITHUB_TOKEN),
        ("the ECR token", raw.as_str()),
        ("the ECR password", password.as_str()),
    ] {
        assert!(!text.contains(secret), "{what} leaked");
    }
    // Also the parts a log could show on their own.
    let session_b64 = base64::engine::general_purpose::STANDARD.encode(SESSION_TOKEN);
    assert!(!text.contains(&session_b64), "the session token, base64");
    assert!(
        !text.contains(&password[..password.len().min(24)]),
        "the start of the ECR password"
    );
    let lower = text.to_lowercase();
    assert!(!lower.contains("aws4-hmac-sha256"), "a signature leaked");
    let header = regex::Regex::new(r#"(?i)authorization["']?\s*[:=]\s*["']?[A-Za-z0-9]"#).unwrap();
    assert!(
        !header.is_match(&text),
        "an Authorization value: {:?}",
        header
            .find(&text)
            .map(|m| &text[m.start()..(m.end() + 40).min(text.len())])
    );
    // The one place a secret may appear: the runner's masks, on stdout.
    assert!(run.stdout.contains("::add-mask::"), "{}", run.stdout);
}
