//! docs/commands.md is generated from the CLI itself (`ferry --help` and
//! `ferry <command> --help` for every command it lists), so the reference
//! cannot drift from the binary. After changing a command:
//!
//!   FERRY_UPDATE_DOCS=1 cargo test -p ferry --test it commands_doc
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{ferry_command, help_commands, root};

fn help(args: &[&str]) -> String {
    let out = ferry_command()
        .args(args)
        .arg("--help")
        // The reference must not depend on who generated it.
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(out.status.success(), "ferry {args:?} --help: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn render() -> String {
    let top = help(&[]);
    let mut doc = String::from(
        "<!-- Generated from `ferry --help` by action/tests/it/commands_doc.rs; do not edit.\n     \
         Regenerate: FERRY_UPDATE_DOCS=1 cargo test -p ferry --test it commands_doc -->\n\
         # Command reference\n\n\
         In a workflow, `command:` names the command and every other input is the option of the\n\
         same name (the runner passes it as `INPUT_<NAME>`, shown as `[env: ...]` below);\n\
         locally, `cargo run -p ferry -- <command> [options]`.\n\n",
    );
    let cmds = help_commands(&top);
    for c in &cmds {
        doc.push_str(&format!("- [`ferry {c}`](#ferry-{c})\n"));
    }
    doc.push_str(&format!("\n## `ferry`\n\n```text\n{}```\n", top));
    for c in &cmds {
        doc.push_str(&format!("\n## `ferry {c}`\n\n```text\n{}```\n", help(&[c])));
    }
    doc
}

#[test]
fn the_command_reference_is_the_clis_own_help() {
    let path = root().join("docs/commands.md");
    let want = render();
    if std::env::var("FERRY_UPDATE_DOCS").as_deref() == Ok("1") {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/commands.md is not what the CLI says: regenerate it with \
         FERRY_UPDATE_DOCS=1 cargo test -p ferry --test it commands_doc"
    );
}

#[test]
fn the_reference_has_a_section_per_command() {
    let doc = render();
    for c in [
        "detect",
        "build",
        "render",
        "diff",
        "plan-comment",
        "plan-verify",
    ] {
        assert!(doc.contains(&format!("\n## `ferry {c}`\n")), "{c}");
        assert!(doc.contains(&format!("Usage: ferry {c} ")), "{c}");
    }
}
