use std::collections::{BTreeMap, BTreeSet};

use super::mem_tree::MemTree;
use super::*;

fn demo() -> MemTree {
    MemTree::new(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"services/*\", \"libs/*\"]\nexclude = [\"libs/old\"]\n\
             [workspace.dependencies]\ntelemetry = { path = \"libs/telemetry\" }\nserde = \"1\"\n",
        ),
        (
            "services/api/Cargo.toml",
            "[package]\nname = \"api\"\n[dependencies]\ntelemetry.workspace = true\nserde.workspace = true\n",
        ),
        (
            "services/worker/Cargo.toml",
            "[package]\nname = \"worker\"\n[dependencies]\ntel = { package = \"telemetry\", path = \"../../libs/telemetry\" }\n\
             [target.'cfg(unix)'.dev-dependencies]\ntestkit = { path = \"../../libs/testkit\" }\n",
        ),
        ("services/README/notes.md", "not a crate"),
        (
            "libs/telemetry/Cargo.toml",
            "[package]\nname = \"telemetry\"\n[dependencies]\nfmt = { path = \"../fmt\" }\n",
        ),
        ("libs/fmt/Cargo.toml", "[package]\nname = \"fmt\"\n"),
        ("libs/testkit/Cargo.toml", "[package]\nname = \"testkit\"\n"),
        ("libs/old/Cargo.toml", "[package]\nname = \"old\"\n"),
    ])
}

#[test]
fn members_globs_exclude_and_path_edges() {
    let ws = Workspace::load(&demo()).unwrap();
    let names: Vec<&str> = ws.crates.keys().map(String::as_str).collect();
    assert_eq!(names, ["api", "fmt", "telemetry", "testkit", "worker"]);
    assert_eq!(
        ws.local_closure("api"),
        BTreeSet::from(["api".into(), "telemetry".into(), "fmt".into()])
    );
    assert_eq!(
        ws.local_closure("worker"),
        BTreeSet::from([
            "worker".into(),
            "telemetry".into(),
            "fmt".into(),
            "testkit".into()
        ])
    );
}

#[test]
fn files_map_to_the_innermost_crate() {
    let ws = Workspace::load(&demo()).unwrap();
    assert_eq!(ws.crate_of("libs/telemetry/src/lib.rs"), Some("telemetry"));
    assert_eq!(ws.crate_of("services/api/Cargo.toml"), Some("api"));
    assert_eq!(ws.crate_of("services/apiary/x.rs"), None);
    assert_eq!(ws.crate_of("README.md"), None);
}

#[test]
fn only_library_inputs_reach_the_dependents() {
    let ws = Workspace::load(&demo()).unwrap();
    for path in [
        "libs/telemetry/src/lib.rs",
        "libs/telemetry/src/metrics/mod.rs",
        "libs/telemetry/Cargo.toml",
        "libs/telemetry/build.rs",
        "libs/telemetry/templates/page.html",
        "libs/telemetry/docs/guide.md",
    ] {
        assert!(ws.reaches_dependents("telemetry", path), "{path}");
    }
    for path in [
        "libs/telemetry/src/main.rs",
        "libs/telemetry/src/bin/tool.rs",
        "libs/telemetry/tests/it.rs",
        "libs/telemetry/benches/b.rs",
        "libs/telemetry/examples/e.rs",
        "libs/telemetry/Dockerfile",
        "libs/telemetry/.dockerignore",
        "libs/telemetry/README.md",
    ] {
        assert!(!ws.reaches_dependents("telemetry", path), "{path}");
    }
}

#[test]
fn no_cargo_toml_is_an_empty_workspace_and_bad_toml_an_error() {
    assert!(
        Workspace::load(&MemTree::new(&[]))
            .unwrap()
            .crates
            .is_empty()
    );
    let err = Workspace::load(&MemTree::new(&[("Cargo.toml", "[workspace")])).unwrap_err();
    assert!(
        err.to_string().starts_with("Cargo.toml: not valid TOML"),
        "{err}"
    );
}

/// The hand-rolled reader agrees with `cargo metadata` on this repository.
#[test]
fn agrees_with_cargo_metadata_on_this_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root_str = format!("{}/", root.display());
    let mut expected = BTreeMap::new();
    for p in meta["packages"].as_array().unwrap() {
        let manifest = p["manifest_path"].as_str().unwrap();
        let dir = manifest
            .strip_prefix(&root_str)
            .unwrap()
            .trim_end_matches("Cargo.toml")
            .trim_end_matches('/');
        let local: BTreeSet<String> = p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d.get("path").is_some_and(|v| !v.is_null()))
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect();
        expected.insert(
            p["name"].as_str().unwrap().to_string(),
            (dir.to_string(), local),
        );
    }
    let ws = Workspace::load(&FsTree(root)).unwrap();
    let actual: BTreeMap<String, (String, BTreeSet<String>)> = ws
        .crates
        .values()
        .map(|c| (c.name.clone(), (c.dir.clone(), c.local_deps.clone())))
        .collect();
    assert_eq!(actual, expected);
}
