//! DORA's four keys from plain records: no I/O here, so every definition is
//! tested on recorded histories without a server.
//!
//! Definitions (README "ferry metrics" repeats them):
//! - a *deployment* is one of Ferry's GitHub Deployments (`task:
//!   deploy:<service>`) created in the window; its outcome is its newest
//!   status: `success`/`inactive` succeeded, `failure`/`error` failed, any
//!   other (queued, in progress, none) is unfinished and not counted;
//! - *deployment frequency*: successful deployments per week of the window;
//! - *lead time for changes*: for each successful deployment, from the
//!   earliest authored commit it shipped (the commits between the previous
//!   successful deployment's sha and its own) to its success status; the
//!   median is reported. A deployment that shipped no new commit (a re-run,
//!   a rollback) has no lead time;
//! - *change failure rate*: failed deployments, plus successful ones that a
//!   later *rollback* replaced, over all finished deployments;
//! - a *rollback* is a successful deployment of a sha that an earlier
//!   successful deployment of the same service and environment already
//!   shipped, other than the one it replaces (re-deploying an older release).
//!   Ferry's automatic rollback records the failing deployment as `failure`
//!   (it needs no second record);
//! - *time to restore*: from a failed deployment's creation (or, for one
//!   rolled back, from the rollback's creation) to the next success of the
//!   same service and environment; the median is reported, and failures not
//!   restored by the end of the window are counted apart.

use std::collections::BTreeMap;

use serde::Serialize;

/// How a deployment ended, from its newest status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// `success`, or `inactive` (superseded after a success).
    Succeeded,
    /// `failure` or `error`.
    Failed,
    /// Queued, in progress, pending, or no status yet.
    Unfinished,
}

/// One deployment as the computation needs it (times in seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentFact {
    /// The service (`task: deploy:<service>`).
    pub service: String,
    /// The environment.
    pub environment: String,
    /// The commit deployed.
    pub sha: String,
    /// When the deployment was created.
    pub created_at: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// When its newest status was set (the success or failure time).
    pub finished_at: Option<u64>,
}

/// What a successful deployment shipped: its new commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shipped {
    /// The earliest author date of the commits read.
    pub first_commit_at: Option<u64>,
    /// How many commits it shipped (GitHub's `total_commits`).
    pub commits: u64,
    /// False when GitHub listed fewer commits than it shipped (the earliest
    /// may be missing: the lead time is then a lower bound).
    pub complete: bool,
}

/// A comparison the lead time needs: the previous successful sha → this one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShaPair {
    /// The previous successful deployment's sha.
    pub base: String,
    /// This deployment's sha.
    pub head: String,
}

/// Everything the computation reads.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Every deployment read, in any order, including those before the
    /// window (they give the previous successful sha).
    pub deployments: Vec<DeploymentFact>,
    /// What each comparison found.
    pub shipped: BTreeMap<ShaPair, Shipped>,
}

/// The window reported on, `[start, end)` in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// First second counted.
    pub start: u64,
    /// First second not counted (now).
    pub end: u64,
}

impl Window {
    /// Its length in weeks (at least one day's worth, never zero).
    pub fn weeks(&self) -> f64 {
        (self.end.saturating_sub(self.start)).max(86_400) as f64 / (7.0 * 86_400.0)
    }

    fn contains(&self, t: u64) -> bool {
        (self.start..self.end).contains(&t)
    }
}

/// The four keys of one service in one environment (or of every service of
/// an environment, `service` = `*`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Keys {
    /// The service, or `*` for the environment as a whole.
    pub service: String,
    /// The environment.
    pub environment: String,
    /// Finished deployments in the window.
    pub deployments: u64,
    /// Of which succeeded.
    pub successes: u64,
    /// Counted as change failures (failed, or succeeded then rolled back).
    pub failures: u64,
    /// Of the successes, rollbacks.
    pub rollbacks: u64,
    /// Successful deployments per week.
    pub frequency_per_week: f64,
    /// Median lead time for changes, seconds.
    pub lead_time_median_secs: Option<u64>,
    /// How many deployments the lead time has a value for.
    pub lead_time_samples: u64,
    /// Whether some lead time is a lower bound (a comparison was cut short).
    pub lead_time_lower_bound: bool,
    /// failures / deployments (None without deployments).
    pub change_failure_rate: Option<f64>,
    /// Median time to restore, seconds.
    pub time_to_restore_median_secs: Option<u64>,
    /// Failures restored in the window.
    pub restored: u64,
    /// Failures still not restored at the window's end.
    pub unrestored: u64,
    /// Successful deployments per week, oldest week first.
    pub weekly_successes: Vec<u64>,
}

/// The computation's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The window.
    pub window: Window,
    /// One entry per service and environment with a deployment in the
    /// window, then one per environment (`service` = `*`); sorted.
    pub keys: Vec<Keys>,
}

/// The comparisons the lead time needs, one per successful deployment in the
/// window whose previous success is known and of another sha (deduplicated:
/// one API call per pair).
pub fn comparisons(deployments: &[DeploymentFact], window: Window) -> Vec<ShaPair> {
    let mut pairs: Vec<ShaPair> = timelines(deployments)
        .values()
        .flat_map(|line| {
            let mut previous: Option<&DeploymentFact> = None;
            let mut out = Vec::new();
            for d in line {
                if d.outcome != Outcome::Succeeded {
                    continue;
                }
                if window.contains(d.created_at)
                    && let Some(p) = previous
                    && p.sha != d.sha
                {
                    out.push(ShaPair {
                        base: p.sha.clone(),
                        head: d.sha.clone(),
                    });
                }
                previous = Some(d);
            }
            out
        })
        .collect();
    pairs.sort();
    pairs.dedup();
    pairs
}

/// Each (environment, service)'s deployments, oldest first.
fn timelines(deployments: &[DeploymentFact]) -> BTreeMap<(String, String), Vec<&DeploymentFact>> {
    let mut lines: BTreeMap<(String, String), Vec<&DeploymentFact>> = BTreeMap::new();
    for d in deployments {
        lines
            .entry((d.environment.clone(), d.service.clone()))
            .or_default()
            .push(d);
    }
    for line in lines.values_mut() {
        line.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.sha.cmp(&b.sha)));
    }
    lines
}

/// The samples one timeline contributes.
#[derive(Debug, Default)]
struct Samples {
    deployments: u64,
    successes: u64,
    failures: u64,
    rollbacks: u64,
    lead_times: Vec<u64>,
    lead_time_lower_bound: bool,
    restores: Vec<u64>,
    unrestored: u64,
    weekly: Vec<u64>,
}

impl Samples {
    fn add(&mut self, other: &Samples) {
        self.deployments += other.deployments;
        self.successes += other.successes;
        self.failures += other.failures;
        self.rollbacks += other.rollbacks;
        self.lead_times.extend(&other.lead_times);
        self.lead_time_lower_bound |= other.lead_time_lower_bound;
        self.restores.extend(&other.restores);
        self.unrestored += other.unrestored;
        if self.weekly.len() < other.weekly.len() {
            self.weekly.resize(other.weekly.len(), 0);
        }
        for (a, b) in self.weekly.iter_mut().zip(&other.weekly) {
            *a += b;
        }
    }

    fn keys(mut self, service: &str, environment: &str, window: Window) -> Keys {
        Keys {
            service: service.to_string(),
            environment: environment.to_string(),
            deployments: self.deployments,
            successes: self.successes,
            failures: self.failures,
            rollbacks: self.rollbacks,
            frequency_per_week: self.successes as f64 / window.weeks(),
            lead_time_median_secs: median(&mut self.lead_times),
            lead_time_samples: self.lead_times.len() as u64,
            lead_time_lower_bound: self.lead_time_lower_bound,
            change_failure_rate: (self.deployments > 0)
                .then(|| self.failures as f64 / self.deployments as f64),
            time_to_restore_median_secs: median(&mut self.restores),
            restored: self.restores.len() as u64,
            unrestored: self.unrestored,
            weekly_successes: self.weekly,
        }
    }
}

/// The lower median (a real sample, in whole seconds).
fn median(values: &mut [u64]) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[(values.len() - 1) / 2])
}

fn week_count(window: Window) -> usize {
    usize::try_from(window.end.saturating_sub(window.start).div_ceil(7 * 86_400))
        .unwrap_or(0)
        .max(1)
}

/// One service's timeline in one environment, oldest first.
fn timeline_samples(line: &[&DeploymentFact], history: &History, window: Window) -> Samples {
    let mut s = Samples {
        weekly: vec![0; week_count(window)],
        ..Samples::default()
    };
    // Whether each finished deployment is a change failure, and when the
    // failure started.
    let mut failed_since: Vec<Option<u64>> = vec![None; line.len()];
    let mut previous_success: Option<usize> = None;
    let mut earlier_success_shas: Vec<&str> = Vec::new();
    for (i, d) in line.iter().enumerate() {
        match d.outcome {
            Outcome::Failed => failed_since[i] = Some(d.created_at),
            Outcome::Succeeded => {
                if let Some(p) = previous_success {
                    let replaced = line[p];
                    let is_rollback =
                        replaced.sha != d.sha && earlier_success_shas.contains(&d.sha.as_str());
                    if is_rollback {
                        failed_since[p].get_or_insert(d.created_at);
                        if window.contains(d.created_at) {
                            s.rollbacks += 1;
                        }
                    }
                }
                earlier_success_shas.push(d.sha.as_str());
                previous_success = Some(i);
            }
            Outcome::Unfinished => {}
        }
    }
    let mut previous_sha: Option<&str> = None;
    for (i, d) in line.iter().enumerate() {
        let in_window = window.contains(d.created_at);
        if d.outcome == Outcome::Succeeded {
            if in_window {
                s.deployments += 1;
                s.successes += 1;
                let week = (d.created_at - window.start) / (7 * 86_400);
                if let Some(w) = usize::try_from(week).ok().and_then(|w| s.weekly.get_mut(w)) {
                    *w += 1;
                }
                if let (Some(base), Some(done)) = (previous_sha, d.finished_at)
                    && base != d.sha
                    && let Some(shipped) = history.shipped.get(&ShaPair {
                        base: base.to_string(),
                        head: d.sha.clone(),
                    })
                    && shipped.commits > 0
                    && let Some(first) = shipped.first_commit_at
                {
                    s.lead_times.push(done.saturating_sub(first));
                    s.lead_time_lower_bound |= !shipped.complete;
                }
            }
            previous_sha = Some(d.sha.as_str());
        } else if d.outcome == Outcome::Failed && in_window {
            s.deployments += 1;
        }
        if let Some(since) = failed_since[i]
            && in_window
        {
            s.failures += 1;
            // Restored by the next success after the failure began (a
            // rollback is itself that success).
            let restored_at = line[i + 1..]
                .iter()
                .filter(|n| n.outcome == Outcome::Succeeded && n.created_at >= since)
                .find_map(|n| n.finished_at.or(Some(n.created_at)));
            match restored_at {
                Some(t) if t < window.end => s.restores.push(t.saturating_sub(since)),
                _ => s.unrestored += 1,
            }
        }
    }
    s
}

/// DORA's four keys of every service and environment deployed in the window.
pub fn compute(history: &History, window: Window) -> Report {
    let mut keys = Vec::new();
    let mut by_env: BTreeMap<String, Samples> = BTreeMap::new();
    for ((environment, service), line) in timelines(&history.deployments) {
        let samples = timeline_samples(&line, history, window);
        if samples.deployments == 0 && samples.unrestored == 0 {
            continue;
        }
        by_env
            .entry(environment.clone())
            .or_insert_with(|| Samples {
                weekly: vec![0; week_count(window)],
                ..Samples::default()
            })
            .add(&samples);
        keys.push(samples.keys(&service, &environment, window));
    }
    for (environment, samples) in by_env {
        keys.push(samples.keys("*", &environment, window));
    }
    keys.sort_by(|a, b| {
        (a.environment.as_str(), a.service == "*", a.service.as_str()).cmp(&(
            b.environment.as_str(),
            b.service == "*",
            b.service.as_str(),
        ))
    });
    Report { window, keys }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;
    const HOUR: u64 = 3_600;
    /// 2026-11-01T00:00:00Z.
    const START: u64 = 1_793_491_200;

    fn window(days: u64) -> Window {
        Window {
            start: START,
            end: START + days * DAY,
        }
    }

    fn dep(service: &str, env: &str, sha: &str, at: u64, outcome: Outcome) -> DeploymentFact {
        DeploymentFact {
            service: service.into(),
            environment: env.into(),
            sha: sha.into(),
            created_at: at,
            outcome,
            finished_at: (outcome != Outcome::Unfinished).then_some(at + 600),
        }
    }

    fn shipped(history: &mut History, base: &str, head: &str, first: u64, commits: u64) {
        history.shipped.insert(
            ShaPair {
                base: base.into(),
                head: head.into(),
            },
            Shipped {
                first_commit_at: Some(first),
                commits,
                complete: true,
            },
        );
    }

    fn key<'a>(r: &'a Report, service: &str, env: &str) -> &'a Keys {
        r.keys
            .iter()
            .find(|k| k.service == service && k.environment == env)
            .unwrap_or_else(|| panic!("no keys for {service}/{env}: {r:#?}"))
    }

    #[test]
    fn a_quiet_month_reports_nothing_and_divides_by_nothing() {
        let mut history = History::default();
        // One success before the window: it only gives the previous sha.
        history
            .deployments
            .push(dep("api", "prod", "a", START - 3 * DAY, Outcome::Succeeded));
        let r = compute(&history, window(30));
        assert!(r.keys.is_empty(), "{r:#?}");
        assert!(comparisons(&history.deployments, window(30)).is_empty());
    }

    #[test]
    fn steady_releases_give_frequency_and_median_lead_time() {
        let mut h = History::default();
        h.deployments
            .push(dep("api", "prod", "a", START - DAY, Outcome::Succeeded));
        for (i, sha) in ["b", "c", "d", "e"].iter().enumerate() {
            let at = START + (i as u64 * 7 + 1) * DAY;
            h.deployments
                .push(dep("api", "prod", sha, at, Outcome::Succeeded));
        }
        let w = window(28);
        let pairs = comparisons(&h.deployments, w);
        assert_eq!(
            pairs
                .iter()
                .map(|p| format!("{}..{}", p.base, p.head))
                .collect::<Vec<_>>(),
            ["a..b", "b..c", "c..d", "d..e"]
        );
        // Lead times (to the success, 600 s after creation): 1 h, 2 h, 3 h, 10 h.
        let deployed = |i: u64| START + (i * 7 + 1) * DAY + 600;
        shipped(&mut h, "a", "b", deployed(0) - HOUR, 1);
        shipped(&mut h, "b", "c", deployed(1) - 2 * HOUR, 3);
        shipped(&mut h, "c", "d", deployed(2) - 3 * HOUR, 2);
        shipped(&mut h, "d", "e", deployed(3) - 10 * HOUR, 9);
        let r = compute(&h, w);
        let k = key(&r, "api", "prod");
        assert_eq!((k.deployments, k.successes, k.failures), (4, 4, 0));
        assert!((k.frequency_per_week - 1.0).abs() < 1e-9);
        assert_eq!(k.lead_time_median_secs, Some(2 * HOUR));
        assert_eq!(k.lead_time_samples, 4);
        assert_eq!(k.change_failure_rate, Some(0.0));
        assert_eq!(k.time_to_restore_median_secs, None);
        assert_eq!(k.weekly_successes, [1, 1, 1, 1]);
    }

    #[test]
    fn a_failure_counts_once_and_is_restored_by_the_next_success() {
        let mut h = History::default();
        h.deployments
            .push(dep("api", "prod", "a", START + DAY, Outcome::Succeeded));
        h.deployments
            .push(dep("api", "prod", "b", START + 2 * DAY, Outcome::Failed));
        // Still broken: a queued one does not count or restore.
        h.deployments.push(dep(
            "api",
            "prod",
            "c",
            START + 2 * DAY + HOUR,
            Outcome::Unfinished,
        ));
        h.deployments.push(dep(
            "api",
            "prod",
            "d",
            START + 2 * DAY + 3 * HOUR,
            Outcome::Succeeded,
        ));
        // The previous *successful* sha is the base: a → d, not b → d.
        assert_eq!(
            comparisons(&h.deployments, window(7)),
            [ShaPair {
                base: "a".into(),
                head: "d".into()
            }]
        );
        let r = compute(&h, window(7));
        let k = key(&r, "api", "prod");
        assert_eq!((k.deployments, k.successes, k.failures), (3, 2, 1));
        assert!((k.change_failure_rate.unwrap() - 1.0 / 3.0).abs() < 1e-9);
        // From the failed deployment's creation to the fix's success.
        assert_eq!(k.time_to_restore_median_secs, Some(3 * HOUR + 600));
        assert_eq!((k.restored, k.unrestored), (1, 0));
    }

    #[test]
    fn a_failure_not_restored_by_the_window_end_is_counted_apart() {
        let mut h = History::default();
        h.deployments
            .push(dep("api", "prod", "b", START + 6 * DAY, Outcome::Failed));
        h.deployments
            .push(dep("api", "prod", "c", START + 8 * DAY, Outcome::Succeeded));
        let r = compute(&h, window(7));
        let k = key(&r, "api", "prod");
        assert_eq!((k.failures, k.restored, k.unrestored), (1, 0, 1));
        assert_eq!(k.time_to_restore_median_secs, None);
        assert_eq!(k.change_failure_rate, Some(1.0));
    }

    #[test]
    fn a_rollback_marks_the_release_it_replaced_as_a_failure() {
        let mut h = History::default();
        h.deployments
            .push(dep("api", "prod", "a", START + DAY, Outcome::Succeeded));
        h.deployments
            .push(dep("api", "prod", "b", START + 2 * DAY, Outcome::Succeeded));
        // Someone re-deploys a: b was bad.
        h.deployments.push(dep(
            "api",
            "prod",
            "a",
            START + 2 * DAY + 2 * HOUR,
            Outcome::Succeeded,
        ));
        // A re-run of the same release is not a rollback.
        h.deployments.push(dep(
            "api",
            "prod",
            "a",
            START + 2 * DAY + 3 * HOUR,
            Outcome::Succeeded,
        ));
        let r = compute(&h, window(7));
        let k = key(&r, "api", "prod");
        assert_eq!((k.deployments, k.successes, k.rollbacks), (4, 4, 1));
        assert_eq!(k.failures, 1);
        assert_eq!(k.change_failure_rate, Some(0.25));
        // From the rollback's start to its success.
        assert_eq!(k.time_to_restore_median_secs, Some(600));
        // No lead time for the rollback (b → a ships no new commit) or the re-run.
        assert_eq!(
            comparisons(&h.deployments, window(7)),
            [
                ShaPair {
                    base: "a".into(),
                    head: "b".into()
                },
                ShaPair {
                    base: "b".into(),
                    head: "a".into()
                }
            ]
        );
        let mut with_shipped = h.clone();
        shipped(&mut with_shipped, "a", "b", START + DAY, 2);
        with_shipped.shipped.insert(
            ShaPair {
                base: "b".into(),
                head: "a".into(),
            },
            Shipped {
                first_commit_at: None,
                commits: 0,
                complete: true,
            },
        );
        let k = key(&compute(&with_shipped, window(7)), "api", "prod").clone();
        assert_eq!(k.lead_time_samples, 1);
        assert_eq!(k.lead_time_median_secs, Some(DAY + 600));
    }

    #[test]
    fn many_services_are_reported_apart_and_pooled_per_environment() {
        let mut h = History::default();
        for (n, service) in ["api", "web", "worker"].iter().enumerate() {
            for env in ["staging", "prod"] {
                for i in 0..=n as u64 {
                    h.deployments.push(dep(
                        service,
                        env,
                        &format!("{service}{i}"),
                        START + (i + 1) * DAY,
                        Outcome::Succeeded,
                    ));
                }
            }
        }
        h.deployments.push(dep(
            "worker",
            "prod",
            "bad",
            START + 5 * DAY,
            Outcome::Failed,
        ));
        let r = compute(&h, window(14));
        assert_eq!(r.keys.len(), 8);
        assert_eq!(key(&r, "api", "prod").successes, 1);
        assert_eq!(key(&r, "worker", "prod").failures, 1);
        let prod = key(&r, "*", "prod");
        assert_eq!((prod.deployments, prod.successes, prod.failures), (7, 6, 1));
        assert_eq!(prod.unrestored, 1);
        assert_eq!(prod.weekly_successes, [6, 0]);
        let staging = key(&r, "*", "staging");
        assert_eq!(staging.change_failure_rate, Some(0.0));
        // Environment rows follow their services.
        let order: Vec<(&str, &str)> = r
            .keys
            .iter()
            .map(|k| (k.environment.as_str(), k.service.as_str()))
            .collect();
        assert_eq!(order[3], ("prod", "*"));
        assert_eq!(order[7], ("staging", "*"));
    }

    #[test]
    fn a_cut_comparison_makes_the_lead_time_a_lower_bound() {
        let mut h = History::default();
        h.deployments
            .push(dep("api", "prod", "a", START - DAY, Outcome::Succeeded));
        h.deployments
            .push(dep("api", "prod", "b", START + DAY, Outcome::Succeeded));
        h.shipped.insert(
            ShaPair {
                base: "a".into(),
                head: "b".into(),
            },
            Shipped {
                first_commit_at: Some(START),
                commits: 400,
                complete: false,
            },
        );
        let k = key(&compute(&h, window(7)), "api", "prod").clone();
        assert!(k.lead_time_lower_bound);
        assert_eq!(k.lead_time_median_secs, Some(DAY + 600));
    }

    #[test]
    fn the_median_is_a_real_sample() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5]), Some(5));
        assert_eq!(median(&mut [9, 1, 5, 7]), Some(5));
    }
}
