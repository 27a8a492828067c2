//! Rendering a [`PlanView`] with tera, inside a size budget.
//!
//! The budget is not truncation: when the full rendering does not fit, the
//! view is shortened list by list, least risky first (creates, then moves
//! and imports, outputs, drift, update diffs, updates, destroy diffs,
//! destroys), each list keeping as many entries as still fit. Every
//! candidate is redacted before it is measured, since redaction can change
//! the length.

use tera::{Context, Tera};

use super::budget::{KNOBS, Knob, Shape};
use super::error::PlanCommentError;
use super::redact::Redactor;
use super::view::{PlanOut, PlanView};

pub use crate::markdown::{COMMENT_MAX_BYTES, COMMENT_MAX_CHARS, SUMMARY_MAX_BYTES};
/// What Ferry spends of it: rendering costs several times the output in
/// tera's context, and half the limit keeps a 6 MB plan under 4x its size
/// in memory while still holding thousands of entries.
pub const SUMMARY_TARGET_BYTES: usize = SUMMARY_MAX_BYTES / 2;

/// The built-in template, shipped in the binary.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/plan-comment.md.tera");
const TEMPLATE_NAME: &str = "plan-comment.md";

/// Size limits of one rendering.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum number of characters.
    pub chars: usize,
    /// Maximum number of bytes.
    pub bytes: usize,
}

impl Limits {
    /// A pull request comment.
    pub const COMMENT: Limits = Limits {
        chars: COMMENT_MAX_CHARS,
        bytes: COMMENT_MAX_BYTES,
    };
    /// A job summary.
    pub const SUMMARY: Limits = Limits {
        chars: usize::MAX,
        bytes: SUMMARY_TARGET_BYTES,
    };

    fn fits(&self, s: &str) -> bool {
        s.len() <= self.bytes && (s.len() <= self.chars || s.chars().count() <= self.chars)
    }
}

/// A compiled template.
#[derive(Debug)]
pub struct Renderer {
    tera: Tera,
}

impl Renderer {
    /// The default template, or the user's template source when given.
    pub fn new(source: Option<(&str, &str)>) -> Result<Renderer, PlanCommentError> {
        let (name, text) = source.unwrap_or(("built-in template", DEFAULT_TEMPLATE));
        // Autoescape on: a value a template prints without a filter is plain text.
        let mut tera = crate::markdown::tera();
        tera.add_raw_template(TEMPLATE_NAME, text)
            .map_err(|e| template_error(name, &e))?;
        Ok(Renderer { tera })
    }

    /// Renders one view as it is, then redacts it.
    ///
    /// A comment (not a summary) always starts with the marker and carries
    /// the metadata line, even when a custom template forgets them: without
    /// them the comment could not be found again nor verified.
    pub fn render(
        &self,
        plan: &PlanOut<'_>,
        redactor: &Redactor,
    ) -> Result<String, PlanCommentError> {
        let view = plan.view;
        let mut ctx = Context::new();
        ctx.insert("plan", plan);
        let mut text = self
            .tera
            .render(TEMPLATE_NAME, &ctx)
            .map_err(|e| template_error("plan-comment template", &e))?;
        if !view.is_summary {
            // Marker on the first line, metadata on the second, whatever the
            // template did: `plan-verify` reads the hash from there only.
            let rest = text
                .strip_prefix(&view.marker)
                .map_or(text.as_str(), |r| r.strip_prefix('\n').unwrap_or(r));
            let rest = rest
                .strip_prefix(&view.metadata)
                .map_or(rest, |r| r.strip_prefix('\n').unwrap_or(r));
            text = format!("{}\n{}\n{rest}", view.marker, view.metadata);
        }
        Ok(redactor.redact_owned(text))
    }

    /// Renders the view within `limits`, shortening it by risk when needed.
    /// `comment` also caps attribute lists and collapses many creates.
    /// Returns the text and whether anything was left out.
    pub fn render_within(
        &self,
        full: &PlanView,
        redactor: &Redactor,
        limits: Limits,
        comment: bool,
    ) -> Result<(String, bool), PlanCommentError> {
        let mut shape = Shape::full(full, comment);
        let bound = limits.chars.min(limits.bytes);
        // Renders a shape unless its lower bound already exceeds the limit.
        let render = |shape: &Shape| -> Result<Option<(String, bool)>, PlanCommentError> {
            if shape.min_chars(full) > bound {
                return Ok(None);
            }
            let text = self.render(&shape.apply(full), redactor)?;
            let fits = limits.fits(&text);
            Ok(Some((text, fits)))
        };
        if let Some((text, true)) = render(&shape)? {
            let shortened = shape.apply(full).shortened;
            return Ok((text, shortened));
        }
        for knob in KNOBS {
            let max = knob(&mut shape, None);
            knob(&mut shape, Some(0));
            let Some((mut best, true)) = render(&shape)? else {
                continue;
            };
            // `lo` fits, `hi` does not (the value at `max` was just refused).
            // Above `cap` even the lower bound is over the limit.
            let cap = largest_within(&mut shape, knob, full, bound, max);
            let (mut lo, mut hi) = (0, cap + 1);
            let mut guess = cap;
            // A few guesses scaled by the measured size of the last rendering,
            // then plain bisection: big renderings are few.
            for step in 0.. {
                if guess <= lo || guess >= hi {
                    if hi - lo <= 1 {
                        break;
                    }
                    guess = lo + (hi - lo) / 2;
                }
                knob(&mut shape, Some(guess));
                let (text, fits) = render(&shape)?.unwrap_or_default();
                let size = text.chars().count();
                if fits {
                    lo = guess;
                    best = text;
                    // Close enough: the space is 90% spent, or nothing is left to try.
                    if size >= bound / 10 * 9 || hi - lo <= 1 {
                        break;
                    }
                } else {
                    hi = guess;
                }
                guess = if step < 3 && !fits && size > 0 {
                    let lower = {
                        knob(&mut shape, Some(hi));
                        shape.min_chars(full)
                    };
                    let target = (lower as f64 * bound as f64 / size as f64 * 0.98) as usize;
                    largest_within(&mut shape, knob, full, target, hi)
                } else {
                    lo + (hi - lo) / 2
                };
            }
            knob(&mut shape, Some(lo));
            return Ok((best, true));
        }
        // Even the bare list of destroys does not fit: a fixed minimum,
        // which still says what the plan does and warns what it warns.
        let text = if full.is_summary {
            minimal(
                full,
                "The plan is too large to list even in the job summary; the full plan is only in the log of the step that ran `terraform plan`.",
            )
        } else {
            minimal(
                full,
                &format!(
                    "The plan is too large to list here; see the job summary{}.",
                    full.full_report_url
                        .as_deref()
                        .and_then(crate::markdown::url)
                        .map(|u| format!(" of [this run]({u})"))
                        .unwrap_or_default()
                ),
            )
        };
        Ok((redactor.redact(&text), true))
    }
}

/// The smallest rendering of a plan (also what is posted when GitHub
/// refuses the comment): marker, metadata, title, headline, every warning
/// and `note`. Its size is bounded: the warnings are (see `build`).
pub fn minimal(view: &PlanView, note: &str) -> String {
    let mut out = String::new();
    if !view.is_summary {
        out.push_str(&format!("{}\n{}\n", view.marker, view.metadata));
    }
    out.push_str(&format!(
        "### Terraform plan for {}\n\n{}\n",
        crate::markdown::code(&view.env),
        view.headline
    ));
    for w in &view.warnings {
        out.push_str(&format!("\n> [!CAUTION]\n> {w}\n"));
    }
    out.push_str(&format!("\n{note}\n"));
    out
}

/// Largest knob value below `below` whose lower bound is within `target` characters.
fn largest_within(
    shape: &mut Shape,
    knob: Knob,
    full: &PlanView,
    target: usize,
    below: usize,
) -> usize {
    let (mut lo, mut hi) = (0, below);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        knob(shape, Some(mid));
        if shape.min_chars(full) <= target {
            lo = mid
        } else {
            hi = mid
        }
    }
    lo
}

fn template_error(name: &str, e: &tera::Error) -> PlanCommentError {
    // tera keeps the useful part in the source chain.
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    PlanCommentError::Template {
        name: name.to_string(),
        detail,
    }
}
