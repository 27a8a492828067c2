//! The Jsonnet files a task definition imports, transitively.
//!
//! A change to `lib/base.libsonnet` changes every task definition that
//! imports it, so `detect` must know the import graph. This is a small
//! lexer, not an evaluator: it skips comments and strings and reads
//! `import`, `importstr` and `importbin` followed by a string literal, which
//! is the only form Jsonnet allows (imports cannot be computed).

use std::collections::BTreeSet;

/// Import paths written in `text`, in order.
pub fn scan(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line(bytes, i),
            b'#' => i = skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |e| i + 2 + e + 2);
            }
            b'"' | b'\'' => i = string_literal(text, i).map_or(bytes.len(), |(_, end)| end),
            b'|' if text[i..].starts_with("|||") => {
                i = text[i + 3..]
                    .find("|||")
                    .map_or(bytes.len(), |e| i + 3 + e + 3);
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                if matches!(&text[start..i], "import" | "importstr" | "importbin") {
                    let mut j = i;
                    while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if let Some((path, end)) = string_literal(text, j) {
                        out.push(path);
                        i = end;
                    }
                }
            }
            _ => i += 1,
        }
    }
    out
}

fn skip_line(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| i + p + 1)
}

/// A string literal starting at `i` (`"..."`, `'...'`, `@"..."`, `@'...'`):
/// its value and the index after it.
fn string_literal(text: &str, i: usize) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    let (verbatim, q) = match bytes.get(i)? {
        b'@' => (true, *bytes.get(i + 1)?),
        q => (false, *q),
    };
    if q != b'"' && q != b'\'' {
        return None;
    }
    let mut j = i + if verbatim { 2 } else { 1 };
    let mut value = String::new();
    while j < bytes.len() {
        let b = bytes[j];
        if b == q {
            if verbatim && bytes.get(j + 1) == Some(&q) {
                value.push(q as char);
                j += 2;
                continue;
            }
            return Some((value, j + 1));
        }
        if b == b'\\'
            && !verbatim
            && let Some(&next) = bytes.get(j + 1)
        {
            value.push(match next {
                b'n' => '\n',
                b't' => '\t',
                other => other as char,
            });
            j += 2;
            continue;
        }
        let ch = text[j..].chars().next()?;
        value.push(ch);
        j += ch.len_utf8();
    }
    None
}

/// Normalises `a/./b/../c` to `a/c`; None when it climbs above the root.
fn normalise(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn dir_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// Every file `entry` imports, directly or not, that exists (`read` finds it). Paths resolve as Jsonnet resolves them: relative to the
/// importing file's folder first, then each library folder in `jpath`.
pub fn closure(entry: &str, read: &dyn Fn(&str) -> Option<String>, jpath: &[&str]) -> Vec<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut stack = vec![entry.to_string()];
    let mut out = Vec::new();
    while let Some(file) = stack.pop() {
        let Some(text) = read(&file) else { continue };
        for import in scan(&text) {
            let mut candidates = vec![format!("{}/{import}", dir_of(&file))];
            candidates.extend(jpath.iter().map(|lib| format!("{lib}/{import}")));
            for candidate in candidates {
                let Some(path) = normalise(&candidate) else {
                    continue;
                };
                if path == entry || seen.contains(&path) {
                    break;
                }
                if read(&path).is_some() {
                    seen.insert(path.clone());
                    out.push(path.clone());
                    // importstr/importbin targets are data, not Jsonnet to follow.
                    if path.ends_with("sonnet") {
                        stack.push(path);
                    }
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn scans_every_import_form_and_skips_comments_and_strings() {
        let text = r#"
local base = import 'lib/base.libsonnet';  // import "commented.libsonnet"
# import "hash-comment.libsonnet"
/* import "block.libsonnet" */
local s = "import \"in-a-string.libsonnet\"";
local cfg = importstr "config/app.json";
local bin = importbin @"data\raw.bin";
local t = |||
  import "in-a-text-block.libsonnet"
|||;
local x = import"tight.libsonnet";
{ important: 1 }
"#;
        assert_eq!(
            scan(text),
            [
                "lib/base.libsonnet",
                "config/app.json",
                r"data\raw.bin",
                "tight.libsonnet"
            ]
        );
    }

    #[test]
    fn closure_resolves_relative_then_library_paths() {
        let files: HashMap<&str, &str> = HashMap::from([
            (
                "task-definitions/api.jsonnet",
                "local b = import 'lib/base.libsonnet'; local e = import '../shared/env.libsonnet'; b",
            ),
            (
                "task-definitions/lib/base.libsonnet",
                "import 'sizes.libsonnet' + import 'lib/missing.libsonnet'",
            ),
            (
                "task-definitions/lib/sizes.libsonnet",
                "import '../api.jsonnet'",
            ),
            ("shared/env.libsonnet", "{}"),
        ]);
        let read = |p: &str| files.get(p).map(|s| s.to_string());
        let mut found = closure("task-definitions/api.jsonnet", &read, &["task-definitions"]);
        found.sort();
        assert_eq!(
            found,
            [
                "shared/env.libsonnet",
                "task-definitions/lib/base.libsonnet",
                "task-definitions/lib/sizes.libsonnet"
            ]
        );
    }
}
