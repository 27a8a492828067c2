//! Reading a plan from disk: JSON as written by `terraform show -json`, or a
//! binary plan file that Ferry turns into JSON by running `terraform show`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;

use super::error::PlanCommentError;
use super::input;
use super::model::RawPlan;

/// Zip magic: `terraform plan -out` writes a zip archive.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// Reads and parses one plan. `terraform` is the program run for binary plans.
pub fn load_plan(path: &Path, terraform: &str) -> Result<RawPlan, PlanCommentError> {
    let file = path.display().to_string();
    let io = |source| PlanCommentError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?);
    let head = reader.fill_buf().map_err(io)?;
    if head.starts_with(ZIP_MAGIC) {
        let json = show_json(path, terraform)?;
        let text = input::decode_text(json, &file)?;
        return Ok(input::parse_plan(&text, &file)?);
    }
    // Plain UTF-8 JSON (no BOM, no wrapper) streams; anything else, or any
    // problem, goes through the whole-text path, which names the problem.
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{')
        && let Some(plan) = input::parse_plan_reader(&mut reader, &file)
    {
        return Ok(plan);
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let text = input::decode_text(bytes, &file)?;
    Ok(input::parse_plan(&text, &file)?)
}

/// Runs `terraform show -json PLAN` (an argument vector, no shell).
fn show_json(path: &Path, terraform: &str) -> Result<Vec<u8>, PlanCommentError> {
    let fail = |detail: String| PlanCommentError::TerraformShow {
        program: terraform.to_string(),
        plan: path.display().to_string(),
        detail,
    };
    let out = Command::new(terraform)
        .args(["show", "-json", "-no-color"])
        .arg(path)
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: String = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(6)
            .collect::<Vec<_>>()
            .join(" ");
        return Err(fail(format!(
            "{}: {}",
            out.status,
            tail.chars().take(400).collect::<String>()
        )));
    }
    Ok(out.stdout)
}
