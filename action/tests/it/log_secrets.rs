//! No log level prints a secret: `ferry build` at `FERRY_LOG=trace`, in
//! Actions, against the test bed's registry that requires a login (the
//! token given as the `registry-token` input, sent as basic auth to the
//! registry's API and to buildah's auth file), with AWS credentials in the
//! environment too, and neither stdout nor stderr holds a credential, the
//! registry token (raw or base64 as in basic auth), or an `Authorization`
//! value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use base64::Engine;
use support::{Repo, everything, ferry_with, testbed_url};

const SECRET_KEY: &str = "FerrySecretKeyCanary0123456789abcdefABCD";
const SESSION_TOKEN: &str =
    "FwoGZXIvYXdzEFerrySessionTokenCanary/0123456789+abcdefghijklmnopqrstuvwxyzABCDEFGH==";
const GITHUB_TOKEN: &str = "ghs_FerryGitHubTokenCanary0123456789abcd";

/// The password of the test bed's login registry (its htpasswd), given to
/// Ferry as the `registry-token` input, as a workflow gives a secret.
const REGISTRY_TOKEN: &str = "123456789012-auth-token";

#[test]
fn trace_logging_of_a_build_prints_no_credential() {
    let moto = testbed_url("MOTO_URL");
    let registry = testbed_url("AUTH_REGISTRY");
    let name = support::unique("ferry-secrets/hello");
    let raw = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{REGISTRY_TOKEN}"));
    let password = REGISTRY_TOKEN.to_string();

    let repo = Repo::new();
    repo.write(
        ".github/ferry.yml",
        &format!(
            "project: ferrytest\nregion: us-east-1\nenvironments:\n  staging: {{ cluster: c }}\nbuild:\n  registry: http://{registry}\n  builder: buildah\nservices:\n  hello:\n    paths: [hello/**]\n    dockerfile: hello/Dockerfile\n    context: hello\n    image-repository: {name}\n"
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
            ("INPUT_REGISTRY-USERNAME", "AWS"),
            ("INPUT_REGISTRY-TOKEN", REGISTRY_TOKEN),
            ("STORAGE_DRIVER", "vfs"),
            ("BUILDAH_ISOLATION", "chroot"),
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    // The log did run at trace level (else this test proves nothing).
    let traced = run
        .stderr
        .lines()
        .filter(|l| l.contains("TRACE") || l.contains("DEBUG"))
        .count();
    assert!(traced > 5, "only {traced} trace lines:\n{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("connected to {registry}")),
        "the registry requests are logged: {}",
        run.stderr
    );
    assert_eq!(
        run.output("reused"),
        "false",
        "built and pushed with the login"
    );

    let text = everything(&run);
    for (what, secret) in [
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        ("GITHUB_TOKEN", GITHUB_TOKEN),
        ("the registry login, base64", raw.as_str()),
        ("the registry token", password.as_str()),
    ] {
        assert!(!text.contains(secret), "{what} leaked");
    }
    // Also the parts a log could show on their own.
    let session_b64 = base64::engine::general_purpose::STANDARD.encode(SESSION_TOKEN);
    assert!(!text.contains(&session_b64), "the session token, base64");
    assert!(
        !text.contains(&password[..password.len().min(24)]),
        "the start of the registry token"
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
