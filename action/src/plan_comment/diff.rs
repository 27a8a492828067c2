//! Attribute-level diffs of one change, with Terraform's unknown and
//! sensitive masks applied.
//!
//! A change is walked as three parallel trees: the value, its
//! `after_unknown` mask and its `before_sensitive`/`after_sensitive` masks.
//! A mask is either `true` for a whole subtree or an object/array mirroring
//! the value. Sensitive leaves are never turned into text: they become
//! `(sensitive value)` before anything else sees them.

use serde::Serialize;
use serde_json::Value;

use super::model::RawChange;

/// Text shown instead of a sensitive value.
pub const SENSITIVE: &str = "(sensitive value)";
/// Text shown for a value known only after apply.
pub const UNKNOWN: &str = "(known after apply)";
/// Longest value text kept in a diff line.
const MAX_VALUE_CHARS: usize = 300;

/// One changed leaf (or whole subtree) of a resource's attributes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttrChange {
    /// `+` added, `-` removed, `~` changed.
    pub symbol: &'static str,
    /// Path such as `tags.env`, `rule[0].port` or `labels["a b"]`.
    pub path: String,
    /// Rendered old value, when there was one.
    pub before: Option<String>,
    /// Rendered new value, when there is one.
    pub after: Option<String>,
    /// This attribute is one of the change's `replace_paths`.
    pub forces_replacement: bool,
}

/// The three masks of one side of a change at one position.
#[derive(Clone, Copy)]
struct Side<'a> {
    value: Option<&'a Value>,
    sensitive: &'a Value,
    unknown: &'a Value,
}

impl<'a> Side<'a> {
    fn child(&self, key: &Key) -> Side<'a> {
        Side {
            value: self.value.and_then(|v| key.get(v)),
            sensitive: mask_child(self.sensitive, key),
            unknown: mask_child(self.unknown, key),
        }
    }

    fn is_sensitive(&self) -> bool {
        matches!(mask_of(self.sensitive, self.value), Mask::Whole)
    }

    fn is_unknown(&self) -> bool {
        self.unknown == &Value::Bool(true)
    }

    /// Renders this side as a leaf, or `None` when absent.
    fn render(&self) -> Option<String> {
        if self.is_sensitive() {
            return Some(SENSITIVE.to_string());
        }
        if self.is_unknown() {
            return Some(UNKNOWN.to_string());
        }
        match self.value {
            None | Some(Value::Null) => None,
            Some(v) if contains_mask(self.sensitive) => Some(render_masked(v, self.sensitive)),
            Some(v) => Some(render_value(v)),
        }
    }
}

static FALSE: Value = Value::Bool(false);

fn mask_child<'a>(mask: &'a Value, key: &Key) -> &'a Value {
    match mask {
        Value::Bool(true) => mask,
        _ => key.get(mask).unwrap_or(&FALSE),
    }
}

/// Whether a mask marks anything at all. A mask leaf that is neither a
/// boolean nor null means nothing Ferry knows: it counts as a mark.
fn contains_mask(mask: &Value) -> bool {
    match mask {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::Array(a) => a.iter().any(contains_mask),
        Value::Object(o) => o.values().any(contains_mask),
        Value::String(_) | Value::Number(_) => true,
    }
}

/// How a sensitivity mask applies to a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mask<'a> {
    /// Nothing in the value is sensitive.
    Clear,
    /// The whole value is sensitive.
    Whole,
    /// Some parts are: the mask mirrors the value (an object for an
    /// object, an array as long as the array).
    Parts(&'a Value),
}

/// The one place that decides how a sensitivity mask applies, for the
/// diff and for the redactor alike. A mask that marks something but does
/// not have the value's shape (a list for a map, an object for a string,
/// an array of another length) cannot say which part is secret: the whole
/// value is (fail closed).
pub fn mask_of<'a>(mask: &'a Value, value: Option<&Value>) -> Mask<'a> {
    if !contains_mask(mask) {
        return Mask::Clear;
    }
    match (mask, value) {
        (Value::Object(_), None | Some(Value::Null) | Some(Value::Object(_))) => Mask::Parts(mask),
        (Value::Array(_), None | Some(Value::Null)) => Mask::Parts(mask),
        (Value::Array(m), Some(Value::Array(a))) if m.len() == a.len() => Mask::Parts(mask),
        _ => Mask::Whole,
    }
}

enum Key {
    Field(String),
    Index(usize),
}

impl Key {
    fn get<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        match (self, v) {
            (Key::Field(k), Value::Object(o)) => o.get(k),
            (Key::Index(i), Value::Array(a)) => a.get(*i),
            _ => None,
        }
    }

    fn push_to(&self, path: &str) -> String {
        match self {
            Key::Index(i) => format!("{path}[{i}]"),
            Key::Field(k) if is_identifier(k) && !path.is_empty() => format!("{path}.{k}"),
            Key::Field(k) if is_identifier(k) => k.clone(),
            Key::Field(k) => format!("{path}[{}]", quote(k)),
        }
    }
}

fn is_identifier(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Computes the changed attributes of `change`, most specific paths first.
///
/// `relevant` restricts the result to paths related to one of the given
/// paths (drift filtering); `None` keeps everything.
pub fn attribute_changes(change: &RawChange, relevant: Option<&[String]>) -> Vec<AttrChange> {
    let values = change.values();
    let before = Side {
        value: Some(&values.before),
        sensitive: &values.before_sensitive,
        unknown: &FALSE,
    };
    let after = Side {
        value: Some(&values.after),
        sensitive: &values.after_sensitive,
        unknown: &values.after_unknown,
    };
    let replace: Vec<String> = change.replace_paths.iter().map(|p| path_text(p)).collect();
    let mut out = Vec::new();
    walk(before, after, String::new(), &mut out);
    for c in &mut out {
        c.forces_replacement = replace.iter().any(|r| related(r, &c.path));
    }
    if let Some(relevant) = relevant {
        out.retain(|c| relevant.iter().any(|r| related(r, &c.path)));
    }
    out
}

/// `a` is a prefix path of `b` or the other way round.
fn related(a: &str, b: &str) -> bool {
    let prefix = |p: &str, q: &str| {
        q.starts_with(p) && (q.len() == p.len() || matches!(q.as_bytes()[p.len()], b'.' | b'['))
    };
    a.is_empty() || prefix(a, b) || prefix(b, a)
}

/// Renders a JSON path (`["rule", 0, "port"]`) the way diff lines show it.
pub fn path_text(path: &[Value]) -> String {
    path.iter().fold(String::new(), |acc, step| match step {
        Value::Number(n) => Key::Index(n.as_u64().unwrap_or(0) as usize).push_to(&acc),
        Value::String(s) => Key::Field(s.clone()).push_to(&acc),
        other => Key::Field(other.to_string()).push_to(&acc),
    })
}

fn walk(before: Side, after: Side, path: String, out: &mut Vec<AttrChange>) {
    let (b, a) = (before.value, after.value);
    let leaf = |out: &mut Vec<AttrChange>| {
        let (bt, at) = (before.render(), after.render());
        let sensitive = before.is_sensitive() || after.is_sensitive();
        let unchanged = bt == at && (!sensitive || before.value == after.value);
        if unchanged || (bt.is_none() && at.is_none()) {
            return;
        }
        let symbol = match (&bt, &at) {
            (None, Some(_)) => "+",
            (Some(_), None) => "-",
            _ => "~",
        };
        out.push(AttrChange {
            symbol,
            path: path.clone(),
            before: bt,
            after: at,
            forces_replacement: false,
        });
    };
    if before.is_sensitive() || after.is_sensitive() || after.is_unknown() {
        return leaf(out);
    }
    match (b, a) {
        (Some(Value::Object(bo)), Some(Value::Object(ao))) => {
            let unknown_keys = after.unknown.as_object().into_iter().flat_map(|o| o.keys());
            let mut keys: Vec<&String> = bo.keys().chain(ao.keys()).chain(unknown_keys).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let key = Key::Field(k.clone());
                walk(
                    before.child(&key),
                    after.child(&key),
                    key.push_to(&path),
                    out,
                );
            }
        }
        (Some(Value::Object(_)), None | Some(Value::Null))
        | (None | Some(Value::Null), Some(Value::Object(_)))
            if !path.is_empty() =>
        {
            leaf(out)
        }
        (Some(Value::Object(_)), None | Some(Value::Null))
        | (None | Some(Value::Null), Some(Value::Object(_)))
            if path.is_empty() =>
        {
            // Create or delete of the whole resource: walk against an empty
            // object. (An object against anything else is a leaf below: walking
            // it again against itself never ended.)
            let empty = Value::Object(serde_json::Map::new());
            let (bv, av) = (non_null(before.value), non_null(after.value));
            let b2 = Side {
                value: Some(bv.unwrap_or(&empty)),
                ..before
            };
            let a2 = Side {
                value: Some(av.unwrap_or(&empty)),
                ..after
            };
            walk(b2, a2, path, out)
        }
        (Some(Value::Array(ba)), Some(Value::Array(aa)))
            if is_object_list(ba) || is_object_list(aa) =>
        {
            for i in 0..ba.len().max(aa.len()) {
                let key = Key::Index(i);
                walk(
                    before.child(&key),
                    after.child(&key),
                    key.push_to(&path),
                    out,
                );
            }
        }
        (Some(Value::Array(ba)), Some(Value::Array(aa)))
            if !contains_mask(before.sensitive)
                && !contains_mask(after.sensitive)
                && !contains_mask(after.unknown) =>
        {
            // Lists and sets of scalars: show what left and what came.
            for v in ba.iter().filter(|v| !aa.contains(v)) {
                out.push(element(&path, "-", Some(render_value(v)), None));
            }
            for v in aa.iter().filter(|v| !ba.contains(v)) {
                out.push(element(&path, "+", None, Some(render_value(v))));
            }
        }
        _ => leaf(out),
    }
}

fn element(
    path: &str,
    symbol: &'static str,
    before: Option<String>,
    after: Option<String>,
) -> AttrChange {
    AttrChange {
        symbol,
        path: format!("{path}[*]"),
        before,
        after,
        forces_replacement: false,
    }
}

fn non_null(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn is_object_list(a: &[Value]) -> bool {
    a.iter().any(|v| v.is_object() || v.is_array())
}

/// Renders a value with the parts its sensitivity mask marks replaced.
pub fn render_masked(v: &Value, mask: &Value) -> String {
    render_value(&masked(v, mask))
}

/// A value with the parts its sensitivity mask marks (keys and all, for a
/// map marked as a whole) replaced by `(sensitive)`: what may be shown or
/// hashed in the open.
pub fn masked(v: &Value, mask: &Value) -> Value {
    match mask_of(mask, Some(v)) {
        Mask::Whole => return Value::String(SENSITIVE.to_string()),
        Mask::Clear => return v.clone(),
        Mask::Parts(_) => {}
    }
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    (
                        k.clone(),
                        masked(x, mask_child(mask, &Key::Field(k.clone()))),
                    )
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| masked(x, mask_child(mask, &Key::Index(i))))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether a change's sensitivity masks mark anything (a mask that cannot
/// be read marks everything).
pub fn change_has_sensitive(change: &super::model::RawChange) -> bool {
    let marks = |m: &Option<Box<serde_json::value::RawValue>>| {
        m.as_ref().is_some_and(|r| {
            serde_json::from_str::<Value>(r.get()).map_or(true, |v| contains_mask(&v))
        })
    };
    marks(&change.before_sensitive) || marks(&change.after_sensitive)
}

/// Renders a non-sensitive value in HCL-like form, cut to a readable length.
pub fn render_value(v: &Value) -> String {
    let text = match v {
        Value::String(s) => quote(s),
        other => other.to_string(),
    };
    let count = text.chars().count();
    if count > MAX_VALUE_CHARS {
        let cut: String = text.chars().take(MAX_VALUE_CHARS).collect();
        format!("{cut}… ({count} characters)")
    } else {
        text
    }
}

/// Quotes a string, escaping newlines so each diff line stays one line.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}
