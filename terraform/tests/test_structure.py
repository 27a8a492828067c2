"""What `terraform validate` would check, and the properties no provider
checks: CI trust, the state backend, the ECS service's lifecycle."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tfsupport import (
    ECS_MODULE,
    GITHUB_OIDC,
    ROOT,
    SQS_MODULE,
    Scratch,
    TF,
    blocks,
    code_only,
    expr,
    load_hcl,
    locals_config,
    locals_of,
    need_terraform,
    manifest,
    service_module_calls,
    test,
    tf_files,
    tfvars_plain,
    unwrap,
    variables,
)

# --- CI trust -----------------------------------------------------------------


def github_trust_subjects(env: str) -> dict:
    """local.github_trust_subjects (role -> trusted `sub` values), computed by
    Terraform from the locals of github-oidc.tf and the environment's tfvars."""
    names = [
        "github_sub_environment",
        "github_sub_pull_request",
        "github_sub_release",
        "github_sub_main",
        "github_role_subjects",
        "github_trust_subjects",
    ]
    scratch = Scratch(TF / "variables.tf", locals_config(TF, names))
    try:
        return scratch.outputs(str(TF / "environments" / f"{env}.tfvars"))["github_trust_subjects"]
    finally:
        scratch.close()


@test
def ci_roles_trust_only_this_repository_and_prod_writes_only_from_the_prod_environment():
    for env in manifest()["environments"]:
        values = tfvars_plain(env)
        repo = values["github_repository"]
        subjects = github_trust_subjects(env)
        roles = {"plan", "apply", "deploy"} | ({"build"} if values["manage_account_resources"] else set())
        assert set(subjects) == roles, f"{env}: roles {sorted(subjects)}, expected {sorted(roles)}"
        for role, subs in subjects.items():
            for sub in subs:
                assert sub.startswith(f"repo:{repo}:"), f"{env}/{role} trusts {sub}, outside {repo}"
                assert "*" not in sub and "?" not in sub, f"{env}/{role}: wildcard in {sub}"
            if role == "build":
                release = values.get("release_branch", "release")
                assert subs == [f"repo:{repo}:ref:refs/heads/{release}"], f"build trusts {subs}"
            elif role in ("apply", "deploy"):
                # Writing roles: only jobs in the environment (prod's behind its reviewers).
                assert subs == [f"repo:{repo}:environment:{env}"], f"{env}/{role} trusts {subs}"
            else:
                # The read-only plan role: the environment, pull_request jobs,
                # and main's jobs without an environment (the drift schedule).
                assert subs == [
                    f"repo:{repo}:environment:{env}",
                    f"repo:{repo}:pull_request",
                    f"repo:{repo}:ref:refs/heads/main",
                ], f"{env}/{role} trusts {subs}"

    # One trust policy document per role, comparing `sub` exactly
    # (StringEquals, not StringLike) with those subjects, and requiring the
    # STS audience; every GitHub role uses it.
    docs = {
        name: body
        for _, b in blocks(TF, "data")
        for name, body in b.get("aws_iam_policy_document", {}).items()
        if "trust" in name and "github" in name
    }
    assert set(docs) == {"github_trust"}, f"GitHub trust documents: {sorted(docs)}"
    doc = docs["github_trust"]
    assert expr(doc["for_each"]) == "local.github_trust_subjects"
    (st,) = doc["statement"]
    assert unwrap(st["actions"]) == ["sts:AssumeRoleWithWebIdentity"], f"actions {st['actions']}"
    conds = {expr(c["variable"]): (unwrap(c["test"]), expr(c["values"])) for c in st["condition"]}
    assert conds.get('"${local.github_oidc_host}:sub"') == ("StringEquals", "each.value"), conds
    assert conds.get('"${local.github_oidc_host}:aud"') == ("StringEquals", '["sts.amazonaws.com"]'), conds
    assert unwrap(locals_of(TF)["github_oidc_host"]) == GITHUB_OIDC
    for _, b in blocks(TF, "resource"):
        for name, role in b.get("aws_iam_role", {}).items():
            policy = expr(role["assume_role_policy"])
            if name.startswith("github"):
                assert policy.startswith("data.aws_iam_policy_document.github_trust["), f"aws_iam_role.{name}: {policy}"


@test
def state_backend_uses_s3_native_locking_and_matches_the_ci_policies():
    backend = unwrap(unwrap(load_hcl(TF / "backend.tf")["terraform"])["backend"])["s3"]
    assert unwrap(backend["use_lockfile"]) is True, "backend.tf: use_lockfile = true"
    assert "dynamodb_table" not in backend, "backend.tf: no DynamoDB locking (deprecated)"
    assert unwrap(backend["encrypt"]) is True
    assert unwrap(backend["key"]) == unwrap(locals_of(TF)["state_key"]), "backend key != local.state_key"


# --- structure: what `terraform validate` would check ---------------------------


def module_dirs() -> list[Path]:
    return [TF, ECS_MODULE, SQS_MODULE]


def declared(directory: Path) -> dict[str, set]:
    out = {"var": set(variables(directory)), "local": set(locals_of(directory)), "module": set(), "resource": set(), "data": set(), "output": set()}
    for _, b in blocks(directory, "module"):
        out["module"].update(b)
    for _, b in blocks(directory, "resource"):
        for rtype, inst in b.items():
            out["resource"].update(f"{rtype}.{n}" for n in inst)
    for _, b in blocks(directory, "data"):
        for dtype, inst in b.items():
            out["data"].update(f"{dtype}.{n}" for n in inst)
    for _, b in blocks(directory, "output"):
        out["output"].update(b)
    return out


@test
def references_resolve_in_every_module():
    problems = []
    for directory in module_dirs():
        d = declared(directory)
        text = "\n".join(code_only(p.read_text()) for p in tf_files(directory))
        rel = directory.relative_to(ROOT)
        for name in set(re.findall(r"\bvar\.(\w+)", text)) - d["var"]:
            problems.append(f"{rel}: var.{name} is not declared")
        for name in set(re.findall(r"\blocal\.(\w+)", text)) - d["local"]:
            problems.append(f"{rel}: local.{name} is not defined")
        for name in set(re.findall(r"\bmodule\.(\w+)", text)) - d["module"]:
            problems.append(f"{rel}: module.{name} is not declared")
        for dtype, name in set(re.findall(r"\bdata\.(\w+)\.(\w+)", text)):
            if f"{dtype}.{name}" not in d["data"]:
                problems.append(f"{rel}: data.{dtype}.{name} is not declared")
        for rtype, name in set(re.findall(r"(?<![\w.\"])((?:aws|terraform)_\w+)\.(\w+)", text)):
            if f"{rtype}.{name}" not in d["resource"]:
                problems.append(f"{rel}: {rtype}.{name} is not declared")
    assert not problems, "\n      ".join(sorted(problems))


@test
def module_calls_pass_only_declared_inputs_and_use_only_declared_outputs():
    problems = []
    text = "\n".join(code_only(p.read_text()) for p in tf_files(TF))
    for _, b in blocks(TF, "module"):
        for name, body in b.items():
            source = TF / unwrap(body["source"])
            inputs = variables(source)
            required = {k for k, v in inputs.items() if "default" not in v}
            passed = {k for k in body if not k.startswith("__")} - {"source", "providers", "depends_on", "count", "for_each"}
            problems += [f"module.{name}: {k} is not a variable of {source.name}" for k in passed - set(inputs)]
            problems += [f"module.{name}: required {k} is not passed" for k in required - passed]
            outputs = declared(source)["output"]
            for used in set(re.findall(rf"\bmodule\.{name}\.(\w+)", text)) - outputs:
                problems.append(f"module.{name}.{used} is not an output of {source.name}")
    # local.services holds whole modules; outputs.tf reads these attributes.
    for used in set(re.findall(r"\bsvc\.(\w+)", text)) - declared(ECS_MODULE)["output"]:
        problems.append(f"outputs.tf reads svc.{used}, not an output of ecs-fargate-service")
    assert not problems, "\n      ".join(sorted(problems))


@test
def provider_is_pinned_to_one_major_version():
    tf = unwrap(load_hcl(TF / "main.tf")["terraform"])
    aws = unwrap(unwrap(tf["required_providers"])["aws"])
    assert unwrap(aws["source"]) == "hashicorp/aws"
    assert re.fullmatch(r"~> \d+\.\d+", unwrap(aws["version"])), f"pin the AWS provider with ~> X.Y, not {aws['version']}"
    major = unwrap(aws["version"]).split()[1].split(".")[0]
    for module in (ECS_MODULE, SQS_MODULE):
        mtf = unwrap(load_hcl(module / "versions.tf")["terraform"])
        constraint = unwrap(unwrap(unwrap(mtf["required_providers"])["aws"])["version"])
        assert re.search(rf">= {major}\.\d+", constraint) and f"< {int(major) + 1}.0" in constraint, f"{module.name}: {constraint}"
    version = subprocess.run([need_terraform(), "version", "-json"], capture_output=True, text=True, check=True)
    have = json.loads(version.stdout)["terraform_version"]
    need = unwrap(tf["required_version"]).lstrip(">= ").strip()
    assert tuple(map(int, have.split("."))) >= tuple(map(int, need.split("."))), f"terraform {have} < {need}"


# Arguments that AWS provider 6.x removed or deprecated, and what replaced
# them: `terraform validate` on GitHub would fail or warn on these.
PROVIDER_6_REMOVED_ARGUMENTS = {
    "aws_eip": {"vpc": 'domain = "vpc"'},
    "aws_flow_log": {"log_group_name": "log_destination"},
    "aws_iam_role": {
        "inline_policy": "aws_iam_policy + aws_iam_role_policy_attachment",
        "managed_policy_arns": "aws_iam_role_policy_attachment",
    },
}


@test
def no_arguments_the_pinned_provider_removed_or_deprecated():
    problems = []
    for directory in (TF, ECS_MODULE, SQS_MODULE):
        for path, block in blocks(directory, "resource"):
            for rtype, instances in block.items():
                for name, body in instances.items():
                    for arg, instead in PROVIDER_6_REMOVED_ARGUMENTS.get(rtype, {}).items():
                        if arg in body:
                            problems.append(f"{path.relative_to(ROOT)}: {rtype}.{name}.{arg} -> use {instead}")
        for path in tf_files(directory):
            if re.search(r"\bdata\.aws_region\.\w+\.name\b", code_only(path.read_text())):
                problems.append(f"{path.relative_to(ROOT)}: data.aws_region.<x>.name -> use .region")
    assert not problems, "\n      ".join(problems)


@test
def ecs_service_leaves_releases_to_ferry_and_rolls_back_failed_ones():
    service = [b["aws_ecs_service"]["this"] for _, b in blocks(ECS_MODULE, "resource") if "aws_ecs_service" in b][0]
    ignored = unwrap(unwrap(service["lifecycle"])["ignore_changes"])
    ignored = ignored if isinstance(ignored, list) else [ignored]
    assert any("task_definition" in str(i) for i in ignored), "ignore_changes must include task_definition"
    breaker = unwrap(service["deployment_circuit_breaker"])
    assert unwrap(breaker["enable"]) is True and unwrap(breaker["rollback"]) is True
    network = unwrap(service["network_configuration"])
    assert unwrap(network["assign_public_ip"]) is False
    assert unwrap(service["launch_type"]) == "FARGATE"
    cluster = [b["aws_ecs_cluster"]["this"] for _, b in blocks(TF, "resource") if "aws_ecs_cluster" in b][0]
    setting = unwrap(cluster["setting"])
    assert (unwrap(setting["name"]), unwrap(setting["value"])) == ("containerInsights", "enabled")


@test
def tasks_queue_redrives_after_three_receives():
    call = [b["tasks_queue"] for _, b in blocks(TF, "module") if "tasks_queue" in b][0]
    assert unwrap(call["max_receive_count"]) == 3, "the worker relies on the DLQ after 3 receives"
    worker = service_module_calls()["sampleworker"][1]
    assert "module.tasks_queue.consumer_policy_arn" in expr(unwrap(worker["task_role_policy_arns"]).get("tasks_queue"))
    api = service_module_calls()["sampleapi"][1]
    assert "module.tasks_queue.publisher_policy_arn" in expr(unwrap(api["task_role_policy_arns"]).get("tasks_queue"))
    assert "aws_secretsmanager_secret.sampleworker.arn" in expr(worker["secret_arns"])


@test
def listener_rule_priorities_are_unique():
    seen = {}
    for service, (path, body) in service_module_calls().items():
        lb = unwrap(body.get("load_balancer"))
        if lb:
            priority = unwrap(lb["priority"])
            assert priority not in seen, f"{path.name} and service-{seen.get(priority)}.tf share priority {priority}"
            seen[priority] = service
