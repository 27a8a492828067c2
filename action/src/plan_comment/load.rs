//! Reading a plan from disk: JSON as written by `terraform show -json`, or a
//! binary plan file that Ferry turns into JSON by running `terraform show`.

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
    // Read whole: parsing from memory is several times faster than from a
    // reader, and the text is freed before rendering, where the peak is.
    let bytes = std::fs::read(path).map_err(io)?;
    let bytes = if bytes.starts_with(ZIP_MAGIC) {
        show_json(path, terraform)?
    } else {
        bytes
    };
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
