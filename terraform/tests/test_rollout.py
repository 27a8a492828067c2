"""Deployment strategies (issue 16): what ECS needs for BLUE_GREEN, CANARY
and LINEAR, what Terraform leaves to `ferry deploy`, and agreement with
.github/ferry.yml."""

from __future__ import annotations

import re

from tfsupport import (
    ECS_MODULE,
    MODULE_BASELINE,
    ROOT,
    Scratch,
    TF,
    blocks,
    code_only,
    expr,
    load_hcl,
    locals_config,
    manifest,
    render,
    service_module_calls,
    test,
    tfvars_plain,
    unwrap,
)

# The first AWS provider release with CANARY and LINEAR on aws_ecs_service
# (deployment_configuration.canary_configuration / linear_configuration).
PROVIDER_WITH_STRATEGIES = (6, 21)

# The manifest's names (`rollout: strategy:`) for ECS's strategies.
MANIFEST_STRATEGIES = {"rolling": "ROLLING", "blue-green": "BLUE_GREEN", "canary": "CANARY", "linear": "LINEAR"}


def module_resource(rtype: str, name: str) -> dict:
    found = [b[rtype][name] for _, b in blocks(ECS_MODULE, "resource") if name in b.get(rtype, {})]
    assert found, f"modules/ecs-fargate-service has no {rtype}.{name}"
    return found[0]


def lower_bound(constraint: str) -> tuple[int, ...]:
    m = re.search(r"(?:~>|>=)\s*(\d+)\.(\d+)", constraint)
    assert m, f"no lower bound in {constraint!r}"
    return int(m.group(1)), int(m.group(2))


@test
def provider_constraints_admit_only_releases_with_the_strategies():
    tf = unwrap(load_hcl(TF / "main.tf")["terraform"])
    root = unwrap(unwrap(unwrap(tf["required_providers"])["aws"])["version"])
    mtf = unwrap(load_hcl(ECS_MODULE / "versions.tf")["terraform"])
    module = unwrap(unwrap(unwrap(mtf["required_providers"])["aws"])["version"])
    for where, constraint in (("main.tf", root), ("modules/ecs-fargate-service/versions.tf", module)):
        assert lower_bound(constraint) >= PROVIDER_WITH_STRATEGIES, (
            f"{where}: {constraint!r} admits AWS providers without CANARY/LINEAR (need >= 6.21)"
        )


@test
def ecs_service_leaves_each_deploys_strategy_to_ferry():
    """`ferry deploy` sets the strategy on UpdateService; Terraform's would
    undo it on the next apply unless ignored."""
    service = module_resource("aws_ecs_service", "this")
    ignored = {str(i) for i in unwrap(unwrap(service["lifecycle"])["ignore_changes"])}
    ignored = {i.removeprefix("${").removesuffix("}") for i in ignored}
    for field in ("strategy", "bake_time_in_minutes", "canary_configuration", "linear_configuration"):
        assert f"deployment_configuration[0].{field}" in ignored, f"ignore_changes lacks deployment_configuration[0].{field}: {sorted(ignored)}"
    assert {"task_definition", "desired_count"} <= ignored, sorted(ignored)
    # Rolling services keep today's configuration (no deployment_configuration block).
    text = (ECS_MODULE / "main.tf").read_text()
    assert re.search(r'for_each = var\.rollout\.strategy == "ROLLING" \? \[\] :', text), "deployment_configuration must be absent for ROLLING"
    # The traffic-shifting strategies get the second target group, the rule and the role.
    advanced = re.search(r'dynamic "advanced_configuration" \{(.*?)\n      \}\n', text, re.S)
    assert advanced, "load_balancer has no advanced_configuration"
    body = code_only(advanced.group(1))
    for needed in ("local.shifts_traffic", "aws_lb_target_group.alternate[0].arn", "local.listener_rule_arn", "aws_iam_role.traffic[0].arn"):
        assert needed in body, f"advanced_configuration lacks {needed}"


@test
def listener_rule_weights_belong_to_ecs_once_traffic_shifts():
    rolling = module_resource("aws_lb_listener_rule", "this")
    shifted = module_resource("aws_lb_listener_rule", "shifted")
    assert "!local.shifts_traffic" in expr(rolling["count"]), "the rolling rule must not exist beside the shifted one"
    assert expr(shifted["count"]).startswith("local.shifts_traffic"), expr(shifted["count"])
    assert expr(unwrap(shifted["lifecycle"])["ignore_changes"]) in ("[action]", "action"), "ECS moves the weights: ignore the action"
    forward = unwrap(unwrap(shifted["action"])["forward"])
    groups = forward["target_group"]
    arns = [expr(unwrap(g)["arn"]) for g in groups]
    weights = [unwrap(unwrap(g)["weight"]) for g in groups]
    assert arns == ["aws_lb_target_group.this[0].arn", "aws_lb_target_group.alternate[0].arn"], arns
    assert weights == [100, 0], f"all traffic starts on the primary group: {weights}"
    for key in ("priority", "listener_arn"):
        assert expr(shifted[key]) == expr(rolling[key]), f"the two rules differ in {key}"
    assert expr(unwrap(shifted["condition"])) == expr(unwrap(rolling["condition"])), "the two rules route different paths"
    alternate = module_resource("aws_lb_target_group", "alternate")
    primary = module_resource("aws_lb_target_group", "this")
    for key in ("health_check", "deregistration_delay", "port", "protocol", "target_type"):
        assert expr(alternate[key]) == expr(primary[key]), f"the alternate target group differs in {key}"


@test
def traffic_role_is_the_only_one_that_may_touch_the_alb():
    """ECS's traffic role: trusted by ecs.amazonaws.com, bounded, named so the
    boundary's ALB statements and the apply role's PassRole match it alone."""
    role = module_resource("aws_iam_role", "traffic")
    assert expr(role["name"]) == '"${local.full_name}-lb-traffic"', expr(role["name"])
    assert "permissions_boundary_arn" in expr(role["permissions_boundary"])
    trust = [b["aws_iam_policy_document"]["ecs_trust"] for _, b in blocks(ECS_MODULE, "data")
             if "ecs_trust" in b.get("aws_iam_policy_document", {})][0]
    principal = unwrap(unwrap(trust["statement"])["principals"])
    assert unwrap(principal["identifiers"]) == ["ecs.amazonaws.com"], principal
    policy = [b["aws_iam_policy_document"]["traffic"] for _, b in blocks(ECS_MODULE, "data")
              if "traffic" in b.get("aws_iam_policy_document", {})][0]
    for st in policy["statement"]:
        actions = unwrap(st["actions"])
        if any(not a.startswith("elasticloadbalancing:Describe") for a in actions):
            assert "*" not in unwrap(st["resources"]), f"{st.get('sid')}: modifying calls must name this service's resources"
    boundary = (TF / "iam-boundary.tf").read_text()
    for sid in ("EcsTrafficShiftRead", "EcsTrafficShift"):
        m = re.search(r'sid = "%s"(.*?)\n  \}\n' % sid, boundary, re.S)
        assert m, f"iam-boundary.tf lacks {sid}"
        assert 'role/${local.name}-*-lb-traffic' in m.group(1), f"{sid} must be limited to the -lb-traffic roles"
    apply = (TF / "github-oidc-policies.tf").read_text()
    for sid in ("PassTrafficShiftRoles", "TrafficShiftRolesOnlyToEcs"):
        m = re.search(r'sid\s*= "%s"(.*?)\n  \}\n' % sid, apply, re.S)
        assert m and '"ecs.amazonaws.com"' in m.group(1), f"github-oidc-policies.tf: {sid} must limit the traffic roles to ecs.amazonaws.com"
    assert "ecs:StopServiceDeployment" in apply, "the deploy role needs ecs:StopServiceDeployment to stop a failing canary"


@test
def target_group_names_fit_and_differ_in_every_environment():
    """Evaluated by Terraform: both target group names within ALB's 32
    characters and distinct, for every service of the manifest."""
    names = ["full_name", "shifts_traffic", "target_group_name", "alternate_target_group_name"]
    m = manifest()
    scratch = Scratch(ECS_MODULE / "variables.tf", locals_config(ECS_MODULE, ["with_lb", *names]))
    try:
        for env in m["environments"]:
            for service in m["services"]:
                inputs = dict(MODULE_BASELINE, name=service, load_balancer={
                    "listener_arn": "arn:aws:elasticloadbalancing:l", "alb_security_group_id": "sg-1",
                    "priority": 100, "path_patterns": ["/api/*"], "health_check_path": "/ready",
                }, rollout={"strategy": "CANARY"})
                inputs["platform"] = dict(MODULE_BASELINE["platform"], cluster_name=render("{project}-{env}", m["project"], env))
                out = scratch.outputs(scratch.var_file(inputs))
                assert out["shifts_traffic"] is True
                primary, alternate = out["target_group_name"], out["alternate_target_group_name"]
                assert len(primary) <= 32 and len(alternate) <= 32, (primary, alternate)
                assert primary != alternate, f"{env}/{service}: both target groups are named {primary}"
    finally:
        scratch.close()


def manifest_rollout(m: dict, env: str, service: str) -> str | None:
    """The strategy .github/ferry.yml gives a service in an environment, in
    ECS's spelling, or None where it says nothing. The manifest's `rollout:`
    may sit under the service (per environment) or under the environment."""
    svc = m["services"][service]
    candidates = [
        (svc.get("environments") or {}).get(env, {}).get("rollout") if isinstance(svc.get("environments"), dict) else None,
        (svc.get("rollout") or {}).get(env) if isinstance(svc.get("rollout"), dict) and "strategy" not in svc.get("rollout", {}) else None,
        svc.get("rollout") if isinstance(svc.get("rollout"), dict) and "strategy" in svc["rollout"] else None,
        ((m["environments"][env].get("services") or {}).get(service) or {}).get("rollout"),
        (m["environments"][env].get("rollout") or {}).get(service),
    ]
    for c in candidates:
        if isinstance(c, dict) and "strategy" in c:
            strategy = str(c["strategy"])
            assert strategy in MANIFEST_STRATEGIES, f"{env}/{service}: manifest strategy {strategy!r} is not one of {sorted(MANIFEST_STRATEGIES)}"
            return MANIFEST_STRATEGIES[strategy]
    return None


def terraform_rollout(env: str, service: str) -> str:
    rollout = tfvars_plain(env)["services"][service].get("rollout") or {}
    return unwrap(rollout.get("strategy")) or "ROLLING"


@test
def rollouts_agree_with_the_manifest():
    """A strategy `ferry deploy` sets needs Terraform's resources for it: a
    manifest that rolls a service out by canary, linear or blue/green in an
    environment needs a traffic-shifting strategy in that environment's
    tfvars (the second target group, weighted rule and ECS's role), and a
    traffic-shifting service must be behind the ALB."""
    m = manifest()
    calls = service_module_calls()
    for env in m["environments"]:
        for service in m["services"]:
            tf = terraform_rollout(env, service)
            assert tf in MANIFEST_STRATEGIES.values(), f"environments/{env}.tfvars: {service} strategy {tf!r}"
            if tf != "ROLLING":
                assert unwrap(calls[service][1].get("load_balancer")), f"{env}/{service}: {tf} needs the ALB"
                assert expr(calls[service][1].get("rollout")) == f'var.services["{service}"].rollout', (
                    f"service-{service}.tf must pass rollout = var.services[\"{service}\"].rollout"
                )
            wanted = manifest_rollout(m, env, service)
            if wanted not in (None, "ROLLING"):
                assert tf != "ROLLING", (
                    f".github/ferry.yml rolls {service} out by {wanted} in {env}, but environments/{env}.tfvars "
                    f"creates it ROLLING (no second target group): set services.{service}.rollout.strategy"
                )
    # The example: prod's sampleapi is a canary, staging stays rolling.
    assert terraform_rollout("prod", "sampleapi") == "CANARY"
    assert terraform_rollout("staging", "sampleapi") == "ROLLING"
    schema = (ROOT / "action" / "schema" / "ferry.schema.json").read_text()
    if '"rollout"' in schema:  # Ferry's side names the same four strategies
        for name in MANIFEST_STRATEGIES:
            assert f'"{name}"' in schema, f"ferry.schema.json's rollout lacks strategy {name!r}"


@test
def the_deploy_role_may_run_and_stop_the_manifests_one_off_tasks():
    """`before-deploy`/`after-deploy` tasks of the manifest: `ferry deploy`
    runs them with RunTask (this environment's task definitions, in its
    cluster only), watches them (DescribeTasks) and stops one past its
    timeout (StopTask, its tasks only); each task's command runs in a
    container of the service's task definition (for the tasks the manifest
    declares)."""
    with_tasks = [(name, s) for name, s in manifest()["services"].items()
                  if s.get("before-deploy") or s.get("after-deploy")]
    apply = (TF / "github-oidc-policies.tf").read_text()
    run = re.search(r'sid\s*= "RunReleaseTasks"(.*?)\n  \}\n\n', apply, re.S)
    assert run, "github-oidc-policies.tf lacks RunReleaseTasks"
    assert '"ecs:RunTask"' in run.group(1)
    assert 'task-definition/${local.name}-*:*' in run.group(1), "RunTask must name this environment's task definitions"
    assert 'cluster/${local.name}"' in run.group(1), "RunTask must be limited to this environment's cluster"
    stop = re.search(r'sid\s*= "StopReleaseTasks"(.*?)\n  \}\n', apply, re.S)
    assert stop and '"ecs:StopTask"' in stop.group(1) and 'task/${local.name}/*' in stop.group(1)
    assert '"ecs:DescribeTasks"' in apply
    import _jsonnet  # noqa: PLC0415

    from test_manifest import evaluate_jsonnet  # noqa: PLC0415
    for name, service in with_tasks:
        path = ROOT / service.get("task-definition", f"task-definitions/{name}.jsonnet")
        for key in ("before-deploy", "after-deploy"):
            for env, tasks in (service.get(key) or {}).items():
                td = evaluate_jsonnet(_jsonnet, path, name, env)
                containers = [c["name"] for c in td["containerDefinitions"]]
                for task in tasks:
                    assert task.get("container", containers[0]) in containers, (name, env, task)
                    assert task.get("command") or task.get("task-definition"), (name, env, task)
