terraform {
  # 1.11: S3 native state locking (use_lockfile) is generally available, and
  # validation blocks may refer to other variables (1.9+).
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.21: deployment_configuration's CANARY and LINEAR strategies
      # (canary_configuration, linear_configuration) on aws_ecs_service.
      version = "~> 6.21"
    }
  }
}

provider "aws" {
  region = var.region

  # Refuse to run against any account but the one this workspace is for, so
  # prod credentials can never apply staging's plan (or the reverse).
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
      Repository  = var.github_repository
    }
  }
}

locals {
  # "<project>-<env>": the ECS cluster name in .github/ferry.yml, and the
  # prefix of every name this workspace creates.
  name       = "${var.project}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  partition  = data.aws_partition.current.partition

  # What every ecs-fargate-service module needs from the platform; a
  # service-<name>.tf passes it as `platform = local.platform`.
  platform = {
    environment              = var.environment
    region                   = local.region
    account_id               = local.account_id
    cluster_name             = aws_ecs_cluster.this.name
    cluster_arn              = aws_ecs_cluster.this.arn
    vpc_id                   = aws_vpc.this.id
    private_subnet_ids       = aws_subnet.private[*].id
    kms_key_arn              = aws_kms_key.platform.arn
    log_retention_days       = var.log_retention_days
    permissions_boundary_arn = aws_iam_policy.boundary.arn
  }
}

# Workspaces are the environments. Applying prod.tfvars in the staging
# workspace (or the reverse) would rename every resource of the other one;
# stop that at plan time.
resource "terraform_data" "workspace_guard" {
  input = terraform.workspace

  lifecycle {
    precondition {
      condition     = terraform.workspace == var.environment
      error_message = "The selected workspace does not match var.environment: run `terraform workspace select <env>` with -var-file=environments/<env>.tfvars for the same <env>."
    }
  }
}
