//! A throwaway Terraform working directory for the tests that run the real
//! `terraform` binary (`plan_comment_counts.rs`, `terraform_apply_flow.rs`):
//! an empty CLI config, no logging, automation mode.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temp folder in which `terraform` runs with an empty CLI config.
pub struct Terraform {
    dir: tempfile::TempDir,
    cli_config: PathBuf,
}

impl Terraform {
    /// A fresh folder; fails the test with what to install when `terraform` is missing.
    pub fn new() -> Terraform {
        let found = Command::new("terraform").arg("version").output();
        assert!(
            found.as_ref().is_ok_and(|o| o.status.success()),
            "`terraform` is not on PATH: these tests need Terraform 1.11.4 (the test bed installs it at /usr/local/bin/terraform)"
        );
        let dir = tempfile::tempdir().unwrap();
        let cli_config = dir.path().join("empty.tfrc");
        std::fs::write(&cli_config, "").unwrap();
        Terraform { dir, cli_config }
    }

    /// The working directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The empty CLI config, for a `ferry` run that calls `terraform` here.
    pub fn cli_config(&self) -> &Path {
        &self.cli_config
    }

    /// `terraform <args>` in the working directory, whatever its exit.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("terraform")
            .args(args)
            .current_dir(self.path())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env_remove("TF_LOG")
            .output()
            .unwrap()
    }

    /// `terraform <args>`, which must succeed; its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "terraform {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Writes `main.tf` and runs `terraform init`.
    pub fn init(&self, main_tf: &str) {
        std::fs::write(self.path().join("main.tf"), main_tf).unwrap();
        self.ok(&["init", "-input=false", "-no-color"]);
    }
}
