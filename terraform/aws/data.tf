data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  state = "available"

  # Local Zones and Wavelength Zones lack NAT gateways and some instance
  # families; keep to the region's standard AZs.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
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
