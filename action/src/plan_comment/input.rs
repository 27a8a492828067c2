//! Decoding a plan file into one [`RawPlan`].
//!
//! Real plan files arrive in several wrappings: a UTF-8 BOM, UTF-16 from a
//! PowerShell redirect, and the `hashicorp/setup-terraform` wrapper's lines
//! around the JSON (`[command]...` before, `%0A` and `::set-output` after).
//! Those are tolerated; anything else gets an error that names it.

use serde::de::IgnoredAny;
use serde_json::error::Category;

use super::error::{PlanInputError, sanitize_serde_message};
use super::model::RawPlan;

/// Turns the bytes of a plan file into text, handling BOMs and UTF-16.
///
/// UTF-8 input is validated in place (no copy): a plan can be large.
pub fn decode_text(bytes: Vec<u8>, file: &str) -> Result<String, PlanInputError> {
    let utf16 = |units: Vec<u16>| {
        String::from_utf16(&units).map_err(|e| PlanInputError::BadUtf16 {
            file: file.to_string(),
            detail: e.to_string(),
        })
    };
    let pairs = |rest: &[u8], le: bool| -> Result<Vec<u16>, PlanInputError> {
        if !rest.len().is_multiple_of(2) {
            return Err(PlanInputError::BadUtf16 {
                file: file.to_string(),
                detail: format!("odd number of bytes ({})", rest.len() + 2),
            });
        }
        Ok(rest
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect())
    };
    let mut text = match bytes.as_slice() {
        [0xFF, 0xFE, rest @ ..] => utf16(pairs(rest, true)?)?,
        [0xFE, 0xFF, rest @ ..] => utf16(pairs(rest, false)?)?,
        // UTF-16 without a BOM: the first character is ASCII, so one of its bytes is 0.
        [a, 0, ..] if *a != 0 => utf16(pairs(&bytes, true)?)?,
        [0, b, ..] if *b != 0 => utf16(pairs(&bytes, false)?)?,
        _ => utf8(bytes, file)?,
    };
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

fn utf8(bytes: Vec<u8>, file: &str) -> Result<String, PlanInputError> {
    String::from_utf8(bytes).map_err(|e| PlanInputError::NotText {
        file: file.to_string(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Parses the text of a plan file into one plan, checking that it is one.
pub fn parse_plan(text: &str, file: &str) -> Result<RawPlan, PlanInputError> {
    let f = || file.to_string();
    if text.trim().is_empty() {
        return Err(PlanInputError::Empty { file: f() });
    }
    let start = json_start(text, file)?;
    let body = &text[start..];
    if body.starts_with('[') {
        return Err(PlanInputError::NotObject {
            file: f(),
            kind: "an array",
        });
    }
    let mut stream = serde_json::Deserializer::from_str(body).into_iter::<RawPlan>();
    let plan = match stream.next() {
        Some(Ok(plan)) => plan,
        Some(Err(e)) => return Err(json_error(e, text, start, file)),
        None => return Err(PlanInputError::Empty { file: f() }),
    };
    let end = start + stream.byte_offset();
    check_trailing(text, end, file)?;
    check_plan(&plan, file)?;
    check_values(&plan, file)?;
    Ok(plan)
}

/// How deep serde_json parses before it gives up.
const MAX_VALUE_DEPTH: usize = 128;

/// Every value of every change must parse whole: a value that does not
/// (nested past the parser's limit, a number out of range) would otherwise
/// show as nothing and hash as nothing, and `plan-verify` would pass a plan
/// that differs from the reviewed one there.
fn check_values(plan: &RawPlan, file: &str) -> Result<(), PlanInputError> {
    for (change, c) in plan.all_changes() {
        if let Err((field, e)) = c.try_values() {
            let reason = if e.to_string().contains("recursion limit") {
                format!("nested deeper than {MAX_VALUE_DEPTH} levels")
            } else {
                sanitize_serde_message(&e.to_string())
            };
            return Err(PlanInputError::UnreadableValue {
                file: file.to_string(),
                change,
                field,
                reason,
                max_depth: MAX_VALUE_DEPTH,
            });
        }
    }
    Ok(())
}

/// Finds where the JSON starts, skipping the setup-terraform wrapper's lines.
fn json_start(text: &str, file: &str) -> Result<usize, PlanInputError> {
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        let known_noise = trimmed.is_empty()
            || trimmed.starts_with("[command]")
            || trimmed.starts_with("::debug::")
            || trimmed.starts_with("::set-output");
        if !known_noise && (trimmed.starts_with('{') || trimmed.starts_with('[')) {
            return Ok(offset + (line.len() - trimmed.len()));
        }
        if !known_noise {
            let error = if index == 0 && !text.contains("\n{") {
                PlanInputError::NotJson {
                    file: file.to_string(),
                    line: index + 1,
                    start: excerpt(trimmed),
                }
            } else {
                PlanInputError::LeadingNoise {
                    file: file.to_string(),
                    line: index + 1,
                    start: excerpt(trimmed),
                }
            };
            return Err(error);
        }
        offset += line.len();
    }
    Err(PlanInputError::NotJson {
        file: file.to_string(),
        line: 1,
        start: excerpt(text.trim_start()),
    })
}

/// Accepts whitespace or wrapper lines after the JSON; reports a second document.
fn check_trailing(text: &str, end: usize, file: &str) -> Result<(), PlanInputError> {
    let rest = &text[end..];
    let rest = rest.strip_prefix("%0A").unwrap_or(rest);
    let line_of = |pos: usize| text[..pos].matches('\n').count() + 1;
    let mut offset = end + (text.len() - end - rest.len());
    for line in rest.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('{') {
            let extra = serde_json::Deserializer::from_str(&text[offset..])
                .into_iter::<IgnoredAny>()
                .take_while(Result::is_ok)
                .count();
            return Err(PlanInputError::Multiple {
                file: file.to_string(),
                count: 1 + extra.max(1),
            });
        }
        let noise = trimmed.is_empty()
            || trimmed.starts_with("::set-output")
            || trimmed.starts_with("::debug::");
        if !noise {
            return Err(PlanInputError::TrailingNoise {
                file: file.to_string(),
                line: line_of(offset),
                start: excerpt(trimmed),
            });
        }
        offset += line.len();
    }
    Ok(())
}

fn check_plan(plan: &RawPlan, file: &str) -> Result<(), PlanInputError> {
    let f = || file.to_string();
    if plan.values.is_some() && plan.resource_changes.is_none() {
        return Err(PlanInputError::StateFile { file: f() });
    }
    let Some(version) = &plan.format_version else {
        return Err(PlanInputError::NotAPlan { file: f() });
    };
    if plan.planned_values.is_none() && plan.resource_changes.is_none() {
        return Err(PlanInputError::NotAPlan { file: f() });
    }
    let major = version.split('.').next().unwrap_or("");
    if !matches!(major, "0" | "1") || !version.contains('.') {
        return Err(PlanInputError::UnsupportedVersion {
            file: f(),
            version: excerpt(version),
        });
    }
    Ok(())
}

fn json_error(e: serde_json::Error, text: &str, start: usize, file: &str) -> PlanInputError {
    // serde_json counts lines from where parsing started.
    let line = e.line() + text[..start].matches('\n').count();
    let column = e.column();
    let file = file.to_string();
    match e.classify() {
        Category::Eof => PlanInputError::Truncated { file, line, column },
        Category::Data => PlanInputError::Syntax {
            file,
            line,
            column,
            message: sanitize_serde_message(&e.to_string()),
        },
        Category::Syntax | Category::Io => PlanInputError::Syntax {
            file,
            line,
            column,
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_string(),
        },
    }
}

/// The start of a line for an error message, cut short so that no long value is echoed.
fn excerpt(s: &str) -> String {
    let first = s.lines().next().unwrap_or("");
    let cut: String = first.chars().take(24).collect();
    if cut.len() < first.len() {
        format!("{cut}…")
    } else {
        cut
    }
}
