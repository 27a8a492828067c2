//! The hidden marker that finds a comment again, and the plan hash that
//! `plan-verify` compares.
//!
//! The marker is the first line of the comment, so a reply that quotes the
//! comment (`> <!-- ferry:plan:... -->`) is never mistaken for it. The hash
//! covers the normalised planned changes only (addresses, actions, values,
//! masks), not timestamps or versions, so the same changes planned twice
//! hash the same.

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::counts::Action;
use super::diff::{Mask, change_has_sensitive, mask_of, masked as masked_value};
use super::error::PlanCommentError;
use super::model::{RawActionInvocation, RawChange, RawPlan, RawResourceChange};
use crate::gha::Secret;

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

/// How long after Ferry's own write time a comment's `updated_at` may be:
/// the request's retries and the clocks' difference. A later `updated_at`
/// means someone edited the comment after Ferry wrote it.
pub const WRITE_TOLERANCE_SECS: u64 = 300;

/// What Ferry records in a plan comment's hidden metadata line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The plan's digest ([`plan_hash`]).
    pub hash: String,
    /// When Ferry wrote the comment, seconds since the epoch.
    pub written: Option<u64>,
    /// HMAC of the rest with the plan key (absent without a key).
    pub sig: Option<String>,
}

/// The hidden metadata line written under the marker.
pub fn metadata(meta: &Meta) -> String {
    let mut line = format!("{META_PREFIX}hash={}", meta.hash);
    if let Some(w) = meta.written {
        let _ = write!(line, " written={w}");
    }
    if let Some(sig) = &meta.sig {
        let _ = write!(line, " sig={sig}");
    }
    line.push_str(" -->");
    line
}

/// The metadata of a comment Ferry writes now: the digest, the time, and
/// (with a key) the signature binding them to this marker and pull request.
pub fn stamped(hash: &str, written: u64, key: Option<&Secret>, scope: &str) -> Meta {
    Meta {
        hash: hash.to_string(),
        written: Some(written),
        sig: key.map(|k| signature(k, scope, hash, written)),
    }
}

/// The signature of a comment's metadata: HMAC-SHA256 with the plan key
/// over the comment's scope (repository, pull request, marker), digest and
/// write time, so none can be changed or the line copied elsewhere.
pub fn signature(key: &Secret, scope: &str, hash: &str, written: u64) -> String {
    let mut mac = hmac(key);
    mac.update(b"ferry:plan-meta:v1\0");
    for part in [
        scope.as_bytes(),
        hash.as_bytes(),
        written.to_string().as_bytes(),
    ] {
        mac.update(&(part.len() as u64).to_le_bytes());
        mac.update(part);
    }
    hex(&mac.finalize().into_bytes())
}

/// The scope a signature binds to: repository, pull request and marker.
pub fn scope(repo: &str, pr: u64, marker: &str) -> String {
    format!("{repo}#{pr} {marker}")
}

/// Reads the metadata back from a comment body: only from the line right
/// after the marker (Ferry writes it there), so text further down (a
/// resource address in a code span) cannot pass for it.
pub fn meta_in(body: &str) -> Option<Meta> {
    let mut lines = body.trim_start().lines();
    lines.next()?;
    let rest = lines.next()?.trim().strip_prefix(META_PREFIX)?;
    let end = rest.find(" -->")?;
    let get = |k: &str| {
        rest[..end]
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(k))
            .map(str::to_string)
    };
    Some(Meta {
        hash: get("hash=")?,
        written: get("written=").and_then(|w| w.parse().ok()),
        sig: get("sig="),
    })
}

/// The plan digest from a comment body (see [`meta_in`]).
pub fn hash_in(body: &str) -> Option<String> {
    meta_in(body).map(|m| m.hash)
}

/// `body` with its metadata line (the one after the marker) replaced by
/// `meta`: the comment is rendered once, and stamped when it is written.
pub fn restamp(body: &str, meta: &Meta) -> String {
    let mut out = String::with_capacity(body.len() + 100);
    let mut replaced = false;
    for (i, line) in body.split_inclusive('\n').enumerate() {
        if i == 1 && !replaced && line.trim_start().starts_with(META_PREFIX) {
            out.push_str(&metadata(meta));
            if line.ends_with('\n') {
                out.push('\n');
            }
            replaced = true;
        } else {
            out.push_str(line);
        }
    }
    out
}

/// `body` without its metadata line, to compare two renderings.
pub fn without_meta(body: &str) -> String {
    restamp(
        body,
        &Meta {
            hash: String::new(),
            written: None,
            sig: None,
        },
    )
}

/// Why a marked comment by a trusted author still cannot be believed.
pub fn untrusted_reason(
    body: &str,
    updated_at: Option<u64>,
    key: Option<&Secret>,
    scope: &str,
) -> Result<Meta, String> {
    let meta = meta_in(body).ok_or("it has no plan metadata line under the marker")?;
    let written = meta.written.ok_or(
        "its metadata has no write time (written by an older Ferry: run plan-comment again)",
    )?;
    if let Some(key) = key {
        let want = signature(key, scope, &meta.hash, written);
        if meta.sig.as_deref() != Some(want.as_str()) {
            return Err(
                "its metadata is not signed with this plan-key (edited, copied, or written with another key: run plan-comment again)".into(),
            );
        }
    }
    match updated_at {
        Some(u) if u <= written.saturating_add(WRITE_TOLERANCE_SECS) => Ok(meta),
        Some(_) => Err(
            "it was edited after Ferry wrote it (its updated_at is later than Ferry's write)"
                .into(),
        ),
        None => Err("GitHub gave no updated_at for it".into()),
    }
}

/// The digest of the planned changes: everything the apply will do.
///
/// - With a key (the `plan-key` repository secret): `hmac-sha256:<hex>`,
///   HMAC-SHA256 over every byte of every change, sensitive values
///   included. Without the key no guess at a value can be tested against
///   it, however short the secret.
/// - Without a key: `sha256:<hex>` over the changes with every value marked
///   sensitive masked (keys and all, for a map marked as a whole), so the
///   published digest holds nothing secret to guess at. Two plans that
///   differ only in a sensitive value then share it, so `plan-verify`
///   refuses to verify a plan with sensitive values without a key.
///
/// Every byte of every other change counts: the value trees are hashed as
/// they are written (JSON whitespace outside strings aside), never through
/// a parsed form that could lose a deep value or a big number's digits.
/// Each field is length-prefixed, so no value can pass for another field.
/// Each change is hashed on its own and the sorted digests are hashed
/// together: the result does not depend on the order of the plan, and no
/// more than one change is held at a time.
pub fn plan_hash(plan: &RawPlan, key: Option<&Secret>) -> String {
    let masked = key.is_none();
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
        resource_fields(rc, &mut h);
        change_fields(&rc.change, masked, &mut h);
        digests.push(h.finalize().into());
    }
    for d in &plan.deferred_changes {
        let mut h = Sha256::new();
        field(&mut h, b"deferred");
        field(&mut h, d.reason.as_bytes());
        resource_fields(&d.resource_change, &mut h);
        change_fields(&d.resource_change.change, masked, &mut h);
        digests.push(h.finalize().into());
    }
    for a in &plan.action_invocations {
        let mut h = Sha256::new();
        field(&mut h, b"action");
        action_fields(a, masked, &mut h);
        digests.push(h.finalize().into());
    }
    for d in &plan.deferred_action_invocations {
        let mut h = Sha256::new();
        field(&mut h, b"deferred-action");
        field(&mut h, d.reason.as_bytes());
        action_fields(&d.action_invocation, masked, &mut h);
        digests.push(h.finalize().into());
    }
    for (name, change) in &plan.output_changes {
        if matches!(Action::from_actions(&change.actions), Action::NoOp) {
            continue;
        }
        let mut h = Sha256::new();
        field(&mut h, b"output");
        field(&mut h, name.as_bytes());
        change_fields(change, masked, &mut h);
        digests.push(h.finalize().into());
    }
    digests.sort_unstable();
    match key {
        Some(key) => {
            let mut mac = hmac(key);
            mac.update(b"ferry:plan-digest:v2\0");
            for d in &digests {
                mac.update(d);
            }
            format!("{KEYED_PREFIX}{}", hex(&mac.finalize().into_bytes()))
        }
        None => {
            let mut hasher = Sha256::new();
            for d in &digests {
                hasher.update(d);
            }
            format!("{UNKEYED_PREFIX}{}", hex(&hasher.finalize()))
        }
    }
}

/// The prefix of a keyed digest.
pub const KEYED_PREFIX: &str = "hmac-sha256:";
/// The prefix of an unkeyed (masked) digest.
pub const UNKEYED_PREFIX: &str = "sha256:";

/// Whether anything in the plan is marked sensitive (a change's masks, an
/// action's configuration) or comes from a sensitive variable: what an
/// unkeyed digest cannot tell apart.
pub fn has_sensitive(plan: &RawPlan) -> bool {
    let sensitive_var = plan.configuration.as_ref().is_some_and(|c| {
        c.root_module
            .variables
            .iter()
            .any(|(name, v)| v.sensitive && plan.variables.contains_key(name))
    });
    sensitive_var
        || plan.all_changes().any(|(_, c)| change_has_sensitive(c))
        || plan
            .action_invocations
            .iter()
            .chain(
                plan.deferred_action_invocations
                    .iter()
                    .map(|d| &d.action_invocation),
            )
            .any(|a| raw_marks(a.config_sensitive.as_deref()))
}

fn raw_marks(raw: Option<&RawValue>) -> bool {
    raw.is_some_and(|r| {
        serde_json::from_str::<Value>(r.get()).map_or(true, |v| mask_of(&v, None) != Mask::Clear)
    })
}

fn hmac(key: &Secret) -> Hmac<Sha256> {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    <Hmac<Sha256> as Mac>::new_from_slice(key.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn resource_fields(rc: &RawResourceChange, h: &mut Sha256) {
    field(h, rc.display_address().as_bytes());
    field(h, rc.deposed.as_deref().unwrap_or("").as_bytes());
    field(h, rc.previous_address.as_deref().unwrap_or("").as_bytes());
    field(
        h,
        rc.change
            .importing
            .as_ref()
            .map(|i| format!("import:{}", i.id.as_deref().unwrap_or("")))
            .unwrap_or_default()
            .as_bytes(),
    );
}

fn action_fields(a: &RawActionInvocation, masked: bool, h: &mut Sha256) {
    field(h, a.display_address().as_bytes());
    field(h, a.provider_name.as_deref().unwrap_or("").as_bytes());
    let mut buf = Vec::new();
    let mask_config = masked && raw_marks(a.config_sensitive.as_deref());
    for (name, raw) in [
        ("config_values", a.config_values.as_deref()),
        ("config_sensitive", a.config_sensitive.as_deref()),
        ("config_unknown", a.config_unknown.as_deref()),
        (
            "lifecycle_action_trigger",
            a.lifecycle_action_trigger.as_deref(),
        ),
        ("invoke_action_trigger", a.invoke_action_trigger.as_deref()),
    ] {
        buf.clear();
        match raw {
            Some(raw) if mask_config && name == "config_values" => {
                let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
                let mask: Value = a
                    .config_sensitive
                    .as_deref()
                    .and_then(|m| serde_json::from_str(m.get()).ok())
                    .unwrap_or(Value::Bool(true));
                buf.extend(masked_value(&value, &mask).to_string().into_bytes());
            }
            Some(raw) => minify(raw.get(), &mut buf),
            None => {}
        }
        field(h, name.as_bytes());
        field(h, &buf);
    }
}

/// One length-prefixed field.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

fn change_fields(change: &RawChange, masked: bool, h: &mut Sha256) {
    field(h, &(change.actions.len() as u64).to_le_bytes());
    for a in &change.actions {
        field(h, a.as_bytes());
    }
    // Unkeyed, a change with sensitive parts is hashed as shown: masked.
    let masked = masked && change_has_sensitive(change);
    let values = masked.then(|| change.values());
    let mut buf = Vec::new();
    for (name, raw) in change.raw_fields() {
        buf.clear();
        match (&values, name) {
            (Some(v), "before") => buf.extend(
                masked_value(&v.before, &v.before_sensitive)
                    .to_string()
                    .into_bytes(),
            ),
            (Some(v), "after") => buf.extend(
                masked_value(&v.after, &v.after_sensitive)
                    .to_string()
                    .into_bytes(),
            ),
            _ => {
                if let Some(raw) = raw {
                    minify(raw.get(), &mut buf);
                }
            }
        }
        field(h, name.as_bytes());
        field(h, &buf);
    }
    // A replace path into a sensitive map would name its keys: masked, only
    // the attribute it starts at counts.
    let mut paths: Vec<String> = change
        .replace_paths
        .iter()
        .map(|p| {
            let p = if masked { &p[..p.len().min(1)] } else { &p[..] };
            Value::Array(p.to_vec()).to_string()
        })
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
        let meta = Meta {
            hash: "sha256:abc".into(),
            written: Some(7),
            sig: Some("ff".into()),
        };
        let body = format!("{m}\n{}\nhello", metadata(&meta));
        assert!(is_marked(&body, &m));
        assert!(!is_marked(&format!("> {m}"), &m));
        assert!(!is_marked(&body, "<!-- ferry:plan:staging -->"));
        assert_eq!(hash_in(&body).as_deref(), Some("sha256:abc"));
        assert_eq!(meta_in(&body), Some(meta));
        let other = stamped("hmac-sha256:00", 9, None, "s");
        let again = restamp(&body, &other);
        assert_eq!(meta_in(&again), Some(other));
        assert_eq!(without_meta(&again), without_meta(&body));
        assert!(again.ends_with("\nhello"));
    }

    #[test]
    fn a_comment_is_believed_only_unedited_since_ferrys_signed_write() {
        let key = Secret::new("k3y-for-tests");
        let scope = scope("o/r", 7, "<!-- ferry:plan:prod -->");
        let body = |meta: &Meta| format!("<!-- ferry:plan:prod -->\n{}\nbody", metadata(meta));
        let meta = stamped("hmac-sha256:ab", 1_000, Some(&key), &scope);
        let ok = body(&meta);
        assert_eq!(
            untrusted_reason(&ok, Some(1_000 + WRITE_TOLERANCE_SECS), Some(&key), &scope),
            Ok(meta.clone())
        );
        let late = untrusted_reason(&ok, Some(1_001 + WRITE_TOLERANCE_SECS), Some(&key), &scope);
        assert!(late.unwrap_err().contains("edited after Ferry wrote it"));
        assert!(untrusted_reason(&ok, None, Some(&key), &scope).is_err());
        // Another key, another pull request, a changed digest or time: unsigned.
        for (k, s, m) in [
            (Secret::new("other"), scope.clone(), meta.clone()),
            (
                key.clone(),
                super::scope("o/r", 8, "<!-- ferry:plan:prod -->"),
                meta.clone(),
            ),
            (
                key.clone(),
                scope.clone(),
                Meta {
                    hash: "hmac-sha256:cd".into(),
                    ..meta.clone()
                },
            ),
            (
                key.clone(),
                scope.clone(),
                Meta {
                    written: Some(9_999),
                    ..meta.clone()
                },
            ),
        ] {
            let e = untrusted_reason(&body(&m), Some(1_000), Some(&k), &s).unwrap_err();
            assert!(e.contains("not signed"), "{e}");
        }
        let unstamped = body(&Meta {
            hash: "sha256:ab".into(),
            written: None,
            sig: None,
        });
        assert!(
            untrusted_reason(&unstamped, Some(1), None, &scope)
                .unwrap_err()
                .contains("no write time")
        );
        assert!(untrusted_reason("<!-- ferry:plan:prod -->\nhi", Some(1), None, &scope).is_err());
    }
}
