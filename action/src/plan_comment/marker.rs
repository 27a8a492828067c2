//! The hidden marker that finds a comment again, and the plan hash that
//! `plan-verify` compares.
//!
//! The marker is the first line of the comment, so a reply that quotes the
//! comment (`> <!-- ferry:plan:... -->`) is never mistaken for it. The hash
//! covers the normalised planned changes only (addresses, actions, values,
//! masks), not timestamps or versions, so the same changes planned twice
//! hash the same.

use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::counts::Action;
use super::error::PlanCommentError;
use super::model::{RawChange, RawPlan};

/// Prefix of the metadata comment line.
const META_PREFIX: &str = "<!-- ferry:plan-meta ";

/// The marker of one environment's comment, e.g. `<!-- ferry:plan:staging -->`.
///
/// Names are restricted so that no value can close the HTML comment early.
pub fn marker(
    env: &str,
    root_module: Option<&str>,
    workspace: Option<&str>,
) -> Result<String, PlanCommentError> {
    let mut key = String::from("ferry:plan:");
    for (what, part) in [
        ("--env", Some(env)),
        ("--root-module", root_module),
        ("--workspace", workspace),
    ] {
        let Some(part) = part else { continue };
        let ok = !part.is_empty()
            && !part.contains("--")
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c));
        if !ok {
            return Err(PlanCommentError::Config(format!(
                "{what} {part:?}: use letters, digits, '.', '_', '/' and single '-' only"
            )));
        }
        if what != "--env" {
            key.push(':');
        }
        key.push_str(part);
    }
    Ok(format!("<!-- {key} -->"))
}

/// The hidden metadata line written under the marker.
pub fn metadata(hash: &str) -> String {
    format!("{META_PREFIX}hash={hash} -->")
}

/// Reads the plan hash back from a comment body: only from the line
/// right after the marker (Ferry writes it there), so text further down
/// (a resource address in a code span) cannot pass for it.
pub fn hash_in(body: &str) -> Option<String> {
    let mut lines = body.trim_start().lines();
    lines.next()?;
    let rest = lines.next()?.trim().strip_prefix(META_PREFIX)?;
    let end = rest.find(" -->")?;
    rest[..end]
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("hash="))
        .map(str::to_string)
}

/// SHA-256 of the planned changes, as `sha256:<hex>`.
///
/// Every byte of every change counts: the five value trees are hashed as
/// they are written (JSON whitespace outside strings aside), never through
/// a parsed form that could lose a deep value or a big number's digits.
/// Each field is length-prefixed, so no value can pass for another field.
/// Each change is hashed on its own and the sorted digests are hashed
/// together: the result does not depend on the order of the plan, and no
/// more than one change is held at a time.
pub fn plan_hash(plan: &RawPlan) -> String {
    let mut digests: Vec<[u8; 32]> = Vec::new();
    for rc in plan.resource_changes.iter().flatten() {
        let action = Action::from_actions(&rc.change.actions);
        let moved = rc.previous_address.is_some() && rc.previous_address != rc.address;
        if matches!(action, Action::NoOp | Action::Read) && !moved && rc.change.importing.is_none()
        {
            continue;
        }
        let mut h = Sha256::new();
        field(&mut h, b"resource");
        field(&mut h, rc.display_address().as_bytes());
        field(&mut h, rc.deposed.as_deref().unwrap_or("").as_bytes());
        field(
            &mut h,
            rc.previous_address.as_deref().unwrap_or("").as_bytes(),
        );
        field(
            &mut h,
            rc.change
                .importing
                .as_ref()
                .map(|i| format!("import:{}", i.id.as_deref().unwrap_or("")))
                .unwrap_or_default()
                .as_bytes(),
        );
        change_fields(&rc.change, &mut h);
        digests.push(h.finalize().into());
    }
    for (name, change) in &plan.output_changes {
        if matches!(Action::from_actions(&change.actions), Action::NoOp) {
            continue;
        }
        let mut h = Sha256::new();
        field(&mut h, b"output");
        field(&mut h, name.as_bytes());
        change_fields(change, &mut h);
        digests.push(h.finalize().into());
    }
    digests.sort_unstable();
    let mut hasher = Sha256::new();
    for d in &digests {
        hasher.update(d);
    }
    let mut hex = String::with_capacity(71);
    hex.push_str("sha256:");
    for b in hasher.finalize() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// One length-prefixed field.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

fn change_fields(change: &RawChange, h: &mut Sha256) {
    field(h, &(change.actions.len() as u64).to_le_bytes());
    for a in &change.actions {
        field(h, a.as_bytes());
    }
    let mut buf = Vec::new();
    for (name, raw) in change.raw_fields() {
        buf.clear();
        if let Some(raw) = raw {
            minify(raw.get(), &mut buf);
        }
        field(h, name.as_bytes());
        field(h, &buf);
    }
    let mut paths: Vec<String> = change
        .replace_paths
        .iter()
        .map(|p| Value::Array(p.clone()).to_string())
        .collect();
    paths.sort();
    field(h, &(paths.len() as u64).to_le_bytes());
    for p in &paths {
        field(h, p.as_bytes());
    }
}

/// JSON text without the whitespace between tokens; strings byte for byte.
fn minify(json: &str, out: &mut Vec<u8>) {
    let (mut in_string, mut escaped) = (false, false);
    for &b in json.as_bytes() {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            out.push(b);
            in_string = b == b'"';
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::github::comments::is_marked;

    #[test]
    fn marker_and_metadata_round_trip() {
        let m = marker("staging", Some("terraform/aws"), None).unwrap();
        assert_eq!(m, "<!-- ferry:plan:staging:terraform/aws -->");
        assert!(marker("x -->", None, None).is_err());
        let body = format!("{m}\n{}\nhello", metadata("sha256:abc"));
        assert!(is_marked(&body, &m));
        assert!(!is_marked(&format!("> {m}"), &m));
        assert!(!is_marked(&body, "<!-- ferry:plan:staging -->"));
        assert_eq!(hash_in(&body).as_deref(), Some("sha256:abc"));
    }
}
