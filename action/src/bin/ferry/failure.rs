//! Why a command failed, as the binary reports it: the message, and the
//! located problems behind it (each an annotation on the pull request).

use ferry::diagnostic::{Diagnose, Diagnostic};

/// A command's failure: any library error, or input refused at the edge.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub error: anyhow::Error,
    /// Where, in the user's files (often nowhere).
    pub diagnostics: Vec<Diagnostic>,
}

impl Failure {
    /// A failure the binary states itself: input refused before any work
    /// (a bad flag or action input), a gate's refusal, a log it cannot write.
    pub fn message(message: impl Into<String>) -> Self {
        Self {
            error: anyhow::Error::msg(message.into()),
            diagnostics: Vec::new(),
        }
    }
}

/// Every command error reports the same way: its message and diagnostics.
impl<E: std::error::Error + Diagnose + Send + Sync + 'static> From<E> for Failure {
    fn from(e: E) -> Self {
        let diagnostics = e.diagnostics();
        Self {
            error: anyhow::Error::new(e),
            diagnostics,
        }
    }
}

/// What a command returns to `main`.
pub type Outcome = Result<(), Failure>;
