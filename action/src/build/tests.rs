#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::builder::{self, BuildSpec, BuilderKind, DockerMode, Recipe};
use super::inputs::{TreeEntry, parse_ls_tree};
use super::tag::{self, ContentInputs, TagVars};
use super::*;
use crate::crates::{LocalCrate, Lockfile, Workspace};

const MANIFEST: &str = "project: email-platform
region: us-east-1
global-paths: [rust-toolchain.toml]
environments:
  staging: { cluster: c }
services:
  sampleapi:
    paths: [services/sampleapi/**]
  sampleworker:
    paths: [services/sampleworker/**]
";

const LOCK: &str = r#"
version = 4
[[package]]
name = "sampleapi"
version = "0.1.0"
dependencies = ["telemetry", "axum"]
[[package]]
name = "sampleworker"
version = "0.1.0"
dependencies = ["telemetry", "aws-sdk-sqs"]
[[package]]
name = "telemetry"
version = "0.1.0"
dependencies = ["serde"]
[[package]]
name = "axum"
version = "0.8.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
[[package]]
name = "aws-sdk-sqs"
version = "1.90.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
[[package]]
name = "serde"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

fn manifest() -> Manifest {
    Manifest::parse(MANIFEST, Path::new(".github/ferry.yml")).unwrap()
}

fn workspace() -> Workspace {
    let c = |name: &str, dir: &str, deps: &[&str]| {
        (
            name.to_string(),
            LocalCrate {
                name: name.into(),
                dir: dir.into(),
                local_deps: deps.iter().map(|d| d.to_string()).collect(),
            },
        )
    };
    Workspace::from_crates(BTreeMap::from([
        c("sampleapi", "services/sampleapi", &["telemetry"]),
        c("sampleworker", "services/sampleworker", &["telemetry"]),
        c("telemetry", "services/telemetry", &[]),
        c("ferry", "action", &[]),
    ]))
}

fn tree() -> Vec<TreeEntry> {
    [
        ("Cargo.toml", "a1"),
        ("Cargo.lock", "a2"),
        ("README.md", "a3"),
        ("rust-toolchain.toml", "a4"),
        ("services/sampleapi/Dockerfile", "b1"),
        ("services/sampleapi/src/main.rs", "b2"),
        ("services/sampleworker/Dockerfile", "c1"),
        ("services/sampleworker/src/main.rs", "c2"),
        ("services/telemetry/src/lib.rs", "d1"),
        ("task-definitions/sampleapi.jsonnet", "e1"),
        ("action/src/main.rs", "f1"),
    ]
    .into_iter()
    .map(|(p, b)| TreeEntry {
        mode: "100644".into(),
        blob: b.into(),
        path: p.into(),
    })
    .collect()
}

fn content_tag_with(files: &[TreeEntry], lock: &str, service: &str) -> String {
    let m = manifest();
    let lock = Lockfile::parse(lock).unwrap();
    let inputs = inputs::select(&m, &m.services[service], &workspace(), Some(&lock), files);
    tag::content_tag(service, &tag::content_digest(&inputs))
}

fn with_blob(path: &str, blob: &str) -> Vec<TreeEntry> {
    let mut t = tree();
    t.iter_mut().find(|e| e.path == path).unwrap().blob = blob.into();
    t
}

#[test]
fn same_inputs_give_the_same_content_tag_in_any_order() {
    let a = content_tag_with(&tree(), LOCK, "sampleapi");
    let mut reversed = tree();
    reversed.reverse();
    assert_eq!(a, content_tag_with(&reversed, LOCK, "sampleapi"));
    assert!(a.starts_with("sampleapi-content-"), "{a}");
    assert_eq!(a.len(), "sampleapi-content-".len() + 24);
}

#[test]
fn any_input_change_gives_a_new_content_tag() {
    let base = content_tag_with(&tree(), LOCK, "sampleapi");
    for path in [
        "services/sampleapi/src/main.rs",
        "services/sampleapi/Dockerfile",
        "services/telemetry/src/lib.rs",
        "Cargo.toml",
        "rust-toolchain.toml",
    ] {
        assert_ne!(
            base,
            content_tag_with(&with_blob(path, "zz"), LOCK, "sampleapi"),
            "{path}"
        );
    }
    // A new file under the service's globs.
    let mut added = tree();
    added.push(TreeEntry {
        mode: "100644".into(),
        blob: "new".into(),
        path: "services/sampleapi/src/extra.rs".into(),
    });
    assert_ne!(base, content_tag_with(&added, LOCK, "sampleapi"));
    // A mode change (made executable).
    let mut exec = tree();
    exec[5].mode = "100755".into();
    assert_ne!(base, content_tag_with(&exec, LOCK, "sampleapi"));
    // A locked dependency of its tree.
    let bumped = LOCK.replace("0.8.1", "0.8.2");
    assert_ne!(base, content_tag_with(&tree(), &bumped, "sampleapi"));
}

#[test]
fn unrelated_changes_keep_the_content_tag() {
    let base = content_tag_with(&tree(), LOCK, "sampleapi");
    for path in [
        "README.md",
        "services/sampleworker/src/main.rs",
        "services/sampleworker/Dockerfile",
        "action/src/main.rs",
        // The task definition redeploys the same image.
        "task-definitions/sampleapi.jsonnet",
        // Cargo.lock itself: only the entries of its tree count.
        "Cargo.lock",
    ] {
        assert_eq!(
            base,
            content_tag_with(&with_blob(path, "zz"), LOCK, "sampleapi"),
            "{path}"
        );
    }
    // A dependency only the worker uses.
    let bumped = LOCK.replace("1.90.0", "1.91.0");
    assert_eq!(base, content_tag_with(&tree(), &bumped, "sampleapi"));
    assert_ne!(
        content_tag_with(&tree(), LOCK, "sampleworker"),
        content_tag_with(&tree(), &bumped, "sampleworker")
    );
}

#[test]
fn content_digest_separates_fields() {
    let a = ContentInputs {
        files: vec![("a b".into(), "100644".into(), "x".into())],
        ..Default::default()
    };
    let b = ContentInputs {
        packages: vec!["100644 x a b".into()],
        ..Default::default()
    };
    assert_ne!(tag::content_digest(&a), tag::content_digest(&b));
}

#[test]
fn release_tag_follows_the_template() {
    let at = UNIX_EPOCH + Duration::from_secs(1_764_109_595); // 2025-11-25T22:26:35Z
    assert_eq!(tag::utc_stamp(at), "20251125222635");
    assert_eq!(tag::rfc3339(at), "2025-11-25T22:26:35Z");
    assert_eq!(tag::utc_stamp(UNIX_EPOCH), "19700101000000");
    // A leap day.
    assert_eq!(
        tag::utc_stamp(UNIX_EPOCH + Duration::from_secs(1_709_164_800)),
        "20240229000000"
    );
    let vars = TagVars {
        service: "sampleapi",
        project: "email-platform",
        sha: "0123456789abcdef0123456789abcdef01234567",
        timestamp: "20251125222635",
    };
    assert_eq!(
        tag::release_tag(crate::manifest::DEFAULT_TAG, vars).unwrap(),
        "sampleapi-0123456-20251125222635"
    );
    assert_eq!(
        tag::release_tag("{project}.{sha}", vars).unwrap(),
        "email-platform.0123456789abcdef0123456789abcdef01234567"
    );
    let err = tag::release_tag("{service}/{sha7}", vars).unwrap_err();
    assert!(err.to_string().contains("not a valid image tag"), "{err}");
}

#[test]
fn manifest_checks_the_tag_template() {
    let text = format!("{MANIFEST}build:\n  tag: \"{{service}}-{{sha8}}\"\n");
    let err = Manifest::parse(&text, Path::new("f.yml")).unwrap_err();
    assert!(
        err.to_string().contains("unknown placeholder `{sha8}`"),
        "{err}"
    );
    let text = format!("{MANIFEST}build:\n  tag: \"{{service}}\"\n");
    let err = Manifest::parse(&text, Path::new("f.yml")).unwrap_err();
    assert!(err.to_string().contains("same tag"), "{err}");
    let text = format!(
        "{MANIFEST}build:\n  registry: http://127.0.0.1:5001\n  builder: buildah\n  parallel: 3\n"
    );
    let m = Manifest::parse(&text, Path::new("f.yml")).unwrap();
    assert_eq!(m.build.builder, BuilderKind::Buildah);
    assert_eq!(m.build.parallel, 3);
    assert_eq!(m.build.registry.as_deref(), Some("http://127.0.0.1:5001"));
    assert_eq!(manifest().build.builder, BuilderKind::Docker);
}

#[test]
fn plan_names_tags_labels_and_repository() {
    let m = manifest();
    let lock = Lockfile::parse(LOCK).unwrap();
    let at = UNIX_EPOCH + Duration::from_secs(1_764_109_595);
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let (ws, files) = (workspace(), tree());
    let commit = Commit {
        sha,
        files: &files,
        workspace: &ws,
        lockfile: Some(&lock),
        source: Some("https://github.com/acme/platform"),
        dirty: &[],
    };
    let plans = plan(&m, &["sampleapi".to_string()], &commit, at).unwrap();
    let p = &plans[0];
    assert_eq!(p.repository, "email-platform/sampleapi");
    assert_eq!(p.tag, "sampleapi-0123456-20251125222635");
    let labels: BTreeMap<_, _> = p.labels.iter().cloned().collect();
    assert_eq!(labels["org.opencontainers.image.revision"], sha);
    assert_eq!(
        labels["org.opencontainers.image.created"],
        "2025-11-25T22:26:35Z"
    );
    assert_eq!(labels["org.opencontainers.image.version"], p.tag);
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://github.com/acme/platform"
    );
    assert_eq!(labels["dev.ferry.service"], "sampleapi");
    assert!(p.dirty.is_empty());

    // Uncommitted changes to its inputs (not to others) are noted.
    let dirty = [
        "services/telemetry/src/lib.rs".to_string(),
        "README.md".to_string(),
        "Cargo.lock".to_string(),
    ];
    let commit_dirty = Commit {
        dirty: &dirty,
        ..commit
    };
    let plans = plan(&m, &["sampleapi".to_string()], &commit_dirty, at).unwrap();
    assert_eq!(
        plans[0].dirty,
        ["services/telemetry/src/lib.rs", "Cargo.lock"]
    );

    let missing: Vec<TreeEntry> = tree()
        .into_iter()
        .filter(|e| e.path != "services/sampleapi/Dockerfile")
        .collect();
    let commit = Commit {
        files: &missing,
        lockfile: None,
        ..commit
    };
    let err = plan(&m, &["sampleapi".into()], &commit, at).unwrap_err();
    assert!(
        err.to_string().contains("services/sampleapi/Dockerfile"),
        "{err}"
    );
}

#[test]
fn ls_tree_output_is_parsed() {
    let out = "100644 blob aaa\tREADME.md\x00160000 commit bbb\tvendor/sub\x00100755 blob ccc\tbin/x y\x00";
    let entries = parse_ls_tree(out);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].path, "bin/x y");
    assert_eq!(entries[1].mode, "100755");
}

fn spec() -> BuildSpec {
    BuildSpec {
        root: PathBuf::from("/repo"),
        dockerfile: "services/sampleapi/Dockerfile".into(),
        context: ".".into(),
        image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/email-platform/sampleapi".into(),
        tags: vec![
            "sampleapi-0123456-20251125222635".into(),
            "sampleapi-content-0123456789abcdef01234567".into(),
        ],
        labels: vec![
            ("org.opencontainers.image.revision".into(), "0123456".into()),
            ("org.opencontainers.image.title".into(), "sampleapi".into()),
        ],
        insecure: false,
        scratch: PathBuf::from("/tmp/ferry/sampleapi"),
        push: true,
        cache_from: vec![format!("{IMG}:sampleapi-content-fedcba9876543210fedcba98")],
    }
}

const IMG: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/email-platform/sampleapi";

/// The buildx command up to its cache arguments.
fn buildx_head() -> Vec<String> {
    [
        "docker",
        "buildx",
        "build",
        "--push",
        "--provenance=false",
        "--file",
        "services/sampleapi/Dockerfile",
        "--tag",
        &format!("{IMG}:sampleapi-0123456-20251125222635"),
        "--tag",
        &format!("{IMG}:sampleapi-content-0123456789abcdef01234567"),
        "--label",
        "org.opencontainers.image.revision=0123456",
        "--label",
        "org.opencontainers.image.title=sampleapi",
    ]
    .map(String::from)
    .into()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// buildx on a docker-container/remote driver: a registry cache in the
/// cache repository (never a tag of the IMMUTABLE image repository).
#[test]
fn docker_buildx_container_driver_argument_vector() {
    let argvs = builder::build_argvs(Recipe::Docker(DockerMode::BuildxContainer), &spec());
    let mut expected = buildx_head();
    expected.extend(strings(&[
        "--cache-from",
        &format!("type=registry,ref={IMG}-buildcache:buildcache"),
        "--cache-to",
        &format!(
            "type=registry,ref={IMG}-buildcache:buildcache,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true"
        ),
        "--metadata-file",
        "/tmp/ferry/sampleapi/metadata.json",
        ".",
    ]));
    assert_eq!(argvs, vec![expected]);
    assert_eq!(
        builder::login_argv(
            BuilderKind::Docker,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            false,
            Path::new("/a"),
            "AWS"
        ),
        [
            "docker",
            "login",
            "--username",
            "AWS",
            "--password-stdin",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com"
        ]
    );
    let recipe = Recipe::Docker(DockerMode::BuildxContainer);
    assert_eq!(builder::pushed_tags(recipe, &spec()).len(), 2);
    let meta = r#"{"containerimage.digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","image.name":"x"}"#;
    assert_eq!(
        builder::read_digest(recipe, meta).unwrap(),
        "sha256:0000000000000000000000000000000000000000000000000000000000000000"
    );
    assert_eq!(builder::read_digest(recipe, "{}"), None);
}

/// buildx on the docker driver (GitHub's runners): no registry cache
/// export, which that driver refuses; the image carries an inline cache and
/// the next build reads it back from the service's last image.
#[test]
fn docker_buildx_docker_driver_argument_vector() {
    let argvs = builder::build_argvs(Recipe::Docker(DockerMode::BuildxDocker), &spec());
    let mut expected = buildx_head();
    expected.extend(strings(&[
        "--cache-from",
        &format!("type=registry,ref={IMG}:sampleapi-content-fedcba9876543210fedcba98"),
        "--cache-to",
        "type=inline",
        "--metadata-file",
        "/tmp/ferry/sampleapi/metadata.json",
        ".",
    ]));
    assert_eq!(argvs, vec![expected]);
    assert!(
        !argvs[0]
            .iter()
            .any(|a| a.starts_with("type=registry") && a.contains("mode=max")),
        "no registry cache export on the docker driver"
    );
    // No last image (a first build, a shallow clone): no cache to read.
    let first = BuildSpec {
        cache_from: Vec::new(),
        ..spec()
    };
    let argvs = builder::build_argvs(Recipe::Docker(DockerMode::BuildxDocker), &first);
    assert!(!argvs[0].contains(&"--cache-from".to_string()), "{argvs:?}");
    assert!(builder::command_env(Recipe::Docker(DockerMode::BuildxDocker)).is_empty());
}

/// No buildx, a CLI with BuildKit built in: the daemon's BuildKit writes
/// the inline cache into the pushed image and reads the last image's.
#[test]
fn docker_builtin_buildkit_writes_and_reads_an_inline_cache() {
    let recipe = Recipe::Docker(DockerMode::BuildKit);
    let argvs = builder::build_argvs(recipe, &spec());
    let release = format!("{IMG}:sampleapi-0123456-20251125222635");
    let content = format!("{IMG}:sampleapi-content-0123456789abcdef01234567");
    assert_eq!(
        argvs,
        vec![
            strings(&[
                "docker",
                "build",
                "--progress=plain",
                "--file",
                "services/sampleapi/Dockerfile",
                "--tag",
                &release,
                "--tag",
                &content,
                "--label",
                "org.opencontainers.image.revision=0123456",
                "--label",
                "org.opencontainers.image.title=sampleapi",
                "--build-arg",
                "BUILDKIT_INLINE_CACHE=1",
                "--cache-from",
                &format!("{IMG}:sampleapi-content-fedcba9876543210fedcba98"),
                ".",
            ]),
            strings(&["docker", "push", &release]),
            strings(&["docker", "push", &content]),
        ]
    );
    assert_eq!(
        builder::command_env(recipe),
        [("DOCKER_BUILDKIT".to_string(), "1".to_string())]
    );
    assert!(
        builder::cache_pulls(recipe, &spec()).is_empty(),
        "BuildKit reads the registry"
    );
    assert_eq!(spec().digest_file(recipe), None);
}

/// No buildx: the classic builder, then one push per tag; the digest comes
/// from `docker push`'s output.
#[test]
fn no_push_builds_with_every_recipe_and_pushes_nothing() {
    let spec = BuildSpec {
        push: false,
        ..spec()
    };
    let classic = builder::build_argvs(Recipe::Docker(DockerMode::Classic), &spec);
    assert_eq!(classic.len(), 1, "{classic:?}");
    assert_eq!(classic[0][..2], ["docker", "build"]);
    for mode in [DockerMode::BuildxDocker, DockerMode::BuildxContainer] {
        let argvs = builder::build_argvs(Recipe::Docker(mode), &spec);
        assert_eq!(argvs.len(), 1);
        assert!(argvs[0].contains(&"--load".to_string()), "{argvs:?}");
        assert!(!argvs[0].contains(&"--push".to_string()), "{argvs:?}");
    }
    let buildah = builder::build_argvs(Recipe::Buildah, &spec);
    assert_eq!(buildah.len(), 1, "{buildah:?}");
    assert_eq!(buildah[0][..2], ["buildah", "build"]);
    assert!(
        [classic, buildah]
            .concat()
            .iter()
            .flatten()
            .all(|a| a != "push"),
        "nothing is pushed"
    );
}

#[test]
fn docker_without_buildx_builds_then_pushes_each_tag() {
    let recipe = Recipe::Docker(DockerMode::Classic);
    let argvs = builder::build_argvs(recipe, &spec());
    let release = format!("{IMG}:sampleapi-0123456-20251125222635");
    let content = format!("{IMG}:sampleapi-content-0123456789abcdef01234567");
    let last = format!("{IMG}:sampleapi-content-fedcba9876543210fedcba98");
    // The classic builder reuses local layers only: the last image is
    // pulled first (a failed pull costs the cache, not the build).
    assert_eq!(
        builder::cache_pulls(recipe, &spec()),
        vec![strings(&["docker", "pull", "--quiet", &last])]
    );
    assert_eq!(
        builder::command_env(recipe),
        [("DOCKER_BUILDKIT".to_string(), "0".to_string())]
    );
    assert_eq!(
        argvs,
        vec![
            strings(&[
                "docker",
                "build",
                "--file",
                "services/sampleapi/Dockerfile",
                "--tag",
                &release,
                "--tag",
                &content,
                "--label",
                "org.opencontainers.image.revision=0123456",
                "--label",
                "org.opencontainers.image.title=sampleapi",
                "--cache-from",
                &last,
                ".",
            ]),
            strings(&["docker", "push", &release]),
            strings(&["docker", "push", &content]),
        ]
    );
    assert_eq!(spec().digest_file(recipe), None);
    let digest = format!("sha256:{}", "ab".repeat(32));
    let log = format!(
        "The push refers to repository [{IMG}]\n5f70bf18a086: Pushed\nsampleapi-content-0123456789abcdef01234567: digest: {digest} size: 528\n"
    );
    assert_eq!(
        builder::read_digest(recipe, &log).as_deref(),
        Some(digest.as_str())
    );
    for bad in [
        "",
        "x: digest: sha256:1234 size: 1",
        "x: digest: sha256:zz",
        &format!("x: digest: sha256:{} size: 1", "g".repeat(64)),
    ] {
        assert_eq!(builder::read_digest(recipe, bad), None, "{bad}");
    }
}

/// The recipe follows what `docker buildx inspect` says; no buildx is the
/// classic builder; an unknown or unreadable driver never gets a registry
/// cache export.
#[test]
fn the_docker_recipe_follows_the_buildx_driver() {
    let inspect = |driver: &str| {
        format!(
            "Name:          builder\nDriver:        {driver}\nLast Activity: 2026-01-01\n\nNodes:\nName:      builder0\nEndpoint:  unix:///var/run/docker.sock\n"
        )
    };
    let mode = |text: Option<&str>| builder::docker_mode(text, "28.2.2").0;
    assert_eq!(mode(None), DockerMode::Classic);
    // No buildx: a CLI before 23.0 has BuildKit built in; later ones (and
    // an unreadable version) refuse it without buildx.
    for (client, want) in [
        ("20.10.24+dfsg1", DockerMode::BuildKit),
        ("18.09.1", DockerMode::BuildKit),
        ("23.0.0", DockerMode::Classic),
        ("28.2.2", DockerMode::Classic),
        ("", DockerMode::Classic),
        ("v20", DockerMode::Classic),
        ("17.03.2-ce", DockerMode::Classic),
    ] {
        assert_eq!(builder::docker_mode(None, client).0, want, "{client:?}");
    }
    assert_eq!(
        builder::docker_mode(Some(&inspect("docker")), "20.10.24").0,
        DockerMode::BuildxDocker,
        "buildx, when there, decides"
    );
    assert_eq!(mode(Some(&inspect("docker"))), DockerMode::BuildxDocker);
    for driver in ["docker-container", "remote", "kubernetes"] {
        assert_eq!(
            mode(Some(&inspect(driver))),
            DockerMode::BuildxContainer,
            "{driver}"
        );
    }
    for text in ["", "garbage", &inspect("cloud-thing"), "Driver:"] {
        assert_eq!(mode(Some(text)), DockerMode::BuildxDocker, "{text:?}");
    }
    assert_eq!(
        builder::docker_mode(Some(&inspect("docker-container")), "28.2.2")
            .1
            .as_deref(),
        Some("docker-container")
    );
    // The log line names the choice, and nothing the daemon sent can make it
    // a workflow command.
    let line = builder::docker_choice(DockerMode::Classic, None, "20.10.24+dfsg1");
    assert!(
        line.contains("no buildx") && line.contains("20.10.24+dfsg1"),
        "{line}"
    );
    let line = builder::docker_choice(
        DockerMode::BuildxContainer,
        Some("remote\n::error::x"),
        "1\n::set-output name=a::b",
    );
    assert!(!line.contains('\n') && !line.contains("::"), "{line}");
    assert!(line.contains("-buildcache:buildcache"), "{line}");
}

#[test]
fn buildah_argument_vectors() {
    let mut s = spec();
    s.insecure = true;
    s.image = "127.0.0.1:5001/x".into();
    let argvs = builder::build_argvs(Recipe::Buildah, &s);
    assert_eq!(argvs.len(), 2);
    assert_eq!(
        argvs[1],
        [
            "buildah",
            "push",
            "--tls-verify=false",
            "--authfile",
            "/tmp/ferry/sampleapi/auth.json",
            "--digestfile",
            "/tmp/ferry/sampleapi/digest",
            "127.0.0.1:5001/x:sampleapi-0123456-20251125222635",
            "docker://127.0.0.1:5001/x:sampleapi-0123456-20251125222635",
        ]
    );
    assert_eq!(argvs[0][..3], ["buildah", "build", "--tls-verify=false"]);
    assert_eq!(argvs[0].last().unwrap(), ".");
    let login = builder::login_argv(
        BuilderKind::Buildah,
        "127.0.0.1:5001",
        true,
        Path::new("/a.json"),
        "AWS",
    );
    assert!(login.contains(&"--password-stdin".to_string()));
    // No argument carries a password: it goes on stdin.
    assert!(
        !login
            .iter()
            .any(|a| a.starts_with("--password=") || a == "-p")
    );
}

#[test]
fn summary_lists_each_service() {
    let outcomes = vec![
        Outcome {
            service: "sampleapi".into(),
            tag: "sampleapi-0123456-20251125222635".into(),
            content_tag: "sampleapi-content-x".into(),
            image: Some("r/sampleapi@sha256:abcdef0123456789abcdef".into()),
            digest: Some("sha256:abcdef0123456789abcdef".into()),
            size: Some(12_345_678),
            status: Status::Reused,
            seconds: 0.42,
            log: String::new(),
        },
        Outcome {
            service: "sampleworker".into(),
            tag: "sampleworker-0123456-20251125222635".into(),
            content_tag: "sampleworker-content-y".into(),
            image: None,
            digest: None,
            size: None,
            status: Status::Failed("`buildah build` failed: a | b".into()),
            seconds: 3.0,
            log: String::new(),
        },
    ];
    let md = summary_markdown(&outcomes);
    assert!(md.contains("0 built, 1 reused, 1 failed"), "{md}");
    assert!(md.contains("| 12.3 MB | reused | 0.4 s |"), "{md}");
    assert!(
        md.contains("failed: `buildah build` failed: a &#124; b"),
        "{md}"
    );
}

proptest::proptest! {
    /// What docker prints (push output, `buildx inspect`, the server
    /// version) is outside input: parsing it never panics, a digest read
    /// from it is always well-formed, and the log line about the choice
    /// stays one line that no workflow command can hide in.
    #[test]
    fn docker_output_parsers_take_any_text(text in "(?s).{0,400}", server in "(?s).{0,80}") {
        for recipe in [
            Recipe::Docker(DockerMode::Classic),
            Recipe::Docker(DockerMode::BuildxDocker),
            Recipe::Buildah,
        ] {
            if let Some(d) = builder::read_digest(recipe, &text) {
                proptest::prop_assert!(d.len() == 71 && d.starts_with("sha256:"));
                proptest::prop_assert!(d[7..].bytes().all(|b| b.is_ascii_hexdigit()));
            }
        }
        let (mode, driver) = builder::docker_mode(Some(&text), &server);
        proptest::prop_assert_ne!(mode, DockerMode::Classic);
        let line = builder::docker_choice(mode, driver.as_deref(), &server);
        proptest::prop_assert!(!line.contains('\n') && !line.contains('\r') && !line.contains("::"));
    }
}

/// A cloneable in-memory stream, to read what the reporter wrote.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_builder_log_that_prints_workflow_commands_is_fenced_once_and_shown_whole() {
    let stdout = Captured::default();
    let mut reporter = crate::gha::Reporter::new(
        true,
        None,
        None,
        Box::new(stdout.clone()),
        Box::new(Captured::default()),
    );
    let log = "STEP 1/2: FROM scratch\n::add-mask::hunter2\n  ::set-output name=image::evil\n##[error]fake\nSTEP 2/2: done\n";
    let outcome = Outcome {
        service: "sampleapi".into(),
        tag: "sampleapi-0123456-20251125222635".into(),
        content_tag: "sampleapi-content-x".into(),
        image: None,
        digest: None,
        size: None,
        status: Status::Failed("build failed".into()),
        seconds: 1.0,
        log: log.into(),
    };
    report::write(&mut reporter, &[outcome]).unwrap();
    let out = String::from_utf8(stdout.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    let stops: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("::stop-commands::"))
        .collect();
    assert_eq!(stops.len(), 1, "one fence: {out}");
    let token = lines[stops[0]].trim_start_matches("::stop-commands::");
    assert!(token.len() >= 16, "an unguessable token: {out}");
    let resume = lines
        .iter()
        .position(|l| *l == format!("::{token}::"))
        .unwrap_or_else(|| panic!("the fence is closed: {out}"));
    // Every line of the log, verbatim, inside the fence; nothing of it outside.
    let inside = &lines[stops[0] + 1..resume];
    assert_eq!(
        inside,
        log.trim_end().lines().collect::<Vec<_>>().as_slice(),
        "{out}"
    );
    for l in lines[..stops[0]].iter().chain(&lines[resume + 1..]) {
        assert!(
            !l.contains("hunter2") && !l.contains("evil") && !l.contains("fake"),
            "{out}"
        );
    }
}
#[test]
fn a_planned_image_is_where_build_pushes_it_by_tag() {
    let settings = Settings {
        kind: crate::manifest::BuilderKind::Docker,
        registry: Some("http://127.0.0.1:5001".into()),
        parallel: 2,
        region: "eu-west-1".into(),
        root: PathBuf::from("."),
        push: true,
        credentials: None,
    };
    let plan = Plan {
        service: "api".into(),
        repository: "p/api".into(),
        tag: "api-abc1234-1".into(),
        content_tag: "api-c-0".into(),
        dockerfile: "Dockerfile".into(),
        context: ".".into(),
        labels: vec![],
        dirty: vec![],
        cache_from: vec![],
    };
    assert_eq!(
        settings.planned_image(&plan),
        "127.0.0.1:5001/p/api:api-abc1234-1"
    );
    let ecr = Settings {
        registry: None,
        ..settings
    };
    assert_eq!(
        ecr.planned_image(&plan),
        "ACCOUNT.dkr.ecr.eu-west-1.amazonaws.com/p/api:api-abc1234-1"
    );
}
