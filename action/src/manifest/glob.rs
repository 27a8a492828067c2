//! Ferry's one glob dialect: GitHub's `on.paths` filter patterns, plus
//! brace alternatives (empty ones included).
//!
//! | form | meaning |
//! |---|---|
//! | `*` | any characters but `/` (dotfiles included) |
//! | `**` | any characters, `/` included; `**/` at a folder's start also matches no folder |
//! | `?` | zero or one of the character (or `[]` class) before it |
//! | `+` | one or more of the character (or `[]` class) before it |
//! | `[abc]`, `[a-z0-9]` | one character of the list; ranges within a-z, A-Z or 0-9 |
//! | `{a,b}`, `{,.prod}` | one of the alternatives, an empty one included |
//! | `!` first | a negation: a later pattern re-includes or excludes what an earlier one decided |
//! | `\x` | the character `x` itself |
//!
//! Everything else that other dialects give a meaning (extglobs such as
//! `@(a|b)`, brace ranges `{1..3}`, negated or POSIX classes) is refused
//! with the way to write it here, never taken literally: a pattern that
//! silently matches nothing is a service that is never released.
//!
//! `services/api/**` is a prefix test and `Cargo.toml` an equality test;
//! only the rest need a compiled regex. Each glob also knows its literal
//! prefix (the text before its first wildcard), which lets `detect` index a
//! thousand services' globs and test a file against only the few that can
//! match it.

use std::sync::OnceLock;

use regex::Regex;

/// One compiled path glob of the dialect (see the module documentation).
#[derive(Debug, Clone)]
pub struct PathGlob {
    prefix: String,
    negated: bool,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// No wildcard: the path itself.
    Exact,
    /// `dir/**`: anything under `dir/`.
    Under,
    /// Anything else: the regex is compiled on the first match, so loading
    /// a manifest of thousands of globs only parses them (the regex
    /// compilation is most of a glob's cost, and most globs of a run are
    /// never tested against a file thanks to the literal-prefix index).
    Regex(Box<(String, OnceLock<Regex>)>),
}

/// Why a glob is refused, and how to write it in the dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError {
    /// What is wrong (names the glob).
    pub message: String,
    /// How to write it instead.
    pub help: String,
}

/// The characters that end a glob's literal prefix.
const META: &[char] = &['*', '?', '+', '[', '{', '\\'];

/// Brace groups nest at most this deep.
const MAX_DEPTH: usize = 8;

impl PathGlob {
    /// Parses a glob of the dialect; anything outside it is refused with
    /// the fix. Callers bound its length (the manifest allows 1,024
    /// characters), which keeps the regex small.
    pub fn new(text: &str) -> Result<Self, GlobError> {
        let (negated, body) = match text.strip_prefix('!') {
            Some(rest) if !rest.starts_with('(') => (true, rest),
            _ => (false, text),
        };
        let refuse = |message: String, help: String| GlobError { message, help };
        if body.is_empty() {
            return Err(refuse(
                format!("path glob \"{text}\" negates nothing"),
                "write the files to exclude after the `!`, e.g. \"!services/api/docs/**\"".into(),
            ));
        }
        if body.ends_with('/') && !body.ends_with("\\/") {
            return Err(refuse(
                format!("path glob \"{text}\" ends with `/`, and no file path does"),
                format!("for everything under the folder write \"{text}**\""),
            ));
        }
        let mut t = Translator {
            text,
            chars: body.chars().collect(),
            pos: 0,
        };
        let regex = t.sequence(true, 0)?;
        if t.pos < t.chars.len() {
            // `sequence` at the top level stops only at the end or at a
            // stray `}` (a `,` outside braces is an ordinary character).
            return Err(refuse(
                format!("path glob \"{text}\" has a `}}` that closes no `{{`"),
                "escape it as `\\}` to mean the character, or add the missing `{`".into(),
            ));
        }
        let literal_end = body.find(META).unwrap_or(body.len());
        let mut prefix = &body[..literal_end];
        if body[literal_end..].starts_with(['?', '+']) {
            // `?` and `+` apply to the character before them.
            prefix = prefix
                .char_indices()
                .next_back()
                .map_or("", |(i, _)| &prefix[..i]);
        }
        let kind = if literal_end == body.len() {
            Kind::Exact
        } else if &body[literal_end..] == "**" && prefix.ends_with('/') {
            Kind::Under
        } else {
            Kind::Regex(Box::new((format!("^(?:{regex})$"), OnceLock::new())))
        };
        Ok(Self {
            prefix: prefix.to_string(),
            negated,
            kind,
        })
    }

    /// Whether `path` (repository-relative, `/`-separated) matches the
    /// pattern (for a negated glob: the pattern after its `!`).
    pub fn is_match(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.prefix,
            Kind::Under => path.len() > self.prefix.len() && path.starts_with(&self.prefix),
            Kind::Regex(m) => {
                let (source, regex) = &**m;
                path.starts_with(&self.prefix)
                    && regex
                        .get_or_init(|| {
                            // The translator only emits escaped characters,
                            // classes of escaped characters, `(?:…|…)`
                            // groups, `?`/`+` after an atom, `.*` and
                            // `[^/]*`: always valid syntax, and a glob of at
                            // most 1,024 characters stays far below the
                            // regex crate's size limit.
                            #[allow(clippy::expect_used)]
                            Regex::new(source).expect("a translated glob is a valid regex")
                        })
                        .is_match(path)
            }
        }
    }

    /// Whether the glob starts with `!` (excludes what earlier globs included).
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// The text before the first wildcard: every matching path starts with it.
    pub fn literal_prefix(&self) -> &str {
        &self.prefix
    }
}

/// What a quantifier (`?`, `+`) may follow.
#[derive(Clone, Copy, PartialEq)]
enum Prev {
    /// Nothing, or something a quantifier cannot apply to.
    None,
    /// A character or a `[]` class.
    Atom,
}

/// Turns a glob body into regex source, refusing what is outside the dialect.
struct Translator<'a> {
    text: &'a str,
    chars: Vec<char>,
    pos: usize,
}

impl Translator<'_> {
    fn err(&self, message: impl Into<String>, help: impl Into<String>) -> GlobError {
        GlobError {
            message: format!("path glob \"{}\" {}", self.text, message.into()),
            help: help.into(),
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    /// Reads up to the end, or (inside braces, `depth > 0`) up to the `,` or
    /// `}` that ends the alternative. `folder_start`: whether the sequence
    /// starts a path segment (where `**/` may match no folder at all).
    fn sequence(&mut self, mut folder_start: bool, depth: usize) -> Result<String, GlobError> {
        let mut out = String::new();
        let mut prev = Prev::None;
        while let Some(c) = self.peek(0) {
            if c == '}' || (c == ',' && depth > 0) {
                break;
            }
            let at_folder_start = folder_start;
            folder_start = false;
            match c {
                '*' => {
                    let mut stars = 0;
                    while self.peek(0) == Some('*') {
                        stars += 1;
                        self.pos += 1;
                    }
                    self.refuse_extglob(if stars == 1 { "*" } else { "**" })?;
                    if stars == 1 {
                        out.push_str("[^/]*");
                    } else if at_folder_start && self.peek(0) == Some('/') {
                        self.pos += 1;
                        out.push_str("(?:.*/)?");
                        folder_start = true;
                    } else {
                        out.push_str(".*");
                    }
                    prev = Prev::None;
                }
                '?' | '+' => {
                    self.pos += 1;
                    self.refuse_extglob(&c.to_string())?;
                    if prev != Prev::Atom {
                        return Err(self.err(
                            format!("has a `{c}` after no character it could repeat"),
                            format!(
                                "`{c}` makes the character before it {} (as in GitHub's `on.paths`: `*.jsx?` matches `page.js` and `page.jsx`); for any one character write `*` or a `[]` class, for the character itself `\\{c}`",
                                if c == '?' { "optional" } else { "repeat once or more" }
                            ),
                        ));
                    }
                    out.push(c);
                    prev = Prev::None;
                }
                '@' | '!' if self.peek(1) == Some('(') => {
                    self.pos += 1;
                    self.refuse_extglob(&c.to_string())?;
                }
                '[' => {
                    self.pos += 1;
                    out.push_str(&self.class()?);
                    prev = Prev::Atom;
                }
                '{' => {
                    self.pos += 1;
                    if depth >= MAX_DEPTH {
                        return Err(self.err(
                            format!("nests braces deeper than {MAX_DEPTH}"),
                            "write several globs instead of nested alternatives",
                        ));
                    }
                    out.push_str(&self.braces(at_folder_start, depth + 1)?);
                    prev = Prev::None;
                }
                '\\' => {
                    self.pos += 1;
                    let Some(escaped) = self.peek(0) else {
                        return Err(self.err(
                            "ends with a `\\` that escapes nothing",
                            "remove it, or write `\\\\` for the character `\\`",
                        ));
                    };
                    self.pos += 1;
                    out.push_str(&regex::escape(&escaped.to_string()));
                    prev = Prev::Atom;
                }
                _ => {
                    self.pos += 1;
                    out.push_str(&regex::escape(&c.to_string()));
                    folder_start = c == '/';
                    prev = Prev::Atom;
                }
            }
        }
        Ok(out)
    }

    /// After `*`, `?`, `+`, `@` or `!`: an extglob when `(` follows.
    fn refuse_extglob(&self, lead: &str) -> Result<(), GlobError> {
        if self.peek(0) != Some('(') {
            return Ok(());
        }
        let inner: String = self.chars[self.pos + 1..]
            .iter()
            .take_while(|c| **c != ')')
            .collect();
        let alternatives = inner.replace('|', ",");
        Err(self.err(
            format!("uses the extglob `{lead}({inner})`, which GitHub's `on.paths` patterns (and Ferry) do not have"),
            format!(
                "write alternatives with braces, e.g. `{{{alternatives}}}`, and exclusions as a later `!` glob"
            ),
        ))
    }

    /// A `[]` class, after its `[`.
    fn class(&mut self) -> Result<String, GlobError> {
        let start = self.pos;
        if matches!(self.peek(0), Some('!' | '^')) {
            return Err(self.err(
                "uses a negated class `[!…]`, which GitHub's `on.paths` patterns do not have",
                "list the characters wanted, e.g. `[a-f0-9]`, or exclude files with a later `!` glob",
            ));
        }
        if self.peek(0) == Some(':') || (self.peek(0) == Some('[') && self.peek(1) == Some(':')) {
            return Err(self.err(
                "uses a POSIX class `[:…:]`, which GitHub's `on.paths` patterns do not have",
                "list the characters or ranges, e.g. `[a-zA-Z0-9]`",
            ));
        }
        let mut out = String::from("[");
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.err(
                    "has a `[` that no `]` closes",
                    "close the class, e.g. `[0-9]`, or write `\\[` for the character",
                ));
            };
            self.pos += 1;
            match c {
                ']' if self.pos - 1 == start => {
                    return Err(self.err(
                        "has an empty class `[]`",
                        "list at least one character, e.g. `[ab]`, or write `\\[\\]` for the characters",
                    ));
                }
                ']' => break,
                '/' => {
                    return Err(self.err(
                        "has a `/` inside `[]`; a class matches one character of a name",
                        "write the folder separator outside the class",
                    ));
                }
                _ => {
                    let c = if c == '\\' {
                        let Some(e) = self.peek(0) else { continue };
                        self.pos += 1;
                        e
                    } else {
                        c
                    };
                    if self.peek(0) == Some('-') && self.peek(1).is_some_and(|d| d != ']') {
                        let Some(end) = self.peek(1) else { continue };
                        self.pos += 2;
                        let same_kind = [
                            char::is_ascii_lowercase,
                            char::is_ascii_uppercase,
                            char::is_ascii_digit,
                        ]
                        .iter()
                        .any(|kind| kind(&c) && kind(&end));
                        if !same_kind || c > end {
                            return Err(self.err(
                                format!("has the range `{c}-{end}`; GitHub's `on.paths` ranges are within a-z, A-Z or 0-9"),
                                "write ranges such as `[a-f]`, `[A-Z]`, `[0-9]`, and list other characters one by one",
                            ));
                        }
                        out.push_str(&format!("{c}-{end}"));
                    } else {
                        out.push_str(&regex::escape(&c.to_string()));
                    }
                }
            }
        }
        out.push(']');
        Ok(out)
    }

    /// `{a,b,}` alternatives, after the `{`.
    fn braces(&mut self, folder_start: bool, depth: usize) -> Result<String, GlobError> {
        let start = self.pos;
        let mut alternatives = Vec::new();
        loop {
            alternatives.push(self.sequence(folder_start, depth)?);
            match self.peek(0) {
                Some(',') => self.pos += 1,
                Some('}') => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    return Err(self.err(
                        "has a `{` that no `}` closes",
                        "close the alternatives, e.g. `{yml,yaml}`, or write `\\{` for the character",
                    ));
                }
            }
        }
        if alternatives.len() < 2 {
            let inner: String = self.chars[start..self.pos - 1].iter().collect();
            if inner.contains("..") {
                return Err(self.err(
                    format!("uses the range `{{{inner}}}`, which GitHub's `on.paths` patterns do not have"),
                    "list the alternatives, e.g. `{1,2,3}`, or use a class such as `[1-3]`",
                ));
            }
            return Err(self.err(
                format!("has braces `{{{inner}}}` with a single alternative"),
                "separate alternatives with commas, e.g. `{,.prod}` for nothing or `.prod`, or write `\\{` for the character",
            ));
        }
        if matches!(self.peek(0), Some('?' | '+')) && self.peek(1) != Some('(') {
            return Err(self.err(
                "repeats a brace group with `?` or `+`; those apply to one character",
                "add the repetitions as alternatives, e.g. `{a,aa}`",
            ));
        }
        Ok(format!("(?:{})", alternatives.join("|")))
    }
}

#[cfg(test)]
mod tests;
