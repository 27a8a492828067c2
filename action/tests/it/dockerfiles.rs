//! The services' Dockerfiles. Their base images (rust, distroless) come from
//! Docker Hub and gcr.io, which this test bed cannot reach, so they are not
//! built here: they are linted with hadolint (from the test bed) and their
//! structure is checked against the manifest and the services' ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::root;

use std::process::Command;

use support::testbed_url;

const SERVICES: &[(&str, &str)] = &[("sampleapi", "8080"), ("sampleworker", "9090")];

#[test]
fn hadolint_finds_nothing() {
    let hadolint = testbed_url("HADOLINT");
    for (service, _) in SERVICES {
        let out = Command::new(&hadolint)
            .args(["--no-color", "--failure-threshold", "info"])
            .arg(root().join(format!("services/{service}/Dockerfile")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{service}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn dockerfiles_are_multi_stage_non_root_and_build_their_package() {
    for (service, port) in SERVICES {
        let text =
            std::fs::read_to_string(root().join(format!("services/{service}/Dockerfile"))).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        let froms: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
        assert!(froms.len() >= 3, "{service}: multi-stage");
        let last = froms.last().unwrap();
        assert!(last.contains("distroless"), "{service}: runtime {last}");
        // Dependencies are cooked before the source is copied in.
        let cook = lines
            .iter()
            .position(|l| l.contains("cargo chef cook"))
            .unwrap();
        let copy_all = lines.iter().rposition(|l| *l == "COPY . .").unwrap();
        assert!(cook < copy_all, "{service}: dependency layer first");
        assert!(text.contains(&format!("--package {service} --bin {service}")));
        let user = lines.iter().rev().find(|l| l.starts_with("USER ")).unwrap();
        assert!(
            !user.contains(" 0") && !user.contains("root:"),
            "{service}: {user}"
        );
        assert!(
            lines.contains(&format!("EXPOSE {port}").as_str()),
            "{service}"
        );
        assert!(
            lines.contains(&format!("ENTRYPOINT [\"/usr/local/bin/{service}\"]").as_str()),
            "{service}: exec-form entrypoint"
        );
        // ECS uses the task definition's health check, not the image's.
        assert!(
            !lines.iter().any(|l| l.starts_with("HEALTHCHECK")),
            "{service}"
        );
    }
    // The manifest points at these files.
    let manifest = std::fs::read_to_string(root().join(".github/ferry.yml")).unwrap();
    for (service, _) in SERVICES {
        assert!(manifest.contains(&format!("dockerfile: services/{service}/Dockerfile")));
    }
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "target/"));
}

/// The action's own image (action/Dockerfile): linted like the services',
/// and checked for what the action relies on at run time.
#[test]
fn the_action_image_lints_clean() {
    let hadolint = testbed_url("HADOLINT");
    let out = Command::new(&hadolint)
        .args(["--no-color", "--failure-threshold", "info"])
        .arg(root().join("action/Dockerfile"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "action/Dockerfile: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The instructions of a Dockerfile without comments, continuation lines joined.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

#[test]
fn the_action_image_is_pinned_static_and_has_what_the_commands_run() {
    let text = std::fs::read_to_string(root().join("action/Dockerfile")).unwrap();
    let lines = instructions(&text);
    let froms: Vec<&String> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert!(froms.len() >= 3, "multi-stage: {froms:?}");
    // Each stage starts from a build argument whose default (the published
    // image's base) is pinned by tag and digest; the test bed overrides them.
    let pinned =
        regex::Regex::new(r"^ARG ([A-Z_]+_IMAGE)=[^\s@]+:[^\s@]+@sha256:[0-9a-f]{64}$").unwrap();
    let bases: Vec<String> = lines
        .iter()
        .filter_map(|l| pinned.captures(l).map(|c| c[1].to_string()))
        .collect();
    assert_eq!(bases.len(), 3, "three pinned bases: {lines:?}");
    for from in &froms {
        assert!(
            bases
                .iter()
                .any(|b| from.starts_with(&format!("FROM ${{{b}}} AS "))),
            "a stage from a pinned base argument: {from}"
        );
    }
    assert!(lines.contains(&"ARG FERRY_BINARY=source".to_string()));
    // A static musl binary, built from the locked workspace.
    assert!(text.contains("rustup target add x86_64-unknown-linux-musl"));
    assert!(text.contains(
        "cargo build --release --locked --target x86_64-unknown-linux-musl --package ferry --bin ferry"
    ));
    // The runtime stage: everything after the last FROM.
    let last = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    let runtime = &lines[last..];
    let has = |needle: &str| runtime.iter().any(|l| l.contains(needle));
    assert!(
        has("then apk add --no-cache git ca-certificates; fi"),
        "git and CA roots"
    );
    assert!(
        has("git config --system --add safe.directory '*'"),
        "trusts the mounted workspace"
    );
    assert!(has(
        "COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker"
    ));
    assert!(
        has("COPY --from=docker-cli /out/cli-plugins/ /usr/local/libexec/docker/cli-plugins/"),
        "buildx plugin"
    );
    assert!(
        text.contains("cp /usr/local/libexec/docker/cli-plugins/docker-buildx /out/cli-plugins/")
    );
    assert!(has("COPY --from=builder /out/ferry /usr/local/bin/ferry"));
    // GitHub runs container actions as root and sets the working directory.
    assert!(
        !has("USER "),
        "no USER: GitHub requires the default (root) user"
    );
    assert!(
        !has("WORKDIR "),
        "no WORKDIR: GitHub mounts and enters the workspace"
    );
    assert_eq!(
        runtime.last().map(String::as_str),
        Some("ENTRYPOINT [\"/usr/local/bin/ferry\"]"),
        "exec-form entrypoint: no shell between the runner and ferry"
    );
}
