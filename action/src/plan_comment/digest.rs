//! The plan's digests: the whole plan's ([`plan_hash`]), which `plan-verify`
//! compares, and each change's ([`ChangeDigest`]), which a refusal names
//! differences with; keyed by `plan-key`, or masked without one.

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::counts::Action;
use super::diff::{Mask, change_has_sensitive, mask_of, masked as masked_value};
use super::model::{RawActionInvocation, RawChange, RawPlan, RawResourceChange};
use crate::gha::Secret;

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

    pub(super) fn from_code(c: &str) -> Option<ChangeKind> {
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
pub(super) const ACTION_WORDS: [&str; 11] = [
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
    let parts = parts(plan, key.is_none());
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
    (plan_digest(&whole, key), changes)
}

/// One change hashed: its full hash, kind, address and action word.
type Part = ([u8; 32], ChangeKind, String, &'static str);

/// Every change of the plan hashed on its own (values masked when
/// `masked`), in the plan's order.
fn parts(plan: &RawPlan, masked: bool) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
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
    parts
}

/// The whole plan's digest from its changes' sorted hashes.
fn plan_digest(whole: &[[u8; 32]], key: Option<&Secret>) -> String {
    match key {
        Some(key) => {
            let mut mac = hmac(key);
            mac.update(b"ferry:plan-digest:v2\0");
            for d in whole {
                mac.update(d);
            }
            format!("{KEYED_PREFIX}{}", hex(&mac.finalize().into_bytes()))
        }
        None => {
            let mut hasher = Sha256::new();
            for d in whole {
                hasher.update(d);
            }
            format!("{UNKEYED_PREFIX}{}", hex(&hasher.finalize()))
        }
    }
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

pub(super) fn hmac(key: &Secret) -> Hmac<Sha256> {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    <Hmac<Sha256> as Mac>::new_from_slice(key.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"))
}

pub(super) fn hex(bytes: &[u8]) -> String {
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
