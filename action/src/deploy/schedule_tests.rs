//! The schedule phase's decisions on an in-memory [`Events`] port (a
//! hand-written fake: these tests need a rule whose target a newer release
//! moved meanwhile, and calls counted per rule, with no server; the same
//! moves against moto are in `tests/it/deploy_schedule.rs`).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::*;
use crate::aws::AwsError;
use crate::aws::ecs::port::Call;
use crate::aws::events::{Rule, RuleTarget, family_revision};
use crate::deploy::model::Status;

const ARN: &str = "arn:aws:ecs:us-east-1:1:task-definition/";

fn td(family: &str, revision: u32) -> String {
    format!("{ARN}{family}:{revision}")
}

/// Rules by name, each with its targets; every PutTargets recorded.
#[derive(Default)]
struct Fake {
    rules: Mutex<BTreeMap<String, Vec<RuleTarget>>>,
    puts: Mutex<Vec<(String, String, String)>>,
}

impl Fake {
    fn with(rule: &str, targets: &[(&str, &str)]) -> Self {
        let fake = Self::default();
        fake.rules.lock().unwrap().insert(
            rule.into(),
            targets
                .iter()
                .map(|(id, td)| RuleTarget {
                    id: (*id).into(),
                    arn: "arn:aws:ecs:us-east-1:1:cluster/shop".into(),
                    task_definition: Some((*td).into()),
                    ..RuleTarget::default()
                })
                .collect(),
        );
        fake
    }

    fn runs(&self, rule: &str, id: &str) -> String {
        self.rules.lock().unwrap()[rule]
            .iter()
            .find(|t| t.id == id)
            .and_then(|t| t.task_definition.clone())
            .unwrap()
    }
}

impl Events for Fake {
    fn targets<'a>(
        &'a self,
        rule: &'a Rule,
    ) -> Call<'a, Result<Option<Vec<RuleTarget>>, AwsError>> {
        Box::pin(async move { Ok(self.rules.lock().unwrap().get(&rule.name).cloned()) })
    }

    fn put_task_definition<'a>(
        &'a self,
        rule: &'a Rule,
        target: &'a RuleTarget,
        task_definition: &'a str,
    ) -> Call<'a, Result<(), AwsError>> {
        Box::pin(async move {
            self.puts.lock().unwrap().push((
                rule.name.clone(),
                target.id.clone(),
                task_definition.into(),
            ));
            let mut rules = self.rules.lock().unwrap();
            let t = rules
                .get_mut(&rule.name)
                .and_then(|ts| ts.iter_mut().find(|t| t.id == target.id))
                .unwrap();
            t.task_definition = Some(task_definition.into());
            Ok(())
        })
    }
}

fn schedule() -> Schedule {
    Schedule {
        service: "report".into(),
        env: "staging".into(),
        rule: Rule {
            name: "nightly".into(),
            event_bus: None,
        },
        family: "shop-report".into(),
    }
}

fn outcome(status: Status) -> ServiceOutcome {
    ServiceOutcome {
        service: "report".into(),
        env: "staging".into(),
        cluster: "shop".into(),
        ecs_service: "shop-report".into(),
        image: None,
        task_definition_arn: None,
        registered: true,
        deployment_id: None,
        status,
        duration_secs: 0.0,
        diagnosis: None,
        rollback: None,
        progress: None,
        tasks: Vec::new(),
    }
}

async fn move_to(fake: &Fake, to: &str) -> (Vec<Move>, Vec<(String, String)>, Vec<String>) {
    let mut log = Vec::new();
    let (moves, failed) = move_with(fake, &[schedule()], |_| Some(to.to_string()), &mut |l| {
        log.push(l.to_string())
    })
    .await;
    (moves, failed, log)
}

#[test]
fn family_and_revision_are_read_from_every_form_of_the_name() {
    assert_eq!(family_revision(&td("web", 7)), ("web", Some("7")));
    assert_eq!(family_revision(&format!("{ARN}web")), ("web", None));
    assert_eq!(family_revision("web:12"), ("web", Some("12")));
    assert_eq!(family_revision("web"), ("web", None));
    assert_eq!(short(&td("web", 7)), "web:7");
}

#[tokio::test]
async fn only_the_target_of_the_family_moves_and_the_others_stay() {
    let other = td("shop-export", 3);
    let fake = Fake::with(
        "nightly",
        &[("report", &td("shop-report", 7)), ("export", &other)],
    );
    let (moves, failed, log) = move_to(&fake, &td("shop-report", 8)).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(moves.len(), 1);
    assert_eq!(fake.runs("nightly", "report"), td("shop-report", 8));
    assert_eq!(fake.runs("nightly", "export"), other);
    assert_eq!(
        log,
        ["report (staging): EventBridge rule nightly target report: shop-report:7 → shop-report:8"]
    );
}

#[tokio::test]
async fn a_re_run_to_the_same_revision_puts_nothing() {
    let fake = Fake::with("nightly", &[("report", &td("shop-report", 8))]);
    let (moves, failed, log) = move_to(&fake, &td("shop-report", 8)).await;
    assert!(failed.is_empty());
    assert!(!moves[0].changes());
    assert!(fake.puts.lock().unwrap().is_empty());
    assert_eq!(
        log,
        ["report (staging): EventBridge rule nightly target report: already runs shop-report:8"]
    );
    // Nothing to restore either, even when the release fails.
    let mut moves = moves;
    restore_with(&fake, &mut moves, &[outcome(Status::Failed)], &mut |_| {}).await;
    assert!(fake.puts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_target_without_a_revision_follows_the_latest_and_is_not_moved() {
    let latest = format!("{ARN}shop-report");
    let fake = Fake::with("nightly", &[("report", &latest)]);
    let (moves, _, log) = move_to(&fake, &td("shop-report", 8)).await;
    assert!(!moves[0].changes());
    assert!(fake.puts.lock().unwrap().is_empty());
    assert!(
        log[0].contains("runs the latest ACTIVE revision"),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_missing_rule_or_target_fails_the_service_with_the_fix() {
    let fake = Fake::with("nightly", &[("export", &td("shop-export", 3))]);
    let (moves, failed, _) = move_to(&fake, &td("shop-report", 8)).await;
    assert!(moves.is_empty());
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]
            .1
            .starts_with("the EventBridge rule nightly has no ECS target that runs shop-report (its targets: export runs shop-export:3)"),
        "{failed:?}"
    );
    let none = Fake::default();
    let (_, failed, _) = move_to(&none, &td("shop-report", 8)).await;
    assert_eq!(failed[0].1, "the EventBridge rule nightly does not exist");
    assert!(fake.puts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_release_puts_the_target_back_and_a_good_one_does_not() {
    for (status, back) in [
        (Status::RolledBack, true),
        (Status::Failed, true),
        (Status::Succeeded, false),
        (Status::Started, false),
    ] {
        let fake = Fake::with("nightly", &[("report", &td("shop-report", 7))]);
        let (mut moves, _, _) = move_to(&fake, &td("shop-report", 8)).await;
        let mut log = Vec::new();
        restore_with(&fake, &mut moves, &[outcome(status)], &mut |l| {
            log.push(l.to_string())
        })
        .await;
        let want = if back { 7 } else { 8 };
        assert_eq!(
            fake.runs("nightly", "report"),
            td("shop-report", want),
            "{status:?}"
        );
        if back {
            assert_eq!(moves[0].restored, Some(Ok(())));
            assert!(
                log[0].ends_with("the release failed: restored to shop-report:7"),
                "{log:?}"
            );
            assert!(
                markdown(&moves)
                    .contains("shop-report:7 → shop-report:8, restored to shop-report:7")
            );
        } else {
            assert!(log.is_empty() && moves[0].restored.is_none());
            assert!(markdown(&moves).contains("| shop-report:7 → shop-report:8 |"));
        }
    }
}

#[tokio::test]
async fn a_target_a_newer_release_moved_meanwhile_is_left_alone() {
    let fake = Fake::with("nightly", &[("report", &td("shop-report", 7))]);
    let (mut moves, _, _) = move_to(&fake, &td("shop-report", 8)).await;
    // Another release moved it on to 9 before this one failed.
    fake.rules.lock().unwrap().get_mut("nightly").unwrap()[0].task_definition =
        Some(td("shop-report", 9));
    restore_with(&fake, &mut moves, &[outcome(Status::Failed)], &mut |_| {}).await;
    assert_eq!(fake.runs("nightly", "report"), td("shop-report", 9));
    let restored = moves[0].restored.clone().unwrap().unwrap_err();
    assert!(restored.contains("runs shop-report:9 now"), "{restored}");
}
