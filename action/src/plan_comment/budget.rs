//! The size budget: which entries of a view a rendering keeps.
//!
//! Lists are shortened least risky first (creates' diffs, creates, moves
//! and imports, outputs, drift, checks, update diffs, updates, destroy
//! diffs, destroys). For each list the largest count that fits is searched,
//! first with a cheap lower bound of the rendered size (so a 6 MB plan is
//! never rendered whole to learn that it does not fit), then with real
//! renderings, which are what is measured.

use super::view::{ACTIONS_LISTED, Omitted, PlanOut, PlanView, ResourceOut, ResourceView};

/// Creates keep their attribute diffs only when there are at most this many.
pub const CREATE_DETAIL_MAX: usize = 20;
/// Attribute lines per resource in the comment (the summary has them all).
pub const ATTRS_PER_RESOURCE: usize = 60;

/// How much of each list a rendering keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
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

/// A knob reads (with `None`) or sets (with `Some`) one or more fields.
pub type Knob = fn(&mut Shape, Option<usize>) -> usize;

macro_rules! knob {
    ($($field:ident),+) => {{
        fn k(s: &mut Shape, v: Option<usize>) -> usize {
            if let Some(v) = v {
                $(s.$field = v;)+
            }
            [$(s.$field),+][0]
        }
        k as Knob
    }};
}

/// The knobs in the order they are turned down.
pub const KNOBS: [Knob; 11] = [
    knob!(create_details),
    knob!(creates),
    knob!(others),
    knob!(outputs),
    knob!(drift),
    knob!(checks),
    // Every update listed, the first ones with their diffs; then, when even
    // the addresses do not fit, fewer updates, each with its diff.
    knob!(update_details),
    knob!(updates, update_details),
    knob!(attrs_per_resource),
    knob!(destroy_details),
    knob!(destroys, destroy_details),
];

impl Shape {
    /// Everything, except creates' diffs when there are many and, for a
    /// comment, attribute lists beyond [`ATTRS_PER_RESOURCE`].
    pub fn full(v: &PlanView, comment: bool) -> Shape {
        Shape {
            destroys: v.destroys.len(),
            destroy_details: v.destroys.len(),
            updates: v.updates.len(),
            update_details: v.updates.len(),
            creates: v.creates.len(),
            create_details: if v.creates.len() <= CREATE_DETAIL_MAX || !comment {
                v.creates.len()
            } else {
                0
            },
            others: v.moves.len() + v.imports.len() + v.forgets.len(),
            outputs: v.outputs.len(),
            drift: v.drift.len(),
            checks: v.failed_checks.len(),
            attrs_per_resource: if comment {
                ATTRS_PER_RESOURCE
            } else {
                usize::MAX
            },
        }
    }

    /// A lower bound of the characters a rendering of this shape takes.
    pub fn min_chars(&self, full: &PlanView) -> usize {
        let cap = self.attrs_per_resource;
        let list = |l: &[ResourceView], keep: usize, details: usize| -> usize {
            l.iter()
                .take(keep)
                .enumerate()
                .map(|(i, r)| r.min_chars(if i < details { cap } else { 0 }))
                .sum()
        };
        let others = full.moves.iter().chain(&full.imports).chain(&full.forgets);
        list(&full.destroys, self.destroys, self.destroy_details)
            + list(&full.updates, self.updates, self.update_details)
            + list(&full.creates, self.creates, self.create_details)
            + list(&full.drift, self.drift, self.drift)
            + others
                .take(self.others)
                .map(|r| r.min_chars(0))
                .sum::<usize>()
    }

    /// The view this shape keeps, borrowed, with what it left out counted.
    pub fn apply<'a>(&self, full: &'a PlanView) -> PlanOut<'a> {
        let cap = self.attrs_per_resource;
        let take = |l: &'a [ResourceView], keep: usize, details: usize| -> Vec<ResourceOut<'a>> {
            l.iter()
                .take(keep)
                .enumerate()
                .map(|(i, r)| ResourceOut::new(r, if i < details { cap } else { 0 }))
                .collect()
        };
        let left = |l: &[ResourceView], keep: usize| l.len().saturating_sub(keep);
        let mut others = self.others;
        let mut rest = |l: &'a [ResourceView]| {
            let keep = others.min(l.len());
            others -= keep;
            (take(l, keep, 0), l.len() - keep)
        };
        let (moves, m) = rest(&full.moves);
        let (imports, i) = rest(&full.imports);
        let (forgets, f) = rest(&full.forgets);
        let omitted = Omitted {
            destroys: left(&full.destroys, self.destroys),
            updates: left(&full.updates, self.updates),
            creates: left(&full.creates, self.creates),
            others: m + i + f,
            drift: left(&full.drift, self.drift),
            outputs: full.outputs.len().saturating_sub(self.outputs),
        };
        let out = PlanOut {
            view: full,
            destroys: take(&full.destroys, self.destroys, self.destroy_details),
            updates: take(&full.updates, self.updates, self.update_details),
            creates: take(&full.creates, self.creates, self.create_details),
            moves,
            imports,
            forgets,
            drift: take(&full.drift, self.drift, self.drift),
            deferred: full.deferred.iter().map(ResourceOut::full).collect(),
            actions: &full.actions[..full.actions.len().min(ACTIONS_LISTED)],
            actions_omitted: full.actions.len().saturating_sub(ACTIONS_LISTED),
            outputs: &full.outputs[..self.outputs.min(full.outputs.len())],
            failed_checks: &full.failed_checks[..self.checks.min(full.failed_checks.len())],
            omitted,
            shortened: false,
        };
        let trimmed = |l: &[ResourceOut<'_>], details: usize| {
            l.iter().enumerate().any(|(i, r)| {
                r.attrs_omitted > 0 || (i < details && r.attrs.len() < r.resource.attrs.len())
            }) || l.iter().skip(details).any(|r| !r.resource.attrs.is_empty())
        };
        let shortened = omitted.total() > 0
            || self.checks < full.failed_checks.len()
            || trimmed(&out.destroys, self.destroy_details)
            || trimmed(&out.updates, self.update_details)
            || (self.create_details > 0 && trimmed(&out.creates, self.create_details));
        PlanOut { shortened, ..out }
    }
}
