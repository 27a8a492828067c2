//! The services' Dockerfiles. Their base images (rust, distroless) come from
//! Docker Hub and gcr.io, which this test bed cannot reach, so they are not
//! built here: they are linted with hadolint (from the test bed) and their
//! structure is checked against the manifest and the services' ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::testbed_url;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

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
