"""Shared helpers of the terraform/ tests (see run.py): reading the HCL,
the manifest and the tfvars, and running provider-free Terraform.

Consistency tests for terraform/aws: what `terraform validate` and `plan`
would catch if the AWS provider could be downloaded here, plus what no
provider checks (agreement with .github/ferry.yml and the task definitions).

Three kinds of test:
- Structure, read with the HCL parser checkov ships (bc-python-hcl2): every
  manifest service has a service-<name>.tf using the module, references
  resolve, module arguments are declared, skips carry reasons.
- Evaluation with the real Terraform binary: a scratch configuration made of
  a module's variables.tf (which needs no provider) plus the expressions
  under test, planned or applied with real inputs. This runs the actual
  `validation` blocks (bad input must fail with its message, the tfvars and
  each service's settings must pass) and computes names and the CI roles'
  trusted subjects exactly as Terraform would.
- checkov on a copy without the skip comments: every skip must suppress a
  real finding.

Run: python terraform/tests/run.py [name-fragment ...]  (terraform/check
does, with the venv that has hcl2, PyYAML, checkov and jsonnet). Prints
PASS/FAIL per test and a last line `RESULT passed=N failed=M`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import hcl2  # bc-python-hcl2, installed with checkov
import yaml

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "terraform" / "aws"
ECS_MODULE = TF / "modules" / "ecs-fargate-service"
SQS_MODULE = TF / "modules" / "sqs-queue"
MANIFEST = ROOT / ".github" / "ferry.yml"
TASK_DEFS = ROOT / "task-definitions"
TERRAFORM = shutil.which("terraform") or (
    "/usr/local/bin/terraform" if os.access("/usr/local/bin/terraform", os.X_OK) else None
)

# Conventions the services and task definitions share with Terraform. They
# are checked against task-definitions/<service>.jsonnet when that file
# exists; until then these constants are the reference.
PORTS = {"sampleapi": 8080, "sampleworker": 9090}
PUBLIC_PATHS = {"sampleapi": {"/api/*", "/health", "/ready"}}
GITHUB_OIDC = "token.actions.githubusercontent.com"

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# --- helpers ---------------------------------------------------------------


@functools.cache
def load_hcl(path: Path) -> dict:
    """Parsed once per run (the files do not change meanwhile); treat as read-only."""
    with path.open() as f:
        return hcl2.load(f)


def tf_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.tf"))


def blocks(directory: Path, kind: str) -> list[tuple[Path, dict]]:
    """All top-level blocks of one kind ('resource', 'variable', ...)."""
    out = []
    for path in tf_files(directory):
        for block in load_hcl(path).get(kind, []):
            out.append((path, block))
    return out


def variables(directory: Path) -> dict[str, dict]:
    return {name: body for _, b in blocks(directory, "variable") for name, body in b.items()}


def locals_of(directory: Path) -> dict[str, object]:
    out = {}
    for _, b in blocks(directory, "locals"):
        out.update(b)
    return out


def closing_brace(text: str, start: int) -> int:
    """Index of the brace closing the "${" at text[start]."""
    depth = 0
    in_str = False
    for i in range(start, len(text)):
        c = text[i]
        if c == '"' and text[i - 1] != "\\":
            in_str = not in_str
        elif not in_str and c == "{":
            depth += 1
        elif not in_str and c == "}":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced interpolation in {text!r}")


def expr(value) -> str:
    """HCL source for a value as bc-python-hcl2 gives it: "${x}" is the
    expression x, any other string a template, the rest literals."""
    return _expr(unwrap(value))


def _expr(value) -> str:
    if isinstance(value, str):
        if value.startswith("${") and closing_brace(value, 1) == len(value) - 1:
            return value[2:-1]
        return '"' + value + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_expr(v)}" for k, v in value.items() if not k.startswith("__")) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_expr(v) for v in value) + "]"
    return json.dumps(value)


def unwrap(value):
    """The parser wraps every attribute value (and block) in a one-item list."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def render(template: str, project: str, env: str) -> str:
    return template.replace("{project}", project).replace("{env}", env)


def tfvars(env: str) -> dict:
    return load_hcl(TF / "environments" / f"{env}.tfvars")


def tfvars_plain(env: str) -> dict:
    return {k: unwrap(v) for k, v in tfvars(env).items()}


def code_only(text: str) -> str:
    """The text with comments and the literal parts of strings blanked out, so
    that only code (including "${...}" interpolations) is searched for
    references; names mentioned in prose or descriptions don't count."""
    out = []
    i, n = 0, len(text)
    stack = ["code"]  # "code", "brace", "str", or "interp" (code inside a string)
    while i < n:
        c = text[i]
        mode = stack[-1]
        if mode == "str":
            if c == "\\":
                i += 2
                continue
            if text.startswith("${", i):
                stack.append("interp")
                out.append(" ")
                i += 2
                continue
            if c == '"':
                stack.pop()
            out.append("\n" if c == "\n" else " ")
            i += 1
            continue
        if c == "#" or text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c == '"':
            stack.append("str")
        elif c == "{":
            stack.append("brace")
        elif c == "}" and mode == "brace":
            stack.pop()
        elif c == "}" and mode == "interp":
            stack.pop()
            out.append(" ")  # the "${" was blanked too: keep brackets balanced
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


class Skipped(Exception):
    """A test that cannot run on this machine; the runner reports it as skipped."""


def need_terraform() -> str:
    if TERRAFORM is None:
        raise Skipped("terraform is not installed (expected /usr/local/bin/terraform)")
    return TERRAFORM


class Scratch:
    """A provider-free Terraform configuration in a temporary directory."""

    def __init__(self, variables_tf: Path, extra: str = ""):
        need_terraform()
        self.dir = Path(tempfile.mkdtemp(prefix="tf-scratch-"))
        shutil.copy(variables_tf, self.dir / "variables.tf")
        (self.dir / "extra.tf").write_text(extra)
        self.env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1")
        self._run("init", "-backend=false", "-input=false", "-no-color")

    def _run(self, *args, check=True):
        proc = subprocess.run(
            [TERRAFORM, *args], cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=120
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def var_file(self, values: dict) -> str:
        path = self.dir / f"in-{abs(hash(json.dumps(values, sort_keys=True)))}.tfvars.json"
        path.write_text(json.dumps(values))
        return str(path)

    def plan(self, var_file: str):
        """(ok, output) of a plan: ok is False when a validation failed."""
        proc = self._run("plan", "-input=false", "-no-color", "-lock=false", f"-var-file={var_file}", check=False)
        return proc.returncode == 0, " ".join((proc.stdout + proc.stderr).split())

    def outputs(self, var_file: str) -> dict:
        self._run("apply", "-auto-approve", "-input=false", "-no-color", "-lock=false", f"-var-file={var_file}")
        raw = json.loads(self._run("output", "-json", "-no-color").stdout)
        return {k: v["value"] for k, v in raw.items()}

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def local_sources(directory: Path) -> dict[str, str]:
    """name -> source text of every local value in a module, cut from the
    files themselves (the parser's rendering of expressions is lossy)."""
    out = {}
    for path in tf_files(directory):
        lines = path.read_text().splitlines()
        i = 0
        while i < len(lines):
            if lines[i].rstrip() != "locals {":
                i += 1
                continue
            i += 1
            while i < len(lines) and lines[i].rstrip() != "}":
                m = re.match(r"^  (\w+)\s*=\s*(.*)$", lines[i])
                if not m:
                    i += 1
                    continue
                name, text = m.group(1), [m.group(2)]
                depth = bracket_depth(m.group(2))
                while depth > 0:
                    i += 1
                    text.append(lines[i])
                    depth += bracket_depth(lines[i])
                out[name] = "\n".join(text)
                i += 1
    return out


def bracket_depth(line: str) -> int:
    code = code_only(line)
    return sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")


def locals_config(directory: Path, names: list[str]) -> str:
    """The given locals of a module, copied verbatim, each with an output."""
    sources = local_sources(directory)
    text = "locals {\n" + "".join(f"  {n} = {sources[n]}\n" for n in names) + "}\n"
    return text + "".join(f'output "{n}" {{\n  value = local.{n}\n}}\n' for n in names)


def service_module_calls() -> dict[str, tuple[Path, dict]]:
    """service name -> (file, module block body) for every service-<name>.tf."""
    out = {}
    for path in sorted(TF.glob("service-*.tf")):
        for block in load_hcl(path).get("module", []):
            for _, body in block.items():
                if unwrap(body.get("source")) == "./modules/ecs-fargate-service":
                    out[unwrap(body["name"])] = (path, body)
    return out


# Inputs that pass every validation of modules/ecs-fargate-service.
MODULE_BASELINE = {
    "name": "sampleapi",
    "platform": {
        "environment": "staging",
        "region": "us-east-1",
        "account_id": "111111111111",
        "cluster_name": "email-platform-staging",
        "cluster_arn": "arn:aws:ecs:us-east-1:111111111111:cluster/email-platform-staging",
        "vpc_id": "vpc-1",
        "private_subnet_ids": ["subnet-1", "subnet-2"],
        "kms_key_arn": "arn:aws:kms:us-east-1:111111111111:key/1",
        "log_retention_days": 30,
        "permissions_boundary_arn": "arn:aws:iam::111111111111:policy/b",
    },
    "ecr_repository": {"arn": "arn:aws:ecr:us-east-1:111111111111:repository/p/s", "url": "x.dkr.ecr/p/s"},
    "container_port": 8080,
    "cpu": 256,
    "memory": 512,
    "min_count": 1,
    "desired_count": 1,
    "max_count": 2,
}
