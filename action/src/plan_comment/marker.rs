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
    digests(plan, key).0
}

/// What kind of change a [`ChangeDigest`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// A resource change (`resource_changes`).
    Resource,
    /// A resource change Terraform deferred (`deferred_changes`).
    Deferred,
    /// A provider action to invoke (`action_invocations`).
    Action,
    /// A deferred action invocation.
    DeferredAction,
    /// A root module output (`output_changes`).
    Output,
}

impl ChangeKind {
    /// The one-letter code in the comment's change-digest block.
    pub fn code(self) -> char {
        match self {
            ChangeKind::Resource => 'r',
            ChangeKind::Deferred => 'd',
            ChangeKind::Action => 'a',
            ChangeKind::DeferredAction => 'x',
            ChangeKind::Output => 'o',
        }
    }

    fn from_code(c: &str) -> Option<ChangeKind> {
        Some(match c {
            "r" => ChangeKind::Resource,
            "d" => ChangeKind::Deferred,
            "a" => ChangeKind::Action,
            "x" => ChangeKind::DeferredAction,
            "o" => ChangeKind::Output,
            _ => return None,
        })
    }

    /// How a person reads it, in front of the address.
    pub fn noun(self) -> &'static str {
        match self {
            ChangeKind::Resource => "",
            ChangeKind::Deferred => "deferred ",
            ChangeKind::Action => "action ",
            ChangeKind::DeferredAction => "deferred action ",
            ChangeKind::Output => "output ",
        }
    }
}

/// The words an action is recorded with (never the plan's own strings).
const ACTION_WORDS: [&str; 11] = [
    "no-op",
    "create",
    "read",
    "update",
    "delete",
    "delete-create",
    "create-delete",
    "forget",
    "create-forget",
    "unknown",
    "invoke",
];

fn action_word(a: Action) -> &'static str {
    match a {
        Action::NoOp => "no-op",
        Action::Create => "create",
        Action::Read => "read",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::DeleteThenCreate => "delete-create",
        Action::CreateThenDelete => "create-delete",
        Action::Forget => "forget",
        Action::CreateThenForget => "create-forget",
        Action::Unknown => "unknown",
    }
}

/// One change of a plan as the reviewed comment records it: where, what
/// kind of action, and a digest of everything else (values included).
///
/// The digest is cut to 128 bits and derived from the same per-change
/// hash as [`plan_hash`], keyed the same way: with `plan-key` an HMAC, so
/// nobody without the key can make one or test a guess at a value with
/// it; without a key a SHA-256 over the change with its sensitive values
/// masked. Addresses and actions are what the comment shows anyway.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangeDigest {
    /// The address (`aws_s3_bucket.logs`, `module.x.y["k"]`), with
    /// ` (deposed KEY)` for a deposed object; an output's name.
    pub address: String,
    /// Resource, output, action, deferred.
    pub kind: ChangeKind,
    /// `create`, `update`, `delete-create`, … (see [`ACTION_WORDS`]).
    pub action: &'static str,
    /// 32 hex digits.
    pub digest: String,
}

/// The plan's digest ([`plan_hash`]) and each change's ([`ChangeDigest`]),
/// from one pass over the plan.
pub fn digests(plan: &RawPlan, key: Option<&Secret>) -> (String, Vec<ChangeDigest>) {
    let masked = key.is_none();
    let mut parts: Vec<([u8; 32], ChangeKind, String, &'static str)> = Vec::new();
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
        parts.push((
            h.finalize().into(),
            ChangeKind::Resource,
            resource_label(rc),
            action_word(action),
        ));
    }
    for d in &plan.deferred_changes {
        let mut h = Sha256::new();
        field(&mut h, b"deferred");
        field(&mut h, d.reason.as_bytes());
        resource_fields(&d.resource_change, &mut h);
        change_fields(&d.resource_change.change, masked, &mut h);
        parts.push((
            h.finalize().into(),
            ChangeKind::Deferred,
            resource_label(&d.resource_change),
            action_word(Action::from_actions(&d.resource_change.change.actions)),
        ));
    }
    for a in &plan.action_invocations {
        let mut h = Sha256::new();
        field(&mut h, b"action");
        action_fields(a, masked, &mut h);
        parts.push((
            h.finalize().into(),
            ChangeKind::Action,
            a.display_address(),
            "invoke",
        ));
    }
    for d in &plan.deferred_action_invocations {
        let mut h = Sha256::new();
        field(&mut h, b"deferred-action");
        field(&mut h, d.reason.as_bytes());
        action_fields(&d.action_invocation, masked, &mut h);
        parts.push((
            h.finalize().into(),
            ChangeKind::DeferredAction,
            d.action_invocation.display_address(),
            "invoke",
        ));
    }
    for (name, change) in &plan.output_changes {
        let action = Action::from_actions(&change.actions);
        if matches!(action, Action::NoOp) {
            continue;
        }
        let mut h = Sha256::new();
        field(&mut h, b"output");
        field(&mut h, name.as_bytes());
        change_fields(change, masked, &mut h);
        parts.push((
            h.finalize().into(),
            ChangeKind::Output,
            name.clone(),
            action_word(action),
        ));
    }
    let mut changes: Vec<ChangeDigest> = parts
        .iter()
        .map(|(d, kind, address, action)| ChangeDigest {
            address: address.clone(),
            kind: *kind,
            action,
            digest: change_digest(d, key),
        })
        .collect();
    changes.sort();
    let mut whole: Vec<[u8; 32]> = parts.into_iter().map(|p| p.0).collect();
    whole.sort_unstable();
    let hash = match key {
        Some(key) => {
            let mut mac = hmac(key);
            mac.update(b"ferry:plan-digest:v2\0");
            for d in &whole {
                mac.update(d);
            }
            format!("{KEYED_PREFIX}{}", hex(&mac.finalize().into_bytes()))
        }
        None => {
            let mut hasher = Sha256::new();
            for d in &whole {
                hasher.update(d);
            }
            format!("{UNKEYED_PREFIX}{}", hex(&hasher.finalize()))
        }
    };
    (hash, changes)
}

fn resource_label(rc: &RawResourceChange) -> String {
    match &rc.deposed {
        Some(k) => format!("{} (deposed {k})", rc.display_address()),
        None => rc.display_address(),
    }
}

/// One change's published digest: its hash keyed (or, without a key,
/// hashed again), cut to 128 bits.
fn change_digest(part: &[u8; 32], key: Option<&Secret>) -> String {
    let full: Vec<u8> = match key {
        Some(key) => {
            let mut mac = hmac(key);
            mac.update(b"ferry:plan-change:v1\0");
            mac.update(part);
            mac.finalize().into_bytes().to_vec()
        }
        None => {
            let mut h = Sha256::new();
            h.update(b"ferry:plan-change:v1\0");
            h.update(part);
            h.finalize().to_vec()
        }
    };
    hex(&full[..16])
}

/// The first line of the change-digest block.
const CHANGES_HEAD: &str = "<!-- ferry:plan-changes v1";
/// The block's last line.
const CHANGES_TAIL: &str = "-->";

/// The hidden block of change digests written under the metadata line:
/// one line per change, `<kind> <action> <digest> <shared> <rest>`, sorted
/// by address, each address written as the number of bytes it shares with
/// the one before and the rest, percent-encoded so that nothing in it can
/// end the HTML comment (no `--`, `<`, `>`, space or line break).
pub fn changes_block(changes: &[ChangeDigest]) -> String {
    let mut out = format!("{CHANGES_HEAD} n={}\n", changes.len());
    let mut previous = "";
    for c in changes {
        let shared = shared_prefix(previous, &c.address);
        let _ = writeln!(
            out,
            "{} {} {} {shared} {}",
            c.kind.code(),
            c.action,
            c.digest,
            encode_address(&c.address[shared..])
        );
        previous = &c.address;
    }
    out.push_str(CHANGES_TAIL);
    out
}

/// Bytes two addresses share at the start, on a character boundary.
fn shared_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or_else(|| a.len().min(b.len()), |((i, _), _)| i)
        .min(b.len())
}

fn encode_address(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = ' ';
    for b in s.bytes() {
        let plain =
            b.is_ascii_alphanumeric() || b"_.[]\"/:()".contains(&b) || (b == b'-' && last != '-');
        if plain {
            out.push(b as char);
            last = b as char;
        } else {
            let _ = write!(out, "%{b:02X}");
            last = 'X';
        }
    }
    out
}

fn decode_address(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let raw = s.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(bytes).ok()
}

/// The change-digest block right under the metadata line, as written.
fn block_in(body: &str) -> Option<&str> {
    let mut lines = body.split_inclusive('\n');
    let head = lines.next()?.len() + lines.next()?.len();
    let rest = &body[head..];
    if !rest.starts_with(CHANGES_HEAD) {
        return None;
    }
    let end = rest.find(&format!("\n{CHANGES_TAIL}"))? + 1 + CHANGES_TAIL.len();
    Some(&rest[..end])
}

/// The digest of a block, recorded (and signed) in the metadata line.
fn block_digest(block: &str) -> String {
    hex(&Sha256::digest(block.as_bytes()))
}

/// `body` with `block` right under its metadata line, replacing any block
/// already there.
pub fn with_changes(body: &str, block: &str) -> String {
    let head: String = body.split_inclusive('\n').take(2).collect();
    let mut rest = &body[head.len()..];
    if let Some(old) = block_in(body) {
        rest = &rest[old.len()..];
        rest = rest.strip_prefix('\n').unwrap_or(rest);
    }
    let sep = if head.ends_with('\n') { "" } else { "\n" };
    format!("{head}{sep}{block}\n{rest}")
}

/// The change digests a believed comment records: `Ok(None)` when it has
/// none (written by an older Ferry, or too many changes to record);
/// an error, saying what is wrong, when the block is missing, cut short,
/// altered or unreadable although the metadata says there is one.
pub fn changes_in(body: &str) -> Result<Option<Vec<ChangeDigest>>, String> {
    let Some(meta) = meta_in(body) else {
        return Err("it has no plan metadata line under the marker".into());
    };
    let Some(want) = meta.changes else {
        return Ok(None);
    };
    let block = block_in(body).ok_or("its change digests are missing or cut short")?;
    if block_digest(block) != want {
        return Err("its change digests do not match its metadata (altered or cut short)".into());
    }
    let mut lines = block.lines();
    let head = lines.next().unwrap_or_default();
    let count: usize = head
        .strip_prefix(CHANGES_HEAD)
        .and_then(|r| r.trim().strip_prefix("n="))
        .and_then(|n| n.parse().ok())
        .ok_or("its change digests have no count")?;
    let mut out: Vec<ChangeDigest> = Vec::new();
    let mut previous = String::new();
    for (i, line) in lines.enumerate() {
        if line == CHANGES_TAIL {
            break;
        }
        let bad = || format!("its change digest {} is unreadable", i + 1);
        let mut parts = line.splitn(5, ' ');
        let kind = parts
            .next()
            .and_then(ChangeKind::from_code)
            .ok_or_else(bad)?;
        let action = parts
            .next()
            .and_then(|a| ACTION_WORDS.iter().find(|w| **w == a))
            .ok_or_else(bad)?;
        let digest = parts
            .next()
            .filter(|d| d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(bad)?;
        let shared: usize = parts.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let rest = parts.next().and_then(decode_address).ok_or_else(bad)?;
        let prefix = previous.get(..shared).ok_or_else(bad)?;
        let address = format!("{prefix}{rest}");
        out.push(ChangeDigest {
            address: address.clone(),
            kind,
            action,
            digest: digest.to_string(),
        });
        previous = address;
    }
    if out.len() != count {
        return Err(format!(
            "its change digests are cut short ({} of {count})",
            out.len()
        ));
    }
    Ok(Some(out))
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

    fn digest(address: &str, kind: ChangeKind, action: &'static str, d: char) -> ChangeDigest {
        ChangeDigest {
            address: address.into(),
            kind,
            action,
            digest: d.to_string().repeat(32),
        }
    }

    #[test]
    fn the_change_digests_round_trip_whatever_the_addresses_hold() {
        let mut changes = vec![
            digest(
                "module.svc[\"a\"].aws_ecs_service.this",
                ChangeKind::Resource,
                "update",
                'a',
            ),
            digest(
                "module.svc[\"a\"].aws_iam_role.task",
                ChangeKind::Resource,
                "delete-create",
                'b',
            ),
            digest(
                "module.svc[\"b--> <x>\"].aws_iam_role.task",
                ChangeKind::Resource,
                "create",
                'c',
            ),
            digest(
                "aws_s3_bucket.x[\"é 100%\\n\u{202e}\"]",
                ChangeKind::Deferred,
                "create",
                'd',
            ),
            digest("url", ChangeKind::Output, "update", 'e'),
            digest(
                "action.aws_lambda_invoke.x",
                ChangeKind::Action,
                "invoke",
                'f',
            ),
            digest(
                "t.y (deposed 00abcdef)",
                ChangeKind::Resource,
                "delete",
                '0',
            ),
        ];
        changes.sort();
        let block = changes_block(&changes);
        // Nothing in it ends the HTML comment before its last line.
        assert_eq!(block.matches("--").count(), 2, "{block}");
        assert!(!block[4..].contains('<') && !block.contains("->\n") && block.ends_with("\n-->"));
        let body = stamp(
            &with_changes(
                "<!-- ferry:plan:staging -->\n<!-- ferry:plan-meta hash=h -->\n# Plan\n",
                &block,
            ),
            "sha256:h",
            5,
            None,
            "s",
        );
        assert_eq!(changes_in(&body), Ok(Some(changes.clone())));
        assert!(body.ends_with("-->\n# Plan\n"), "{body}");
        // Written again: one block, replaced.
        let again = with_changes(&body, &changes_block(&changes[..1]));
        assert_eq!(again.matches("ferry:plan-changes").count(), 1);
        // A comment without a block (an older Ferry): none, no error.
        let old =
            "<!-- ferry:plan:staging -->\n<!-- ferry:plan-meta hash=h written=5 -->\n# Plan\n";
        assert_eq!(changes_in(old), Ok(None));
    }

    #[test]
    fn a_missing_cut_or_forged_block_is_refused_saying_so() {
        let key = Secret::new("k");
        let scope = scope("o/r", 7, "<!-- ferry:plan:prod -->");
        let changes = vec![
            digest("a.x", ChangeKind::Resource, "update", '1'),
            digest("a.y", ChangeKind::Resource, "create", '2'),
        ];
        let body = stamp(
            &with_changes(
                "<!-- ferry:plan:prod -->\n<!-- ferry:plan-meta hash=h -->\nplan\n",
                &changes_block(&changes),
            ),
            "hmac-sha256:h",
            1_000,
            Some(&key),
            &scope,
        );
        assert!(untrusted_reason(&body, Some(1_000), Some(&key), &scope).is_ok());
        let line = |b: &str, n: usize| b.lines().nth(n).unwrap().to_string();
        let cases: Vec<(String, &str)> = vec![
            // The block gone, or cut after its first change.
            (
                body.replacen(&format!("{}\n", line(&body, 3)), "", 1),
                "do not match",
            ),
            (
                body.split("-->\nplan")
                    .next()
                    .unwrap()
                    .rsplit_once('\n')
                    .unwrap()
                    .0
                    .to_string(),
                "missing or cut short",
            ),
            (
                body.replacen(&changes_block(&changes), "", 1),
                "missing or cut short",
            ),
            // A digest changed.
            (
                body.replacen(&"2".repeat(32), &"3".repeat(32), 1),
                "do not match",
            ),
        ];
        for (bad, why) in &cases {
            let e = changes_in(bad).unwrap_err();
            assert!(e.contains(why), "{e} for {bad}");
            assert!(untrusted_reason(bad, Some(1_000), Some(&key), &scope).is_err());
        }
        // A block changed with its digest recomputed: the signature fails.
        let forged_block = changes_block(&changes[..1]);
        let forged = restamp(
            &with_changes(&body, &forged_block),
            &Meta {
                changes: Some(block_digest(&forged_block)),
                ..meta_in(&body).unwrap()
            },
        );
        assert!(changes_in(&forged).is_ok());
        let e = untrusted_reason(&forged, Some(1_000), Some(&key), &scope).unwrap_err();
        assert!(e.contains("not signed"), "{e}");
        // Unreadable lines, with a matching digest (no key): refused, no panic.
        for junk in [
            "q update 11111111111111111111111111111111 0 a",
            "r explode 11111111111111111111111111111111 0 a",
            "r update 11 0 a",
            "r update 11111111111111111111111111111111 99 a",
            "r update 11111111111111111111111111111111 0 %zz",
            "r update 11111111111111111111111111111111 0 %E9",
        ] {
            let block = format!("<!-- ferry:plan-changes v1 n=1\n{junk}\n-->");
            let b = stamp(
                &with_changes(
                    "<!-- ferry:plan:prod -->\n<!-- ferry:plan-meta hash=h -->\n",
                    &block,
                ),
                "sha256:h",
                1,
                None,
                "s",
            );
            let e = changes_in(&b).unwrap_err();
            assert!(e.contains("unreadable"), "{e} for {junk}");
        }
        let b = stamp(
            &with_changes(
                "<!-- ferry:plan:prod -->\n<!-- ferry:plan-meta hash=h -->\n",
                "<!-- ferry:plan-changes v1 n=2\n-->",
            ),
            "sha256:h",
            1,
            None,
            "s",
        );
        assert!(changes_in(&b).unwrap_err().contains("0 of 2"));
    }
}
