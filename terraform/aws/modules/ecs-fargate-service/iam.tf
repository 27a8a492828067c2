# Two roles per service, as ECS intends:
# - the execution role is what the ECS agent uses to start the task (pull the
#   image, write logs, resolve secrets into environment variables);
# - the task role is what the application code gets; it holds only the
#   policies the caller passes (e.g. "publish to the tasks queue").
# Neither uses AmazonECSTaskExecutionRolePolicy, whose ECR and Logs
# permissions apply to every repository and log group of the account.

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Confused-deputy protection: only ECS acting for this account.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.platform.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:aws:ecs:${var.platform.region}:${var.platform.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name                 = "${local.full_name}-execution"
  description          = "ECS agent for ${local.full_name}: image pull, logs, secrets"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_trust.json
  permissions_boundary = var.platform.permissions_boundary_arn
}

data "aws_iam_policy_document" "execution" {
  # GetAuthorizationToken has no resource-level permissions: it returns a
  # registry login, and the statement below limits what can be pulled with it.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PullOwnImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [var.ecr_repository.arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = length(var.secret_arns) > 0 ? [1] : []
    content {
      sid       = "ReadOwnSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = var.secret_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.secret_arns) > 0 ? [1] : []
    content {
      sid       = "DecryptSecretsViaSecretsManager"
      actions   = ["kms:Decrypt"]
      resources = [var.platform.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${var.platform.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_policy" "execution" {
  name        = "${local.full_name}-execution"
  description = "Start ${local.full_name} tasks: pull its image, write its logs, read its secrets"
  policy      = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = aws_iam_policy.execution.arn
}

resource "aws_iam_role" "task" {
  name                 = "${local.full_name}-task"
  description          = "Application code of ${local.full_name}"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_trust.json
  permissions_boundary = var.platform.permissions_boundary_arn
}

resource "aws_iam_role_policy_attachment" "task" {
  for_each = var.task_role_policy_arns

  role       = aws_iam_role.task.name
  policy_arn = each.value
}

# BLUE_GREEN, CANARY, LINEAR: the role ECS assumes to move the service's
# tasks between its two target groups and the weights of its production
# listener rule (ECS's "infrastructure role for load balancers"). Instead of
# AmazonECSInfrastructureRolePolicyForLoadBalancers, which may modify every
# listener and target group of the account, it may change only this
# service's rule and target groups.
data "aws_iam_policy_document" "ecs_trust" {
  count = local.shifts_traffic ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.platform.account_id]
    }
  }
}

resource "aws_iam_role" "traffic" {
  count = local.shifts_traffic ? 1 : 0

  # "-lb-traffic": the CI apply role may pass only roles of this name to
  # ecs.amazonaws.com, and the permissions boundary lets only them touch
  # the ALB (github-oidc-policies.tf, iam-boundary.tf in the root module).
  name                 = "${local.full_name}-lb-traffic"
  description          = "ECS shifts ALB traffic between the target groups of ${local.full_name}"
  assume_role_policy   = data.aws_iam_policy_document.ecs_trust[0].json
  permissions_boundary = var.platform.permissions_boundary_arn
}

data "aws_iam_policy_document" "traffic" {
  count = local.shifts_traffic ? 1 : 0

  # Describe calls have no resource-level permissions.
  statement {
    sid = "ReadLoadBalancer"
    actions = [
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "MoveOwnTasks"
    actions   = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
    resources = [aws_lb_target_group.this[0].arn, aws_lb_target_group.alternate[0].arn]
  }

  statement {
    sid       = "ShiftOwnRule"
    actions   = ["elasticloadbalancing:ModifyRule"]
    resources = [aws_lb_listener_rule.shifted[0].arn]
  }
}

resource "aws_iam_policy" "traffic" {
  count = local.shifts_traffic ? 1 : 0

  name        = "${local.full_name}-lb-traffic"
  description = "Shift ALB traffic between the target groups of ${local.full_name}"
  policy      = data.aws_iam_policy_document.traffic[0].json
}

resource "aws_iam_role_policy_attachment" "traffic" {
  count = local.shifts_traffic ? 1 : 0

  role       = aws_iam_role.traffic[0].name
  policy_arn = aws_iam_policy.traffic[0].arn
}
