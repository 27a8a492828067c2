//! How much of a diagnosis the deploy comment or the job summary keeps: the
//! trims a text steps down through until it fits GitHub's budget.

use super::model::{Diagnosis, LogLine, ServiceEvent};
use crate::text::truncate_chars;

/// How much of a diagnosis is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Trim {
    pub(super) tasks: usize,
    pub(super) events: usize,
    pub(super) logs: usize,
    pub(super) line_chars: usize,
}

impl Trim {
    /// What a comment keeps at most (the state carries it to later jobs).
    pub(super) const COMMENT: Trim = Trim {
        tasks: 5,
        events: 20,
        logs: 30,
        line_chars: 300,
    };
    /// Steps down when a comment does not fit.
    pub(super) const SHORTER: [Trim; 4] = [
        Trim::COMMENT,
        Trim {
            tasks: 3,
            events: 10,
            logs: 10,
            line_chars: 200,
        },
        Trim {
            tasks: 2,
            events: 3,
            logs: 3,
            line_chars: 160,
        },
        Trim {
            tasks: 1,
            events: 0,
            logs: 0,
            line_chars: 120,
        },
    ];
    /// The job summary: everything, each line within reason.
    pub(super) const FULL: Trim = Trim {
        tasks: usize::MAX,
        events: usize::MAX,
        logs: usize::MAX,
        line_chars: 2000,
    };

    pub(super) fn apply(self, d: &Diagnosis) -> Diagnosis {
        let cut = |s: &str| truncate_chars(s, self.line_chars);
        let last = |n: usize, len: usize| len.saturating_sub(n);
        Diagnosis {
            reason: cut(&d.reason),
            notes: d.notes.iter().map(|n| cut(n)).collect(),
            stopped_tasks: d
                .stopped_tasks
                .iter()
                .take(self.tasks)
                .map(|t| {
                    let mut t = t.clone();
                    t.stopped_reason = t.stopped_reason.as_deref().map(cut);
                    for c in &mut t.containers {
                        c.reason = c.reason.as_deref().map(cut);
                    }
                    t
                })
                .collect(),
            // The newest events and log lines say most about the failure.
            events: d.events[last(self.events, d.events.len())..]
                .iter()
                .map(|e| ServiceEvent {
                    at: e.at.clone(),
                    message: cut(&e.message),
                })
                .collect(),
            log_lines: d.log_lines[last(self.logs, d.log_lines.len())..]
                .iter()
                .map(|l| LogLine {
                    stream: l.stream.clone(),
                    message: cut(&l.message),
                })
                .collect(),
        }
    }
}
