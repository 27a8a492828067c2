//! The action's metadata: action.yml (for `uses: OWNER/REPO@v1`, a container
//! action on the published image) and action/action.yml (for `uses:
//! ./action`, a composite action that runs or builds that image) are one
//! action: same inputs, same outputs, same pinned image; every input reaches
//! the command it is documented for (as the `INPUT_<NAME>` variable the
//! runner sets); the image is pinned by digest, and a release tag cannot
//! ship the placeholder digest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{ferry_command, help_commands, root};

use std::collections::BTreeSet;
use std::process::Command;

use serde_yaml_ng::Value;

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

fn action() -> Value {
    serde_yaml_ng::from_str(&read("action.yml")).unwrap()
}

fn local_action() -> Value {
    serde_yaml_ng::from_str(&read("action/action.yml")).unwrap()
}

/// Which commands read each input. `command` picks the subcommand;
/// `github-token`, `trusted-authors` and `plan-key` go to every command
/// through the run's context.
const INPUT_COMMANDS: &[(&str, &[&str])] = &[
    ("command", &[]),
    ("github-token", &[]),
    ("trusted-authors", &[]),
    ("plan-key", &[]),
    (
        "manifest",
        &[
            "detect",
            "build",
            "render",
            "preflight",
            "deploy",
            "gate",
            "plan-comment",
            "plan-verify",
            "release",
        ],
    ),
    (
        "environment",
        &[
            "render",
            "preflight",
            "deploy",
            "gate",
            "plan-comment",
            "plan-verify",
            "release",
            "metrics",
        ],
    ),
    (
        "services",
        &["detect", "build", "preflight", "deploy", "gate", "release"],
    ),
    ("images", &["preflight", "deploy", "gate"]),
    (
        "plan",
        &["plan-comment", "plan-verify", "plan-applied", "drift"],
    ),
    ("apply-log", &["plan-applied"]),
    ("compare-with", &["plan-comment"]),
    ("ignore-from", &["drift"]),
    ("base", &["detect", "release"]),
    ("head", &["detect", "release"]),
    ("builder", &["build", "release"]),
    ("registry", &["build", "release"]),
    ("parallel", &["build"]),
    ("no-push", &["build"]),
    ("registry-username", &["build"]),
    ("registry-token", &["build"]),
    ("service", &["render"]),
    ("image", &["render"]),
    ("values", &["render"]),
    ("check", &["render"]),
    ("all", &["render"]),
    ("mode", &["plan-comment", "plan-verify"]),
    ("pr", &["plan-comment", "plan-verify", "plan-applied"]),
    ("skip-no-changes", &["plan-comment"]),
    ("labels", &["plan-comment"]),
    (
        "dry-run",
        &["deploy", "plan-comment", "plan-applied", "release"],
    ),
    ("no-wait", &["deploy", "release"]),
    ("no-rollback", &["deploy", "release"]),
    ("timeout", &["deploy", "release"]),
    ("rerun-tasks", &["deploy", "release"]),
    ("skip-preflight", &["deploy", "release"]),
    ("days", &["metrics"]),
];

/// The commands the `command` input accepts.
const COMMANDS: &[&str] = &[
    "detect",
    "build",
    "render",
    "preflight",
    "deploy",
    "gate",
    "plan-comment",
    "plan-verify",
    "plan-applied",
    "drift",
    "release",
    "metrics",
];

fn ferry_help(args: &[&str]) -> String {
    let out = ferry_command()
        .args(args)
        .arg("--help")
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    assert!(out.status.success(), "ferry {args:?} --help: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Help text with its line wrapping undone, for matching `[env: ...]`.
fn unwrapped(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The subcommands `ferry --help` lists.
fn subcommands() -> BTreeSet<String> {
    help_commands(&ferry_help(&[])).into_iter().collect()
}

#[test]
fn the_root_action_and_the_local_action_are_the_same_action() {
    let (root, local) = (action(), local_action());
    for key in ["name", "description", "author", "branding", "inputs"] {
        assert_eq!(
            root[key], local[key],
            "`{key}` differs between action.yml and action/action.yml: edit one and copy it over"
        );
    }
    // Outputs: the same names and descriptions; the composite's come from
    // its `ferry` step, which writes them to its GITHUB_OUTPUT.
    let outputs = |v: &Value| -> Vec<(String, String)> {
        v["outputs"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, o)| {
                (
                    k.as_str().unwrap().to_string(),
                    o["description"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(outputs(&root), outputs(&local));
    for (name, output) in local["outputs"].as_mapping().unwrap() {
        assert_eq!(
            output["value"].as_str().unwrap(),
            format!("${{{{ steps.ferry.outputs.{} }}}}", name.as_str().unwrap())
        );
    }
    assert_eq!(root["runs"]["using"].as_str(), Some("docker"));
    assert_eq!(local["runs"]["using"].as_str(), Some("composite"));
    let steps = local["runs"]["steps"].as_sequence().unwrap();
    let step = |id: &str| {
        steps
            .iter()
            .find(|s| s["id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("no step `{id}`"))
    };
    // The same image as the root action, by digest, once published; before
    // that the root builds its Dockerfile and this one has the placeholder.
    let pinned = step("image")["env"]["FERRY_PINNED_IMAGE"].as_str().unwrap();
    match root["runs"]["image"].as_str().unwrap() {
        "Dockerfile" => assert!(pinned.ends_with(PLACEHOLDER), "{pinned}"),
        image => assert_eq!(pinned, image, "scripts/set-action-image pins both"),
    }
    // Every input reaches ferry as the variable the runner would set, and
    // only through the environment (never spliced into the script).
    let ferry = step("ferry");
    let env = ferry["env"].as_mapping().unwrap();
    for name in root["inputs"].as_mapping().unwrap().keys() {
        let name = name.as_str().unwrap();
        let var = format!("INPUT_{}", name.to_uppercase());
        assert_eq!(
            env.get(var.as_str()).and_then(Value::as_str),
            Some(format!("${{{{ inputs.{name} }}}}").as_str()),
            "{var}"
        );
    }
    for s in steps {
        if let Some(run) = s["run"].as_str() {
            assert!(!run.contains("${{"), "a `run:` with an expression: {run}");
        }
    }
}

#[test]
fn the_inputs_are_the_documented_ones_and_reach_their_commands() {
    let declared: BTreeSet<String> = action()["inputs"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let documented: BTreeSet<String> = INPUT_COMMANDS.iter().map(|(i, _)| i.to_string()).collect();
    assert_eq!(
        declared, documented,
        "action.yml inputs vs this test's table"
    );

    let existing = subcommands();
    let mut unchecked = Vec::new();
    for (input, commands) in INPUT_COMMANDS {
        let var = format!("[env: INPUT_{}=", input.to_uppercase());
        for command in *commands {
            if !existing.contains(*command) {
                unchecked.push(format!("{input} → {command}"));
                continue;
            }
            let help = unwrapped(&ferry_help(&[command]));
            // A secret's value is never shown: `[env: NAME]`.
            let hidden = format!("[env: INPUT_{}]", input.to_uppercase());
            assert!(
                help.contains(&var) || help.contains(&hidden),
                "`ferry {command}` does not read the `{input}` input ({var}...] missing from its --help)"
            );
        }
    }
    // Commands still to land (deploy, gate, release) are checked once they
    // are in `ferry --help`.
    if !unchecked.is_empty() {
        eprintln!("not yet a command, not checked: {unchecked:?}");
    }
}

#[test]
fn the_command_input_names_every_command_and_the_binary_has_no_other() {
    let description = action()["inputs"]["command"]["description"]
        .as_str()
        .unwrap()
        .to_string();
    for c in COMMANDS {
        assert!(
            description.contains(c),
            "the `command` description omits {c}"
        );
    }
    // Every subcommand a workflow may want is offered by the action; `diff`
    // is for laptops and the integrator's release command, `schema` for
    // editors.
    for c in subcommands() {
        assert!(
            COMMANDS.contains(&c.as_str()) || c == "diff" || c == "schema",
            "`ferry {c}` is not offered by the `command` input"
        );
    }
}

#[test]
fn the_command_input_runs_the_subcommand_in_a_container_without_arguments() {
    // As the runner starts the image: no arguments, inputs in the environment.
    let dir = tempfile::tempdir().unwrap();
    let out = ferry_command()
        .current_dir(dir.path())
        .env("INPUT_COMMAND", "render")
        .env("INPUT_CHECK", "true")
        .env("INPUT_MANIFEST", "missing.yml")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("missing.yml"),
        "render ran with the inputs: {stderr}"
    );

    let out = ferry_command()
        .current_dir(dir.path())
        .env("INPUT_COMMAND", "no-such-command")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no-such-command"), "{stderr}");
}

/// The placeholder digest of an action that has never been published.
const PLACEHOLDER: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// Why `image` cannot ship from `git_ref`, if it cannot. Before the first
/// publish the root action builds its `Dockerfile`: usable, but not on a
/// release tag (the release workflow pins the image it pushed first).
fn release_blocker(image: &str, git_ref: Option<&str>) -> Option<String> {
    let is_release = git_ref.is_some_and(|r| r.starts_with("refs/tags/v"));
    if image == "Dockerfile" {
        return is_release.then(|| {
            format!("{} is a release tag but action.yml still builds its Dockerfile: the release workflow pins the pushed image (scripts/set-action-image) before it moves the tag", git_ref.unwrap_or_default())
        });
    }
    let format = regex::Regex::new(
        r"^docker://ghcr\.io/[a-z0-9][a-z0-9._-]*/ferry-action@sha256:[0-9a-f]{64}$",
    )
    .unwrap();
    if !format.is_match(image) {
        return Some(format!(
            "runs.image must be docker://ghcr.io/<owner>/ferry-action@sha256:<digest>, not {image}"
        ));
    }
    (is_release && image.ends_with(PLACEHOLDER)).then(|| {
        format!("{} is a release tag but action.yml still has the placeholder digest: publish the image (action-image.yml) and merge its pin pull request first", git_ref.unwrap_or_default())
    })
}

#[test]
fn the_image_is_pinned_by_digest_and_a_release_tag_needs_a_published_one() {
    let image = action()["runs"]["image"].as_str().unwrap().to_string();
    assert_eq!(action()["runs"]["using"].as_str(), Some("docker"));
    let git_ref = std::env::var("GITHUB_REF").ok();
    if let Some(why) = release_blocker(&image, git_ref.as_deref()) {
        panic!("{why}");
    }
}

#[test]
fn the_release_blocker_decides_by_tag_and_digest() {
    let placeholder = format!("docker://ghcr.io/example-org/ferry-action@{PLACEHOLDER}");
    let published = "docker://ghcr.io/example-org/ferry-action@sha256:3cf95fe0816180395592b8373f3ec60663f076127617bbacb4eacf9667afe2e9";
    assert!(
        release_blocker(&placeholder, Some("refs/tags/v1.2.0"))
            .unwrap()
            .contains("placeholder")
    );
    assert_eq!(
        release_blocker(&placeholder, Some("refs/pull/7/merge")),
        None
    );
    assert_eq!(release_blocker(&placeholder, None), None);
    assert_eq!(release_blocker(published, Some("refs/tags/v1.2.0")), None);
    assert!(release_blocker("docker://ghcr.io/example-org/ferry-action:latest", None).is_some());
    assert_eq!(release_blocker("Dockerfile", None), None);
    assert_eq!(release_blocker("Dockerfile", Some("refs/heads/main")), None);
    assert!(
        release_blocker("Dockerfile", Some("refs/tags/v1.0.0"))
            .unwrap()
            .contains("builds its Dockerfile")
    );
    assert!(release_blocker("action/Dockerfile", None).is_some());
}

#[test]
fn set_action_image_pins_both_files_and_refuses_bad_digests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scripts")).unwrap();
    std::fs::create_dir_all(dir.path().join("action")).unwrap();
    std::fs::copy(
        root().join("scripts/set-action-image"),
        dir.path().join("scripts/set-action-image"),
    )
    .unwrap();
    std::fs::write(dir.path().join("action.yml"), read("action.yml")).unwrap();
    std::fs::write(
        dir.path().join("action/action.yml"),
        read("action/action.yml"),
    )
    .unwrap();
    let run = |image: &str, digest: &str| {
        Command::new("bash")
            .arg(dir.path().join("scripts/set-action-image"))
            .args([image, digest])
            .output()
            .unwrap()
    };
    let digest = "sha256:27a51d5ab1cd38d9eeaba7b415b8c07bc10c31e1cf1ec8d78f6413fcfab3f44f";
    assert!(
        read("action.yml").contains("\n  image: Dockerfile\n"),
        "before the first publish the root action builds its Dockerfile"
    );
    let ok = run("ghcr.io/acme/ferry-action", digest);
    assert!(ok.status.success(), "{ok:?}");
    for (file, line) in [
        ("action.yml", "\n  image: "),
        ("action/action.yml", "\n        FERRY_PINNED_IMAGE: "),
    ] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(
            text.contains(&format!(
                "{line}docker://ghcr.io/acme/ferry-action@{digest}\n"
            )),
            "{file}"
        );
        assert!(!text.contains(PLACEHOLDER), "{file}");
    }
    for (image, digest) in [
        ("ghcr.io/acme/ferry-action", "sha256:1234"),
        ("ghcr.io/acme/ferry-action", "latest"),
        ("ghcr.io/Acme/ferry-action", digest),
        ("ghcr.io/acme/ferry-action; rm -rf /", digest),
    ] {
        let bad = run(image, digest);
        assert_eq!(bad.status.code(), Some(2), "{image} {digest}: {bad:?}");
    }
}

/// The `matrix` output is described as the binary writes it: the top-level
/// key and the key each entry names its service with (issue 24: it was
/// described as `{"service": [...]}`, but detect writes `{"include": [...]}`).
#[test]
fn the_matrix_output_is_described_as_detect_writes_it() {
    let manifest = ferry::manifest::Manifest::parse(
        "project: p\nregion: us-east-1\nenvironments:\n  staging: { cluster: c }\nservices:\n  api: {}\n",
        std::path::Path::new(".github/ferry.yml"),
    )
    .unwrap();
    let matrix = ferry::detect::matrix(&manifest, &["api"]);
    let top: Vec<&String> = matrix.as_object().unwrap().keys().collect();
    assert_eq!(top, ["include"]);
    for action in [action(), local_action()] {
        let description = action["outputs"]["matrix"]["description"].as_str().unwrap();
        assert!(
            description.contains(r#"{"include": [{"service": "#),
            "the matrix output's description: {description}"
        );
        assert!(matrix["include"][0]["service"] == "api");
    }
}
