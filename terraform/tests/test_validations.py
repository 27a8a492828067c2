"""The validation blocks, run by Terraform with good and bad inputs:
bad input must fail at plan time with a message that says what to change."""

from __future__ import annotations

from pathlib import Path

from tfsupport import (
    ECS_MODULE,
    MODULE_BASELINE,
    SQS_MODULE,
    Scratch,
    TF,
    test,
    tfvars_plain,
)

# --- validation blocks, exercised -------------------------------------------


LB = {
    "listener_arn": "arn:aws:elasticloadbalancing:l",
    "alb_security_group_id": "sg-1",
    "priority": 100,
    "path_patterns": ["/api/*"],
    "health_check_path": "/ready",
}

CANARY = {"strategy": "CANARY", "canary_percent": 10, "canary_bake_time_in_minutes": 5, "bake_time_in_minutes": 5}

# (description, overrides, expected fragment of the error message or None for success)
MODULE_CASES = [
    ("baseline", {}, None),
    ("baseline behind the ALB", {"load_balancer": LB}, None),
    ("queue worker", {"queue_scaling": {"queue_name": "q", "backlog_per_task": 30}, "load_balancer": None}, None),
    ("largest Fargate size", {"cpu": 16384, "memory": 122880}, None),
    ("cpu 256 with 4096 MiB", {"cpu": 256, "memory": 4096}, "memory is not a valid Fargate size for this cpu"),
    ("cpu 1024 with 2500 MiB", {"cpu": 1024, "memory": 2500}, "memory is not a valid Fargate size for this cpu"),
    ("cpu 8192 with 20000 MiB", {"cpu": 8192, "memory": 20000}, "memory is not a valid Fargate size for this cpu"),
    ("cpu 300", {"cpu": 300}, "cpu must be one of the Fargate sizes"),
    ("min_count > max_count", {"min_count": 3, "desired_count": 3, "max_count": 2}, "max_count must be a whole number and at least min_count"),
    ("desired_count above max_count", {"desired_count": 5}, "min_count <= desired_count <= max_count"),
    ("desired_count below min_count", {"min_count": 2, "desired_count": 1, "max_count": 3}, "min_count <= desired_count <= max_count"),
    ("path pattern without /", {"load_balancer": dict(LB, path_patterns=["api/*"])}, 'must start with "/"'),
    ("six path patterns", {"load_balancer": dict(LB, path_patterns=["/a", "/b", "/c", "/d", "/e", "/f"])}, "1 to 5 entries"),
    ("health check path without /", {"load_balancer": dict(LB, health_check_path="ready")}, "health_check_path must start with"),
    ("listener rule priority 0", {"load_balancer": dict(LB, priority=0)}, "priority must be a whole number from 1 to 50000"),
    ("ALB without a container port", {"load_balancer": LB, "container_port": None}, "needs container_port"),
    ("stop_timeout above Fargate's 120 s", {"stop_timeout": 300}, "120 is the Fargate maximum"),
    ("queue scaling from zero tasks", {"queue_scaling": {"queue_name": "q", "backlog_per_task": 30}, "min_count": 0, "desired_count": 0}, "queue_scaling needs min_count >= 1"),
    ("one private subnet", {"platform": dict(MODULE_BASELINE["platform"], private_subnet_ids=["subnet-1"])}, "at least two subnets"),
    ("uppercase service name", {"name": "SampleApi"}, "lowercase letters"),
    ("secret that is not a Secrets Manager ARN", {"secret_arns": ["arn:aws:ssm:us-east-1:1:parameter/x"]}, "Secrets Manager secret ARN"),
    # Deployment strategies (var.rollout).
    ("rolling, said explicitly", {"rollout": {"strategy": "ROLLING"}}, None),
    ("canary behind the ALB", {"load_balancer": LB, "rollout": CANARY}, None),
    ("smallest canary, no bake", {"load_balancer": LB, "rollout": dict(CANARY, canary_percent=0.1, canary_bake_time_in_minutes=0)}, None),
    ("canary with ECS's defaults", {"load_balancer": LB, "rollout": {"strategy": "CANARY"}}, None),
    ("linear behind the ALB", {"load_balancer": LB, "rollout": {"strategy": "LINEAR", "step_percent": 25, "step_bake_time_in_minutes": 3}}, None),
    ("blue/green behind the ALB, a day's bake", {"load_balancer": LB, "rollout": {"strategy": "BLUE_GREEN", "bake_time_in_minutes": 1440}}, None),
    ("unknown strategy", {"load_balancer": LB, "rollout": {"strategy": "RED_BLACK"}}, "rollout.strategy must be"),
    ("strategy in the manifest's spelling", {"load_balancer": LB, "rollout": {"strategy": "canary"}}, "rollout.strategy must be"),
    ("canary without a load balancer", {"rollout": CANARY}, "they need load_balancer"),
    ("canary for a queue worker", {"queue_scaling": {"queue_name": "q", "backlog_per_task": 30}, "rollout": CANARY}, "they need load_balancer"),
    ("canary_percent 0", {"load_balancer": LB, "rollout": dict(CANARY, canary_percent=0)}, "canary_percent must be from 0.1 to 100"),
    ("canary_percent above 100", {"load_balancer": LB, "rollout": dict(CANARY, canary_percent=150)}, "canary_percent must be from 0.1 to 100"),
    ("linear step of 2 %", {"load_balancer": LB, "rollout": {"strategy": "LINEAR", "step_percent": 2}}, "step_percent must be from 3 to 100"),
    ("linear step above 100 %", {"load_balancer": LB, "rollout": {"strategy": "LINEAR", "step_percent": 101}}, "step_percent must be from 3 to 100"),
    ("bake time over a day", {"load_balancer": LB, "rollout": dict(CANARY, bake_time_in_minutes=1441)}, "whole minutes from 0 to 1440"),
    ("negative canary bake time", {"load_balancer": LB, "rollout": dict(CANARY, canary_bake_time_in_minutes=-1)}, "whole minutes from 0 to 1440"),
    ("fractional step bake time", {"load_balancer": LB, "rollout": {"strategy": "LINEAR", "step_bake_time_in_minutes": 2.5}}, "whole minutes from 0 to 1440"),
    ("canary settings on a linear rollout", {"load_balancer": LB, "rollout": {"strategy": "LINEAR", "canary_percent": 10}}, 'apply only to strategy = "CANARY"'),
    ("linear settings on a canary rollout", {"load_balancer": LB, "rollout": dict(CANARY, step_percent=10)}, 'apply only to strategy = "LINEAR"'),
    ("canary settings on a rolling service", {"rollout": {"canary_percent": 10}}, 'apply only to strategy = "CANARY"'),
]

SQS_BASELINE = {"name": "email-platform-staging-tasks"}
SQS_CASES = [
    ("baseline", {}, None),
    ("max_receive_count 0", {"max_receive_count": 0}, "max_receive_count must be a whole number from 1 to 1000"),
    ("DLQ keeps messages shorter than the queue", {"message_retention_seconds": 1209600, "dlq_message_retention_seconds": 86400}, "must be at least message_retention_seconds"),
    ("name too long for the -dlq suffix", {"name": "q" * 78}, "SQS allows 80"),
    ("long polling above 20 s", {"receive_wait_time_seconds": 30}, "receive_wait_time_seconds must be between 0 and 20"),
    ("KMS key that is not an ARN", {"kms_key_arn": "alias/x"}, "kms_key_arn must be a KMS key ARN"),
]

ROOT_CASES = [
    ("staging tfvars", {}, None),
    ("unknown environment", {"environment": "dev"}, 'environment must be "staging" or "prod"'),
    ("one availability zone", {"availability_zones": ["us-east-1a"]}, "2 to 8 distinct zones"),
    ("zone of another region", {"availability_zones": ["us-east-1a", "eu-west-1b"]}, "must be a zone of var.region"),
    ("wildcard repository", {"github_repository": "example-org/*"}, "wildcards are not allowed"),
    ("certificate that is not ACM", {"certificate_arn": "arn:aws:iam::111111111111:server-certificate/x"}, "must be an ACM certificate ARN"),
    ("log retention CloudWatch rejects", {"log_retention_days": 45}, "log_retention_days must be a value CloudWatch Logs accepts"),
    ("prod tfvars' canary for sampleapi on staging", {"services": {"sampleapi": {"cpu": 256, "memory": 512, "min_count": 1, "desired_count": 1, "max_count": 2, "rollout": {"strategy": "CANARY", "canary_percent": 10}}}}, None),
    ("service sized min > desired", {"services": {"sampleapi": {"cpu": 256, "memory": 512, "min_count": 2, "desired_count": 1, "max_count": 3}}}, "min_count <= desired_count <= max_count"),
    ("VPC smaller than /16", {"vpc_cidr": "10.0.0.0/20"}, "/16 or larger"),
]


def run_cases(variables_tf: Path, baseline: dict, cases) -> None:
    scratch = Scratch(variables_tf)
    failures = []
    try:
        for description, overrides, expected in cases:
            ok, out = scratch.plan(scratch.var_file({**baseline, **overrides}))
            if expected is None and not ok:
                failures.append(f"{description}: expected to pass, got: {out[:400]}")
            elif expected is not None and ok:
                failures.append(f"{description}: expected a validation error, the plan passed")
            elif expected is not None and expected not in out:
                failures.append(f"{description}: error lacks {expected!r}: {out[:400]}")
    finally:
        scratch.close()
    assert not failures, "\n      ".join(failures)


@test
def ecs_fargate_service_validations_reject_bad_input_at_plan_time():
    run_cases(ECS_MODULE / "variables.tf", MODULE_BASELINE, MODULE_CASES)


@test
def sqs_queue_validations_reject_bad_input_at_plan_time():
    run_cases(SQS_MODULE / "variables.tf", SQS_BASELINE, SQS_CASES)


@test
def root_validations_reject_bad_input_at_plan_time():
    baseline = {k: v for k, v in tfvars_plain("staging").items()}
    run_cases(TF / "variables.tf", baseline, ROOT_CASES)
