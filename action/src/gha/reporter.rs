//! Where a command's results go: outputs, the job summary, annotations, masks.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;

use super::{Context, Secret, commands};
use crate::diagnostic::Diagnostic;

/// Writes a command's outputs and reports, in Actions or on a terminal.
pub struct Reporter {
    in_actions: bool,
    output_file: Option<PathBuf>,
    summary_file: Option<PathBuf>,
    stdout: Box<dyn Write + Send>,
    stderr: Box<dyn Write + Send>,
    masks: Vec<String>,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("in_actions", &self.in_actions)
            .field("output_file", &self.output_file)
            .field("summary_file", &self.summary_file)
            .finish_non_exhaustive()
    }
}

impl Reporter {
    /// A reporter for the process's stdout and stderr.
    pub fn from_context(ctx: &Context) -> Self {
        Self::new(
            ctx.in_actions,
            ctx.output_file.clone(),
            ctx.summary_file.clone(),
            Box::new(io::stdout()),
            Box::new(io::stderr()),
        )
    }

    /// A reporter writing to the given streams (tests capture them).
    pub fn new(
        in_actions: bool,
        output_file: Option<PathBuf>,
        summary_file: Option<PathBuf>,
        stdout: Box<dyn Write + Send>,
        stderr: Box<dyn Write + Send>,
    ) -> Self {
        Self {
            in_actions,
            output_file,
            summary_file,
            stdout,
            stderr,
            masks: Vec::new(),
        }
    }

    /// Whether this runs inside GitHub Actions.
    pub fn in_actions(&self) -> bool {
        self.in_actions
    }

    /// Registers a secret: the runner masks it in every later log line
    /// (`::add-mask::`), and this reporter replaces it by `***` in whatever it
    /// writes, files included; so does the log ([`super::secrets`]).
    pub fn mask(&mut self, secret: &Secret) -> io::Result<()> {
        let value = secret.expose();
        if value.is_empty() || self.masks.iter().any(|m| m == value) {
            return Ok(());
        }
        super::secrets::remember(value);
        self.masks.push(value.to_string());
        // Longest first, so a secret that contains another is replaced whole.
        self.masks.sort_by_key(|m| std::cmp::Reverse(m.len()));
        if self.in_actions {
            writeln!(self.stdout, "::add-mask::{}", escape_mask(value))?;
        }
        Ok(())
    }

    fn scrub(&self, text: &str) -> String {
        let mut out = super::secrets::scrub(text).into_owned();
        for m in &self.masks {
            if out.contains(m.as_str()) {
                out = out.replace(m.as_str(), "***");
            }
        }
        out
    }

    /// Writes outside text (already scrubbed) to stdout, one line per line.
    /// In Actions, text the runner could read as a workflow command is
    /// fenced by `::stop-commands::<token>` … `::<token>::` with a fresh
    /// random token, so it shows verbatim and runs nothing. This and the
    /// reporter's own commands are the only writes to stdout.
    fn echo_stdout(&mut self, text: &str) -> io::Result<()> {
        if self.in_actions && commands::has_command(text) {
            let token = format!("ferry-{}", commands::random_token());
            writeln!(self.stdout, "::stop-commands::{token}")?;
            writeln!(self.stdout, "{text}")?;
            writeln!(self.stdout, "::{token}::")
        } else {
            writeln!(self.stdout, "{text}")
        }
    }

    /// Writes outside text (already scrubbed) to stderr; in Actions (the
    /// runner reads stderr too) lines that could run are defused.
    fn echo_stderr(&mut self, text: &str) -> io::Result<()> {
        let text = if self.in_actions {
            commands::neutralise(text)
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        self.stderr.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            self.stderr.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Sets a step output.
    pub fn output(&mut self, key: &str, value: &str) -> io::Result<()> {
        let value = self.scrub(value);
        match (&self.output_file, self.in_actions) {
            (Some(path), _) => {
                let mut f = OpenOptions::new().create(true).append(true).open(path)?;
                f.write_all(encode_output(key, &value, &random_delimiter()).as_bytes())
            }
            (None, _) if value.contains('\n') => {
                let text = encode_output(key, &value, "EOF");
                self.echo_stdout(text.trim_end_matches('\n'))
            }
            (None, _) => self.echo_stdout(&format!("{key}={value}")),
        }
    }

    /// Sets a step output in `$GITHUB_OUTPUT` only, in the plain `key=value`
    /// form when the value is one line (the heredoc form otherwise); without
    /// the file, nothing. For a command whose stdout is its result
    /// (`plan-comment` prints the comment there, to be piped).
    pub fn output_to_file(&mut self, key: &str, value: &str) -> io::Result<()> {
        let value = self.scrub(value);
        let Some(path) = &self.output_file else {
            return Ok(());
        };
        let text = if value.contains(['\n', '\r']) {
            encode_output(key, &value, &random_delimiter())
        } else {
            format!("{key}={value}\n")
        };
        let mut f = OpenOptions::new().create(true).append(true).open(path)?;
        f.write_all(text.as_bytes())
    }

    /// Appends markdown to `$GITHUB_STEP_SUMMARY` only, as given; without
    /// the file, nothing (the command has shown its result on the terminal).
    pub fn summary_to_file(&mut self, markdown: &str) -> io::Result<()> {
        let text = self.scrub(markdown);
        let Some(path) = &self.summary_file else {
            return Ok(());
        };
        let mut f = OpenOptions::new().create(true).append(true).open(path)?;
        f.write_all(text.as_bytes())
    }

    /// Appends markdown to the job summary (the terminal's stderr outside Actions).
    pub fn summary(&mut self, markdown: &str) -> io::Result<()> {
        let text = self.scrub(markdown);
        match &self.summary_file {
            Some(path) => {
                let mut f = OpenOptions::new().create(true).append(true).open(path)?;
                f.write_all(text.as_bytes())?;
                if !text.ends_with('\n') {
                    f.write_all(b"\n")?;
                }
                Ok(())
            }
            None => self.echo_stderr(&text),
        }
    }

    /// Log lines (stderr locally; the step log in Actions). Outside text is
    /// welcome: it is scrubbed, and shown verbatim without running.
    pub fn info(&mut self, text: &str) -> io::Result<()> {
        let text = self.scrub(text);
        if self.in_actions {
            self.echo_stdout(&text)
        } else {
            self.echo_stderr(&text)
        }
    }

    /// Text that belongs on stdout even on a terminal (help, a comment
    /// printed instead of posted), so it can be piped; scrubbed, and in
    /// Actions shown verbatim without running.
    pub fn print(&mut self, text: &str) -> io::Result<()> {
        let text = self.scrub(text);
        self.echo_stdout(text.strip_suffix('\n').unwrap_or(&text))
    }

    /// Starts a folded log group; end it with [`Reporter::end_group`].
    pub fn group(&mut self, title: &str) -> io::Result<()> {
        let title = self.scrub(title);
        if self.in_actions {
            writeln!(self.stdout, "::group::{}", escape_data(&title))
        } else {
            self.echo_stderr(&format!("── {title}"))
        }
    }

    /// Ends the current log group.
    pub fn end_group(&mut self) -> io::Result<()> {
        if self.in_actions {
            writeln!(self.stdout, "::endgroup::")
        } else {
            Ok(())
        }
    }

    /// Reports a problem in a file: an `::error` annotation in Actions (shown
    /// on the PR diff), `error: file:line:col: message` on a terminal.
    pub fn error(&mut self, d: &Diagnostic) -> io::Result<()> {
        self.annotate("error", d)
    }

    /// Like [`Reporter::error`], for something that does not fail the run.
    pub fn warning(&mut self, d: &Diagnostic) -> io::Result<()> {
        self.annotate("warning", d)
    }

    fn annotate(&mut self, level: &str, d: &Diagnostic) -> io::Result<()> {
        let message = self.scrub(&match &d.help {
            Some(help) => format!("{}\nhelp: {help}", d.message),
            None => d.message.clone(),
        });
        if self.in_actions {
            let mut props = vec![format!(
                "file={}",
                escape_property(&d.file.display().to_string())
            )];
            if let Some(l) = d.line {
                props.push(format!("line={l}"));
            }
            if let Some(c) = d.column {
                props.push(format!("col={c}"));
            }
            writeln!(
                self.stdout,
                "::{level} {}::{}",
                props.join(","),
                escape_data(&message)
            )
        } else {
            let text = self.scrub(&d.to_string());
            self.echo_stderr(&format!("{level}: {text}"))
        }
    }

    /// A plain error with no file (a failed API call, a missing tool).
    pub fn fatal(&mut self, message: &str) -> io::Result<()> {
        let message = self.scrub(message);
        if self.in_actions {
            writeln!(self.stdout, "::error::{}", escape_data(&message))
        } else {
            self.echo_stderr(&format!("error: {message}"))
        }
    }

    /// Reports a failed command: each diagnostic as an annotation (an
    /// `error:` line on a terminal), then what the failure cost, without
    /// repeating the diagnostics; a plain error when there are none.
    pub fn fail(&mut self, message: &str, diagnostics: &[Diagnostic]) -> io::Result<()> {
        if diagnostics.is_empty() {
            return self.fatal(message);
        }
        for d in diagnostics {
            self.error(d)?;
        }
        match beyond_diagnostics(message, diagnostics) {
            Some(rest) => self.info(&format!("ferry: {rest}")),
            None => Ok(()),
        }
    }

    /// Flushes both streams.
    pub fn flush(&mut self) -> io::Result<()> {
        self.stdout.flush()?;
        self.stderr.flush()
    }
}

/// What `message` says besides the diagnostics it quotes (an error's text
/// often embeds them), or `None` when that is nothing.
fn beyond_diagnostics(message: &str, diagnostics: &[Diagnostic]) -> Option<String> {
    // Line by line against a set, not `replace` per diagnostic: a manifest
    // with thousands of errors has a message of thousands of lines, and
    // that would be quadratic.
    let quoted: std::collections::HashSet<String> = diagnostics
        .iter()
        .flat_map(|d| {
            d.to_string()
                .lines()
                .map(|l| l.trim_end().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !quoted.contains(*l))
        .collect();
    let rest = lines.join("\n");
    let rest = rest.trim().trim_end_matches(':').trim_end();
    (!rest.is_empty()).then(|| rest.to_string())
}

/// One `$GITHUB_OUTPUT` entry in the multiline-safe heredoc form:
/// `key<<DELIM\nvalue\nDELIM\n`. The delimiter must not occur in the value.
pub fn encode_output(key: &str, value: &str, delimiter: &str) -> String {
    format!("{key}<<{delimiter}\n{value}\n{delimiter}\n")
}

fn random_delimiter() -> String {
    // A value could contain any fixed delimiter; a random one cannot be predicted.
    format!("ghadelimiter_{}", commands::random_token())
}

/// Escapes a workflow command's message (`%`, CR, LF), as the runner
/// expects; other Unicode line breaks become `%0A` (a newline in the
/// annotation) too, so no reader of the log sees the command end early.
pub fn escape_data(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            c if commands::is_line_break(c) => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an `::add-mask::` value exactly as the runner unescapes it (it
/// must mask the very value).
fn escape_mask(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}
