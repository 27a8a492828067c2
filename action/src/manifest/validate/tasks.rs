//! `before-deploy:` and `after-deploy:` of a service, per environment: each
//! one-off task checked (its name, a command or a task definition, the
//! container, the timeout), every problem positioned and named with its fix.

use indexmap::IndexMap;

use super::super::raw::{RawService, RawTask};
use super::super::{DEFAULT_TASK_TIMEOUT, OneOffTask};
use super::rollout::{resolve_per_env, with_unit};
use super::{Checker, valid_name};
use crate::inputs;
use crate::text::quote;

/// The longest task name: it goes into log lines, `startedBy` (36
/// characters with Ferry's prefix) and a GitHub status description.
const MAX_NAME: usize = 24;
/// ECS refuses container overrides over 8 KiB; the command is most of one.
const MAX_COMMAND_BYTES: usize = 8 * 1024;
/// The longest timeout: a task that runs for more than half a day is a
/// service, not a step of a release.
const MAX_TIMEOUT_SECS: u64 = 12 * 3600;

/// How `before-deploy` and `after-deploy` are written, for a value of the
/// wrong shape.
pub(super) const SHAPE_HELP: &str = "write a list of tasks per environment, each with a name and a command list, e.g. `before-deploy: {staging: [{name: migrate, command: [./migrate, --up]}]}`";

/// The service's `before-deploy` and `after-deploy` tasks per environment.
pub(super) fn resolve_tasks(
    c: &mut Checker<'_>,
    service: &str,
    raw: &RawService,
    env_names: &[&str],
) -> (
    IndexMap<String, Vec<OneOffTask>>,
    IndexMap<String, Vec<OneOffTask>>,
) {
    let before = resolve_per_env(
        c,
        &format!("services.{service}.before-deploy"),
        raw.before_deploy.as_ref(),
        env_names,
        |c, at, raw: &Vec<RawTask>| resolve_list(c, at, raw),
    );
    let after = resolve_per_env(
        c,
        &format!("services.{service}.after-deploy"),
        raw.after_deploy.as_ref(),
        env_names,
        |c, at, raw: &Vec<RawTask>| resolve_list(c, at, raw),
    );
    for (env, tasks) in &after {
        for (i, task) in tasks.iter().enumerate() {
            if before
                .get(env)
                .is_some_and(|b| b.iter().any(|t| t.name == task.name))
            {
                c.at_value(
                    &format!("services.{service}.after-deploy.{env}[{i}].name"),
                    format!(
                        "task name `{}` is used by a before-deploy task of {env} too",
                        task.name
                    ),
                    "give each task of a service and environment its own name (e.g. migrate, then smoke-test)"
                        .into(),
                );
            }
        }
    }
    (before, after)
}

/// One environment's list at `path`; None when a task has a problem.
fn resolve_list(c: &mut Checker<'_>, path: &str, raw: &[RawTask]) -> Option<Vec<OneOffTask>> {
    if raw.is_empty() {
        c.at_value(
            path,
            "the task list is empty".into(),
            "list a task, e.g. `- {name: migrate, command: [./migrate]}`, or remove the key".into(),
        );
        return None;
    }
    let problems = c.problems.len();
    let mut tasks = Vec::new();
    for (i, task) in raw.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if raw[..i].iter().any(|t| t.name == task.name) {
            c.at_value(
                &format!("{at}.name"),
                format!("task name {} is used twice in {path}", quote(&task.name)),
                "give each task of a service and environment its own name".into(),
            );
        }
        tasks.extend(resolve_task(c, &at, task));
    }
    (c.problems.len() == problems).then_some(tasks)
}

/// One task at `at`, checked.
fn resolve_task(c: &mut Checker<'_>, at: &str, raw: &RawTask) -> Option<OneOffTask> {
    let problems = c.problems.len();
    if raw.name.is_empty() || raw.name.len() > MAX_NAME || !valid_name(&raw.name) {
        c.at_value(
            &format!("{at}.name"),
            format!("task name {} is not valid", quote(&raw.name)),
            format!("use 1 to {MAX_NAME} letters, digits, `-` and `_`, e.g. migrate"),
        );
    }
    match &raw.command {
        None if raw.task_definition.is_none() => c.at_value(
            at,
            format!("task {} has neither `command` nor `task-definition`", quote(&raw.name)),
            "give the command to run in the service's new task definition, e.g. `command: [./migrate, --up]`, or a Jsonnet `task-definition` to run".into(),
        ),
        None => {}
        Some(command) => check_command(c, &format!("{at}.command"), command),
    }
    if let Some(container) = &raw.container
        && !valid_name(container)
    {
        c.at_value(
            &format!("{at}.container"),
            format!("container name {} is not valid", quote(container)),
            "name a container of the task definition (letters, digits, `-` and `_`)".into(),
        );
    }
    if let Some(file) = &raw.task_definition
        && (file.is_empty()
            || file.starts_with('/')
            || file.split('/').any(|s| s == "..")
            || crate::manifest::names::repository_path(file).is_err())
    {
        c.at_value(
            &format!("{at}.task-definition"),
            format!(
                "task-definition {} must be a path inside the repository",
                quote(file)
            ),
            "write it relative to the repository root, e.g. task-definitions/migrate.jsonnet"
                .into(),
        );
    }
    let timeout = match raw.timeout.as_deref().map(timeout) {
        None => DEFAULT_TASK_TIMEOUT,
        Some(Ok(t)) => t,
        Some(Err(why)) => {
            c.at_value(
                &format!("{at}.timeout"),
                format!("timeout: {why}"),
                "write a duration from 1s to 12h, e.g. 90s, 10m or 1h (default 10m)".into(),
            );
            DEFAULT_TASK_TIMEOUT
        }
    };
    (c.problems.len() == problems).then(|| OneOffTask {
        name: raw.name.clone(),
        command: raw.command.clone(),
        container: raw.container.clone(),
        task_definition: raw.task_definition.clone(),
        timeout,
    })
}

/// A command: a non-empty list of arguments, none empty or with a
/// control character (a line break in an argument is a YAML slip).
fn check_command(c: &mut Checker<'_>, at: &str, command: &[String]) {
    let help = "write the program and its arguments as a list, e.g. [./migrate, --up]";
    if command.is_empty() {
        c.at_value(at, "the command is empty".into(), help.into());
    } else if let Some(i) = command
        .iter()
        .position(|a| a.trim().is_empty() || a.contains(|ch: char| ch.is_control()))
    {
        c.at_value(
            &format!("{at}[{i}]"),
            format!(
                "argument {} of the command is empty or has a control character",
                i + 1
            ),
            help.into(),
        );
    } else if command.iter().map(String::len).sum::<usize>() > MAX_COMMAND_BYTES {
        c.at_value(
            at,
            format!("the command is longer than ECS takes ({MAX_COMMAND_BYTES} bytes)"),
            "put the steps in a script of the image and run that".into(),
        );
    }
}

/// `90s`, `10m`, `1h`: from 1 second to 12 hours, with a unit.
fn timeout(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    with_unit(t, "m")?;
    let d = inputs::duration(t)?;
    if d.as_secs() == 0 || d.as_secs() > MAX_TIMEOUT_SECS {
        return Err(format!("{t:?} is outside 1s to 12h"));
    }
    Ok(d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::diagnostic::Diagnose;
    use crate::manifest::Manifest;

    /// A manifest whose `worker` service has `tasks` (YAML under the service).
    fn with(tasks: &str) -> String {
        format!(
            "project: p\nregion: us-east-1\nenvironments:\n  staging: {{ cluster: c }}\n  prod: {{ cluster: c2 }}\nservices:\n  worker:\n{tasks}"
        )
    }

    /// Every problem as `message — help`.
    fn problems(tasks: &str) -> Vec<String> {
        let err = Manifest::parse(&with(tasks), std::path::Path::new(".github/ferry.yml"))
            .expect_err("should be refused");
        err.diagnostics()
            .into_iter()
            .map(|d| format!("{} — {}", d.message, d.help.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn tasks_are_read_per_environment_with_their_defaults() {
        let m = Manifest::parse(
            &with(
                "    before-deploy:\n      staging:\n        - { name: migrate, command: [./migrate, --up], timeout: 90s }\n        - { name: seed, task-definition: task-definitions/seed.jsonnet, container: seeder }\n    after-deploy:\n      prod: [{ name: smoke, command: [./smoke] }]\n",
            ),
            std::path::Path::new(".github/ferry.yml"),
        )
        .unwrap();
        let w = &m.services["worker"];
        let staging = &w.before_deploy["staging"];
        assert_eq!(staging[0].name, "migrate");
        assert_eq!(
            staging[0].command.as_deref().unwrap(),
            ["./migrate", "--up"]
        );
        assert_eq!(staging[0].timeout.as_secs(), 90);
        assert_eq!(
            staging[1].task_definition.as_deref(),
            Some("task-definitions/seed.jsonnet")
        );
        assert_eq!(staging[1].container.as_deref(), Some("seeder"));
        assert_eq!(staging[1].timeout, DEFAULT_TASK_TIMEOUT);
        assert!(!w.before_deploy.contains_key("prod"));
        assert_eq!(w.after_deploy["prod"][0].name, "smoke");
    }

    #[test]
    fn bad_task_shapes_name_the_key_and_the_fix() {
        let cases: &[(&str, &str)] = &[
            // A list where environments are expected.
            (
                "    before-deploy: [{ name: migrate, command: [x] }]\n",
                "before-deploy",
            ),
            // One task where a list is expected.
            (
                "    before-deploy:\n      staging: { name: migrate, command: [x] }\n",
                "staging",
            ),
            // A command as one string.
            (
                "    before-deploy:\n      staging: [{ name: migrate, command: ./migrate }]\n",
                "command",
            ),
            // An unknown key.
            (
                "    before-deploy:\n      staging: [{ name: migrate, cmd: [x] }]\n",
                "cmd",
            ),
            // No name.
            (
                "    before-deploy:\n      staging: [{ command: [x] }]\n",
                "name",
            ),
        ];
        for (tasks, key) in cases {
            let all = problems(tasks).join("\n");
            assert!(
                all.contains(SHAPE_HELP)
                    || all.contains("keys here")
                    || all.contains("add the field"),
                "{all}"
            );
            assert!(all.contains(key), "{tasks}: {all}");
        }
        let cases: &[(&str, &str, &str)] = &[
            (
                "    before-deploy:\n      qa: [{ name: m, command: [x] }]\n",
                "`qa` is not a declared environment",
                "declared environments: staging, prod",
            ),
            (
                "    before-deploy:\n      staging: []\n",
                "the task list is empty",
                "remove the key",
            ),
            (
                "    before-deploy:\n      staging: [{ name: migrate }]\n",
                "task `migrate` has neither `command` nor `task-definition`",
                "command: [./migrate, --up]",
            ),
            (
                "    before-deploy:\n      staging: [{ name: migrate, command: [] }]\n",
                "the command is empty",
                "as a list",
            ),
            (
                "    before-deploy:\n      staging: [{ name: migrate, command: [./m, ''] }]\n",
                "argument 2 of the command is empty",
                "as a list",
            ),
            (
                "    before-deploy:\n      staging: [{ name: 'mi grate', command: [x] }]\n",
                "task name `mi grate` is not valid",
                "letters, digits",
            ),
            (
                "    before-deploy:\n      staging: [{ name: a-very-long-task-name-indeed, command: [x] }]\n",
                "is not valid",
                "1 to 24",
            ),
            (
                "    before-deploy:\n      staging: [{ name: m, command: [x] }, { name: m, command: [y] }]\n",
                "task name `m` is used twice",
                "its own name",
            ),
            (
                "    before-deploy:\n      staging: [{ name: m, command: [x], timeout: '10' }]\n",
                "has no unit",
                "1s to 12h",
            ),
            (
                "    before-deploy:\n      staging: [{ name: m, command: [x], timeout: 2d }]\n",
                "timeout:",
                "1s to 12h",
            ),
            (
                "    before-deploy:\n      staging: [{ name: m, command: [x], container: 'a b' }]\n",
                "container name `a b` is not valid",
                "name a container",
            ),
            (
                "    before-deploy:\n      staging: [{ name: m, task-definition: ../x.jsonnet }]\n",
                "must be a path inside the repository",
                "relative to the repository root",
            ),
            (
                "    before-deploy:\n      staging: [{ name: m, command: [x] }]\n    after-deploy:\n      staging: [{ name: m, command: [y] }]\n",
                "used by a before-deploy task of staging too",
                "its own name",
            ),
        ];
        for (tasks, message, help) in cases {
            let all = problems(tasks);
            assert!(
                all.iter().any(|p| p.contains(message) && p.contains(help)),
                "{tasks}: {all:#?}"
            );
        }
    }

    #[test]
    fn timeouts_name_their_unit_and_stay_within_half_a_day() {
        assert_eq!(timeout("90s").unwrap().as_secs(), 90);
        assert_eq!(timeout("1h").unwrap().as_secs(), 3600);
        assert!(timeout("10").unwrap_err().contains("no unit"));
        assert!(timeout("0s").is_err());
        assert!(timeout("13h").unwrap_err().contains("outside"));
        assert!(timeout("5d").is_err());
    }
}
