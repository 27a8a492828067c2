//! The size budget: which entries of a view a rendering keeps.
//!
//! Lists are shortened least risky first (creates' diffs, creates, moves
//! and imports, outputs, drift, checks, update diffs, updates, destroy
//! diffs, destroys). For each list the largest count that fits is searched,
//! first with a cheap lower bound of the rendered size (so a 6 MB plan is
//! never rendered whole to learn that it does not fit), then with real
//! renderings, which are what is measured.

use super::view::{Omitted, PlanView, ResourceView};

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

    /// The view this shape keeps, with what it left out counted.
    pub fn apply(&self, full: &PlanView) -> PlanView {
        let mut v = full.empty_copy();
        let cap = self.attrs_per_resource;
        let mut omitted = Omitted::default();
        let take =
            |l: &[ResourceView], keep: usize, details: usize| -> (Vec<ResourceView>, usize) {
                let kept = l
                    .iter()
                    .take(keep)
                    .enumerate()
                    .map(|(i, r)| r.with_attrs(if i < details { cap } else { 0 }))
                    .collect();
                (kept, l.len().saturating_sub(keep))
            };
        (v.destroys, omitted.destroys) = take(&full.destroys, self.destroys, self.destroy_details);
        (v.updates, omitted.updates) = take(&full.updates, self.updates, self.update_details);
        (v.creates, omitted.creates) = take(&full.creates, self.creates, self.create_details);
        (v.drift, omitted.drift) = take(&full.drift, self.drift, self.drift);
        let mut left = self.others;
        for (from, to) in [
            (&full.moves, &mut v.moves),
            (&full.imports, &mut v.imports),
            (&full.forgets, &mut v.forgets),
        ] {
            let keep = left.min(from.len());
            let (kept, dropped) = take(from, keep, 0);
            *to = kept;
            omitted.others += dropped;
            left -= keep;
        }
        v.outputs = full.outputs.iter().take(self.outputs).cloned().collect();
        omitted.outputs = full.outputs.len().saturating_sub(self.outputs);
        v.failed_checks = full
            .failed_checks
            .iter()
            .take(self.checks)
            .cloned()
            .collect();
        let trimmed_attrs = |l: &[ResourceView]| l.iter().any(|r| r.attrs_omitted > 0);
        v.shortened = omitted.total() > 0
            || self.destroy_details < v.destroys.len()
            || self.update_details < v.updates.len()
            || self.checks < full.failed_checks.len()
            || trimmed_attrs(&v.destroys)
            || trimmed_attrs(&v.updates)
            || trimmed_attrs(&v.creates);
        v.omitted = omitted;
        v
    }
}
