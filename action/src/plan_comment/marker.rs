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

/// Reads the plan hash back from a comment body.
pub fn hash_in(body: &str) -> Option<String> {
    let start = body.find(META_PREFIX)? + META_PREFIX.len();
    let rest = &body[start..];
    let end = rest.find(" -->")?;
    rest[..end]
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("hash="))
        .map(str::to_string)
}

/// SHA-256 of the normalised planned changes, as `sha256:<hex>`.
///
/// Each change is hashed on its own and the sorted digests are hashed
/// together: the result does not depend on the order of the plan, and no
/// more than one change's canonical text is held at a time.
pub fn plan_hash(plan: &RawPlan) -> String {
    let digest = |text: &str| -> [u8; 32] { Sha256::digest(text.as_bytes()).into() };
    let mut digests: Vec<[u8; 32]> = Vec::new();
    for rc in plan.resource_changes.iter().flatten() {
        let action = Action::from_actions(&rc.change.actions);
        let moved = rc.previous_address.is_some() && rc.previous_address != rc.address;
        if matches!(action, Action::NoOp | Action::Read) && !moved && rc.change.importing.is_none()
        {
            continue;
        }
        let mut e = format!(
            "resource {} deposed={} from={} actions={:?} import={} ",
            rc.display_address(),
            rc.deposed.as_deref().unwrap_or(""),
            rc.previous_address.as_deref().unwrap_or(""),
            rc.change.actions,
            rc.change
                .importing
                .as_ref()
                .and_then(|i| i.id.as_deref())
                .unwrap_or("")
        );
        change_text(&rc.change, &mut e);
        digests.push(digest(&e));
    }
    for (name, change) in &plan.output_changes {
        if matches!(Action::from_actions(&change.actions), Action::NoOp) {
            continue;
        }
        let mut e = format!("output {name} actions={:?} ", change.actions);
        change_text(change, &mut e);
        digests.push(digest(&e));
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

fn change_text(change: &RawChange, out: &mut String) {
    let values = change.values();
    for v in [
        &values.before,
        &values.after,
        &values.after_unknown,
        &values.before_sensitive,
        &values.after_sensitive,
    ] {
        canonical(v, out);
        out.push(' ');
    }
    let mut paths: Vec<String> = change
        .replace_paths
        .iter()
        .map(|p| Value::Array(p.clone()).to_string())
        .collect();
    paths.sort();
    out.push_str(&paths.join(","));
}

/// Canonical JSON: object keys sorted, whatever map type serde_json uses.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(x) = o.get(k) {
                    canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
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
