//! The one formatter for errors from outside systems (AWS, GitHub, registries,
//! Prometheus): one line with the operation, the system's code and message,
//! and what to check. Never an SDK's debug form (`DispatchFailure(…)`,
//! `SdkBody`, `Response {`), never a whole response body: a user reads the
//! line in a job log and must know what to do next.

use std::error::Error;

/// The longest detail kept from an outside system (its message, or the
/// chain of causes when it did not answer).
pub const MAX_DETAIL: usize = 160;

/// Text that only an SDK's debug form contains: a segment with one of these
/// is dropped from a message.
const DEBUG_FORMS: &[&str] = &[
    "DispatchFailure(",
    "SdkBody",
    "Response {",
    "ConnectorError {",
    "ServiceError(",
    "TimeoutError(",
    "ResponseError(",
    "ConstructionFailure(",
    "source: Some(",
];

/// The outside system an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// Amazon Web Services (ECS, ECR, CloudWatch Logs).
    Aws,
    /// GitHub's REST API.
    GitHub,
    /// An OCI registry.
    Registry,
    /// A Prometheus server.
    Prometheus,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            Self::Aws => "AWS",
            Self::GitHub => "GitHub",
            Self::Registry => "the registry",
            Self::Prometheus => "Prometheus",
        }
    }
}

/// `op: <system> said <detail>; check <check>` — the one shape of an
/// outside error. `detail` is made one line and bounded here.
pub fn line(op: &str, system: System, detail: &str, check: &str) -> String {
    let detail = clean(detail);
    let frame = |op: &str, detail: &str| {
        op.chars().count() + system.name().len() + detail.chars().count() + check.len() + 16
    };
    // Over the length: the operation's target gives way first (its name
    // comes first and stays), then the detail, never below its first
    // 100 characters (the system's code and message are what to read).
    let over = frame(op, &detail).saturating_sub(MAX_LINE);
    let op_len = op.chars().count();
    let op = bounded(op, op_len.saturating_sub(over).max(48.min(op_len)));
    let over = frame(&op, &detail).saturating_sub(MAX_LINE);
    let detail_len = detail.chars().count();
    let detail = bounded(
        &detail,
        detail_len.saturating_sub(over).max(100.min(detail_len)),
    );
    format!("{op}: {} said {detail}; check {check}", system.name())
}

/// The longest line [`line`] aims for (a longer operation name may exceed
/// it), leaving room for the binary's `error: ` within 200 characters.
pub const MAX_LINE: usize = 190;

fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        text.chars().take(max - 1).collect::<String>() + "…"
    } else {
        text.to_string()
    }
}

/// An error's causes in one line (`dispatch failure: io error: tcp connect
/// error: Connection refused`): each cause's own text, never its debug
/// form, repeated text dropped, bounded to [`MAX_DETAIL`] characters.
pub fn chain(e: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let seen = parts.last().is_some_and(|p| p.contains(&text));
        if !text.is_empty() && !seen && !DEBUG_FORMS.iter().any(|d| text.contains(d)) {
            parts.push(text);
        }
        next = err.source();
    }
    clean(&parts.join(": "))
}

/// Whether one of the error's causes is missing or unusable credentials
/// (the SDK fails the request before sending it).
pub fn lacks_credentials(e: &(dyn Error + 'static)) -> bool {
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = next {
        let text = err.to_string().to_ascii_lowercase();
        if text.contains("credential") {
            return true;
        }
        next = err.source();
    }
    false
}

/// An AWS SDK error as its detail: `Code: message` when AWS answered, the
/// chain of causes when it did not (a refused connection, a timeout), and
/// "no AWS credentials" when none were found.
pub fn aws_detail<E>(e: &E) -> String
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + Error + 'static,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => clean(&format!("{code}: {message}")),
        (Some(code), None) => clean(code),
        _ if lacks_credentials(e) => format!("no AWS credentials ({})", bounded(&chain(e), 60)),
        _ => chain(e),
    }
}

/// What to check after an AWS call failed, from its detail.
pub fn aws_check(detail: &str) -> &'static str {
    if detail.starts_with("no AWS credentials") {
        "the job's AWS credentials, or use --dry-run"
    } else if detail.contains("AccessDenied")
        || detail.contains("UnrecognizedClient")
        || detail.contains("ExpiredToken")
        || detail.contains("InvalidSignature")
    {
        "the role's IAM permissions for this call and that its credentials are current"
    } else if detail.contains("Throttl") || detail.contains("RequestLimitExceeded") {
        "how many runs call AWS at once (Ferry already retried)"
    } else if detail.contains("dispatch failure")
        || detail.contains("connect")
        || detail.contains("timed out")
        || detail.contains("timeout")
    {
        "the network, the region and AWS_ENDPOINT_URL"
    } else {
        "the names in the manifest and the role's permissions"
    }
}

/// An AWS call's failure in the one shape: `op target: AWS said …; check …`.
pub fn aws<E>(op: &str, target: &str, e: &E) -> String
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + Error + 'static,
{
    let detail = aws_detail(e);
    let op = if target.is_empty() {
        op.to_string()
    } else {
        format!("{op} {target}")
    };
    line(&op, System::Aws, &detail, aws_check(&detail))
}

/// A response body as a detail: its first line of text, markup removed (a
/// stand-in's whole HTML 500 page is one short line here).
pub fn body_detail(body: &str) -> String {
    let mut text = String::with_capacity(body.len().min(4096));
    let mut in_tag = false;
    for c in body.chars().take(64 * 1024) {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    clean(&text)
}

/// One line, no control characters, at most [`MAX_DETAIL`] characters.
fn clean(text: &str) -> String {
    let one: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    bounded(&one, MAX_DETAIL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Error for E {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn a_chain_is_one_line_without_debug_forms() {
        let e = E(
            "dispatch failure",
            Some(Box::new(E(
                "DispatchFailure(DispatchFailure { source: ConnectorError { kind: Io } })",
                Some(Box::new(E(
                    "tcp connect error:\n Connection refused (os error 111)",
                    None,
                ))),
            ))),
        );
        let text = chain(&e);
        assert_eq!(
            text,
            "dispatch failure: tcp connect error: Connection refused (os error 111)"
        );
        assert!(!lacks_credentials(&e));
        let l = line(
            "GetAuthorizationToken",
            System::Aws,
            &text,
            aws_check(&text),
        );
        assert!(
            l.starts_with("GetAuthorizationToken: AWS said dispatch failure"),
            "{l}"
        );
        assert!(
            l.ends_with("check the network, the region and AWS_ENDPOINT_URL"),
            "{l}"
        );
    }

    #[test]
    fn missing_credentials_say_so() {
        let e = E(
            "failed to construct request",
            Some(Box::new(E(
                "no providers in chain provided credentials",
                None,
            ))),
        );
        assert!(lacks_credentials(&e));
        let check = aws_check("no AWS credentials (failed to construct request)");
        assert!(
            check.contains("AWS credentials") && check.contains("--dry-run"),
            "{check}"
        );
    }

    #[test]
    fn a_body_is_one_short_line() {
        let page = format!(
            "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1>{}</body></html>",
            "<p>trace</p>\n".repeat(500)
        );
        let d = body_detail(&page);
        assert!(
            d.starts_with("500 Internal Server Error Internal Server Error"),
            "{d}"
        );
        assert!(d.chars().count() <= MAX_DETAIL && !d.contains('\n'), "{d}");
        let l = line(
            "query error-ratio",
            System::Prometheus,
            &body_detail(&page),
            "the URL",
        );
        assert!(l.chars().count() <= MAX_LINE && !l.contains('<'), "{l}");
    }
}
