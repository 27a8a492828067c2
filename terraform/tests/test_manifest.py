"""Agreement with .github/ferry.yml, the tfvars and the task definitions."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tfsupport import (
    ECS_MODULE,
    MODULE_BASELINE,
    PORTS,
    PUBLIC_PATHS,
    ROOT,
    Scratch,
    TASK_DEFS,
    TF,
    blocks,
    expr,
    load_hcl,
    locals_config,
    locals_of,
    manifest,
    render,
    service_module_calls,
    test,
    tfvars_plain,
    unwrap,
    variables,
)

# --- manifest agreement ------------------------------------------------------


@test
def every_manifest_service_has_a_service_file_using_the_module():
    services = set(manifest()["services"])
    calls = service_module_calls()
    for name in services:
        path = TF / f"service-{name}.tf"
        assert path.exists(), f"{name} is in .github/ferry.yml but terraform/aws/service-{name}.tf is missing"
        assert name in calls and calls[name][0] == path, (
            f"service-{name}.tf must call ./modules/ecs-fargate-service with name = \"{name}\""
        )
    extra = set(calls) - services
    assert not extra, f"service files for services not in .github/ferry.yml: {sorted(extra)}"


@test
def environments_and_region_agree_with_the_manifest():
    m = manifest()
    tfvars_envs = {p.stem for p in (TF / "environments").glob("*.tfvars")}
    assert tfvars_envs == set(m["environments"]), (
        f"environments/*.tfvars {sorted(tfvars_envs)} != manifest environments {sorted(m['environments'])}"
    )
    for env in tfvars_envs:
        values = tfvars_plain(env)
        assert values.get("environment") == env, f"environments/{env}.tfvars must set environment = \"{env}\""
        assert values.get("region", unwrap(variables(TF)["region"].get("default"))) == m["region"], (
            f"environments/{env}.tfvars: region must be {m['region']} as in .github/ferry.yml"
        )
    assert unwrap(variables(TF)["project"]["default"]) == m["project"], "var.project default != manifest project"
    # var.environment's validation names exactly the manifest environments.
    cond = expr(variables(TF)["environment"]["validation"][0]["condition"])
    named = set(re.findall(r"[\"']([a-z]+)[\"']", cond))
    assert named == set(m["environments"]), f"var.environment validation allows {named}"


def root_names(env: str) -> dict:
    """local.name (cluster) evaluated by Terraform with the env's tfvars."""
    scratch = Scratch(TF / "variables.tf", locals_config(TF, ["name"]))
    try:
        return scratch.outputs(str(TF / "environments" / f"{env}.tfvars"))
    finally:
        scratch.close()


def module_names(cluster_name: str, service: str) -> dict:
    """The ecs-fargate-service module's derived names, evaluated by Terraform."""
    scratch = Scratch(ECS_MODULE / "variables.tf", locals_config(ECS_MODULE, ["full_name", "log_group_name"]))
    try:
        inputs = dict(MODULE_BASELINE, name=service)
        inputs["platform"] = dict(MODULE_BASELINE["platform"], cluster_name=cluster_name)
        return scratch.outputs(scratch.var_file(inputs))
    finally:
        scratch.close()


@test
def cluster_ecs_service_and_log_group_names_agree_with_the_manifest():
    m = manifest()
    # The cluster the platform passes to services is the one ecs.tf creates.
    cluster = [b for _, b in blocks(TF, "resource") if "aws_ecs_cluster" in b]
    assert expr(cluster[0]["aws_ecs_cluster"]["this"]["name"]) == "local.name"
    assert expr(locals_of(TF)["platform"]) .count("cluster_name") == 1
    assert "aws_ecs_cluster.this.name" in expr(locals_of(TF)["platform"])
    for env, env_conf in m["environments"].items():
        cluster_name = root_names(env)["name"]
        assert cluster_name == env_conf["cluster"], (
            f"{env}: Terraform's cluster is {cluster_name}, .github/ferry.yml says {env_conf['cluster']}"
        )
        for service, conf in m["services"].items():
            names = module_names(cluster_name, service)
            want = render(conf.get("ecs-service", "{project}-{env}-" + service), m["project"], env)
            assert names["full_name"] == want, f"{env}/{service}: ECS service {names['full_name']} != manifest {want}"
            want_logs = f"/ecs/{env_conf['cluster']}/{service}"
            assert names["log_group_name"] == want_logs, f"{env}/{service}: log group {names['log_group_name']}"


@test
def ecr_repositories_agree_with_the_manifest():
    m = manifest()
    listed = unwrap(locals_of(TF)["ecr_services"])
    assert sorted(listed) == sorted(m["services"]), f"local.ecr_services {listed} != manifest services"
    repo = [b["aws_ecr_repository"]["service"] for _, b in blocks(TF, "resource")
            if "service" in b.get("aws_ecr_repository", {})][0]
    assert expr(repo["name"]) == '"${var.project}/${each.key}"', expr(repo["name"])
    lookup = [b["aws_ecr_repository"]["service"] for _, b in blocks(TF, "data") if "aws_ecr_repository" in b][0]
    assert expr(lookup["name"]) == '"${var.project}/${each.key}"'
    for service, conf in m["services"].items():
        want = render(conf.get("image-repository", conf.get("ecr-repository", "{project}/" + service)), m["project"], "staging")
        assert want == f"{m['project']}/{service}", f"manifest image-repository of {service} is {want}"
    assert unwrap(repo["image_tag_mutability"]) == "IMMUTABLE"
    assert unwrap(unwrap(repo["image_scanning_configuration"])["scan_on_push"]) is True
    # ferry build's registry cache (action/src/build/builder.rs, cache_ref):
    # `<repository>-buildcache:buildcache`, a tag that moves, so its own
    # MUTABLE repository for each service, never the image repository.
    cache = [b["aws_ecr_repository"]["build_cache"] for _, b in blocks(TF, "resource")
             if "aws_ecr_repository" in b and "build_cache" in b["aws_ecr_repository"]]
    assert cache, "no aws_ecr_repository.build_cache for ferry build's registry cache"
    assert expr(cache[0]["name"]) == '"${var.project}/${each.key}-buildcache"', expr(cache[0]["name"])
    assert unwrap(cache[0]["image_tag_mutability"]) == "MUTABLE"
    builder = (ROOT / "action/src/build/builder.rs").read_text()
    assert '"{image}-buildcache:{CACHE_TAG}"' in builder, "Ferry's cache reference changed: update build_cache"


@test
def outputs_list_every_service():
    services = locals_of(TF)["services"]
    text = expr(services)
    for name in manifest()["services"]:
        assert f"module.{name}" in text, f"local.services in outputs.tf lacks {name} = module.{name}"
    outputs = {name for _, b in blocks(TF, "output") for name in b}
    for needed in ("services", "cluster_name", "tasks_queue_url", "sampleworker_secret_arn", "ecr_repository_urls"):
        assert needed in outputs, f"output {needed} is missing"
    body = expr([b for _, b in blocks(TF, "output") if "services" in b][0]["services"]["value"])
    for field in ("execution_role_arn", "task_role_arn", "log_group", "ecs_service", "container_name", "container_port"):
        assert field in body, f"output services lacks {field}"


@test
def ports_and_paths_agree_with_the_service_conventions():
    for service, (path, body) in service_module_calls().items():
        port = unwrap(body.get("container_port"))
        assert port == PORTS[service], f"{path.name}: container_port {port}, the service listens on {PORTS[service]}"
        lb = unwrap(body.get("load_balancer"))
        if service in PUBLIC_PATHS:
            assert lb, f"{path.name}: {service} serves HTTP to users and needs load_balancer"
            patterns = set(unwrap(lb["path_patterns"]))
            assert patterns == PUBLIC_PATHS[service], f"{path.name}: path_patterns {patterns}"
            assert "/metrics" not in patterns, "/metrics must not be routed from the internet"
        else:
            assert not lb, f"{path.name}: {service} takes no traffic from the ALB"


@test
def task_definitions_agree_with_terraform_when_present():
    """task-definitions/*.jsonnet are written by another issue; until they
    exist this test checks nothing more than the constants above (and says so)."""
    if not TASK_DEFS.is_dir():
        print("    note: task-definitions/ does not exist yet; ports and log groups were checked against the constants")
        return
    try:
        import _jsonnet  # noqa: PLC0415
    except ImportError as exc:
        raise AssertionError("task-definitions/ exists but the jsonnet module is not installed") from exc
    m = manifest()
    for service, conf in m["services"].items():
        path = ROOT / conf.get("task-definition", f"task-definitions/{service}.jsonnet")
        assert path.exists(), f"{path.relative_to(ROOT)} is named in .github/ferry.yml but missing"
        for env, env_conf in m["environments"].items():
            td = evaluate_jsonnet(_jsonnet, path, service, env)
            containers = {c["name"]: c for c in td.get("containerDefinitions", [])}
            assert service in containers, (
                f"{path.name} ({env}): no container named {service}; the ALB and the ECS service route to it"
            )
            c = containers[service]
            ports = [p.get("containerPort") for p in c.get("portMappings", [])]
            assert PORTS[service] in ports, f"{path.name} ({env}): containerPort {ports}, Terraform uses {PORTS[service]}"
            group = c.get("logConfiguration", {}).get("options", {}).get("awslogs-group", "")
            if "ext:" not in group:  # a value passed in (from Terraform's outputs) is taken as it is
                want = f"/ecs/{env_conf['cluster']}/{service}"
                assert group == want, f"{path.name} ({env}): awslogs-group {group}, Terraform creates {want}"
            sizes = tfvars_plain(env)["services"][service]
            for key in ("cpu", "memory"):
                value = str(td.get(key, ""))
                if value and "ext:" not in value:
                    assert int(value) == sizes[key], (
                        f"{path.name} ({env}): {key} {value}, environments/{env}.tfvars sizes it {sizes[key]}"
                    )
            family = td.get("family")
            if family and "ext:" not in family:
                want = render(conf.get("ecs-service", "{project}-{env}-" + service), m["project"], env)
                assert family == want, f"{path.name} ({env}): family {family}, Terraform's is {want}"


# SERVICE_VERSION in a task definition is the version of the image it runs
# (task-definitions/lib/base.libsonnet, imageVersion): the services label
# their metrics with it, and the monitoring compares a canary with its
# baseline by that label.
IMAGE_VERSIONS = {
    "111111111111.dkr.ecr.us-east-1.amazonaws.com/email-platform/sampleapi:sampleapi-abc1234-20261125120000":
        "sampleapi-abc1234-20261125120000",
    "localhost:5000/team/api:1.4.2": "1.4.2",
    "localhost:5000/team/api": "latest",
    "repo/api@sha256:" + "0123456789abcdef" * 4: "sha256:0123456789ab",
    "repo/api:1.0@sha256:" + "0123456789abcdef" * 4: "1.0",
}


@test
def task_definitions_set_service_version_from_the_image():
    import _jsonnet  # noqa: PLC0415

    m = manifest()
    for service, conf in m["services"].items():
        path = ROOT / conf.get("task-definition", f"task-definitions/{service}.jsonnet")
        for image, version in IMAGE_VERSIONS.items():
            td = json.loads(_jsonnet.evaluate_file(str(path), ext_vars=dict(task_definition_inputs(service), IMAGE=image)))
            env = {e["name"]: e["value"] for e in td["containerDefinitions"][0]["environment"]}
            assert env.get("SERVICE_VERSION") == version, (
                f"{path.name} with IMAGE={image}: SERVICE_VERSION {env.get('SERVICE_VERSION')!r}, want {version!r}"
            )


def task_definition_inputs(service: str) -> dict[str, str]:
    """Every ext-str a task definition reads, with stand-in values."""
    names = ("SERVICE", "ENVIRONMENT", "PROJECT", "REGION", "IMAGE_TAG", "ECR_REPOSITORY", "EXECUTION_ROLE_ARN",
             "TASK_ROLE_ARN", "LOG_GROUP", "SQS_QUEUE_URL", "SAMPLEWORKER_SECRET_ARN")
    values = {n: f"stand-in-{n.lower()}" for n in names}
    return dict(values, SERVICE=service, ENVIRONMENT="staging", PROJECT="email-platform", REGION="us-east-1")


def evaluate_jsonnet(_jsonnet, path: Path, service: str, env: str) -> dict:
    """Evaluate a task definition, supplying any external variable or
    top-level argument it asks for: the environment's name for env-like ones,
    "ext:<name>" otherwise (values derived from those are not compared)."""
    ext: dict[str, str] = {}
    tla: dict[str, str] = {}
    for _ in range(50):
        try:
            return json.loads(_jsonnet.evaluate_file(str(path), ext_vars=ext, tla_vars=tla))
        except RuntimeError as err:
            missing_ext = re.search(r"[Uu]ndefined external variable: (\w+)", str(err))
            missing_tla = re.search(r"parameter (\w+) not bound", str(err))
            if not (missing_ext or missing_tla):
                raise
            name = (missing_ext or missing_tla).group(1)
            value = env if name.lower() in ("env", "environment") else f"ext:{name}"
            (ext if missing_ext else tla)[name] = value
    raise AssertionError(f"{path}: too many external variables")


# --- tfvars and variables ---------------------------------------------------


@test
def every_tfvars_variable_is_declared_and_every_required_one_set():
    declared = variables(TF)
    required = {name for name, body in declared.items() if "default" not in body}
    for path in sorted((TF / "environments").glob("*.tfvars")):
        keys = set(load_hcl(path))
        unknown = keys - set(declared)
        assert not unknown, f"{path.name} sets undeclared variables: {sorted(unknown)}"
        missing = required - keys
        assert not missing, f"{path.name} lacks required variables: {sorted(missing)}"


@test
def tfvars_size_every_manifest_service():
    services = set(manifest()["services"])
    for env in manifest()["environments"]:
        sized = set(tfvars_plain(env)["services"])
        assert sized == services, f"environments/{env}.tfvars services {sorted(sized)} != manifest {sorted(services)}"


@test
def tfvars_pass_the_root_variable_validations():
    scratch = Scratch(TF / "variables.tf")
    try:
        for path in sorted((TF / "environments").glob("*.tfvars")):
            ok, out = scratch.plan(str(path))
            assert ok, f"{path.name} fails validation: {out}"
    finally:
        scratch.close()


@test
def each_service_passes_the_module_validations_in_every_environment():
    """The settings in service-<name>.tf with each environment's sizes, run
    through the module's own validation blocks."""
    scratch = Scratch(ECS_MODULE / "variables.tf")
    try:
        for service, (path, body) in service_module_calls().items():
            for env in manifest()["environments"]:
                inputs = dict(MODULE_BASELINE, name=service)
                sizes = tfvars_plain(env)["services"][service]
                for key, value in body.items():
                    value = unwrap(value)
                    if key.startswith("__") or key in ("source", "name", "platform", "ecr_repository"):
                        continue
                    sized = re.fullmatch(r'\$\{var\.services\["(\w+)"\]\.(\w+)\}', str(value))
                    if sized and sized.group(2) not in sizes:
                        continue  # an optional setting this environment leaves to the module's default
                    if sized:
                        inputs[key] = unwrap(sizes[sized.group(2)])
                    else:
                        inputs[key] = placeholder(key, value)
                ok, out = scratch.plan(scratch.var_file(inputs))
                assert ok, f"{path.name} with environments/{env}.tfvars fails the module validations: {out}"
    finally:
        scratch.close()


def placeholder(key: str, value):
    """Literal values as they are; references replaced by valid stand-ins."""
    if isinstance(value, dict):
        return {k: placeholder(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [placeholder(key, v) for v in value]
    if isinstance(value, str) and value.startswith("${"):
        if "secret" in key or "aws_secretsmanager_secret" in value:
            return "arn:aws:secretsmanager:us-east-1:111111111111:secret:stand-in"
        if key in ("queue_name",):
            return "stand-in-queue"
        return "arn:aws:stand-in"
    return value
