use std::path::Path;

use super::*;
use crate::diagnostic::Diagnose;

const GOOD: &str = "\
project: shop
region: us-east-1
environments:
  staging: { cluster: shop-staging }
  prod:
    cluster: '{project}-prod'
    promote-from: staging
services:
  api:
    paths: [services/api/**]
  worker: {}
";

fn parse(text: &str) -> Result<Manifest, ManifestError> {
    Manifest::parse(text, Path::new(".github/ferry.yml"))
}

/// The first problem, as `line:col: message`, for compact assertions.
fn first_problem(text: &str) -> (Option<usize>, Option<usize>, String, String) {
    let err = parse(text).expect_err("should be refused");
    let d = err
        .diagnostics()
        .into_iter()
        .next()
        .expect("one diagnostic");
    (d.line, d.column, d.message, d.help.unwrap_or_default())
}

#[test]
fn defaults_follow_the_layout() {
    let m = parse(GOOD).unwrap();
    let w = &m.services["worker"];
    assert_eq!(w.dockerfile, "services/worker/Dockerfile");
    assert_eq!(w.task_definition, "task-definitions/worker.jsonnet");
    assert_eq!(w.context, ".");
    assert_eq!(w.paths.globs, ["services/worker/**"]);
    assert_eq!(w.crate_name.as_deref(), Some("worker"));
    assert!(!w.crate_explicit);
    assert_eq!(
        w.ecs_service.render(m.vars("worker", "prod")),
        "shop-prod-worker"
    );
    assert_eq!(
        w.ecr_repository.render(m.vars("worker", "prod")),
        "shop/worker"
    );
    assert_eq!(
        m.environments["prod"]
            .cluster
            .render(m.vars("worker", "prod")),
        "shop-prod"
    );
    assert_eq!(m.release_branch, "release");
    assert_eq!(
        m.first_environment().map(|e| e.name.as_str()),
        Some("staging")
    );
}

#[test]
fn the_repository_manifest_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.github/ferry.yml");
    let m = Manifest::load(&path, Path::new(".github/ferry.yml")).unwrap();
    assert_eq!(
        m.services.keys().collect::<Vec<_>>(),
        ["sampleapi", "sampleworker"]
    );
    assert_eq!(
        m.environments["prod"].promote_from.as_deref(),
        Some("staging")
    );
}

#[test]
fn unknown_key_names_line_and_column() {
    let text = GOOD.replace("  worker: {}", "  worker:\n    dockerfil: x");
    let (line, col, msg, help) = first_problem(&text);
    assert_eq!((line, col), (Some(12), Some(5)));
    assert!(
        msg.contains("unknown key `dockerfil` in `services.worker`"),
        "{msg}"
    );
    assert!(help.contains("did you mean `dockerfile`?"), "{help}");
    assert!(
        help.contains("Keys here: "),
        "lists the expected keys: {help}"
    );
}

/// serde stops at the first unknown key; Ferry lists them all, each with
/// its position and a "did you mean".
#[test]
fn every_unknown_key_at_once_with_did_you_mean() {
    let text =
        GOOD.replace(
            "  worker: {}",
            "  worker:\n    dockerfil: x\n    taskdefinition: y",
        )
        .replace(
            "    paths: [services/api/**]",
            "    pahts: [services/api/**]",
        )
        .replace(
            "  staging: { cluster: shop-staging }",
            "  staging: { clustr: shop-staging }",
        ) + "colour: blue\n";
    let err = parse(&text).expect_err("refused");
    let all: Vec<String> = err.diagnostics().iter().map(|d| d.to_string()).collect();
    assert_eq!(all.len(), 5, "{all:#?}");
    for (key, guess) in [
        ("dockerfil", Some("dockerfile")),
        ("taskdefinition", Some("task-definition")),
        ("pahts", Some("paths")),
        ("clustr", Some("cluster")),
        ("colour", None),
    ] {
        let d = all
            .iter()
            .find(|d| d.contains(&format!("unknown key `{key}`")))
            .unwrap_or_else(|| panic!("{key} missing: {all:#?}"));
        assert!(d.contains(".github/ferry.yml:"), "{d}");
        if let Some(g) = guess {
            assert!(d.contains(&format!("did you mean `{g}`?")), "{d}");
        }
    }
}

#[test]
fn unknown_top_level_key() {
    let (line, col, msg, _) = first_problem(&format!("{GOOD}colour: blue\n"));
    assert_eq!((line, col), (Some(12), Some(1)));
    assert!(
        msg.contains("unknown key `colour` in the manifest"),
        "{msg}"
    );
}

#[test]
fn promote_from_a_missing_environment() {
    let text = GOOD.replace("promote-from: staging", "promote-from: stagin");
    let (line, col, msg, help) = first_problem(&text);
    assert_eq!((line, col), (Some(7), Some(19)));
    assert!(
        msg.contains("`promote-from: stagin` names an environment that is not declared"),
        "{msg}"
    );
    assert!(help.contains("did you mean `staging`"), "{help}");
}

#[test]
fn promotion_cycle() {
    let text = GOOD.replace(
        "staging: { cluster: shop-staging }",
        "staging: { cluster: shop-staging, promote-from: prod }",
    );
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.contains("promotion cycle of 2 environments: staging → prod → staging"),
        "{err}"
    );
}

#[test]
fn duplicate_service_names() {
    let text = format!("{GOOD}  api: {{}}\n");
    let (line, _, msg, help) = first_problem(&text);
    assert_eq!(line, Some(12));
    assert!(
        msg.contains("duplicate key `api` (services.api is declared twice)"),
        "{msg}"
    );
    assert!(help.contains("each name may appear once"), "{help}");
}

#[test]
fn two_services_on_one_ecs_service() {
    let text = GOOD.replace(
        "  worker: {}",
        "  worker: { ecs-service: 'shop-{env}-api' }",
    );
    let (line, col, msg, _) = first_problem(&text);
    assert_eq!((line, col), (Some(11), Some(26)));
    assert!(
        msg.contains(
            "services `api` and `worker` both deploy to the ECS service \"shop-staging-api\""
        ),
        "{msg}"
    );
}

#[test]
fn invalid_glob() {
    let text = GOOD.replace(
        "paths: [services/api/**]",
        "paths: [services/api/**, 'src/[a-']",
    );
    let (line, col, msg, help) = first_problem(&text);
    assert_eq!((line, col), (Some(10), Some(30)));
    assert!(
        msg.contains("path glob \"src/[a-\" has a `[` that no `]` closes"),
        "{msg}"
    );
    assert!(help.contains("close the class, e.g. `[0-9]`"), "{help}");
}

#[test]
fn absolute_glob() {
    let text = GOOD.replace("paths: [services/api/**]", "paths: [/services/api/**]");
    let (_, _, msg, help) = first_problem(&text);
    assert!(msg.contains("not relative to the repository root"), "{msg}");
    assert!(help.contains("\"services/api/**\""), "{help}");
}

#[test]
fn unknown_placeholder() {
    let text = GOOD.replace("cluster: '{project}-prod'", "cluster: '{projct}-prod'");
    let (line, col, msg, help) = first_problem(&text);
    assert_eq!((line, col), (Some(6), Some(14)));
    assert!(msg.contains("unknown placeholder `{projct}`"), "{msg}");
    assert!(help.contains("did you mean `{project}`"), "{help}");
}

#[test]
fn env_in_a_shared_repository_name() {
    let text = GOOD.replace(
        "  worker: {}",
        "  worker: { ecr-repository: '{env}/worker' }",
    );
    let (_, _, msg, _) = first_problem(&text);
    assert!(msg.contains("`{env}` cannot be used"), "{msg}");
    let text = GOOD.replace(
        "  worker: {}",
        "  worker: { image-repository: '{env}/worker' }",
    );
    let (_, _, msg, _) = first_problem(&text);
    assert!(msg.contains("`{env}` cannot be used"), "{msg}");
}

/// `image-repository` is the name; `ecr-repository` still loads, with a
/// warning at its key; both at once is refused.
#[test]
fn ecr_repository_is_a_deprecated_alias_of_image_repository() {
    let new =
        parse(&GOOD.replace("  worker: {}", "  worker: { image-repository: 'x/w' }")).unwrap();
    assert_eq!(
        new.services["worker"]
            .ecr_repository
            .render(new.vars("worker", "")),
        "x/w"
    );
    assert!(new.warnings.is_empty());
    assert!(parse(GOOD).unwrap().warnings.is_empty());

    let old = parse(&GOOD.replace("  worker: {}", "  worker:\n    ecr-repository: 'x/w'")).unwrap();
    assert_eq!(
        old.services["worker"]
            .ecr_repository
            .render(old.vars("worker", "")),
        "x/w"
    );
    let [w] = old.warnings.as_slice() else {
        panic!("one warning: {:?}", old.warnings)
    };
    assert_eq!((w.line, w.column), (Some(12), Some(5)));
    assert!(
        w.message
            .contains("services.worker.ecr-repository is deprecated"),
        "{}",
        w.message
    );
    assert!(
        w.help
            .as_deref()
            .unwrap_or_default()
            .contains("rename the key to image-repository")
    );

    let (_, _, msg, help) = first_problem(&GOOD.replace(
        "  worker: {}",
        "  worker: { image-repository: 'x/w', ecr-repository: 'x/w' }",
    ));
    assert!(
        msg.contains("both image-repository and ecr-repository"),
        "{msg}"
    );
    assert!(help.contains("keep image-repository"), "{help}");
}

#[test]
fn missing_field_and_wrong_type() {
    let (_, _, msg, _) = first_problem("project: p\nregion: us-east-1\nservices: {a: {}}\n");
    assert!(msg.contains("missing field `environments`"), "{msg}");
    let (line, _, msg, _) =
        first_problem(&GOOD.replace("paths: [services/api/**]", "paths: services/api/**"));
    assert_eq!(line, Some(10));
    assert!(msg.contains("invalid type"), "{msg}");
}

#[test]
fn bad_names_and_region() {
    let err = parse(
        &GOOD
            .replace("region: us-east-1", "region: Virginia")
            .replace("  worker: {}", "  'work er': {}"),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(".github/ferry.yml:2:9: \"Virginia\" is not an AWS region"),
        "{text}"
    );
    assert!(
        text.contains(".github/ferry.yml:11:3: service name \"work er\" is not valid"),
        "{text}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = GOOD
        .replace("promote-from: staging", "promote-from: qa")
        .replace("paths: [services/api/**]", "paths: ['[']");
    assert_eq!(parse(&text).unwrap_err().diagnostics().len(), 2);
}

#[test]
fn select_refuses_unknown_services() {
    let m = parse(GOOD).unwrap();
    let select = |text: &str| {
        crate::inputs::ServiceSelection::parse(text)
            .unwrap()
            .unwrap()
            .resolve(&m)
    };
    assert_eq!(select("worker,api,worker").unwrap(), ["worker", "api"]);
    let err = select("billing").unwrap_err();
    assert!(err.contains("unknown service `billing`"), "{err}");
    assert!(err.contains("declares api, worker"), "{err}");
}

#[test]
fn syntax_error_has_a_position() {
    let (line, col, _, _) = first_problem("project: [unclosed\nregion: x\n");
    assert!(line.is_some() && col.is_some());
}

/// Editors validate `ferry.yml` against action/schema/ferry.schema.json; it
/// must describe exactly what the code accepts. Regenerate with
/// `FERRY_UPDATE_SCHEMA=1 cargo test -p ferry schema`.
#[test]
fn json_schema_file_is_in_sync_with_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/ferry.schema.json");
    let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
    if std::env::var_os("FERRY_UPDATE_SCHEMA").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{} is out of date: run FERRY_UPDATE_SCHEMA=1 cargo test -p ferry schema",
        path.display()
    );
    let schema: serde_json::Value = serde_json::from_str(&on_disk).unwrap();
    let service = &schema["$defs"]["RawService"]["properties"];
    for key in [
        "paths",
        "crate",
        "dockerfile",
        "context",
        "task-definition",
        "ecs-service",
        "image-repository",
        "ecr-repository",
    ] {
        assert!(service.get(key).is_some(), "schema lacks services.*.{key}");
    }
    assert_eq!(
        schema["additionalProperties"],
        serde_json::Value::Bool(false)
    );
}

const GATED: &str = "\
project: shop
region: us-east-1
environments:
  staging: { cluster: shop-staging }
  prod:
    cluster: shop-prod
    promote-from: staging
    gate:
      prometheus: http://127.0.0.1:9090/
      max-burn-rate: 1.5
      slos: [api-availability, api-latency]
services:
  api: {}
";

#[test]
fn a_gate_section_is_read_with_defaults() {
    let m = parse(GATED).unwrap();
    let g = m.environments["prod"].gate.as_ref().unwrap();
    assert_eq!(g.prometheus, "http://127.0.0.1:9090");
    assert_eq!(g.max_burn_rate, 1.5);
    assert_eq!(g.slos, ["api-availability", "api-latency"]);
    let m = parse(&GATED.replace("      max-burn-rate: 1.5\n", "")).unwrap();
    assert_eq!(
        m.environments["prod"].gate.as_ref().unwrap().max_burn_rate,
        DEFAULT_MAX_BURN_RATE
    );
    assert!(m.environments["staging"].gate.is_none());
}

#[test]
fn bad_gate_values_are_positioned() {
    let (line, col, msg, help) = first_problem(&GATED.replace("1.5", "-1"));
    assert_eq!((line, col), (Some(10), Some(22)), "{msg}");
    assert!(msg.contains("not a positive number"), "{msg}");
    assert!(help.contains("budget"), "{help}");

    let (line, _, msg, _) = first_problem(&GATED.replace("http://127.0.0.1:9090/", "prom:9090"));
    assert_eq!(line, Some(9));
    assert!(msg.contains("not a Prometheus URL"), "{msg}");

    let (line, _, msg, _) = first_problem(&GATED.replace("[api-availability, api-latency]", "[]"));
    assert_eq!(line, Some(11));
    assert!(msg.contains("empty"), "{msg}");

    let (_, _, msg, _) = first_problem(&GATED.replace(
        "      slos: [api-availability, api-latency]\n",
        "      query: up\n",
    ));
    assert!(msg.contains("no `{window}`"), "{msg}");

    let ungated = GATED.replace("    promote-from: staging\n", "");
    let (line, _, msg, help) = first_problem(&ungated);
    assert_eq!(line, Some(7));
    assert!(msg.contains("without `promote-from`"), "{msg}");
    assert!(help.contains("promote-from: staging"), "{help}");

    let (line, _, msg, _) = first_problem(&GATED.replace("max-burn-rate", "max-burn"));
    assert!(msg.contains("unknown key `max-burn`"), "{msg}");
    assert_eq!(line, Some(10));
}

const PROGRESSIVE: &str = "\
project: shop
region: us-east-1
environments:
  staging: { cluster: shop-staging }
  prod:
    cluster: shop-prod
    promote-from: staging
    rollout: { strategy: linear, step-percent: 20, step-bake: 2m }
    analysis:
      prometheus: http://127.0.0.1:9090/
      interval: 30s
      failure-limit: 1
      checks:
        - name: error-ratio
          query: sum(rate(http_requests_total{job=\"{service}\",{version},status=~\"5..\"}[{window}]))
          max: 0.01
          max-vs-baseline: 2
          floor: 0.001
services:
  api:
    rollout:
      prod: { strategy: canary, canary-percent: 5, step-bake: 10m, bake: 1h }
  worker: {}
";

#[test]
fn rollouts_and_analyses_come_from_the_service_else_the_environment() {
    let m = parse(PROGRESSIVE).unwrap();
    let (api, analysis) = m.rollout_of("api", "prod");
    assert_eq!(
        api,
        RolloutSettings {
            strategy: Strategy::Canary,
            canary_percent: 5.0,
            step_percent: DEFAULT_STEP_PERCENT,
            step_bake_secs: 600,
            bake_secs: 3600,
        }
    );
    let analysis = analysis.unwrap();
    assert_eq!(analysis.prometheus, "http://127.0.0.1:9090");
    assert_eq!((analysis.interval_secs, analysis.failure_limit), (30, 1));
    assert_eq!(
        analysis.checks[0].relative,
        Some(crate::manifest::Relative {
            ratio: 2.0,
            floor: 0.001
        })
    );
    let (worker, _) = m.rollout_of("worker", "prod");
    assert_eq!(worker.strategy, Strategy::Linear);
    assert_eq!((worker.step_percent, worker.step_bake_secs), (20.0, 120));
    assert_eq!(
        worker.bake_secs, 300,
        "the default bake of a progressive rollout"
    );
    let (staging, none) = m.rollout_of("api", "staging");
    assert_eq!(staging, RolloutSettings::default());
    assert_eq!(staging.strategy, Strategy::Rolling);
    assert!(none.is_none());
}

#[test]
fn bad_rollout_and_analysis_values_are_positioned() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "canary-percent: 5",
            "canary-percent: 100",
            22,
            "outside 0.1 to 99.9",
        ),
        ("step-bake: 10m", "step-bake: 90s", 22, "whole minutes"),
        ("bake: 1h", "bake: 2d", 22, "unknown unit"),
        (
            "strategy: canary",
            "strategy: canary-ish",
            22,
            "unknown variant",
        ),
        (
            "strategy: linear, step-percent: 20",
            "strategy: canary, step-percent: 20",
            8,
            "`step-percent` is set on a canary rollout",
        ),
        ("interval: 30s", "interval: 90m", 11, "outside 1s to 1h"),
        (
            "http://127.0.0.1:9090/",
            "prom:9090",
            10,
            "not a Prometheus URL",
        ),
        (
            "{job=\"{service}\",{version},",
            "{job=\"{service}\",",
            15,
            "no `{version}`",
        ),
        (
            "          max: 0.01\n          max-vs-baseline: 2\n          floor: 0.001\n",
            "",
            14,
            "has no threshold: it could never fail",
        ),
        (
            "          max: 0.01\n",
            "",
            14,
            "has only `max-vs-baseline`",
        ),
        (
            "          floor: 0.001\n",
            "",
            17,
            "`max-vs-baseline` of `error-ratio` has no `floor`",
        ),
        (
            "          max-vs-baseline: 2\n",
            "",
            17,
            "`floor` of `error-ratio` is set without `max-vs-baseline`",
        ),
        (
            "          max: 0.01\n",
            "          max: -0.01\n",
            16,
            "max -0.01 of `error-ratio` is not a number of 0 or more",
        ),
        (
            "          max: 0.01\n",
            "          max: 0.01\n          min: 0.5\n",
            14,
            "`min` 0.5 above `max` 0.01",
        ),
        (
            "          floor: 0.001\n",
            "          floor: 0\n",
            18,
            "floor 0 of `error-ratio` is not a number above 0",
        ),
        (
            "    rollout:\n      prod:",
            "    rollout:\n      prdo:",
            22,
            "`prdo` is not a declared environment",
        ),
    ];
    for (from, to, line, needle) in cases {
        assert!(PROGRESSIVE.contains(from), "{from}");
        let (l, _, msg, help) = first_problem(&PROGRESSIVE.replace(from, to));
        assert!(msg.contains(needle), "{to}: {msg}");
        assert_eq!(l, Some(*line), "{to}: {msg}");
        assert!(!help.is_empty(), "{to}: {msg}");
    }
    let (_, _, msg, _) = first_problem(&PROGRESSIVE.replace(
        "      checks:\n        - name: error-ratio\n          query: sum(rate(http_requests_total{job=\"{service}\",{version},status=~\"5..\"}[{window}]))\n          max: 0.01\n          max-vs-baseline: 2\n          floor: 0.001\n",
        "      checks: []\n",
    ));
    assert!(msg.contains("empty list"), "{msg}");
}

const GROUPS: &str = "\
project: shop
region: us-east-1
path-groups:
  common: [libs/common/**, '!libs/common/docs/**']
environments:
  staging: { cluster: shop-staging }
services:
  api:
    paths: [services/api/**, group:common]
  jobs:
    paths: [group:common, services/jobs/**]
    pending-paths: [group:common]
  web: {}
";

#[test]
fn a_path_group_is_included_by_name_in_order_and_shown_with_it() {
    let m = parse(GROUPS).unwrap();
    let api = &m.services["api"].paths;
    assert_eq!(
        api.globs,
        [
            "services/api/**",
            "libs/common/** (group:common)",
            "!libs/common/docs/** (group:common)"
        ]
    );
    assert_eq!(
        api.first_match("libs/common/x.go"),
        Some("libs/common/** (group:common)")
    );
    assert_eq!(api.first_match("libs/common/docs/a.md"), None);
    assert_eq!(
        m.services["web"].paths.first_match("libs/common/x.go"),
        None
    );
    // A pending group makes its globs pending.
    assert!(
        m.services["jobs"]
            .pending_paths
            .contains(&"libs/common/** (group:common)".to_string())
    );
}

#[test]
fn an_unknown_path_group_is_refused_with_the_nearest_name() {
    let text = GROUPS.replace("group:common, services/jobs", "group:comon, services/jobs");
    let (line, col, message, help) = first_problem(&text);
    assert_eq!((line, col), (Some(11), Some(13)));
    assert_eq!(message, "unknown path group `comon`");
    assert_eq!(help, "did you mean `group:common`?");
    let text = GROUPS
        .replace(
            "path-groups:\n  common: [libs/common/**, '!libs/common/docs/**']\n",
            "",
        )
        .replace("group:common]", "services/x/**]");
    let (_, _, message, help) = first_problem(&text);
    assert_eq!(message, "unknown path group `common`");
    assert!(help.contains("declare it under `path-groups:`"), "{help}");
}

#[test]
fn a_path_group_must_be_globs() {
    for (group, want) in [
        ("[]", "path group `common` is empty"),
        (
            "[group:other]",
            "path group `common` includes another group (group:other)",
        ),
        (
            "['/libs/**']",
            "path glob \"/libs/**\" is not relative to the repository root",
        ),
    ] {
        let text = GROUPS.replace("[libs/common/**, '!libs/common/docs/**']", group);
        let (line, _, message, _) = first_problem(&text);
        assert_eq!(message, want);
        assert_eq!(line, Some(4), "{message}");
    }
}

#[test]
fn depends_on_names_known_services_and_a_cycle_is_printed() {
    let text = "project: p\nregion: us-east-1\nenvironments:\n  staging: { cluster: c }\nservices:\n  a: { depends-on: [b] }\n  b: { depends-on: [c] }\n  c: { depends-on: [a] }\n  d: { depends-on: [nope, d] }\n";
    let err = parse(text).unwrap_err();
    let all: Vec<String> = err
        .diagnostics()
        .iter()
        .map(|d| format!("{} | {}", d.message, d.help.clone().unwrap_or_default()))
        .collect();
    let has = |s: &str| all.iter().any(|m| m.contains(s));
    assert!(
        has("dependency cycle of 3 services: a → b → c → a"),
        "{all:#?}"
    );
    assert!(
        has("service `d` depends on `nope`, which the manifest does not declare"),
        "{all:#?}"
    );
    assert!(has("service `d` depends on itself"), "{all:#?}");
    assert_eq!(all.len(), 3, "{all:#?}");
    // Located on the key that names the cycle's first service.
    let cycle = err
        .diagnostics()
        .into_iter()
        .find(|d| d.message.contains("cycle"))
        .unwrap();
    assert_eq!(cycle.line, Some(6), "{cycle:?}");
}

#[test]
fn a_release_rolls_out_in_waves_of_its_own_services() {
    let m = parse("project: p\nregion: us-east-1\nenvironments:\n  staging: { cluster: c }\nservices:\n  api: { depends-on: [db, cache] }\n  db: {}\n  cache: {}\n  worker: { depends-on: [api] }\n").unwrap();
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        waves(&m, &names(&["worker", "db", "api", "cache"])),
        vec![names(&["db", "cache"]), names(&["api"]), names(&["worker"])]
    );
    // A dependency the release does not deploy is already live.
    assert_eq!(
        waves(&m, &names(&["worker", "db"])),
        vec![names(&["db", "worker"])]
    );
    assert_eq!(waves(&m, &names(&["api"])), vec![names(&["api"])]);
    assert_eq!(m.services["api"].depends_on, names(&["db", "cache"]));
}

#[test]
fn service_connect_is_a_list_of_distinct_port_names_and_bad_shapes_say_the_fix() {
    let head =
        "project: p\nregion: us-east-1\nenvironments:\n  staging: { cluster: c }\nservices:\n";
    let m = parse(&format!(
        "{head}  api: {{ service-connect: [http, admin_9090] }}\n  db: {{}}\n"
    ))
    .unwrap();
    assert_eq!(m.services["api"].service_connect, ["http", "admin_9090"]);
    assert!(m.services["db"].service_connect.is_empty());
    let messages = |text: &str| -> Vec<String> {
        parse(&format!("{head}{text}"))
            .unwrap_err()
            .diagnostics()
            .iter()
            .map(|d| format!("{} | {}", d.message, d.help.clone().unwrap_or_default()))
            .collect()
    };
    for (text, want) in [
        (
            "  api: { service-connect: [] }\n",
            "`service-connect` is an empty list | list the port names",
        ),
        (
            "  api: { service-connect: [Http Port] }\n",
            "\"Http Port\" is no port mapping name | write the portMappings[].name",
        ),
        (
            "  api: { service-connect: [-http] }\n",
            "\"-http\" is no port mapping name",
        ),
        (
            "  api: { service-connect: [http, http] }\n",
            "port name `http` is listed twice | list each port name once",
        ),
        (
            "  api: { service-connect: [x, ''] }\n",
            "\"\" is no port mapping name",
        ),
    ] {
        let all = messages(text);
        assert_eq!(all.len(), 1, "{text}: {all:#?}");
        assert!(all[0].contains(want), "{text}: {all:#?}");
    }
    // Not a list: the parser names the key.
    let all = messages("  api: { service-connect: http }\n");
    assert!(
        all.iter().any(|m| m.contains("service-connect")),
        "{all:#?}"
    );
}
