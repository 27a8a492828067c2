//! `ferry detect` on scripted git histories: each test builds a small
//! monorepo, makes a change, runs the real binary and checks what a user
//! reads (the outputs and the summary's "why").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use support::{Repo, ferry, ferry_with, git_in};

const MANIFEST: &str = "\
project: shop
region: us-east-1
global-paths: [rust-toolchain.toml]
environments:
  staging: { cluster: shop-staging }
  prod: { cluster: shop-prod, promote-from: staging }
services:
  api:
    paths: [services/api/**]
  worker:
    paths: [services/worker/**]
";

const REG: &str = "registry+https://github.com/rust-lang/crates.io-index";

fn lockfile(itoa: &str, serde: &str) -> String {
    format!(
        "version = 4\n\n\
         [[package]]\nname = \"api\"\nversion = \"0.1.0\"\ndependencies = [\"serde\", \"shared\"]\n\n\
         [[package]]\nname = \"itoa\"\nversion = \"{itoa}\"\nsource = \"{REG}\"\n\n\
         [[package]]\nname = \"serde\"\nversion = \"{serde}\"\nsource = \"{REG}\"\n\n\
         [[package]]\nname = \"shared\"\nversion = \"0.1.0\"\ndependencies = [\"serde\"]\n\n\
         [[package]]\nname = \"worker\"\nversion = \"0.1.0\"\ndependencies = [\"itoa\", \"shared\"]\n"
    )
}

/// A monorepo: two services on a shared crate; the worker alone uses itoa;
/// only the api's task definition imports the Jsonnet library.
fn monorepo() -> (Repo, String) {
    let r = Repo::new();
    r.write(".github/ferry.yml", MANIFEST)
        .write("Cargo.toml", "[workspace]\nresolver = \"3\"\nmembers = [\"services/*\", \"libs/*\"]\n")
        .write("Cargo.lock", &lockfile("1.0.10", "1.0.200"))
        .write("services/api/Cargo.toml", "[package]\nname = \"api\"\nversion = \"0.1.0\"\n[dependencies]\nshared = { path = \"../../libs/shared\" }\nserde = \"1\"\n")
        .write("services/api/src/main.rs", "fn main() {}\n")
        .write("services/api/Dockerfile", "FROM scratch\n")
        .write("services/worker/Cargo.toml", "[package]\nname = \"worker\"\nversion = \"0.1.0\"\n[dependencies]\nshared = { path = \"../../libs/shared\" }\nitoa = \"1\"\n")
        .write("services/worker/src/main.rs", "fn main() {}\n")
        .write("libs/shared/Cargo.toml", "[package]\nname = \"shared\"\nversion = \"0.1.0\"\n[dependencies]\nserde = \"1\"\n")
        .write("libs/shared/src/lib.rs", "pub fn shared() {}\n")
        .write("task-definitions/lib/base.libsonnet", "{ family(n):: n }\n")
        .write("task-definitions/api.jsonnet", "local base = import 'lib/base.libsonnet';\n{ family: base.family('api') }\n")
        .write("task-definitions/worker.jsonnet", "{ family: 'worker' }\n")
        .write("docs/guide.md", "# Guide\n");
    let base = r.commit("initial");
    (r, base)
}

fn detect(r: &Repo, base: &str) -> support::Run {
    let run = ferry(r.path(), &["detect", "--base", base]);
    assert_eq!(run.code, 0, "{run:#?}");
    run
}

#[test]
fn a_shared_crate_change_affects_both_services() {
    let (r, base) = monorepo();
    r.write(
        "libs/shared/src/lib.rs",
        "pub fn shared() { /* changed */ }\n",
    );
    r.commit("change shared");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["api", "worker"]);
    assert_eq!(run.output("any"), "true");
    assert_eq!(run.output("api"), "true");
    assert!(
        run.summary.contains(
            "| `worker` | yes | depends on crate `shared`, which changed: libs/shared/src/lib.rs |"
        ),
        "{}",
        run.summary
    );
    let matrix: serde_json::Value = serde_json::from_str(run.output("matrix")).unwrap();
    assert_eq!(matrix["include"][0]["service"], "api");
    assert_eq!(
        matrix["include"][0]["dockerfile"],
        "services/api/Dockerfile"
    );
    assert_eq!(
        matrix["include"][1]["task-definition"],
        "task-definitions/worker.jsonnet"
    );
}

#[test]
fn a_lockfile_bump_only_the_worker_uses_affects_only_the_worker() {
    let (r, base) = monorepo();
    r.write("Cargo.lock", &lockfile("1.0.11", "1.0.200"));
    r.commit("cargo update -p itoa");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["worker"]);
    assert!(
        run.summary.contains("Cargo.lock: itoa 1.0.10 → 1.0.11"),
        "{}",
        run.summary
    );
}

#[test]
fn a_lockfile_bump_of_a_shared_dependency_affects_both() {
    let (r, base) = monorepo();
    r.write("Cargo.lock", &lockfile("1.0.10", "1.0.201"));
    r.commit("cargo update -p serde");
    assert_eq!(detect(&r, &base).services(), ["api", "worker"]);
}

#[test]
fn a_docs_only_change_affects_nothing() {
    let (r, base) = monorepo();
    r.write("docs/guide.md", "# Guide, improved\n");
    r.commit("docs");
    let run = detect(&r, &base);
    assert!(run.services().is_empty());
    assert_eq!(run.output("any"), "false");
    assert_eq!(run.output("matrix"), r#"{"include":[]}"#);
    assert!(
        run.summary.contains("no service affected"),
        "{}",
        run.summary
    );
}

#[test]
fn a_file_renamed_out_of_a_service_folder_affects_that_service() {
    let (r, base) = monorepo();
    r.rename("services/api/src/main.rs", "docs/old-main.rs");
    r.commit("move a file out");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["api"]);
    assert!(
        run.summary.contains("services/api/src/main.rs"),
        "{}",
        run.summary
    );
}

#[test]
fn a_deleted_file_counts() {
    let (r, base) = monorepo();
    r.remove("services/worker/src/main.rs");
    r.commit("delete");
    assert_eq!(detect(&r, &base).services(), ["worker"]);
}

#[test]
fn the_jsonnet_library_affects_every_service_that_imports_it() {
    let (r, base) = monorepo();
    r.write(
        "task-definitions/lib/base.libsonnet",
        "{ family(n):: 'x-' + n }\n",
    );
    r.commit("jsonnet lib");
    let run = detect(&r, &base);
    assert_eq!(
        run.services(),
        ["api"],
        "the worker's task definition does not import it"
    );
    assert!(
        run.summary.contains(
            "its task definition imports task-definitions/lib/base.libsonnet, which changed"
        ),
        "{}",
        run.summary
    );
}

#[test]
fn dockerfile_task_definition_global_path_and_workspace_manifest() {
    let (r, base) = monorepo();
    r.write("task-definitions/worker.jsonnet", "{ family: 'worker2' }\n");
    let c1 = r.commit("worker task def");
    assert_eq!(detect(&r, &base).services(), ["worker"]);
    r.write("rust-toolchain.toml", "[toolchain]\nchannel = \"1.95\"\n");
    r.commit("toolchain");
    let run = detect(&r, &c1);
    assert_eq!(run.services(), ["api", "worker"]);
    assert!(
        run.summary
            .contains("global path `rust-toolchain.toml` changed"),
        "{}",
        run.summary
    );
    let c3 = r.commit("noop");
    r.write("Cargo.toml", "[workspace]\nresolver = \"3\"\nmembers = [\"services/*\", \"libs/*\"]\n[profile.release]\nlto = true\n");
    r.commit("profile");
    let run = detect(&r, &c3);
    assert_eq!(run.services(), ["api", "worker"]);
    assert!(
        run.summary.contains("the workspace Cargo.toml changed"),
        "{}",
        run.summary
    );
}

#[test]
fn a_crate_the_workspace_lacks_is_reported() {
    let (r, base) = monorepo();
    r.write(
        ".github/ferry.yml",
        &MANIFEST.replace(
            "    paths: [services/worker/**]",
            "    paths: [services/worker/**]\n    crate: wroker",
        ),
    );
    r.commit("typo");
    let run = detect(&r, &base);
    assert!(
        run.summary.contains(
            "service `worker` names crate `wroker`, which is not a member of the Cargo workspace"
        ),
        "{}",
        run.summary
    );
}

#[test]
fn a_changed_manifest_entry_affects_that_service_only() {
    let (r, base) = monorepo();
    r.write(
        ".github/ferry.yml",
        &MANIFEST.replace(
            "    paths: [services/worker/**]",
            "    paths: [services/worker/**]\n    context: services/worker",
        ),
    );
    r.commit("worker context");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["worker"]);
    assert!(
        run.summary.contains("its entry in the manifest changed"),
        "{}",
        run.summary
    );
}

#[test]
fn a_shallow_clone_gives_the_same_answer() {
    let (r, base) = monorepo();
    for i in 0..40 {
        r.write("docs/guide.md", &format!("# Guide {i}\n"));
        r.commit(&format!("docs {i}"));
    }
    r.write("Cargo.lock", &lockfile("1.0.11", "1.0.200"));
    let head = r.commit("bump itoa");
    let full = detect(&r, &base);

    let clone = tempfile::tempdir().unwrap();
    let url = format!("file://{}", r.path().display());
    git_in(clone.path(), &["clone", "-q", "--depth", "1", &url, "."]);
    assert_eq!(
        git_in(clone.path(), &["rev-parse", "--is-shallow-repository"]).trim(),
        "true"
    );
    let run = ferry(clone.path(), &["detect", "--base", &base, "--head", &head]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), full.services());
    assert_eq!(run.services(), ["worker"]);
    assert!(
        run.summary.contains("Cargo.lock: itoa 1.0.10 → 1.0.11"),
        "{}",
        run.summary
    );
}

#[test]
fn a_pull_request_in_a_shallow_checkout_deepens_to_the_merge_base() {
    let (r, _) = monorepo();
    for i in 0..50 {
        r.write("docs/guide.md", &format!("# Guide {i}\n"));
        r.commit(&format!("main {i}"));
    }
    let base_sha = r.commit("main tip");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write("services/worker/src/main.rs", "fn main() { println!(); }\n");
    for i in 0..40 {
        r.write("services/worker/notes.md", &format!("{i}\n"));
        r.commit(&format!("feature {i}"));
    }
    let head_sha = r.commit("feature tip");
    r.git(&["checkout", "-q", "main"]);
    r.write(
        "services/api/src/main.rs",
        "fn main() { /* main moved on */ }\n",
    );
    let main_tip = r.commit("main moves on after the PR was opened");

    // What actions/checkout leaves: one commit, here main's tip.
    let clone = tempfile::tempdir().unwrap();
    let url = format!("file://{}", r.path().display());
    git_in(
        clone.path(),
        &["clone", "-q", "--depth", "1", "--branch", "main", &url, "."],
    );
    let event = serde_json::json!({
        "number": 7,
        "pull_request": {
            "number": 7,
            "base": { "sha": main_tip, "ref": "main" },
            "head": { "sha": head_sha, "ref": "feature" },
            "changed_files": 2
        },
        "repository": { "default_branch": "main" }
    });
    let event_file = clone
        .path()
        .join("..")
        .join(format!("event-{}.json", std::process::id()));
    std::fs::write(&event_file, event.to_string()).unwrap();
    let run = ferry_with(
        clone.path(),
        &["detect"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", event_file.to_str().unwrap()),
        ],
    );
    std::fs::remove_file(&event_file).ok();
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.services(),
        ["worker"],
        "main's own later change to api is not the PR's: {}",
        run.summary
    );
    assert!(run.summary.contains("deepened by"), "{}", run.summary);
    let _ = base_sha;
}

#[test]
fn push_events_new_branch_force_push_and_vanished_before() {
    let (r, _) = monorepo();
    r.write("docs/guide.md", "# main\n");
    r.commit("main");
    let remote = r.path().to_path_buf();
    let clone = tempfile::tempdir().unwrap();
    git_in(
        clone.path(),
        &["clone", "-q", &format!("file://{}", remote.display()), "."],
    );
    git_in(clone.path(), &["config", "user.email", "dev@example.com"]);
    git_in(clone.path(), &["config", "user.name", "Dev"]);
    git_in(clone.path(), &["checkout", "-q", "-b", "release"]);
    std::fs::write(
        clone.path().join("services/api/src/main.rs"),
        "fn main() { /* release */ }\n",
    )
    .unwrap();
    git_in(clone.path(), &["commit", "-qam", "release change"]);
    let after = git_in(clone.path(), &["rev-parse", "HEAD"])
        .trim()
        .to_string();

    let push = |before: &str, forced: bool, created: bool| {
        let event = serde_json::json!({
            "ref": "refs/heads/release", "before": before, "after": after,
            "forced": forced, "created": created, "deleted": false,
            "repository": { "default_branch": "main" }
        });
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), event.to_string()).unwrap();
        ferry_with(
            clone.path(),
            &["detect"],
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_EVENT_PATH", file.path().to_str().unwrap()),
            ],
        )
    };
    // A new branch: compared with where it left main.
    let run = push(&"0".repeat(40), false, true);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api"]);
    assert!(
        run.summary
            .contains("merge base with the default branch main"),
        "{}",
        run.summary
    );

    // A force push over a commit that no longer exists anywhere: main's merge base.
    let vanished = "1234567890abcdef1234567890abcdef12345678";
    let run = push(vanished, true, false);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api"]);

    // A plain push whose `before` vanished: no base, so every service, said loudly.
    let run = push(vanished, false, false);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api", "worker"]);
    assert!(
        run.summary.contains("no base commit could be found"),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("every service is treated as affected"),
        "{}",
        run.summary
    );
}

#[test]
fn dispatch_and_schedule_select_services() {
    let (r, _) = monorepo();
    let run_event = |name: &str, payload: serde_json::Value| {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), payload.to_string()).unwrap();
        ferry_with(
            r.path(),
            &["detect"],
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", name),
                ("GITHUB_EVENT_PATH", file.path().to_str().unwrap()),
            ],
        )
    };
    let run = run_event(
        "workflow_dispatch",
        serde_json::json!({"ref": "refs/heads/main", "inputs": {"services": "worker"}}),
    );
    assert_eq!(run.services(), ["worker"]);
    assert!(
        run.summary
            .contains("services chosen in the workflow_dispatch form"),
        "{}",
        run.summary
    );
    let run = run_event(
        "workflow_dispatch",
        serde_json::json!({"ref": "refs/heads/main", "inputs": {}}),
    );
    assert_eq!(run.services(), ["api", "worker"]);
    let run = run_event("schedule", serde_json::json!({"schedule": "0 3 * * *"}));
    assert_eq!(run.services(), ["api", "worker"]);
    assert!(run.summary.contains("scheduled run"), "{}", run.summary);
    let run = run_event(
        "workflow_dispatch",
        serde_json::json!({"inputs": {"services": "api, billing"}}),
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("::error::unknown service `billing`"),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let (r, base) = monorepo();
    let run = ferry(r.path(), &["detect", "--base", "no-such-ref"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("unknown revision"), "{}", run.stderr);
    assert!(run.stderr.contains("no-such-ref"), "{}", run.stderr);

    let run = ferry(r.path(), &["detect", "--base", &base, "--head", "nope"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("unknown revision `nope`"),
        "{}",
        run.stderr
    );

    r.write(
        ".github/ferry.yml",
        &MANIFEST.replace("promote-from: staging", "promote-from: stage"),
    );
    let run = ferry_with(
        r.path(),
        &["detect", "--base", &base],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("::error file=.github/ferry.yml,line=6,col="),
        "an annotation on the manifest line: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("did you mean `staging`"),
        "{}",
        run.stdout
    );

    let not_a_repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(not_a_repo.path().join(".github")).unwrap();
    std::fs::write(not_a_repo.path().join(".github/ferry.yml"), MANIFEST).unwrap();
    let run = ferry(not_a_repo.path(), &["detect"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("not a git clone and no GitHub token"),
        "{}",
        run.stderr
    );

    let run = ferry(not_a_repo.path(), &["detect", "--manifest", "missing.yml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("error: missing.yml: cannot read the manifest"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("help: create it"), "{}", run.stderr);
}

#[test]
fn outputs_outside_actions_are_plain_lines() {
    let (r, base) = monorepo();
    r.write("services/api/src/main.rs", "fn main() { /* x */ }\n");
    r.commit("api");
    let run = detect(&r, &base);
    assert!(
        run.stdout
            .starts_with("api=true\nworker=false\nservices=[\"api\"]\nmatrix={"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.ends_with("any=true\n"), "{}", run.stdout);
}
