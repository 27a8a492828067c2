# GitHub Actions assumes AWS roles through OIDC: no long-lived keys in
# GitHub. Roles per environment:
#   <project>-<env>-github-plan    read-only; terraform plan (terraform.yml)
#   <project>-<env>-github-apply   terraform apply (terraform.yml, workflow_dispatch)
#   <project>-<env>-github-deploy  ferry deploy: register task definitions, update services (release.yml)
# and, once per account (manage_account_resources):
#   <project>-github-build         ferry build: push images to ECR (release.yml, build job)
#
# Trust is by the token's `sub` claim, matched exactly (StringEquals, no
# wildcards): this repository only, and
#   - prod: jobs that run in the GitHub environment `prod` (`environment:
#     prod`, behind its required reviewers), for all roles; the plan role,
#     which is read-only (github_read, github_state_plan), also accepts
#     pull_request jobs, so a PR gets a prod plan without waiting for
#     approval (only the apply waits), and jobs of workflows on main without
#     an environment (the scheduled drift check, terraform.yml);
#   - staging: jobs in the environment `staging`; the plan role also accepts
#     pull_request jobs, so PRs get a staging plan without an environment;
#   - build: pushes to the release branch.
#
# The apply role cannot modify these roles, their policies, the OIDC provider
# or the permissions boundary (github-oidc-policies.tf), so a workflow cannot
# widen its own access: changes to this file are applied by an administrator.

locals {
  github_oidc_host = "token.actions.githubusercontent.com"
  github_oidc_provider_arn = (
    var.manage_account_resources
    ? aws_iam_openid_connect_provider.github[0].arn
    : data.aws_iam_openid_connect_provider.github[0].arn
  )

  github_sub_environment  = "repo:${var.github_repository}:environment:${var.environment}"
  github_sub_pull_request = "repo:${var.github_repository}:pull_request"
  github_sub_release      = "repo:${var.github_repository}:ref:refs/heads/${var.release_branch}"
  github_sub_main         = "repo:${var.github_repository}:ref:refs/heads/main"

  # Literal on purpose, not a variable: prod's trust cannot be widened from a
  # tfvars file.
  github_role_subjects = {
    plan   = [local.github_sub_environment, local.github_sub_pull_request, local.github_sub_main]
    apply  = [local.github_sub_environment]
    deploy = [local.github_sub_environment]
  }

  # Every role's trusted subjects, for the trust policies below: the
  # environment's roles, plus the account-wide build role where it exists.
  github_trust_subjects = merge(
    local.github_role_subjects,
    var.manage_account_resources ? { build = [local.github_sub_release] } : {},
  )

  github_role_policies = {
    plan   = { read = aws_iam_policy.github_read.arn, state = aws_iam_policy.github_state_plan.arn }
    apply  = merge({ read = aws_iam_policy.github_read.arn, state = aws_iam_policy.github_state_apply.arn }, { for k, p in aws_iam_policy.github_apply : "apply_${k}" => p.arn })
    deploy = { deploy = aws_iam_policy.github_deploy.arn }
  }
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.manage_account_resources ? 1 : 0

  url            = "https://${local.github_oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
  # No thumbprint_list: AWS validates GitHub's certificate against its own
  # trusted CAs for this provider, and pinned thumbprints break on rotation.
}

data "aws_iam_policy_document" "github_trust" {
  for_each = local.github_trust_subjects

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_host}:sub"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "github" {
  for_each = local.github_role_subjects

  name                 = "${local.name}-github-${each.key}"
  description          = "GitHub Actions (${var.github_repository}): ${each.key} for ${var.environment}"
  assume_role_policy   = data.aws_iam_policy_document.github_trust[each.key].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "github" {
  for_each = merge([
    for role, policies in local.github_role_policies : {
      for name, arn in policies : "${role}/${name}" => { role = role, arn = arn }
    }
  ]...)

  role       = aws_iam_role.github[each.value.role].name
  policy_arn = each.value.arn
}

# Account-wide: the job that builds images on the release branch.
resource "aws_iam_role" "github_build" {
  count = var.manage_account_resources ? 1 : 0

  name                 = "${var.project}-github-build"
  description          = "GitHub Actions (${var.github_repository}): push images from ${var.release_branch}"
  assume_role_policy   = data.aws_iam_policy_document.github_trust["build"].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "github_build" {
  count = var.manage_account_resources ? 1 : 0

  role       = aws_iam_role.github_build[0].name
  policy_arn = aws_iam_policy.github_build[0].arn
}
