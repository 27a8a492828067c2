//! Whether the plan about to be applied is the reviewed one, and when it is
//! not, what differs: pure decisions over the change digests
//! ([`ChangeDigest`]) of the current plan and of each reviewed comment.
//!
//! The reviewed plan itself is gone after merge; its comment keeps, under
//! the metadata line, one keyed digest per change. So a refusal can name
//! each change added, removed or changed since the review (address and
//! action, never values), and a merge-queue batch of several pull requests
//! can be checked against what they were reviewed for together.
//!
//! The rule for a group of pull requests applied at once (a merge-queue
//! batch, or a pushed commit that belongs to several): the plan is
//! accepted only when every change in it is a change one of them was
//! reviewed with, digest for digest, and every reviewed change of every
//! one of them is in it. A change that differs is attributed to the pull
//! requests whose review touched its address, or to none.

use std::collections::{BTreeMap, BTreeSet};

use super::marker::{ChangeDigest, ChangeKind};

/// One pull request's reviewed plan comment, as believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewed {
    /// The pull request.
    pub pr: u64,
    /// The reviewed plan's digest.
    pub hash: String,
    /// Its change digests; `None` for a comment without them (an older
    /// Ferry, or a plan with too many changes to record each).
    pub changes: Option<Vec<ChangeDigest>>,
}

/// One change that differs from the review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Resource, output, action.
    pub kind: ChangeKind,
    /// Its address (or output name).
    pub address: String,
    /// Its action in the plan now; `None`: no longer planned.
    pub now: Option<&'static str>,
    /// The pull requests whose review had a change at this address, with
    /// the action reviewed; empty: no review had one.
    pub reviewed: Vec<(u64, &'static str)>,
}

/// The answer for the plan about to be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It is the reviewed plan (or, for a group, exactly what the group's
    /// pull requests were reviewed for together).
    Same,
    /// It differs. `findings` names each change that does (empty when the
    /// reviewed comments cannot say: see `unexplained`).
    Differs {
        /// The changes that differ, by address.
        findings: Vec<Finding>,
        /// Pull requests whose comments have no change digests, so the
        /// differences against them cannot be shown.
        unexplained: Vec<u64>,
    },
}

impl Verdict {
    /// The pull requests whose reviewed plan differs (named by a finding,
    /// or without digests), in order.
    pub fn differing(&self) -> Vec<u64> {
        match self {
            Verdict::Same => Vec::new(),
            Verdict::Differs {
                findings,
                unexplained,
            } => {
                let mut prs: BTreeSet<u64> = unexplained.iter().copied().collect();
                for f in findings {
                    prs.extend(f.reviewed.iter().map(|(pr, _)| *pr));
                }
                prs.into_iter().collect()
            }
        }
    }
}

/// Judges the current plan (its digest and change digests) against the
/// reviewed comments of the pull requests applied with it.
///
/// - No reviewed comment: the same only when the plan changes nothing.
/// - One: the same when the digests are equal (a comment without change
///   digests still verifies; it only cannot explain a difference).
/// - Several: the rule of the module's documentation; a comment without
///   change digests makes the group unverifiable (it differs, unexplained).
pub fn judge(current_hash: &str, current: &[ChangeDigest], reviewed: &[Reviewed]) -> Verdict {
    match reviewed {
        [] if current.is_empty() => Verdict::Same,
        [] => Verdict::Differs {
            findings: diff(current, &[]),
            unexplained: Vec::new(),
        },
        [one] if one.hash == current_hash => Verdict::Same,
        [one] => match &one.changes {
            Some(changes) => Verdict::Differs {
                findings: diff(current, &[(one.pr, changes)]),
                unexplained: Vec::new(),
            },
            None => Verdict::Differs {
                findings: Vec::new(),
                unexplained: vec![one.pr],
            },
        },
        several => {
            let unexplained: Vec<u64> = several
                .iter()
                .filter(|r| r.changes.is_none())
                .map(|r| r.pr)
                .collect();
            let with: Vec<(u64, &Vec<ChangeDigest>)> = several
                .iter()
                .filter_map(|r| r.changes.as_ref().map(|c| (r.pr, c)))
                .collect();
            let findings = diff(current, &with);
            if findings.is_empty() && unexplained.is_empty() {
                Verdict::Same
            } else {
                Verdict::Differs {
                    findings,
                    unexplained,
                }
            }
        }
    }
}

type Key = (ChangeKind, String);

/// Every address where the current plan and the union of the reviews
/// disagree: a current change no review has digest for digest, or a
/// reviewed change the plan no longer has.
fn diff(current: &[ChangeDigest], reviewed: &[(u64, &Vec<ChangeDigest>)]) -> Vec<Finding> {
    let reviewed_set: BTreeSet<(ChangeKind, &str, &str)> = reviewed
        .iter()
        .flat_map(|(_, cs)| cs.iter())
        .map(|c| (c.kind, c.address.as_str(), c.digest.as_str()))
        .collect();
    let current_set: BTreeSet<(ChangeKind, &str, &str)> = current
        .iter()
        .map(|c| (c.kind, c.address.as_str(), c.digest.as_str()))
        .collect();
    let mut odd: BTreeMap<Key, Finding> = BTreeMap::new();
    for c in current {
        if !reviewed_set.contains(&(c.kind, c.address.as_str(), c.digest.as_str())) {
            odd.entry((c.kind, c.address.clone()))
                .or_insert_with(|| Finding {
                    kind: c.kind,
                    address: c.address.clone(),
                    now: None,
                    reviewed: Vec::new(),
                })
                .now = Some(c.action);
        }
    }
    for (_, changes) in reviewed {
        for c in changes.iter() {
            if !current_set.contains(&(c.kind, c.address.as_str(), c.digest.as_str())) {
                odd.entry((c.kind, c.address.clone()))
                    .or_insert_with(|| Finding {
                        kind: c.kind,
                        address: c.address.clone(),
                        now: current
                            .iter()
                            .find(|n| n.kind == c.kind && n.address == c.address)
                            .map(|n| n.action),
                        reviewed: Vec::new(),
                    });
            }
        }
    }
    // Attribute each odd address to every review that touched it.
    for f in odd.values_mut() {
        for (pr, changes) in reviewed {
            for c in changes.iter() {
                if c.kind == f.kind
                    && c.address == f.address
                    && !f.reviewed.contains(&(*pr, c.action))
                {
                    f.reviewed.push((*pr, c.action));
                }
            }
        }
    }
    odd.into_values().collect()
}

/// The merge queue's entry (its pull request) whose branch points at
/// commit `sha`, among `refs` (each queue branch with the commit it points
/// at, as GitHub lists them), in the queue of base branch `base`.
///
/// Only GitHub creates the queue's branches
/// (`refs/heads/gh-readonly-queue/<base>/pr-<N>-<sha>`), one per entry,
/// pointing at the entry's head: the base branch with every entry up to
/// and including it. Walking a group's head commit back by first parents,
/// each commit a queue branch points at is an entry queued ahead of it in
/// the group; the walk ends at the first commit none points at.
pub fn queue_entry_at(refs: &[(String, String)], base: &str, sha: &str) -> Option<u64> {
    refs.iter().find_map(|(r, at)| {
        let rest = r.strip_prefix("refs/heads/gh-readonly-queue/")?;
        let (queue_base, tail) = rest.rsplit_once("/pr-")?;
        let (number, _) = tail.split_once('-')?;
        let ok = queue_base == base
            && at.eq_ignore_ascii_case(sha)
            && !number.is_empty()
            && number.len() <= 19
            && number.bytes().all(|b| b.is_ascii_digit());
        if ok { number.parse().ok() } else { None }
    })
}

/// At most this many findings in an error message; the summary has more.
pub const MESSAGE_FINDINGS: usize = 10;
/// At most this many findings in the job summary (it holds 1 MiB).
pub const SUMMARY_FINDINGS: usize = 1_000;

/// Pull request numbers as a person reads them: `#7, #8`.
pub fn prs(list: &[u64]) -> String {
    list.iter()
        .map(|n| format!("#{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn reviewed_as(f: &Finding) -> String {
    f.reviewed
        .iter()
        .map(|(pr, a)| format!("{a} on #{pr}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One finding in words; `address` is the address as the caller shows it
/// (quoted for a message, a code span for Markdown).
fn sentence(f: &Finding, address: &str) -> String {
    let what = format!("{}{address}", f.kind.noun());
    match (f.now, f.reviewed.is_empty()) {
        (Some(now), true) => format!("{what} ({now}) is in no reviewed plan"),
        (Some(now), false) => format!(
            "{what} ({now}) differs from its review ({})",
            reviewed_as(f)
        ),
        (None, _) => format!("{what} is no longer planned (reviewed: {})", reviewed_as(f)),
    }
}

/// The differences for an error message, on one line: the first
/// [`MESSAGE_FINDINGS`] findings, and how many more the summary lists.
pub fn message(v: &Verdict) -> String {
    let Verdict::Differs {
        findings,
        unexplained,
    } = v
    else {
        return String::new();
    };
    let mut parts: Vec<String> = findings
        .iter()
        .take(MESSAGE_FINDINGS)
        .map(|f| sentence(f, &crate::text::quote(&f.address)))
        .collect();
    if findings.len() > MESSAGE_FINDINGS {
        parts.push(format!(
            "and {} more (the job summary lists them)",
            findings.len() - MESSAGE_FINDINGS
        ));
    }
    if !unexplained.is_empty() {
        parts.push(format!(
            "the reviewed comment on {} has no change digests (written by an older Ferry, or too many changes to record), so what differs cannot be shown",
            prs(unexplained)
        ));
    }
    parts.join("; ")
}

/// The differences for the job summary, in Markdown: which pull requests'
/// reviews differ, then every finding.
pub fn markdown(env: &str, group: &[u64], v: &Verdict) -> String {
    let Verdict::Differs {
        findings,
        unexplained,
    } = v
    else {
        return String::new();
    };
    let env = crate::markdown::code(env);
    let mut out = format!("### ❌ The plan for {env} is not the reviewed one\n\n");
    let reviewed_for = match group {
        [one] => format!("pull request #{one} was reviewed for"),
        [] => "any pull request was reviewed for".to_string(),
        many => format!("pull requests {} were reviewed for together", prs(many)),
    };
    out.push_str(&format!(
        "Not applied: it differs from what {reviewed_for}.\n\n"
    ));
    let differing = v.differing();
    if !differing.is_empty() {
        out.push_str(&format!(
            "Differs from the review of: {}.\n",
            prs(&differing)
        ));
    }
    if findings.iter().any(|f| f.reviewed.is_empty()) {
        out.push_str("Changes that no pull request's review had are planned.\n");
    }
    out.push('\n');
    for f in findings.iter().take(SUMMARY_FINDINGS) {
        out.push_str(&format!(
            "- {}\n",
            sentence(f, &crate::markdown::code(&f.address))
        ));
    }
    if findings.len() > SUMMARY_FINDINGS {
        out.push_str(&format!(
            "- … and {} more.\n",
            findings.len() - SUMMARY_FINDINGS
        ));
    }
    if !unexplained.is_empty() {
        out.push_str(&format!(
            "- The reviewed comment on {} has no change digests (written by an older Ferry, or too many changes to record): run its plan again to see what differs.\n",
            prs(unexplained)
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn c(address: &str, action: &'static str, digest: char) -> ChangeDigest {
        ChangeDigest {
            address: address.into(),
            kind: ChangeKind::Resource,
            action,
            digest: digest.to_string().repeat(32),
        }
    }

    fn r(pr: u64, hash: &str, changes: Option<Vec<ChangeDigest>>) -> Reviewed {
        Reviewed {
            pr,
            hash: hash.into(),
            changes,
        }
    }

    #[test]
    fn one_pull_request_is_judged_by_its_digest_and_explained_by_its_changes() {
        let now = [c("a.x", "update", '1'), c("a.y", "create", '2')];
        assert_eq!(judge("h", &now, &[r(7, "h", None)]), Verdict::Same);
        let v = judge(
            "h2",
            &now,
            &[r(
                7,
                "h",
                Some(vec![c("a.x", "update", '0'), c("a.z", "delete", '3')]),
            )],
        );
        let Verdict::Differs { findings, .. } = &v else {
            panic!("{v:?}")
        };
        assert_eq!(findings.len(), 3, "{findings:#?}");
        let text = message(&v);
        assert!(
            text.contains("`a.x` (update) differs from its review (update on #7)"),
            "{text}"
        );
        assert!(
            text.contains("`a.y` (create) is in no reviewed plan"),
            "{text}"
        );
        assert!(
            text.contains("`a.z` is no longer planned (reviewed: delete on #7)"),
            "{text}"
        );
        assert_eq!(v.differing(), [7]);
        // An old comment: refused all the same, said plainly.
        let v = judge("h2", &now, &[r(7, "h", None)]);
        assert!(message(&v).contains("#7 has no change digests"), "{v:?}");
    }

    #[test]
    fn a_queue_entry_is_found_by_the_commit_its_branch_points_at() {
        let sha = |c: char| c.to_string().repeat(40);
        let refs: Vec<(String, String)> = [
            (format!("main/pr-7-{}", sha('a')), 'b'),
            (format!("main/pr-8-{}", sha('b')), 'c'),
            (format!("release/pr-5-{}", sha('e')), 'd'),
            ("main/pr-x-1".to_string(), 'e'),
            (format!("main/pr-{}-{}", "9".repeat(20), sha('a')), 'f'),
        ]
        .iter()
        .map(|(r, c)| (format!("refs/heads/gh-readonly-queue/{r}"), sha(*c)))
        .collect();
        assert_eq!(queue_entry_at(&refs, "main", &sha('b')), Some(7));
        assert_eq!(
            queue_entry_at(&refs, "main", &sha('C').to_lowercase()),
            Some(8)
        );
        // Another base branch's queue, a malformed branch, a huge number.
        assert_eq!(queue_entry_at(&refs, "main", &sha('d')), None);
        assert_eq!(queue_entry_at(&refs, "release", &sha('d')), Some(5));
        assert_eq!(queue_entry_at(&refs, "main", &sha('e')), None);
        assert_eq!(queue_entry_at(&refs, "main", &sha('f')), None);
        assert_eq!(queue_entry_at(&refs, "main", &sha('a')), None);
    }

    #[test]
    fn a_group_is_accepted_only_as_the_union_of_its_reviews() {
        let a = vec![c("a.x", "update", '1')];
        let b = vec![c("b.y", "create", '2')];
        let both = [c("a.x", "update", '1'), c("b.y", "create", '2')];
        let group = [r(7, "h7", Some(a.clone())), r(8, "h8", Some(b.clone()))];
        assert_eq!(judge("hb", &both, &group), Verdict::Same);
        // B's resource planned differently now: B's plan differs.
        let changed = [c("a.x", "update", '1'), c("b.y", "create", '9')];
        let v = judge("hc", &changed, &group);
        assert_eq!(v.differing(), [8]);
        assert!(markdown("staging", &[7, 8], &v).contains("Differs from the review of: #8."));
        // A change nobody reviewed: attributed to none.
        let extra = [
            c("a.x", "update", '1'),
            c("b.y", "create", '2'),
            c("c.z", "delete", '3'),
        ];
        let v = judge("he", &extra, &group);
        assert!(v.differing().is_empty());
        let md = markdown("staging", &[7, 8], &v);
        assert!(md.contains("no pull request's review had"), "{md}");
        assert!(md.contains("`c.z` (delete) is in no reviewed plan"), "{md}");
        // A reviewed change missing from the batch's plan.
        let v = judge("hm", &[c("a.x", "update", '1')], &group);
        assert_eq!(v.differing(), [8]);
        // Two reviews of the same address combined into a third change.
        let clash = [
            r(7, "h7", Some(vec![c("s.t", "update", '4')])),
            r(8, "h8", Some(vec![c("s.t", "update", '5')])),
        ];
        let v = judge("hx", &[c("s.t", "update", '6')], &clash);
        assert_eq!(v.differing(), [7, 8]);
        // A review without digests makes the group unverifiable.
        let v = judge("hb", &both, &[r(7, "h7", Some(a)), r(8, "h8", None)]);
        assert_eq!(v.differing(), [8]);
        // No review: only an empty plan passes.
        assert_eq!(judge("e", &[], &[]), Verdict::Same);
        assert!(matches!(judge("e", &b, &[]), Verdict::Differs { .. }));
    }

    #[test]
    fn a_hostile_address_stays_on_its_line_and_in_its_code_span() {
        let evil = "aws_x.y[\"`\n::error::owned\n</details>@team\"]";
        let v = judge(
            "h2",
            &[c(evil, "create", '1')],
            &[r(7, "h", Some(Vec::new()))],
        );
        let text = message(&v);
        assert!(!text.contains('\n'), "{text}");
        let md = markdown("staging", &[7], &v);
        let items: Vec<&str> = md.lines().filter(|l| l.starts_with("- ")).collect();
        assert_eq!(items.len(), 1, "{md}");
        // In one code span (where HTML is text), and no mention.
        assert!(
            items[0].starts_with("- ``aws_x.y[\"` ::error::owned </details>"),
            "{md}"
        );
        assert!(!md.contains("\n::error::") && !md.contains("@team"), "{md}");
        // Many findings: the message names ten, the summary at most its cap.
        let many: Vec<ChangeDigest> = (0..1_200)
            .map(|i| c(&format!("t.r{i:04}"), "create", '1'))
            .collect();
        let v = judge("h2", &many, &[r(7, "h", Some(Vec::new()))]);
        assert!(message(&v).contains("and 1190 more"));
        assert!(markdown("staging", &[7], &v).contains("- … and 200 more."));
    }
}
