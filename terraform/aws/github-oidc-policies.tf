# Policies of the GitHub Actions roles (github-oidc.tf). Managed policies are
# capped at 6,144 characters each, hence the apply permissions in several.

locals {
  # Must equal `key` in backend.tf; the S3 backend stores non-default
  # workspaces under "env:/<workspace>/".
  state_key        = "email-platform/terraform.tfstate"
  state_bucket_arn = "arn:${local.partition}:s3:::${var.state_bucket}"
  state_object_arn = "${local.state_bucket_arn}/env:/${var.environment}/${local.state_key}"
  lock_object_arn  = "${local.state_object_arn}.tflock"

  arn_prefix = {
    ecs   = "arn:${local.partition}:ecs:${local.region}:${local.account_id}"
    elb   = "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account_id}"
    iam   = "arn:${local.partition}:iam::${local.account_id}"
    logs  = "arn:${local.partition}:logs:${local.region}:${local.account_id}"
    ecr   = "arn:${local.partition}:ecr:${local.region}:${local.account_id}"
    wafv2 = "arn:${local.partition}:wafv2:${local.region}:${local.account_id}"
  }

  # Log groups this configuration owns.
  log_group_arns = [
    "${local.arn_prefix.logs}:log-group:/ecs/${local.name}/*",
    "${local.arn_prefix.logs}:log-group:/vpc/${local.name}/*",
    "${local.arn_prefix.logs}:log-group:aws-waf-logs-${local.name}",
    "${local.arn_prefix.logs}:log-group:aws-waf-logs-${local.name}:*",
  ]
}

# --- State ----------------------------------------------------------------

data "aws_iam_policy_document" "github_state" {
  for_each = toset(["plan", "apply"])

  statement {
    sid       = "ListStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.state_bucket_arn]
  }

  statement {
    sid       = "State"
    actions   = each.key == "apply" ? ["s3:GetObject", "s3:PutObject"] : ["s3:GetObject"]
    resources = [local.state_object_arn]
  }

  # Plan takes the lock too, so a plan never reads a half-applied state.
  statement {
    sid       = "LockFile"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.lock_object_arn]
  }
}

resource "aws_iam_policy" "github_state_plan" {
  name        = "${local.name}-github-state-plan"
  description = "Read the ${var.environment} Terraform state and take its lock"
  policy      = data.aws_iam_policy_document.github_state["plan"].json
}

resource "aws_iam_policy" "github_state_apply" {
  name        = "${local.name}-github-state-apply"
  description = "Read and write the ${var.environment} Terraform state and its lock"
  policy      = data.aws_iam_policy_document.github_state["apply"].json
}

# --- Read (plan and apply refresh) ------------------------------------------

data "aws_iam_policy_document" "github_read" {
  #checkov:skip=CKV_AWS_356: Describe/List/Get calls of EC2, ELB, ECS, Auto Scaling and CloudWatch have no resource-level permissions; only metadata reads are listed, never data reads (no s3:GetObject, secretsmanager:GetSecretValue, sqs:ReceiveMessage).
  statement {
    sid = "DescribeManagedResources"
    actions = [
      "ec2:Describe*",
      "elasticloadbalancing:Describe*",
      "ecs:Describe*",
      "ecs:List*",
      "ecr:DescribeRepositories",
      "ecr:GetLifecyclePolicy",
      "ecr:GetRepositoryPolicy",
      "ecr:ListTagsForResource",
      "iam:GetRole",
      "iam:GetPolicy",
      "iam:GetPolicyVersion",
      "iam:ListAttachedRolePolicies",
      "iam:ListRolePolicies",
      "iam:ListPolicyVersions",
      "iam:ListRoleTags",
      "iam:ListPolicyTags",
      "iam:ListOpenIDConnectProviderTags",
      "iam:GetOpenIDConnectProvider",
      "iam:ListOpenIDConnectProviders",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ListQueueTags",
      "sqs:ListDeadLetterSourceQueues",
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetResourcePolicy",
      "kms:DescribeKey",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListAliases",
      "kms:ListResourceTags",
      "logs:DescribeLogGroups",
      "logs:DescribeResourcePolicies",
      "logs:ListTagsForResource",
      "logs:ListTagsLogGroup",
      "application-autoscaling:Describe*",
      "application-autoscaling:ListTagsForResource",
      "cloudwatch:DescribeAlarms",
      "cloudwatch:ListTagsForResource",
      "wafv2:GetWebACL",
      "wafv2:GetWebACLForResource",
      "wafv2:GetLoggingConfiguration",
      "wafv2:ListResourcesForWebACL",
      "wafv2:ListTagsForResource",
    ]
    resources = ["*"]
  }

  statement {
    sid = "ReadAlbLogBucketConfiguration"
    # s3:ListBucket also covers HeadBucket, which every refresh of a bucket calls.
    actions = [
      "s3:ListBucket",
      "s3:GetBucket*",
      "s3:GetAccelerateConfiguration",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
    ]
    resources = ["arn:${local.partition}:s3:::${local.name}-alb-logs-${local.account_id}"]
  }
}

resource "aws_iam_policy" "github_read" {
  name        = "${local.name}-github-read"
  description = "Refresh the ${var.environment} resources for terraform plan (metadata only)"
  policy      = data.aws_iam_policy_document.github_read.json
}

# --- Apply ----------------------------------------------------------------

data "aws_iam_policy_document" "github_apply_network" {
  #checkov:skip=CKV_AWS_111: EC2 VPC resources (VPC, subnets, routes, NAT, security groups) get their ARNs only on creation, so their create calls cannot be scoped by resource; the role is reachable only from the environment's approved apply job.
  #checkov:skip=CKV_AWS_356: EC2 VPC resources get their ARNs only on creation, so their create calls cannot name them.
  statement {
    sid = "Vpc"
    actions = [
      "ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute",
      "ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute",
      "ec2:CreateInternetGateway", "ec2:DeleteInternetGateway", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway",
      "ec2:CreateRouteTable", "ec2:DeleteRouteTable", "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable",
      "ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute",
      "ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:DisassociateAddress",
      "ec2:CreateNatGateway", "ec2:DeleteNatGateway",
      "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup",
      "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
      "ec2:ModifySecurityGroupRules",
      "ec2:UpdateSecurityGroupRuleDescriptionsIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
      "ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint",
      "ec2:CreateFlowLogs", "ec2:DeleteFlowLogs",
      "ec2:CreateTags", "ec2:DeleteTags",
    ]
    resources = ["*"]
  }

  statement {
    sid = "LoadBalancer"
    actions = [
      "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:DeleteLoadBalancer",
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
      "elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener", "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule", "elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetRulePriorities",
      "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
      "elasticloadbalancing:SetWebAcl",
    ]
    resources = [
      "${local.arn_prefix.elb}:loadbalancer/app/${local.name}/*",
      "${local.arn_prefix.elb}:listener/app/${local.name}/*",
      "${local.arn_prefix.elb}:listener-rule/app/${local.name}/*",
      "${local.arn_prefix.elb}:targetgroup/${local.name}-*",
    ]
  }

  statement {
    sid = "Waf"
    actions = [
      "wafv2:CreateWebACL", "wafv2:UpdateWebACL", "wafv2:DeleteWebACL",
      "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL",
      "wafv2:PutLoggingConfiguration", "wafv2:DeleteLoggingConfiguration",
      "wafv2:TagResource", "wafv2:UntagResource",
    ]
    resources = [
      "${local.arn_prefix.wafv2}:regional/webacl/${local.name}/*",
      "${local.arn_prefix.wafv2}:regional/managedruleset/*/*",
      "${local.arn_prefix.elb}:loadbalancer/app/${local.name}/*",
    ]
  }
}

data "aws_iam_policy_document" "github_apply_compute" {
  #checkov:skip=CKV_AWS_111: ecs:RegisterTaskDefinition and Application Auto Scaling calls have no resource-level permissions; everything else below is scoped to this environment's names.
  #checkov:skip=CKV_AWS_356: ecs:RegisterTaskDefinition and Application Auto Scaling calls have no resource-level permissions; the rest is scoped to this environment.
  statement {
    sid = "EcsScoped"
    actions = [
      "ecs:CreateCluster", "ecs:DeleteCluster", "ecs:UpdateCluster", "ecs:UpdateClusterSettings",
      "ecs:PutClusterCapacityProviders",
      "ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService",
      "ecs:DeleteTaskDefinitions",
      "ecs:TagResource", "ecs:UntagResource",
    ]
    resources = [
      "${local.arn_prefix.ecs}:cluster/${local.name}",
      "${local.arn_prefix.ecs}:service/${local.name}/*",
      "${local.arn_prefix.ecs}:task-definition/${local.name}-*:*",
    ]
  }

  statement {
    sid       = "EcsTaskDefinitions"
    actions   = ["ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid = "AutoScaling"
    actions = [
      "application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget",
      "application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy",
      "application-autoscaling:TagResource", "application-autoscaling:UntagResource",
    ]
    resources = ["*"]
  }

  # Target tracking policies create their alarms with the caller's rights.
  statement {
    sid     = "Alarms"
    actions = ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource"]
    resources = [
      "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.name}-*",
      "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:TargetTracking-service/${local.name}/*",
    ]
  }

  statement {
    sid = "LogGroups"
    actions = [
      "logs:CreateLogGroup", "logs:DeleteLogGroup",
      "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
      "logs:AssociateKmsKey", "logs:DisassociateKmsKey",
      "logs:TagResource", "logs:UntagResource", "logs:TagLogGroup", "logs:UntagLogGroup",
    ]
    resources = local.log_group_arns
  }

  # Enabling WAF logging to CloudWatch Logs adds a log-delivery resource
  # policy for the aws-waf-logs-* group; these calls are account-level.
  statement {
    sid       = "WafLogDelivery"
    actions   = ["logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.manage_account_resources ? [1] : []
    content {
      sid = "EcrRepositories"
      actions = [
        "ecr:CreateRepository", "ecr:DeleteRepository",
        "ecr:PutImageTagMutability", "ecr:PutImageScanningConfiguration",
        "ecr:PutLifecyclePolicy", "ecr:DeleteLifecyclePolicy",
        "ecr:TagResource", "ecr:UntagResource",
      ]
      resources = ["${local.arn_prefix.ecr}:repository/${var.project}/*"]
    }
  }
}

data "aws_iam_policy_document" "github_apply_data" {
  statement {
    sid = "Queues"
    actions = [
      "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes",
      "sqs:TagQueue", "sqs:UntagQueue",
    ]
    resources = ["arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.name}-*"]
  }

  # The secret's container and metadata only: never its value.
  statement {
    sid = "Secrets"
    actions = [
      "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:UpdateSecret",
      "secretsmanager:TagResource", "secretsmanager:UntagResource",
    ]
    resources = ["arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${var.project}/${var.environment}/*"]
  }

  statement {
    sid = "CreateKey"
    # CreateKey with tags (default_tags) also needs kms:TagResource.
    actions   = ["kms:CreateKey", "kms:TagResource"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Project"
      values   = [var.project]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Environment"
      values   = [var.environment]
    }
  }

  statement {
    sid = "ManageOwnKey"
    actions = [
      "kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:UpdateKeyDescription",
      "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
      "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Project"
      values   = [var.project]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [var.environment]
    }
  }

  statement {
    sid       = "KeyAlias"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = ["arn:${local.partition}:kms:${local.region}:${local.account_id}:alias/${local.name}"]
  }

  statement {
    sid = "AlbLogBucket"
    actions = [
      "s3:CreateBucket", "s3:DeleteBucket",
      "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
      "s3:PutBucketPublicAccessBlock", "s3:PutBucketOwnershipControls",
      "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration",
      "s3:PutBucketTagging",
    ]
    resources = ["arn:${local.partition}:s3:::${local.name}-alb-logs-${local.account_id}"]
  }
}

data "aws_iam_policy_document" "github_apply_iam" {
  # Workload roles only with the permissions boundary attached.
  statement {
    sid = "RolesWithBoundary"
    actions = [
      "iam:CreateRole", "iam:PutRolePermissionsBoundary",
    ]
    resources = ["${local.arn_prefix.iam}:role/${local.name}-*"]

    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [aws_iam_policy.boundary.arn]
    }
  }

  statement {
    sid = "ManageRoles"
    actions = [
      "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
      "iam:TagRole", "iam:UntagRole",
      "iam:ListInstanceProfilesForRole",
    ]
    resources = ["${local.arn_prefix.iam}:role/${local.name}-*"]
  }

  # Only this environment's own policies can be attached (not, say,
  # AdministratorAccess); the boundary caps whatever they contain.
  statement {
    sid       = "AttachOwnPolicies"
    actions   = ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    resources = ["${local.arn_prefix.iam}:role/${local.name}-*"]

    condition {
      test     = "ArnLike"
      variable = "iam:PolicyARN"
      values   = ["${local.arn_prefix.iam}:policy/${local.name}-*"]
    }
  }

  statement {
    sid = "ManagePolicies"
    actions = [
      "iam:CreatePolicy", "iam:DeletePolicy",
      "iam:CreatePolicyVersion", "iam:DeletePolicyVersion",
      "iam:TagPolicy", "iam:UntagPolicy",
    ]
    resources = ["${local.arn_prefix.iam}:policy/${local.name}-*"]
  }

  statement {
    sid       = "PassWorkloadRoles"
    actions   = ["iam:PassRole"]
    resources = ["${local.arn_prefix.iam}:role/${local.name}-*"]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com", "vpc-flow-logs.amazonaws.com"]
    }
  }

  # The role ECS shifts ALB traffic with (BLUE_GREEN, CANARY, LINEAR
  # services), named in the service's load_balancer.advanced_configuration.
  statement {
    sid       = "PassTrafficShiftRoles"
    actions   = ["iam:PassRole"]
    resources = ["${local.arn_prefix.iam}:role/${local.name}-*-lb-traffic"]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs.amazonaws.com"]
    }
  }

  # ...and to nothing else: a task (ecs-tasks) running with a traffic role
  # would get the boundary's ALB permissions.
  statement {
    sid       = "TrafficShiftRolesOnlyToEcs"
    effect    = "Deny"
    actions   = ["iam:PassRole"]
    resources = ["${local.arn_prefix.iam}:role/${local.name}-*-lb-traffic"]

    condition {
      test     = "StringNotEquals"
      variable = "iam:PassedToService"
      values   = ["ecs.amazonaws.com"]
    }
  }

  # First use of ECS, ELB and Application Auto Scaling in an account.
  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values = [
        "ecs.amazonaws.com",
        "elasticloadbalancing.amazonaws.com",
        "ecs.application-autoscaling.amazonaws.com",
      ]
    }
  }

  # What must stay out of a workflow's reach: the CI roles and their
  # policies, the OIDC provider, and the boundary itself. Explicit denies win
  # over every allow above (whose name patterns would otherwise match).
  # Reads stay allowed, since every plan and apply refreshes these resources.
  statement {
    sid    = "ProtectCiAndBoundary"
    effect = "Deny"
    actions = [
      "iam:Add*", "iam:Attach*", "iam:Create*", "iam:Delete*", "iam:Detach*",
      "iam:PassRole", "iam:Put*", "iam:Remove*", "iam:Set*", "iam:Tag*",
      "iam:Untag*", "iam:Update*",
    ]
    resources = [
      "${local.arn_prefix.iam}:role/${local.name}-github-*",
      "${local.arn_prefix.iam}:role/${var.project}-github-*",
      "${local.arn_prefix.iam}:policy/${local.name}-github-*",
      "${local.arn_prefix.iam}:policy/${var.project}-github-*",
      aws_iam_policy.boundary.arn,
      "${local.arn_prefix.iam}:oidc-provider/${local.github_oidc_host}",
    ]
  }

  statement {
    sid       = "KeepBoundaries"
    effect    = "Deny"
    actions   = ["iam:DeleteRolePermissionsBoundary"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "github_apply" {
  for_each = {
    network = data.aws_iam_policy_document.github_apply_network.json
    compute = data.aws_iam_policy_document.github_apply_compute.json
    data    = data.aws_iam_policy_document.github_apply_data.json
    iam     = data.aws_iam_policy_document.github_apply_iam.json
  }

  name        = "${local.name}-github-apply-${each.key}"
  description = "terraform apply of ${local.name}: ${each.key}"
  policy      = each.value
}

# --- Deploy (ferry deploy) ------------------------------------------------

data "aws_iam_policy_document" "github_deploy" {
  statement {
    sid       = "TaskDefinitions"
    actions   = ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"]
    resources = ["*"]
  }

  # Tags on a new revision, only as part of registering it.
  statement {
    sid       = "TagOnRegister"
    actions   = ["ecs:TagResource"]
    resources = ["${local.arn_prefix.ecs}:task-definition/${local.name}-*:*"]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RegisterTaskDefinition"]
    }
  }

  statement {
    sid       = "RollOutServices"
    actions   = ["ecs:UpdateService", "ecs:DescribeServices", "ecs:ListServiceDeployments"]
    resources = ["${local.arn_prefix.ecs}:service/${local.name}/*"]
  }

  statement {
    sid = "WatchRollouts"
    # StopServiceDeployment: a canary whose analysis fails is stopped and
    # rolled back by `ferry deploy`.
    actions = ["ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions", "ecs:DescribeTasks", "ecs:StopServiceDeployment"]
    resources = [
      "${local.arn_prefix.ecs}:service-deployment/${local.name}/*",
      "${local.arn_prefix.ecs}:service-revision/${local.name}/*",
      "${local.arn_prefix.ecs}:task/${local.name}/*",
    ]
  }

  statement {
    sid       = "ListTasks"
    actions   = ["ecs:ListTasks"]
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = ["${local.arn_prefix.ecs}:cluster/${local.name}"]
    }
  }

  # One-off tasks of a release (the manifest's before-deploy and
  # after-deploy): RunTask of this environment's task definitions in its
  # cluster only, and StopTask of its tasks when one runs past its timeout.
  statement {
    sid       = "RunReleaseTasks"
    actions   = ["ecs:RunTask"]
    resources = ["${local.arn_prefix.ecs}:task-definition/${local.name}-*:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = ["${local.arn_prefix.ecs}:cluster/${local.name}"]
    }
  }

  statement {
    sid       = "StopReleaseTasks"
    actions   = ["ecs:StopTask"]
    resources = ["${local.arn_prefix.ecs}:task/${local.name}/*"]
  }

  # A task definition may name only this environment's service roles.
  statement {
    sid     = "PassServiceRoles"
    actions = ["iam:PassRole"]
    resources = [
      "${local.arn_prefix.iam}:role/${local.name}-*-execution",
      "${local.arn_prefix.iam}:role/${local.name}-*-task",
    ]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  # Check that the image to deploy exists (gate, render); pushing is the
  # build role's job.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "ReadImages"
    actions   = ["ecr:DescribeImages", "ecr:BatchGetImage"]
    resources = ["${local.arn_prefix.ecr}:repository/${var.project}/*"]
  }

  # Stopped tasks' last log lines, for the failure report.
  statement {
    sid       = "ReadServiceLogs"
    actions   = ["logs:GetLogEvents", "logs:FilterLogEvents"]
    resources = ["${local.arn_prefix.logs}:log-group:/ecs/${local.name}/*:log-stream:*", "${local.arn_prefix.logs}:log-group:/ecs/${local.name}/*"]
  }
}

resource "aws_iam_policy" "github_deploy" {
  name        = "${local.name}-github-deploy"
  description = "ferry deploy to ${local.name}: register task definitions, roll out services"
  policy      = data.aws_iam_policy_document.github_deploy.json
}

# --- Build (ferry build), account-wide ----------------------------------------

data "aws_iam_policy_document" "github_build" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
      "ecr:DescribeImages",
    ]
    resources = ["${local.arn_prefix.ecr}:repository/${var.project}/*"]
  }
}

resource "aws_iam_policy" "github_build" {
  count = var.manage_account_resources ? 1 : 0

  name        = "${var.project}-github-build"
  description = "ferry build: push images to the ${var.project} ECR repositories"
  policy      = data.aws_iam_policy_document.github_build.json
}
