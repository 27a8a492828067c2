data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

# The AZs are named in the tfvars rather than taken from whatever the region
# offers: the subnet layout must not move when AWS adds a zone, and this
# lookup fails the plan if a named zone is not available to the account.
data "aws_availability_zones" "selected" {
  state = "available"

  filter {
    name   = "zone-name"
    values = var.availability_zones
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) == length(var.availability_zones)
      error_message = "Some of var.availability_zones are not available in this region for this account; pick zones listed by `aws ec2 describe-availability-zones`."
    }
  }
}

# Account for the ALB access-log bucket policy in regions that predate the
# log-delivery service principal (us-east-1 among them).
data "aws_elb_service_account" "current" {}

# Account-wide resources that the workspace with manage_account_resources =
# true creates (see ecr.tf and github-oidc.tf); the other workspace reads them.
data "aws_ecr_repository" "service" {
  for_each = var.manage_account_resources ? toset([]) : toset(local.ecr_services)

  name = "${var.project}/${each.key}"
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.manage_account_resources ? 0 : 1

  url = "https://token.actions.githubusercontent.com"
}
