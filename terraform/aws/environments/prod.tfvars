# terraform workspace select prod
# terraform plan -var-file=environments/prod.tfvars
environment = "prod"
region      = "us-east-1"

# Replace with the real values of your AWS account (see terraform/README.md).
aws_account_id  = "111111111111"
state_bucket    = "email-platform-terraform-state-111111111111"
certificate_arn = "arn:aws:acm:us-east-1:111111111111:certificate/11111111-1111-1111-1111-111111111111"

github_repository = "example-org/ferry"

# ECR repositories, OIDC provider and build role come from staging.
manage_account_resources = false

vpc_cidr           = "10.30.0.0/16"
availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
single_nat_gateway = false # one NAT gateway per AZ

log_retention_days = 365

services = {
  sampleapi    = { cpu = 512, memory = 1024, min_count = 2, desired_count = 2, max_count = 10 }
  sampleworker = { cpu = 512, memory = 1024, min_count = 2, desired_count = 2, max_count = 10 }
}
