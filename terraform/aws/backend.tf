# State in S3, one object per workspace (env:/staging/..., env:/prod/...),
# locked with S3's own conditional writes (a .tflock object next to the
# state). No DynamoDB table: Terraform deprecated DynamoDB locking in 1.11.
#
# The bucket is account-specific, so it is given at init:
#   terraform init -backend-config="bucket=<state bucket>"
# The key and lock file names are what the CI roles in github-oidc.tf are
# allowed to touch: keep local.state_key there equal to `key` here.
terraform {
  backend "s3" {
    key          = "email-platform/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
