# The permissions boundary of every role this configuration creates for
# workloads (service execution and task roles, VPC flow logs). The CI apply
# role may create and change roles only with this boundary attached, and may
# not change the boundary itself (github-oidc-policies.tf): whatever policy a
# pull request attaches to a service role, that role can never do more than
# what is listed here. A new service that needs another AWS API adds it here,
# which a platform engineer reviews and an administrator applies.
data "aws_iam_policy_document" "boundary" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "EcrPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = ["arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/${var.project}/*"]
  }

  statement {
    sid     = "Logs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/ecs/${local.name}/*",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/vpc/${local.name}/*",
    ]
  }

  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${var.project}/${var.environment}/*"]
  }

  statement {
    sid       = "PlatformKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.platform.arn]
  }

  statement {
    sid = "Queues"
    actions = [
      "sqs:SendMessage",
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueUrl",
      "sqs:GetQueueAttributes",
    ]
    resources = ["arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.name}-*"]
  }

  # BLUE_GREEN, CANARY and LINEAR services: ECS shifts ALB traffic with the
  # service's "-lb-traffic" role (modules/ecs-fargate-service/iam.tf). Only
  # those roles may, whatever a pull request attaches to a task role; the CI
  # apply role passes them to ecs.amazonaws.com only (github-oidc-policies.tf).
  statement {
    sid = "EcsTrafficShiftRead"
    actions = [
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth",
    ]
    resources = ["*"]

    condition {
      test     = "ArnLike"
      variable = "aws:PrincipalArn"
      values   = ["arn:${local.partition}:iam::${local.account_id}:role/${local.name}-*-lb-traffic"]
    }
  }

  statement {
    sid = "EcsTrafficShift"
    actions = [
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:RegisterTargets",
      "elasticloadbalancing:DeregisterTargets",
    ]
    resources = [
      "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account_id}:listener-rule/app/${local.name}/*",
      "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account_id}:targetgroup/*",
    ]

    condition {
      test     = "ArnLike"
      variable = "aws:PrincipalArn"
      values   = ["arn:${local.partition}:iam::${local.account_id}:role/${local.name}-*-lb-traffic"]
    }
  }
}

resource "aws_iam_policy" "boundary" {
  name        = "${local.name}-permissions-boundary"
  description = "Upper bound of what any workload role of ${local.name} may do"
  policy      = data.aws_iam_policy_document.boundary.json
}
