# terraform workspace select staging
# terraform plan -var-file=environments/staging.tfvars
environment = "staging"
region      = "us-east-1"

# Replace with the real values of your AWS account (see terraform/README.md).
aws_account_id  = "111111111111"
state_bucket    = "email-platform-terraform-state-111111111111"
certificate_arn = "arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000000"

github_repository = "example-org/ferry"

# Staging creates the account-wide resources (ECR, OIDC provider, build role).
manage_account_resources = true

vpc_cidr           = "10.20.0.0/16"
availability_zones = ["us-east-1a", "us-east-1b"]
single_nat_gateway = true # cost over AZ-outage resilience in staging

log_retention_days = 30

services = {
  sampleapi    = { cpu = 256, memory = 512, min_count = 1, desired_count = 1, max_count = 2 }
  sampleworker = { cpu = 256, memory = 512, min_count = 1, desired_count = 1, max_count = 2 }
}
