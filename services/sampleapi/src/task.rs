//! The task a client submits, and its validation.
//!
//! Validation is done by hand on a `serde_json::Value` rather than by a derived
//! `Deserialize`, so that every rejection names the offending field and says
//! what a valid value looks like.

use serde::Serialize;
use serde_json::{Map, Value};

/// Longest accepted subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest accepted body, in characters (keeps the SQS message well under
/// 256 KiB).
pub const MAX_BODY_CHARS: usize = 50_000;
/// Longest e-mail address (RFC 5321).
pub const MAX_ADDRESS_CHARS: usize = 254;

/// A validated task, as published on the queue (the worker reads this JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Task {
    /// Send one e-mail.
    Email {
        /// Recipient address.
        to: String,
        /// Subject line.
        subject: String,
        /// Plain-text body.
        body: String,
    },
}

impl Task {
    /// The task type, for logs and message attributes.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::Email { .. } => "email",
        }
    }
}

/// Why a body was rejected: the field (JSON pointer-ish name, `$` for the whole
/// document) and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The offending field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The JSON type name of a value, for error messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string_field(
    obj: &Map<String, Value>,
    field: &str,
    max_chars: usize,
) -> Result<String, Invalid> {
    match obj.get(field) {
        None => Err(invalid(field, format!("`{field}` is required"))),
        Some(Value::String(s)) => {
            let trimmed = s.trim();
            if trimmed.is_empty() {
                Err(invalid(field, format!("`{field}` must not be empty")))
            } else if s.chars().count() > max_chars {
                Err(invalid(
                    field,
                    format!("`{field}` is longer than {max_chars} characters"),
                ))
            } else {
                Ok(s.clone())
            }
        }
        Some(other) => Err(invalid(
            field,
            format!("`{field}` must be a string, not {}", type_name(other)),
        )),
    }
}

/// A deliberately simple address check: one `@`, non-empty local part, a dot in
/// the domain, no spaces or control characters. The mail provider does the rest.
fn valid_address(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !a.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Validates a parsed JSON document into a [`Task`].
pub fn validate(doc: &Value) -> Result<Task, Invalid> {
    let Value::Object(obj) = doc else {
        return Err(invalid(
            "$",
            format!("the body must be a JSON object, not {}", type_name(doc)),
        ));
    };
    let kind = match obj.get("type") {
        None => return Err(invalid("type", "`type` is required (one of: email)")),
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(invalid(
                "type",
                format!("`type` must be a string, not {}", type_name(other)),
            ));
        }
    };
    match kind {
        "email" => {
            const KNOWN: [&str; 4] = ["type", "to", "subject", "body"];
            if let Some(unknown) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
                return Err(invalid(
                    unknown,
                    format!("unknown field `{unknown}` (expected: type, to, subject, body)"),
                ));
            }
            let to = string_field(obj, "to", MAX_ADDRESS_CHARS)?;
            if !valid_address(&to) {
                return Err(invalid("to", "`to` must be an e-mail address"));
            }
            let subject = string_field(obj, "subject", MAX_SUBJECT_CHARS)?;
            let body = string_field(obj, "body", MAX_BODY_CHARS)?;
            Ok(Task::Email { to, subject, body })
        }
        other => Err(invalid(
            "type",
            format!(
                "unknown task type {:?} (one of: email)",
                other.chars().take(40).collect::<String>()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_and_serialises_an_email() {
        let t = validate(&json!({"type":"email","to":"a@b.io","subject":"s","body":"b"})).unwrap();
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({"type":"email","to":"a@b.io","subject":"s","body":"b"})
        );
    }

    #[test]
    fn names_the_field() {
        let cases = [
            (json!([1]), "$"),
            (json!({"to":"a@b.io"}), "type"),
            (json!({"type":7}), "type"),
            (json!({"type":"sms"}), "type"),
            (json!({"type":"email","subject":"s","body":"b"}), "to"),
            (
                json!({"type":"email","to":"nope","subject":"s","body":"b"}),
                "to",
            ),
            (
                json!({"type":"email","to":"a@b.io","subject":"","body":"b"}),
                "subject",
            ),
            (
                json!({"type":"email","to":"a@b.io","subject":"s","body":false}),
                "body",
            ),
            (
                json!({"type":"email","to":"a@b.io","subject":"s","body":"b","cc":"x"}),
                "cc",
            ),
        ];
        for (doc, field) in cases {
            assert_eq!(validate(&doc).unwrap_err().field, field, "{doc}");
        }
    }

    #[test]
    fn addresses() {
        assert!(valid_address("a.b+c@example.co.uk"));
        for bad in [
            "", "a", "@b.io", "a@b", "a@@b.io", "a b@c.io", "a@.io", "a@b.",
        ] {
            assert!(!valid_address(bad), "{bad}");
        }
    }
}
