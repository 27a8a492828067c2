variable "project" {
  description = "Project name, as `project` in .github/ferry.yml. Prefix of every name."
  type        = string
  default     = "email-platform"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}[a-z0-9]$", var.project))
    error_message = "project must be 3-22 lowercase letters, digits or '-', starting with a letter (it prefixes names with tight length limits, such as target groups)."
  }
}

variable "environment" {
  description = "Environment name, as under `environments` in .github/ferry.yml; must equal the selected workspace."
  type        = string

  validation {
    condition     = contains(["staging", "prod"], var.environment)
    error_message = "environment must be \"staging\" or \"prod\" (the environments of .github/ferry.yml)."
  }
}

variable "region" {
  description = "AWS region, as `region` in .github/ferry.yml."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as \"us-east-1\"."
  }
}

variable "aws_account_id" {
  description = "The AWS account this workspace manages; the provider refuses any other."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be the 12-digit AWS account ID."
  }
}

variable "manage_account_resources" {
  description = "Create the account-wide resources (ECR repositories, GitHub OIDC provider, CI build role) in this workspace. Exactly one workspace per account sets it: staging, since images are built once, pushed there and promoted to prod unchanged."
  type        = bool
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC; it is split into /20s for public and private subnets (a /16 is enough for 8 AZs of each)."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) <= 16, false)
    error_message = "vpc_cidr must be an IPv4 CIDR block of /16 or larger, such as \"10.20.0.0/16\"."
  }
}

variable "availability_zones" {
  description = "Availability Zones to spread subnets (and tasks) over, e.g. [\"us-east-1a\", \"us-east-1b\"]."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 8 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must list 2 to 8 distinct zones: ECS needs two AZs to survive the loss of one, and the VPC is cut into 8 subnets per tier."
  }

  validation {
    condition     = alltrue([for az in var.availability_zones : startswith(az, var.region)])
    error_message = "Every entry of availability_zones must be a zone of var.region (e.g. \"us-east-1a\" for \"us-east-1\")."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper; an AZ outage cuts egress for all) instead of one per AZ."
  type        = bool
  default     = false
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener (it must cover the environment's URL in .github/ferry.yml)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>) in the same region as the ALB."
  }
}

variable "alb_deletion_protection" {
  description = "Refuse to delete the ALB (turn off deliberately before destroying an environment)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups (services, VPC flow logs, WAF)."
  type        = number

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "alb_log_retention_days" {
  description = "Days the ALB access logs are kept in S3."
  type        = number
  default     = 90

  validation {
    condition     = var.alb_log_retention_days >= 1 && floor(var.alb_log_retention_days) == var.alb_log_retention_days
    error_message = "alb_log_retention_days must be a whole number of at least 1."
  }
}

variable "ecr_keep_images" {
  description = "Release images kept per ECR repository; older ones expire. Keep it above the number of releases prod may lag behind staging."
  type        = number
  default     = 50

  validation {
    condition     = var.ecr_keep_images >= 10 && var.ecr_keep_images <= 1000
    error_message = "ecr_keep_images must be between 10 and 1000 (fewer risks expiring the image prod still runs)."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can still be restored."
  type        = number
  default     = 30

  validation {
    condition     = var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30
    error_message = "secret_recovery_window_days must be between 7 and 30 (0, immediate deletion, is not allowed here)."
  }
}

variable "services" {
  description = "Per-environment sizing of each service of .github/ferry.yml (keys are service names)."
  type = map(object({
    cpu           = number
    memory        = number
    min_count     = number
    desired_count = number
    max_count     = number
    # The deployment strategy (modules/ecs-fargate-service, var.rollout);
    # ROLLING when absent.
    rollout = optional(object({
      strategy                    = optional(string)
      bake_time_in_minutes        = optional(number)
      canary_percent              = optional(number)
      canary_bake_time_in_minutes = optional(number)
      step_percent                = optional(number)
      step_bake_time_in_minutes   = optional(number)
    }), {})
  }))

  validation {
    condition     = alltrue([for s in values(var.services) : s.min_count <= s.desired_count && s.desired_count <= s.max_count])
    error_message = "Each entry of services needs min_count <= desired_count <= max_count."
  }
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic notified by the platform's alarms (DLQ, queue age). Null: alarms only show in the console."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN (arn:aws:sns:...) or null."
  }
}

variable "github_repository" {
  description = "The GitHub repository (\"owner/name\") whose workflows may assume the CI roles."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", var.github_repository))
    error_message = "github_repository must be \"owner/name\", e.g. \"acme/email-platform\"; wildcards are not allowed."
  }
}

variable "release_branch" {
  description = "Branch whose pushes run release.yml; only its build job may push images."
  type        = string
  default     = "release"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]+$", var.release_branch)) && !strcontains(var.release_branch, "*")
    error_message = "release_branch must be a plain branch name without wildcards."
  }
}

variable "state_bucket" {
  description = "S3 bucket holding the Terraform state (the one given to `terraform init -backend-config`); the CI plan and apply roles get access to this workspace's state object only."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket))
    error_message = "state_bucket must be an S3 bucket name (3-63 lowercase letters, digits, '.' or '-')."
  }
}
