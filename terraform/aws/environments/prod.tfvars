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

# sampleapi rolls out as a canary: 10 % of its traffic for 5 minutes, then
# all of it, both revisions kept 5 more minutes for an instant rollback.
# Ferry's deploy sets the strategy of each deploy (.github/ferry.yml,
# rollout:); this creates what it needs (second target group, weighted
# listener rule, the role ECS shifts traffic with).
services = {
  sampleapi = {
    cpu = 512, memory = 1024, min_count = 2, desired_count = 2, max_count = 10
    rollout = {
      strategy                    = "CANARY"
      canary_percent              = 10
      canary_bake_time_in_minutes = 5
      bake_time_in_minutes        = 5
    }
  }
  sampleworker = { cpu = 512, memory = 1024, min_count = 2, desired_count = 2, max_count = 10 }
}
