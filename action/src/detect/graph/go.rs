//! `go.mod` and `go.work`, read as text: the module path, its requirements
//! with their versions, its `replace` directives to local folders, and a
//! workspace's `use` folders. No `go` command runs.

use std::collections::BTreeMap;

/// One directive: its verb (`require`, `replace`, ...) and its words.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Directive {
    verb: String,
    words: Vec<String>,
    line: usize,
}

/// Splits a go.mod-style file into directives, a block `verb ( ... )`
/// giving one directive per line. Comments (`//`) are dropped.
fn directives(text: &str) -> Result<Vec<Directive>, String> {
    let mut out = Vec::new();
    let mut block: Option<(String, usize)> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let words = words(raw)?;
        if words.is_empty() {
            continue;
        }
        if let Some((verb, _)) = &block {
            if words == [")"] {
                block = None;
            } else {
                out.push(Directive {
                    verb: verb.clone(),
                    words,
                    line,
                });
            }
            continue;
        }
        if words.len() == 2 && words[1] == "(" {
            block = Some((words[0].clone(), line));
            continue;
        }
        if words.len() >= 2 && words[1] == "(" {
            return Err(format!("line {line}: unexpected text after `(`"));
        }
        out.push(Directive {
            verb: words[0].clone(),
            words: words[1..].to_vec(),
            line,
        });
    }
    if let Some((verb, line)) = block {
        return Err(format!(
            "line {line}: the `{verb} (` block is never closed with `)`"
        ));
    }
    Ok(out)
}

/// The words of one line: bare words, `"quoted"` and `` `raw` `` strings;
/// a `//` comment ends the line.
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        if rest.starts_with("//") {
            break;
        }
        let (word, after) = match rest.as_bytes()[0] {
            q @ (b'"' | b'`') => {
                let body = &rest[1..];
                let end = body
                    .find(q as char)
                    .ok_or_else(|| format!("unterminated string in {line:?}"))?;
                (body[..end].to_string(), &body[end + 1..])
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '"' || c == '`')
                    .unwrap_or(rest.len());
                let end = rest[..end].find("//").unwrap_or(end);
                (rest[..end].to_string(), &rest[end..])
            }
        };
        if !word.is_empty() {
            out.push(word);
        }
        rest = after.trim_start();
    }
    Ok(out)
}

/// A parsed `go.mod`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoMod {
    /// The module path.
    pub module: String,
    /// Required module path → version.
    pub requires: BTreeMap<String, String>,
    /// Module path → local folder (as written, relative to the go.mod's folder).
    pub local_replaces: BTreeMap<String, String>,
}

/// A `replace` target is a local folder when it starts with `./` or `../`
/// (or is absolute, which Ferry cannot follow): Go's own rule.
fn is_local(target: &str) -> bool {
    target.starts_with("./")
        || target.starts_with("../")
        || target == "."
        || target == ".."
        || target.starts_with('/')
}

/// Reads `replace` directives: `old [v] => new [v]`.
fn replace(d: &Directive, into: &mut BTreeMap<String, String>) -> Result<(), String> {
    let arrow = d
        .words
        .iter()
        .position(|w| w == "=>")
        .ok_or_else(|| format!("line {}: `replace` without `=>`", d.line))?;
    let (old, new) = (&d.words[..arrow], &d.words[arrow + 1..]);
    if old.is_empty() || old.len() > 2 || new.is_empty() || new.len() > 2 {
        return Err(format!(
            "line {}: `replace` must read `module [version] => target [version]`",
            d.line
        ));
    }
    if is_local(&new[0]) {
        into.insert(old[0].clone(), new[0].clone());
    }
    Ok(())
}

impl GoMod {
    /// Parses go.mod text; an error names the line at fault.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut m = Self::default();
        for d in directives(text)? {
            match d.verb.as_str() {
                "module" => match d.words.as_slice() {
                    [path] => m.module = path.clone(),
                    _ => return Err(format!("line {}: `module` takes one path", d.line)),
                },
                "require" => match d.words.as_slice() {
                    [path, version] => {
                        m.requires.insert(path.clone(), version.clone());
                    }
                    _ => {
                        return Err(format!(
                            "line {}: `require` must read `module version`",
                            d.line
                        ));
                    }
                },
                "replace" => replace(&d, &mut m.local_replaces)?,
                "go" | "toolchain" | "exclude" | "retract" | "godebug" | "tool" | "ignore" => {}
                other => return Err(format!("line {}: unknown directive `{other}`", d.line)),
            }
        }
        if m.module.is_empty() {
            return Err("no `module` line".into());
        }
        Ok(m)
    }
}

/// A parsed `go.work`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoWork {
    /// The module folders it uses, as written.
    pub uses: Vec<String>,
    /// Module path → local folder, for every module of the workspace.
    pub local_replaces: BTreeMap<String, String>,
}

impl GoWork {
    /// Parses go.work text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut w = Self::default();
        for d in directives(text)? {
            match d.verb.as_str() {
                "use" => match d.words.as_slice() {
                    [dir] => w.uses.push(dir.clone()),
                    _ => return Err(format!("line {}: `use` takes one folder", d.line)),
                },
                "replace" => replace(&d, &mut w.local_replaces)?,
                "go" | "toolchain" | "godebug" => {}
                other => return Err(format!("line {}: unknown directive `{other}`", d.line)),
            }
        }
        Ok(w)
    }
}

/// What changed in the requirements of a module between two go.mod texts:
/// `path v1 → v2`, `path v added`, `path v removed`.
pub fn require_changes(old: &GoMod, new: &GoMod) -> Vec<String> {
    let mut out = Vec::new();
    for (path, v) in &new.requires {
        match old.requires.get(path) {
            None => out.push(format!("{path} {v} added")),
            Some(o) if o != v => out.push(format!("{path} {o} → {v}")),
            Some(_) => {}
        }
    }
    for (path, v) in &old.requires {
        if !new.requires.contains_key(path) {
            out.push(format!("{path} {v} removed"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_modules_requires_and_local_replaces() {
        let m = GoMod::parse(
            "module example.com/api // the api\n\ngo 1.22\n\nrequire (\n\texample.com/common v0.0.0\n\tgolang.org/x/net v0.20.0 // indirect\n)\nrequire \"github.com/q/r\" v1.0.0\nreplace example.com/common => ../../libs/common\nreplace (\n\tgolang.org/x/net v0.20.0 => golang.org/x/net v0.21.0\n)\n",
        )
        .unwrap();
        assert_eq!(m.module, "example.com/api");
        assert_eq!(m.requires.len(), 3);
        assert_eq!(m.requires["github.com/q/r"], "v1.0.0");
        assert_eq!(
            m.local_replaces,
            BTreeMap::from([("example.com/common".into(), "../../libs/common".into())])
        );
    }

    #[test]
    fn half_written_files_are_errors_naming_the_line() {
        for (text, want) in [
            (
                "module a\nrequire (\n\tb v1\n",
                "line 2: the `require (` block is never closed",
            ),
            (
                "module a\nreplace b ../b\n",
                "line 2: `replace` without `=>`",
            ),
            ("module a\nrequire b\n", "line 2: `require` must read"),
            ("go 1.22\n", "no `module` line"),
            ("module a\nrequir b v1\n", "unknown directive `requir`"),
            ("module \"a\n", "unterminated string"),
        ] {
            let e = GoMod::parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn reads_a_workspace() {
        let w = GoWork::parse(
            "go 1.22\n\nuse (\n\t./services/api\n\t./libs/common\n)\nuse ./services/jobs\n",
        )
        .unwrap();
        assert_eq!(
            w.uses,
            ["./services/api", "./libs/common", "./services/jobs"]
        );
    }

    #[test]
    fn require_changes_name_each_module() {
        let old = GoMod::parse("module a\nrequire (\n x v1.0.0\n y v1.0.0\n)\n").unwrap();
        let new = GoMod::parse("module a\nrequire (\n x v1.1.0\n z v0.1.0\n)\n").unwrap();
        assert_eq!(
            require_changes(&old, &new),
            ["x v1.0.0 → v1.1.0", "z v0.1.0 added", "y v1.0.0 removed"]
        );
    }
}
