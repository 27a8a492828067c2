//! The one place Ferry touches a YAML library.
//!
//! serde_yaml is archived upstream; serde_yaml_ng is its maintained drop-in
//! and does the deserialising (with line and column on syntax errors, unknown
//! fields and duplicate keys). It cannot say *where* a value came from once
//! deserialised, so a second pass with yaml-rust2's event parser records the
//! position of every key and value by its path (`services.api.paths[0]`),
//! which lets semantic checks (a bad glob, a missing environment) point at
//! the exact line and column too.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column in a YAML document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// A YAML syntax or shape error, with its position when the parser knows it.
#[derive(Debug)]
pub struct YamlError {
    /// What is wrong, in serde's words (e.g. "unknown field `foo`, expected one of ...").
    pub message: String,
    /// Where, when known.
    pub position: Option<Position>,
}

/// The bounds every YAML document Ferry reads is checked against.
pub const LIMITS: Limits = Limits {
    bytes: 4 << 20,
    depth: 32,
    expanded_nodes: 250_000,
};

/// Deserialises `text` into `T`, within [`LIMITS`].
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    from_str_indexed(text).map(|(value, _)| value)
}

/// Deserialises `text` into `T` and indexes its positions, refusing a
/// document beyond [`LIMITS`] before serde_yaml_ng parses it.
pub fn from_str_indexed<T: DeserializeOwned>(text: &str) -> Result<(T, Positions), YamlError> {
    if text.len() > LIMITS.bytes {
        return Err(YamlError {
            message: format!("the document is larger than {} MiB", LIMITS.bytes >> 20),
            position: None,
        });
    }
    if let Some(position) = flow_too_deep(text, LIMITS.depth) {
        return Err(YamlError {
            message: format!("`[` and `{{` nest deeper than {} levels", LIMITS.depth),
            position: Some(position),
        });
    }
    let positions = Positions::index_within(text, LIMITS)?;
    let value = serde_yaml_ng::from_str(text).map_err(|err| {
        let position = err.location().map(|l| Position {
            line: l.line(),
            column: l.column(),
        });
        // serde_yaml_ng appends " at line L column C"; the position is kept apart.
        let message = err.to_string();
        let message = match message.rfind(" at line ") {
            Some(at) if position.is_some() => message[..at].to_string(),
            _ => message,
        };
        YamlError { message, position }
    })?;
    Ok((value, positions))
}

/// Where `[` and `{` first nest deeper than `limit`, if they do.
///
/// YAML parsers scan a flow collection to its end before producing its
/// first event, in time quadratic in its depth, so depth is checked on the
/// text first. Two counts keep a quote from hiding brackets: one that skips
/// quoted scalars and comments, one that counts every bracket (closers never
/// below zero); either going over the limit refuses the text.
pub fn flow_too_deep(text: &str, limit: usize) -> Option<Position> {
    let bytes = text.as_bytes();
    let (mut line, mut line_start) = (1usize, 0usize);
    let (mut aware, mut raw) = (0usize, 0usize);
    // The last byte that was not a space or tab, on this line.
    let mut previous: Option<u8> = None;
    let mut i = 0;
    let position = |i: usize, line: usize, line_start: usize| Position {
        line,
        column: text[line_start..i].chars().count() + 1,
    };
    while let Some(&b) = bytes.get(i) {
        match b {
            b'[' | b'{' => {
                aware += 1;
                raw += 1;
                if aware.max(raw) > limit {
                    return Some(position(i, line, line_start));
                }
            }
            b']' | b'}' => {
                aware = aware.saturating_sub(1);
                raw = raw.saturating_sub(1);
            }
            b'\n' => {
                line += 1;
                line_start = i + 1;
                previous = None;
                i += 1;
                continue;
            }
            b'#' if i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'\n') => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'\'' | b'"'
                if matches!(
                    previous,
                    None | Some(b'[' | b'{' | b',' | b':' | b'-' | b'?')
                ) =>
            {
                // A quoted scalar: skip it, counting its brackets only raw.
                let quote = b;
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    match c {
                        b'\\' if quote == b'"' => i += 1,
                        b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
                        c if c == quote => break,
                        b'\n' => {
                            line += 1;
                            line_start = i + 1;
                        }
                        b'[' | b'{' => {
                            raw += 1;
                            if raw > limit {
                                return Some(position(i, line, line_start));
                            }
                        }
                        b']' | b'}' => raw = raw.saturating_sub(1),
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        if !matches!(b, b' ' | b'\t') {
            previous = Some(b);
        }
        i += 1;
    }
    None
}

/// Serialises a value as YAML (used to compare manifest entries across commits).
pub fn to_string<T: serde::Serialize>(value: &T) -> Result<String, YamlError> {
    serde_yaml_ng::to_string(value).map_err(|err| YamlError {
        message: err.to_string(),
        position: None,
    })
}

/// Where each key and value of a document sits, by dotted path.
#[derive(Debug, Default)]
pub struct Positions {
    keys: HashMap<String, Position>,
    values: HashMap<String, Position>,
    duplicates: Vec<(String, Position)>,
}

/// Bounds on a YAML document, checked before serde sees it (libyaml is
/// quadratic in nesting, and aliases expand without bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Size of the text.
    pub bytes: usize,
    /// Depth of nested mappings and sequences.
    pub depth: usize,
    /// Nodes once every alias is expanded (a "billion laughs" document has
    /// few nodes but billions expanded).
    pub expanded_nodes: u64,
}

impl Positions {
    /// Indexes `text`. A document the event parser rejects yields an empty
    /// index: serde_yaml_ng reports that error with its own position.
    pub fn index(text: &str) -> Self {
        let unbounded = Limits {
            bytes: usize::MAX,
            depth: usize::MAX,
            expanded_nodes: u64::MAX,
        };
        Self::index_within(text, unbounded).unwrap_or_default()
    }

    /// Indexes `text`, refusing a document beyond `limits` as soon as the
    /// parser gets there (in time linear in the text).
    pub fn index_within(text: &str, limits: Limits) -> Result<Self, YamlError> {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        loop {
            let Ok((event, mark)) = parser.next_token() else {
                return Ok(Self::default());
            };
            if matches!(event, Event::StreamEnd) {
                break;
            }
            builder.on_event(event, mark);
            let refuse = |message: String| YamlError {
                message,
                position: Some(to_position(mark)),
            };
            if builder.stack.len() > limits.depth {
                return Err(refuse(format!(
                    "mappings and lists nest deeper than {} levels",
                    limits.depth
                )));
            }
            if builder.expanded > limits.expanded_nodes {
                return Err(refuse(format!(
                    "the document expands to more than {} values once its aliases (`*name`) are replaced",
                    limits.expanded_nodes
                )));
            }
        }
        Ok(builder.positions)
    }

    /// The position of the value at `path`, else of its key, else of the
    /// nearest ancestor that has one.
    pub fn value(&self, path: &str) -> Option<Position> {
        self.values
            .get(path)
            .or_else(|| self.keys.get(path))
            .copied()
            .or_else(|| parent(path).and_then(|p| self.key(p)))
    }

    /// Keys that appear twice in one mapping (serde keeps the last one
    /// silently), with the position of the second.
    pub fn duplicates(&self) -> &[(String, Position)] {
        &self.duplicates
    }

    /// Whether the document holds `path` itself (no fallback to a parent).
    pub fn has(&self, path: &str) -> bool {
        self.keys.contains_key(path) || self.values.contains_key(path)
    }

    /// The position of the key at `path` (falls back like [`Positions::value`]).
    pub fn key(&self, path: &str) -> Option<Position> {
        self.keys
            .get(path)
            .or_else(|| self.values.get(path))
            .copied()
            .or_else(|| parent(path).and_then(|p| self.key(p)))
    }
}

fn parent(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

enum Frame {
    /// In a mapping; `pending_key` is Some when the next node is a value.
    Map {
        path: String,
        pending_key: Option<String>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    positions: Positions,
    /// Nodes so far, aliases counted as the nodes they stand for.
    expanded: u64,
    /// For each open node, its anchor id and `expanded` when it started.
    anchored: Vec<(usize, u64)>,
    /// The expanded size of each anchor.
    anchor_sizes: HashMap<usize, u64>,
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

fn to_position(mark: Marker) -> Position {
    // yaml-rust2 counts lines from 1 and columns from 0.
    Position {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

impl Builder {
    /// The path of the node that starts now, or None when it is a mapping key.
    fn node_path(&mut self, mark: Marker, scalar: Option<&str>) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                Some(p)
            }
            Some(Frame::Map { path, pending_key }) => match pending_key.take() {
                Some(key) => Some(join(path, &key)),
                None => {
                    // This node is a key: remember it; non-scalar keys get a placeholder.
                    let key = scalar.unwrap_or("?").to_string();
                    let full = join(path, &key);
                    if let Some(_first) =
                        self.positions.keys.insert(full.clone(), to_position(mark))
                    {
                        self.positions.duplicates.push((full, to_position(mark)));
                    }
                    *pending_key = Some(key);
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match &event {
            Event::Alias(id) => {
                let size = self.anchor_sizes.get(id).copied().unwrap_or(1);
                self.expanded = self.expanded.saturating_add(size);
            }
            Event::Scalar(_, _, id, _) => {
                self.expanded += 1;
                if *id != 0 {
                    self.anchor_sizes.insert(*id, 1);
                }
            }
            Event::MappingStart(id, _) | Event::SequenceStart(id, _) => {
                self.expanded += 1;
                self.anchored.push((*id, self.expanded));
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some((id, start)) = self.anchored.pop()
                    && id != 0
                {
                    self.anchor_sizes.insert(id, self.expanded - start + 1);
                }
            }
            _ => {}
        }
        match event {
            Event::Scalar(value, ..) => {
                if let Some(path) = self.node_path(mark, Some(&value)) {
                    self.positions.values.insert(path, to_position(mark));
                }
            }
            Event::Alias(_) => {
                if let Some(path) = self.node_path(mark, None) {
                    self.positions.values.insert(path, to_position(mark));
                }
            }
            Event::MappingStart(..) => {
                let path = self.node_path(mark, None).unwrap_or_default();
                self.positions
                    .values
                    .insert(path.clone(), to_position(mark));
                self.stack.push(Frame::Map {
                    path,
                    pending_key: None,
                });
            }
            Event::SequenceStart(..) => {
                let path = self.node_path(mark, None).unwrap_or_default();
                self.positions
                    .values
                    .insert(path.clone(), to_position(mark));
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
project: p
environments:
  staging: { cluster: c1 }
  prod:
    cluster: c2
    promote-from: stage
services:
  api:
    paths:
      - a/**
      - b/[
";

    #[test]
    fn positions_of_block_and_flow_values() {
        let p = Positions::index(DOC);
        assert_eq!(
            p.value("project"),
            Some(Position {
                line: 1,
                column: 10
            })
        );
        assert_eq!(
            p.value("environments.staging.cluster"),
            Some(Position {
                line: 3,
                column: 23
            })
        );
        assert_eq!(
            p.value("environments.prod.promote-from"),
            Some(Position {
                line: 6,
                column: 19
            })
        );
        assert_eq!(
            p.value("services.api.paths[1]"),
            Some(Position {
                line: 11,
                column: 9
            })
        );
        assert_eq!(p.key("services.api"), Some(Position { line: 8, column: 3 }));
    }

    #[test]
    fn missing_paths_fall_back_to_the_nearest_ancestor() {
        let p = Positions::index(DOC);
        assert_eq!(
            p.value("services.api.dockerfile"),
            Some(Position { line: 8, column: 3 })
        );
    }
}
