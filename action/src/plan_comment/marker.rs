//! The hidden marker that finds a comment again, and the plan hash that
//! `plan-verify` compares.
//!
//! The marker is the first line of the comment, so a reply that quotes the
//! comment (`> <!-- ferry:plan:... -->`) is never mistaken for it. The hash
//! covers the normalised planned changes only (addresses, actions, values,
//! masks), not timestamps or versions, so the same changes planned twice
//! hash the same.

use std::fmt::Write as _;

use hmac::Mac;

use super::changes::{block_digest, block_in};
use super::digest::{hex, hmac};
use super::error::PlanCommentError;
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
    /// The digest of the change-digest block under the metadata line
    /// ([`changes_block`]); `None` when the comment has none.
    pub changes: Option<String>,
    /// When Ferry wrote the comment, seconds since the epoch.
    pub written: Option<u64>,
    /// HMAC of the rest with the plan key (absent without a key).
    pub sig: Option<String>,
}

/// The hidden metadata line written under the marker.
pub fn metadata(meta: &Meta) -> String {
    let mut line = format!("{META_PREFIX}hash={}", meta.hash);
    if let Some(c) = &meta.changes {
        let _ = write!(line, " changes={c}");
    }
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
    stamped_with(hash, None, written, key, scope)
}

fn stamped_with(
    hash: &str,
    changes: Option<String>,
    written: u64,
    key: Option<&Secret>,
    scope: &str,
) -> Meta {
    Meta {
        hash: hash.to_string(),
        sig: key.map(|k| signature(k, scope, hash, changes.as_deref(), written)),
        changes,
        written: Some(written),
    }
}

/// `body` (a plan comment, with or without a change-digest block) with its
/// metadata line stamped now: the digest, the block's digest when the body
/// has a block, the write time, and the signature over them.
pub fn stamp(body: &str, hash: &str, written: u64, key: Option<&Secret>, scope: &str) -> String {
    let changes = block_in(body).map(block_digest);
    restamp(body, &stamped_with(hash, changes, written, key, scope))
}

/// The signature of a comment's metadata: HMAC-SHA256 with the plan key
/// over the comment's scope (repository, pull request, marker), digest,
/// change-digest block's digest (when there is a block) and write time, so
/// none can be changed or the line copied elsewhere.
pub fn signature(
    key: &Secret,
    scope: &str,
    hash: &str,
    changes: Option<&str>,
    written: u64,
) -> String {
    let mut mac = hmac(key);
    let written = written.to_string();
    let mut parts = vec![scope.as_bytes(), hash.as_bytes()];
    match changes {
        // Without a block: the first version's bytes, so older comments verify.
        None => mac.update(b"ferry:plan-meta:v1\0"),
        Some(c) => {
            mac.update(b"ferry:plan-meta:v2\0");
            parts.push(c.as_bytes());
        }
    }
    parts.push(written.as_bytes());
    for part in parts {
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
        changes: get("changes="),
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
            changes: None,
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
        let want = signature(key, scope, &meta.hash, meta.changes.as_deref(), written);
        if meta.sig.as_deref() != Some(want.as_str()) {
            return Err(
                "its metadata is not signed with this plan-key (edited, copied, or written with another key: run plan-comment again)".into(),
            );
        }
    }
    changes_in(body)?;
    match updated_at {
        Some(u) if u <= written.saturating_add(WRITE_TOLERANCE_SECS) => Ok(meta),
        Some(_) => Err(
            "it was edited after Ferry wrote it (its updated_at is later than Ferry's write)"
                .into(),
        ),
        None => Err("GitHub gave no updated_at for it".into()),
    }
}

pub use super::changes::{changes_block, changes_in, with_changes};
pub use super::digest::{
    ChangeDigest, ChangeKind, KEYED_PREFIX, UNKEYED_PREFIX, digests, has_sensitive, plan_hash,
};

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
            changes: None,
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
            changes: None,
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
