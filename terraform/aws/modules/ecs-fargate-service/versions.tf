terraform {
  # Cross-variable references in `validation` blocks need Terraform 1.9+.
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.21: the CANARY and LINEAR deployment strategies (canary_configuration,
      # linear_configuration); BLUE_GREEN and advanced_configuration came in 6.4.
      version = ">= 6.21, < 7.0"
    }
  }
}
