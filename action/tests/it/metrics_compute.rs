//! `ferry metrics`' computation on any history GitHub could return (any
//! order, times, states, shas, comparisons): never a panic, and the keys
//! stay consistent — counts add up, ratios are ratios, the weekly chart sums
//! to the successes. And the summary of a recorded report, as a snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use ferry::metrics::compute::compute;
use ferry::metrics::render::summary;
use ferry::metrics::{DeploymentFact, History, Outcome, ShaPair, Shipped, Window, comparisons};
use proptest::prelude::*;

const START: u64 = 1_793_491_200;

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Succeeded),
        Just(Outcome::Failed),
        Just(Outcome::Unfinished)
    ]
}

fn fact() -> impl Strategy<Value = DeploymentFact> {
    (
        prop::sample::select(vec!["api", "web"]),
        prop::sample::select(vec!["staging", "prod"]),
        prop::sample::select(vec!["a", "b", "c", "d"]),
        // From well before the window to after it, and the edges.
        prop_oneof![
            (START - 40 * 86_400)..(START + 40 * 86_400),
            Just(START),
            Just(START + 30 * 86_400),
            Just(0u64),
            Just(u64::MAX)
        ],
        outcome(),
        prop::option::of(prop_oneof![0u64..u64::MAX, Just(u64::MAX), Just(0)]),
    )
        .prop_map(|(s, e, sha, at, outcome, finished)| DeploymentFact {
            service: s.into(),
            environment: e.into(),
            sha: sha.into(),
            created_at: at,
            outcome,
            finished_at: finished,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_history_gives_consistent_keys(
        deployments in prop::collection::vec(fact(), 0..40),
        first in prop::option::of(prop_oneof![0u64..u64::MAX, Just(u64::MAX)]),
        commits in 0u64..500,
        days in 1u64..400,
    ) {
        let window = Window { start: START, end: START + days * 86_400 };
        let pairs = comparisons(&deployments, window);
        let shipped: BTreeMap<ShaPair, Shipped> = pairs
            .iter()
            .cloned()
            .map(|p| (p, Shipped { first_commit_at: first, commits, complete: commits < 100 }))
            .collect();
        let report = compute(&History { deployments: deployments.clone(), shipped }, window);
        for k in &report.keys {
            prop_assert!(k.successes <= k.deployments);
            prop_assert!(k.failures <= k.deployments, "{k:?}");
            prop_assert!(k.rollbacks <= k.successes);
            if let Some(r) = k.change_failure_rate {
                prop_assert!((0.0..=1.0).contains(&r));
            }
            prop_assert!(k.frequency_per_week.is_finite() && k.frequency_per_week >= 0.0);
            prop_assert_eq!(k.weekly_successes.iter().sum::<u64>(), k.successes);
            prop_assert!(k.lead_time_samples <= k.successes);
            prop_assert_eq!(k.lead_time_median_secs.is_some(), k.lead_time_samples > 0);
            prop_assert_eq!(k.time_to_restore_median_secs.is_some(), k.restored > 0);
        }
        // The environment rows pool their services.
        for env in ["staging", "prod"] {
            let services: u64 = report.keys.iter()
                .filter(|k| k.environment == env && k.service != "*")
                .map(|k| k.deployments)
                .sum();
            let pooled = report.keys.iter().find(|k| k.environment == env && k.service == "*");
            prop_assert_eq!(pooled.map_or(0, |k| k.deployments), services);
        }
        // One comparison per pair, each a real change of sha.
        prop_assert!(pairs.iter().all(|p| p.base != p.head));
        prop_assert!(pairs.windows(2).all(|w| w[0] < w[1]));
    }
}

#[test]
fn the_summary_of_a_month_with_a_failure_and_a_rollback() {
    let d = |service: &str, env: &str, sha: &str, day: u64, outcome| DeploymentFact {
        service: service.into(),
        environment: env.into(),
        sha: sha.into(),
        created_at: START + day * 86_400,
        outcome,
        finished_at: Some(START + day * 86_400 + 900),
    };
    let deployments = vec![
        d("api", "prod", "a", 1, Outcome::Succeeded),
        d("api", "prod", "b", 3, Outcome::Failed),
        d("api", "prod", "c", 4, Outcome::Succeeded),
        d("api", "prod", "d", 12, Outcome::Succeeded),
        d("api", "prod", "c", 13, Outcome::Succeeded),
        d("web", "prod", "w1", 2, Outcome::Succeeded),
        d("web", "prod", "w2", 9, Outcome::Succeeded),
        d("web", "staging", "w2", 8, Outcome::Succeeded),
    ];
    let window = Window {
        start: START,
        end: START + 30 * 86_400,
    };
    let shipped = comparisons(&deployments, window)
        .into_iter()
        .map(|p| {
            // The rollback (d → c) ships no new commit.
            let commits = if (p.base.as_str(), p.head.as_str()) == ("d", "c") {
                0
            } else {
                3
            };
            (
                p,
                Shipped {
                    first_commit_at: Some(START),
                    commits,
                    complete: true,
                },
            )
        })
        .collect();
    let report = compute(
        &History {
            deployments,
            shipped,
        },
        window,
    );
    insta::assert_snapshot!("metrics_summary", summary(&report));
}
