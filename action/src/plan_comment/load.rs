//! Reading a plan from disk: JSON as written by `terraform show -json`, or a
//! binary plan file that Ferry turns into JSON by running `terraform show`.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

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
    // Read whole, within the limit: parsing from memory is several times
    // faster than from a reader, and the text is freed before rendering,
    // where the peak is.
    let limit = crate::budget::current().plan_bytes;
    let bytes = std::fs::File::open(path)
        .and_then(|f| read_limited(f, limit))
        .map_err(io)?;
    let bytes = if bytes.starts_with(ZIP_MAGIC) {
        show_json(path, terraform, limit)?
    } else {
        bytes
    };
    let text = input::decode_text(bytes, &file)?;
    Ok(input::parse_plan(&text, &file)?)
}

/// Reads at most `limit` bytes of `from`; more is an error naming the
/// limit and the variable that sets it (the read stops there).
fn read_limited(from: impl Read, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    from.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "the plan is larger than {} (Ferry's limit, {}); split the configuration, or raise the limit if the plan is really this large",
            crate::budget::show_bytes(limit),
            crate::budget::PLAN_BYTES_VAR
        )));
    }
    Ok(bytes)
}

/// Runs `terraform show -json PLAN` (an argument vector, no shell); its
/// output is read up to `limit` bytes.
fn show_json(path: &Path, terraform: &str, limit: u64) -> Result<Vec<u8>, PlanCommentError> {
    let fail = |detail: String| PlanCommentError::TerraformShow {
        program: terraform.to_string(),
        plan: path.display().to_string(),
        detail,
    };
    let mut child = Command::new(terraform)
        .args(["show", "-json", "-no-color"])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    // Standard error on its own thread, so neither pipe can fill and block.
    let stderr = child.stderr.take().map(|e| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = e.take(64 << 10).read_to_end(&mut text);
            text
        })
    });
    let stdout = match child.stdout.take() {
        Some(o) => read_limited(o, limit),
        None => Ok(Vec::new()),
    };
    let stdout = match stdout {
        Ok(o) => o,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(e.to_string()));
        }
    };
    let status = child.wait().map_err(|e| fail(e.to_string()))?;
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    let out = std::process::Output {
        status,
        stdout,
        stderr,
    };
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
