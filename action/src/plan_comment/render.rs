//! Rendering a [`PlanView`] with tera, inside a size budget.
//!
//! The budget is not truncation: when the full rendering does not fit, the
//! view is shortened list by list, least risky first (creates, then moves
//! and imports, outputs, drift, update diffs, updates, destroy diffs,
//! destroys), each list keeping as many entries as still fit. Every
//! candidate is redacted before it is measured, since redaction can change
//! the length.

use tera::{Context, Tera};

use super::error::PlanCommentError;
use super::redact::Redactor;
use super::view::{Omitted, PlanView};

/// GitHub's limit on an issue comment, in characters.
pub const COMMENT_MAX_CHARS: usize = 65_536;
/// GitHub's limit on an issue comment, in bytes.
pub const COMMENT_MAX_BYTES: usize = 262_144;
/// GitHub's limit on a job summary, in bytes.
pub const SUMMARY_MAX_BYTES: usize = 1_048_576;
/// Creates keep their attribute diffs only when there are at most this many.
const CREATE_DETAIL_MAX: usize = 20;
/// Attribute lines per resource in the comment (the summary has them all).
const ATTRS_PER_RESOURCE: usize = 60;

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
        bytes: SUMMARY_MAX_BYTES,
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
        let mut tera = Tera::default();
        tera.autoescape_on(Vec::new());
        tera.add_raw_template(TEMPLATE_NAME, text)
            .map_err(|e| template_error(name, &e))?;
        Ok(Renderer { tera })
    }

    /// Renders one view as it is, then redacts it.
    pub fn render(&self, view: &PlanView, redactor: &Redactor) -> Result<String, PlanCommentError> {
        let mut ctx = Context::new();
        ctx.insert("plan", view);
        let text = self
            .tera
            .render(TEMPLATE_NAME, &ctx)
            .map_err(|e| template_error("plan-comment template", &e))?;
        Ok(redactor.redact(&text))
    }

    /// Renders the view within `limits`, shortening it by risk when needed.
    pub fn render_within(
        &self,
        full: &PlanView,
        redactor: &Redactor,
        limits: Limits,
        per_resource_cap: bool,
    ) -> Result<String, PlanCommentError> {
        let mut shape = Shape::full(full, per_resource_cap);
        let attempt = |shape: &Shape| -> Result<(String, bool), PlanCommentError> {
            let text = self.render(&shape.apply(full), redactor)?;
            let fits = limits.fits(&text);
            Ok((text, fits))
        };
        let (text, fits) = attempt(&shape)?;
        if fits {
            return Ok(text);
        }
        for knob in KNOBS {
            let max = knob(&mut shape, None);
            knob(&mut shape, Some(0));
            let (text0, fits0) = attempt(&shape)?;
            if !fits0 {
                continue;
            }
            // Largest value that fits: `lo` fits, `hi` does not.
            let (mut lo, mut hi, mut best) = (0, max, text0);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                knob(&mut shape, Some(mid));
                let (text, fits) = attempt(&shape)?;
                if fits {
                    lo = mid;
                    best = text;
                } else {
                    hi = mid;
                }
            }
            knob(&mut shape, Some(lo));
            return Ok(best);
        }
        // Even the bare summary does not fit (huge warnings): a fixed minimum.
        let minimal = format!(
            "{}\n{}\n### Terraform plan for `{}`\n\n**{}**\n\nThe plan is too large to show here; see the job summary{}.\n",
            full.marker,
            full.metadata,
            full.env,
            full.plan_line,
            full.full_report_url
                .as_deref()
                .map(|u| format!(" ({u})"))
                .unwrap_or_default()
        );
        Ok(redactor.redact(&minimal))
    }
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

/// How much of each list a rendering keeps.
#[derive(Debug, Clone, Copy)]
struct Shape {
    destroys: usize,
    destroy_details: usize,
    updates: usize,
    update_details: usize,
    creates: usize,
    create_details: usize,
    others: usize,
    outputs: usize,
    drift: usize,
    checks: usize,
    attrs_per_resource: usize,
}

/// Knobs in the order they are turned down: least risky first. Called with
/// `None` it returns the current value; with `Some(v)` it sets it.
type Knob = fn(&mut Shape, Option<usize>) -> usize;

macro_rules! knob {
    ($field:ident) => {{
        fn k(s: &mut Shape, v: Option<usize>) -> usize {
            if let Some(v) = v {
                s.$field = v;
            }
            s.$field
        }
        k as Knob
    }};
}

const KNOBS: [Knob; 11] = [
    knob!(create_details),
    knob!(creates),
    knob!(others),
    knob!(outputs),
    knob!(drift),
    knob!(checks),
    knob!(update_details),
    knob!(updates),
    knob!(destroy_details),
    knob!(attrs_per_resource),
    knob!(destroys),
];

impl Shape {
    fn full(v: &PlanView, per_resource_cap: bool) -> Shape {
        Shape {
            destroys: v.destroys.len(),
            destroy_details: v.destroys.len(),
            updates: v.updates.len(),
            update_details: v.updates.len(),
            creates: v.creates.len(),
            create_details: if v.creates.len() <= CREATE_DETAIL_MAX || !per_resource_cap {
                v.creates.len()
            } else {
                0
            },
            others: v.moves.len() + v.imports.len() + v.forgets.len(),
            outputs: v.outputs.len(),
            drift: v.drift.len(),
            checks: v.failed_checks.len(),
            attrs_per_resource: if per_resource_cap {
                ATTRS_PER_RESOURCE
            } else {
                usize::MAX
            },
        }
    }

    fn apply(&self, full: &PlanView) -> PlanView {
        let mut v = full.clone();
        let mut omitted = Omitted::default();
        let cap = self.attrs_per_resource;
        let cut = |list: &mut Vec<super::view::ResourceView>, keep: usize, details: usize| {
            let dropped = list.len().saturating_sub(keep);
            list.truncate(keep);
            for (i, r) in list.iter_mut().enumerate() {
                let limit = if i < details { cap } else { 0 };
                if r.attrs.len() > limit {
                    r.attrs_omitted = if limit == 0 { 0 } else { r.attrs.len() - limit };
                    r.attrs.truncate(limit);
                }
            }
            dropped
        };
        omitted.destroys = cut(&mut v.destroys, self.destroys, self.destroy_details);
        omitted.updates = cut(&mut v.updates, self.updates, self.update_details);
        omitted.creates = cut(&mut v.creates, self.creates, self.create_details);
        omitted.drift = cut(&mut v.drift, self.drift, self.drift);
        let mut others = self.others;
        for list in [&mut v.moves, &mut v.imports, &mut v.forgets] {
            let keep = others.min(list.len());
            omitted.others += cut(list, keep, 0);
            others -= keep;
        }
        omitted.outputs = v.outputs.len().saturating_sub(self.outputs);
        v.outputs.truncate(self.outputs);
        v.failed_checks.truncate(self.checks);
        v.shortened = omitted.total() > 0 || self.attrs_trimmed(full);
        v.omitted = omitted;
        v
    }

    fn attrs_trimmed(&self, full: &PlanView) -> bool {
        self.destroy_details < full.destroys.len()
            || self.update_details < full.updates.len()
            || self.checks < full.failed_checks.len()
    }
}
