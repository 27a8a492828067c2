//! What users rely on in .github/workflows, read from the YAML itself: prod
//! is behind the `prod` environment, staging comes after the build and prod
//! after staging and the gate, deploys of one environment never overlap or
//! get cancelled, every third-party action is pinned by commit SHA, every
//! input given to `./action` exists in action/action.yml, and the
//! hardening rules (no default permissions, timeouts, no credentials left on
//! disk, no `${{ }}` inside `run:`). Each rule is also shown to catch a
//! broken copy of a real workflow.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::root;

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

const WORKFLOWS: &[&str] = &[
    "ci.yml",
    "terraform.yml",
    "release.yml",
    "action-image.yml",
    "metrics.yml",
];

/// The inputs action/action.yml declares.
fn action_inputs() -> BTreeSet<String> {
    let action: Value = serde_yaml_ng::from_str(&read("action/action.yml")).unwrap();
    action["inputs"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

fn jobs(wf: &Value) -> Vec<(String, &Value)> {
    wf["jobs"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str().unwrap_or("?").to_string(), v))
                .collect()
        })
        .unwrap_or_default()
}

fn steps(job: &Value) -> &[Value] {
    job["steps"].as_sequence().map(Vec::as_slice).unwrap_or(&[])
}

fn uses(step: &Value) -> &str {
    step["uses"].as_str().unwrap_or("")
}

fn is_local(uses: &str) -> bool {
    uses.starts_with("./")
}

/// The `command` a step gives to `./action`, if it is one.
fn ferry_command(step: &Value) -> Option<&str> {
    if uses(step) == "./action" {
        step["with"]["command"].as_str()
    } else {
        None
    }
}

fn environment(job: &Value) -> Option<&str> {
    job["environment"]
        .as_str()
        .or_else(|| job["environment"]["name"].as_str())
}

fn needs(job: &Value) -> Vec<&str> {
    match &job["needs"] {
        Value::String(s) => vec![s.as_str()],
        Value::Sequence(seq) => seq.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The rules every workflow keeps; one message per problem.
fn hardening_problems(name: &str, text: &str, inputs: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let wf: Value = match serde_yaml_ng::from_str(text) {
        Ok(v) => v,
        Err(e) => return vec![format!("{name}: not YAML: {e}")],
    };
    match wf["permissions"].as_mapping() {
        Some(m) if m.is_empty() => {}
        _ => out.push(format!("{name}: top-level `permissions: {{}}` is missing")),
    }
    if wf["on"].get("pull_request_target").is_some() {
        out.push(format!(
            "{name}: pull_request_target runs fork code with secrets"
        ));
    }
    let pinned = regex::Regex::new(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$").unwrap();
    for line in text.lines() {
        let t = line.trim().trim_start_matches("- ");
        if let Some(u) = t.strip_prefix("uses:") {
            let (target, comment) = u.split_once('#').unwrap_or((u, ""));
            let target = target.trim();
            if is_local(target) {
                continue;
            }
            if !pinned.is_match(target) {
                out.push(format!(
                    "{name}: `{target}` is not pinned by a full commit SHA"
                ));
            } else if !comment.trim().starts_with('v') {
                out.push(format!("{name}: `{target}` has no `# vX.Y.Z` comment"));
            }
        }
    }
    for (id, job) in jobs(&wf) {
        if job["timeout-minutes"].as_u64().is_none() {
            out.push(format!("{name}: job `{id}` has no timeout-minutes"));
        }
        let perms = &job["permissions"];
        let aws_or_attest = steps(job).iter().any(|s| {
            uses(s).starts_with("aws-actions/configure-aws-credentials@")
                || uses(s).starts_with("actions/attest-build-provenance@")
        });
        if perms["id-token"].as_str() == Some("write") && !aws_or_attest {
            out.push(format!(
                "{name}: job `{id}` asks for id-token: write and uses no OIDC"
            ));
        }
        for step in steps(job) {
            if uses(step).starts_with("actions/checkout@")
                && step["with"]["persist-credentials"].as_bool() != Some(false)
            {
                out.push(format!(
                    "{name}: job `{id}`: checkout without persist-credentials: false"
                ));
            }
            if let Some(run) = step["run"].as_str()
                && run.contains("${{")
            {
                out.push(format!(
                    "{name}: job `{id}`: `${{{{ }}}}` inside run: (pass it through env:)"
                ));
            }
            if uses(step) == "./action" {
                match step["with"].as_mapping() {
                    None => out.push(format!("{name}: job `{id}`: ./action without `with:`")),
                    Some(with) => {
                        for key in with.keys().filter_map(Value::as_str) {
                            if !inputs.contains(key) {
                                out.push(format!(
                                    "{name}: job `{id}`: ./action has no input `{key}` (action/action.yml)"
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// The jobs that run `command` through `./action` with `environment: env`.
fn jobs_running<'a>(wf: &'a Value, command: &str, env: &str) -> Vec<(String, &'a Value)> {
    jobs(wf)
        .into_iter()
        .filter(|(_, job)| {
            steps(job).iter().any(|s| {
                ferry_command(s) == Some(command) && s["with"]["environment"].as_str() == Some(env)
            })
        })
        .collect()
}

fn no_overlap_no_cancel(id: &str, job: &Value, env: &str, out: &mut Vec<String>) {
    let c = &job["concurrency"];
    match (c["group"].as_str(), c["cancel-in-progress"].as_bool()) {
        (Some(group), Some(false)) if group.contains(env) => {}
        _ => out.push(format!(
            "job `{id}`: needs `concurrency` with a group naming {env} and cancel-in-progress: false"
        )),
    }
}

/// release.yml: detect → build → staging → gate + prod.
fn release_problems(text: &str) -> Vec<String> {
    let wf: Value = serde_yaml_ng::from_str(text).unwrap();
    let mut out = Vec::new();
    let builds: Vec<String> = jobs(&wf)
        .into_iter()
        .filter(|(_, j)| steps(j).iter().any(|s| ferry_command(s) == Some("build")))
        .map(|(id, _)| id)
        .collect();
    if builds.is_empty() {
        out.push("release.yml: no job runs `build`".to_string());
    }
    for (id, job) in jobs(&wf) {
        if builds.contains(&id)
            && job["strategy"]["matrix"]
                .as_str()
                .is_none_or(|m| !m.contains("needs.detect.outputs.matrix"))
        {
            out.push(format!(
                "job `{id}`: the build matrix comes from detect's `matrix`"
            ));
        }
    }
    let staging = jobs_running(&wf, "deploy", "staging");
    let prod = jobs_running(&wf, "deploy", "prod");
    if staging.len() != 1 || prod.len() != 1 {
        out.push(format!(
            "release.yml: one staging and one prod deploy job expected, found {} and {}",
            staging.len(),
            prod.len()
        ));
        return out;
    }
    let (staging_id, staging_job) = &staging[0];
    let (prod_id, prod_job) = &prod[0];
    if environment(staging_job) != Some("staging") {
        out.push(format!(
            "job `{staging_id}`: the staging deploy runs in environment `staging`"
        ));
    }
    if environment(prod_job) != Some("prod") {
        out.push(format!(
            "job `{prod_id}`: the prod deploy runs in environment `prod`"
        ));
    }
    if !builds
        .iter()
        .any(|b| needs(staging_job).contains(&b.as_str()))
    {
        out.push(format!(
            "job `{staging_id}`: the staging deploy needs the build"
        ));
    }
    if !needs(prod_job).contains(&staging_id.as_str()) {
        out.push(format!(
            "job `{prod_id}`: the prod deploy needs the staging deploy `{staging_id}`"
        ));
    }
    let prod_steps = steps(prod_job);
    let gate = prod_steps.iter().position(|s| {
        ferry_command(s) == Some("gate") && s["with"]["environment"].as_str() == Some("prod")
    });
    let deploy = prod_steps
        .iter()
        .position(|s| ferry_command(s) == Some("deploy"));
    match (gate, deploy) {
        (Some(g), Some(d)) if g < d => {}
        _ => out.push(format!(
            "job `{prod_id}`: `gate` (environment prod) must run before `deploy`"
        )),
    }
    no_overlap_no_cancel(staging_id, staging_job, "staging", &mut out);
    no_overlap_no_cancel(prod_id, prod_job, "prod", &mut out);
    out
}

/// terraform.yml: plans comment on the PR; apply staging, then prod in `prod`.
fn terraform_problems(text: &str) -> Vec<String> {
    let wf: Value = serde_yaml_ng::from_str(text).unwrap();
    let mut out = Vec::new();
    let applies = |env: &str| -> Vec<(String, &Value)> {
        jobs(&wf)
            .into_iter()
            .filter(|(_, j)| {
                steps(j).iter().any(|s| {
                    s["run"].as_str().is_some_and(|r| {
                        r.contains("terraform apply") && r.contains(&format!("{env}.tfplan"))
                    })
                })
            })
            .collect()
    };
    let (staging, prod) = (applies("staging"), applies("prod"));
    if staging.len() != 1 || prod.len() != 1 {
        out.push(format!(
            "terraform.yml: one staging and one prod apply job expected, found {} and {}",
            staging.len(),
            prod.len()
        ));
        return out;
    }
    for (env, (id, job)) in [("staging", &staging[0]), ("prod", &prod[0])] {
        if environment(job) != Some(env) {
            out.push(format!(
                "job `{id}`: the {env} apply runs in environment `{env}`"
            ));
        }
        no_overlap_no_cancel(id, job, env, &mut out);
        let verify = steps(job)
            .iter()
            .position(|s| ferry_command(s) == Some("plan-verify"));
        let apply = steps(job).iter().position(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("terraform apply"))
        });
        if !matches!((verify, apply), (Some(v), Some(a)) if v < a) {
            out.push(format!(
                "job `{id}`: plan-verify must run before terraform apply"
            ));
        }
        // The outcome reaches the pull request even when the apply fails.
        let applied = steps(job)
            .iter()
            .position(|s| ferry_command(s) == Some("plan-applied"));
        match (apply, applied) {
            (Some(a), Some(r))
                if r > a
                    && steps(job)[r]["if"]
                        .as_str()
                        .is_some_and(|c| c.contains("always()")) => {}
            _ => out.push(format!(
                "job `{id}`: plan-applied must follow terraform apply with `if: always()`"
            )),
        }
        let perms = &job["permissions"];
        if perms["pull-requests"].as_str() != Some("write") {
            out.push(format!(
                "job `{id}`: plan-applied edits the plan comment: `pull-requests: write`"
            ));
        }
    }
    // Both plans on the pull request need no approval: no environment.
    for env in ["staging", "prod"] {
        for (id, job) in jobs_running(&wf, "plan-comment", env) {
            if environment(job).is_some() {
                out.push(format!(
                    "job `{id}`: the {env} plan runs without an environment (no approval)"
                ));
            }
        }
    }
    // Drift, per environment, on a schedule, without an environment (no approval).
    for env in ["staging", "prod"] {
        let found = jobs_running(&wf, "drift", env);
        if wf["on"].get("schedule").is_none() || found.is_empty() {
            out.push(format!("terraform.yml: no scheduled drift job for {env}"));
        }
        for (id, job) in found {
            if job["permissions"]["issues"].as_str() != Some("write") {
                out.push(format!("job `{id}`: the drift issue needs `issues: write`"));
            }
            if job["permissions"]["pull-requests"].is_string() || environment(job).is_some() {
                out.push(format!(
                    "job `{id}`: the drift check needs no pull-requests permission and no environment"
                ));
            }
        }
    }
    if wf["on"].get("merge_group").is_none() {
        out.push("terraform.yml: not triggered by `merge_group`".to_string());
    } else if !jobs(&wf).iter().any(|(_, j)| {
        j["if"].as_str().is_some_and(|c| c.contains("merge_group"))
            && steps(j)
                .iter()
                .any(|s| ferry_command(s) == Some("plan-verify"))
    }) {
        out.push("terraform.yml: no plan-verify job for the merge queue".to_string());
    }
    if !needs(prod[0].1).contains(&staging[0].0.as_str()) {
        out.push(format!(
            "job `{}`: the prod apply needs the staging apply",
            prod[0].0
        ));
    }
    for env in ["staging", "prod"] {
        if jobs_running(&wf, "plan-comment", env).is_empty() {
            out.push(format!("terraform.yml: no plan-comment for {env}"));
        }
    }
    out
}

#[test]
fn every_workflow_keeps_the_hardening_rules() {
    let inputs = action_inputs();
    let problems: Vec<String> = WORKFLOWS
        .iter()
        .flat_map(|w| hardening_problems(w, &read(&format!(".github/workflows/{w}")), &inputs))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn release_goes_build_then_staging_then_gate_and_prod() {
    let problems = release_problems(&read(".github/workflows/release.yml"));
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn terraform_applies_staging_then_prod_behind_its_environment() {
    let problems = terraform_problems(&read(".github/workflows/terraform.yml"));
    assert!(problems.is_empty(), "{problems:#?}");
}

/// `text` with `from` replaced (which must occur) by `to`.
fn mutate(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the mutation's anchor is gone: {from}");
    text.replacen(from, to, 1)
}

fn assert_caught(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem containing {needle:?}, got {problems:#?}"
    );
}

#[test]
fn the_release_checks_catch_broken_copies() {
    let text = read(".github/workflows/release.yml");
    let prod_env = "    name: gate and deploy to prod\n    needs: [detect, build, deploy-staging]\n    runs-on: ubuntu-24.04\n    timeout-minutes: 30\n    environment: prod";
    assert_caught(
        &release_problems(&mutate(
            &text,
            prod_env,
            &prod_env.replace("environment: prod", "environment: staging"),
        )),
        "the prod deploy runs in environment `prod`",
    );
    assert_caught(
        &release_problems(&mutate(
            &text,
            "needs: [detect, build, deploy-staging]",
            "needs: [detect, build]",
        )),
        "needs the staging deploy",
    );
    assert_caught(
        &release_problems(&mutate(
            &text,
            "  deploy-staging:\n    name: deploy to staging\n    needs: [detect, build]",
            "  deploy-staging:\n    name: deploy to staging\n    needs: [detect]",
        )),
        "the staging deploy needs the build",
    );
    assert_caught(
        &release_problems(&mutate(&text, "command: gate", "command: detect")),
        "`gate` (environment prod) must run before `deploy`",
    );
    assert_caught(
        &release_problems(&mutate(
            &text,
            "group: deploy-prod\n      cancel-in-progress: false",
            "group: deploy-prod\n      cancel-in-progress: true",
        )),
        "cancel-in-progress: false",
    );
}

#[test]
fn the_terraform_checks_catch_broken_copies() {
    let text = read(".github/workflows/terraform.yml");
    assert_caught(
        &terraform_problems(&mutate(&text, "    needs: apply-staging\n", "")),
        "the prod apply needs the staging apply",
    );
    let apply_prod = "    timeout-minutes: 60\n    environment: prod\n";
    assert_caught(
        &terraform_problems(&mutate(&text, apply_prod, "    timeout-minutes: 60\n")),
        "the prod apply runs in environment `prod`",
    );
    assert_caught(
        &terraform_problems(&mutate(
            &text,
            "command: plan-verify",
            "command: plan-comment",
        )),
        "plan-verify must run before terraform apply",
    );
}

#[test]
fn the_merge_queue_and_the_apply_outcome_are_checked() {
    let text = read(".github/workflows/terraform.yml");
    assert_caught(
        &terraform_problems(&mutate(&text, "  merge_group:\n", "")),
        "not triggered by `merge_group`",
    );
    assert_caught(
        &terraform_problems(&mutate(
            &text,
            "        if: always() && steps.verify.outcome == 'success'\n",
            "",
        )),
        "plan-applied must follow terraform apply with `if: always()`",
    );
    assert_caught(
        &terraform_problems(&mutate(
            &text,
            "  plan-prod:\n    name: plan (prod)\n",
            "  plan-prod:\n    name: plan (prod)\n    environment: prod\n",
        )),
        "the prod plan runs without an environment",
    );
    assert_caught(
        &terraform_problems(&mutate(
            &text,
            "      issues: write # the drift issue\n",
            "      issues: read\n",
        )),
        "the drift issue needs `issues: write`",
    );
    let ci: Value = serde_yaml_ng::from_str(&read(".github/workflows/ci.yml")).unwrap();
    assert!(
        ci["on"].get("merge_group").is_some(),
        "ci.yml runs the checks in the merge queue"
    );
}

#[test]
fn the_hardening_checks_catch_broken_copies() {
    let inputs = action_inputs();
    let text = read(".github/workflows/release.yml");
    let check = |t: &str| hardening_problems("release.yml", t, &inputs);
    assert_caught(
        &check(&mutate(
            &text,
            "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0",
            "actions/checkout@v5",
        )),
        "`actions/checkout@v5` is not pinned",
    );
    assert_caught(
        &check(&mutate(
            &text,
            "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0",
            "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8",
        )),
        "no `# vX.Y.Z` comment",
    );
    assert_caught(
        &check(&mutate(&text, "permissions: {}", "permissions: write-all")),
        "`permissions: {}`",
    );
    assert_caught(
        &check(&mutate(&text, "    timeout-minutes: 45\n", "")),
        "has no timeout-minutes",
    );
    assert_caught(
        &check(&mutate(
            &text,
            "persist-credentials: false",
            "persist-credentials: true",
        )),
        "persist-credentials: false",
    );
    assert_caught(
        &check(&mutate(
            &text,
            "mkdir -p .ferry/images",
            "mkdir -p .ferry/images \"${{ github.event.head_commit.message }}\"",
        )),
        "inside run:",
    );
    assert_caught(
        &check(&mutate(
            &text,
            "          command: build\n",
            "          command: build\n          push: false\n",
        )),
        "./action has no input `push`",
    );
    assert_caught(
        &check(&mutate(
            &text,
            "  push:\n    branches: [release]",
            "  pull_request_target:\n  push:\n    branches: [release]",
        )),
        "pull_request_target",
    );
    let detect_perms = "      contents: read # checkout; detect reads history and the compare API";
    assert_caught(
        &check(&mutate(
            &text,
            detect_perms,
            &format!("{detect_perms}\n      id-token: write"),
        )),
        "asks for id-token: write and uses no OIDC",
    );
}
