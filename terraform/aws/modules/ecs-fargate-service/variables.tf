variable "name" {
  description = "Service name as in .github/ferry.yml (e.g. \"sampleapi\"). The ECS service and task definition family are \"<cluster>-<name>\", the container is \"<name>\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2-32 characters of lowercase letters, digits and '-', starting with a letter (it is used in ECS, IAM and log group names)."
  }
}

variable "platform" {
  description = "What the platform provides to every service: the root module passes local.platform."
  type = object({
    environment        = string
    region             = string
    account_id         = string
    cluster_name       = string
    cluster_arn        = string
    vpc_id             = string
    private_subnet_ids = list(string)
    kms_key_arn        = string
    log_retention_days = number
    # Every role the platform creates carries this boundary (see iam-boundary.tf
    # in the root module), which is what lets the CI apply role create roles
    # without being able to create an administrator.
    permissions_boundary_arn = string
  })

  validation {
    condition     = length(var.platform.private_subnet_ids) >= 2
    error_message = "platform.private_subnet_ids must list at least two subnets (two Availability Zones) so one AZ outage leaves the service running."
  }
}

variable "ecr_repository" {
  description = "The service's ECR repository: its ARN (for the execution role's pull permission) and URL (for the initial image)."
  type = object({
    arn = string
    url = string
  })
}

variable "initial_image_tag" {
  description = "Tag of the image in the bootstrap task definition. Ferry replaces the task definition on the first release; until then ECS tries to run this tag."
  type        = string
  default     = "bootstrap"
}

variable "container_port" {
  description = "Port the container listens on (HTTP: health, metrics, and the API if it has one). Null for a container that listens on nothing."
  type        = number
  default     = null

  validation {
    condition     = var.container_port == null || try(var.container_port >= 1 && var.container_port <= 65535 && floor(var.container_port) == var.container_port, false)
    error_message = "container_port must be a whole number from 1 to 65535, or null for a container that listens on nothing."
  }
}

variable "cpu" {
  description = "Task CPU units for Fargate: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be one of the Fargate sizes: 256, 512, 1024, 2048, 4096, 8192, 16384 (1024 = 1 vCPU)."
  }
}

variable "memory" {
  description = "Task memory in MiB; must be a valid Fargate pair with cpu."
  type        = number
  default     = 512

  validation {
    # The Fargate table of supported cpu/memory combinations.
    condition = (
      var.cpu == 256 ? contains([512, 1024, 2048], var.memory) :
      var.cpu == 512 ? contains([1024, 2048, 3072, 4096], var.memory) :
      var.cpu == 1024 ? contains(range(2048, 8193, 1024), var.memory) :
      var.cpu == 2048 ? contains(range(4096, 16385, 1024), var.memory) :
      var.cpu == 4096 ? contains(range(8192, 30721, 1024), var.memory) :
      var.cpu == 8192 ? contains(range(16384, 61441, 4096), var.memory) :
      var.cpu == 16384 ? contains(range(32768, 122881, 8192), var.memory) :
      false
    )
    error_message = "memory is not a valid Fargate size for this cpu. Valid pairs: cpu 256 -> 512, 1024, 2048; cpu 512 -> 1024 to 4096 in steps of 1024; cpu 1024 -> 2048 to 8192 (step 1024); cpu 2048 -> 4096 to 16384 (step 1024); cpu 4096 -> 8192 to 30720 (step 1024); cpu 8192 -> 16384 to 61440 (step 4096); cpu 16384 -> 32768 to 122880 (step 8192). Change memory (or cpu) to one of these."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be \"X86_64\" or \"ARM64\"."
  }
}

variable "min_count" {
  description = "Fewest running tasks auto scaling may leave."
  type        = number
  default     = 1

  validation {
    condition     = var.min_count >= 0 && floor(var.min_count) == var.min_count
    error_message = "min_count must be a whole number of at least 0."
  }
}

variable "max_count" {
  description = "Most running tasks auto scaling may start."
  type        = number
  default     = 2

  validation {
    condition     = var.max_count >= var.min_count && floor(var.max_count) == var.max_count
    error_message = "max_count must be a whole number and at least min_count: raise max_count or lower min_count."
  }
}

variable "desired_count" {
  description = "Tasks to start with. Auto scaling owns the count afterwards (Terraform ignores later drift)."
  type        = number
  default     = 1

  validation {
    condition     = var.desired_count >= var.min_count && var.desired_count <= var.max_count && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number between min_count and max_count (min_count <= desired_count <= max_count)."
  }
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL: how long the app gets to finish in-flight work. Also used as the target group's deregistration delay (see main.tf)."
  type        = number
  default     = 30

  validation {
    condition     = var.stop_timeout >= 2 && var.stop_timeout <= 120
    error_message = "stop_timeout must be between 2 and 120 seconds (120 is the Fargate maximum)."
  }
}

variable "secret_arns" {
  description = "Secrets Manager secrets the task definition injects (its \"secrets\" valueFrom). The execution role may read exactly these, and decrypt them with the platform key only through Secrets Manager."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.secret_arns : can(regex("^arn:aws[a-z-]*:secretsmanager:", arn))])
    error_message = "Every entry of secret_arns must be a Secrets Manager secret ARN (arn:aws:secretsmanager:...)."
  }
}

variable "task_role_policy_arns" {
  description = "Managed policies for the task role, keyed by a static name (e.g. { tasks_queue = module.tasks_queue.consumer_policy_arn }). The keys must be known at plan time; the ARNs need not be."
  type        = map(string)
  default     = {}
}

variable "load_balancer" {
  description = "Route ALB traffic to the service. Null for a service that takes no HTTP traffic from outside (a queue worker)."
  type = object({
    listener_arn          = string
    alb_security_group_id = string
    priority              = number
    path_patterns         = list(string)
    health_check_path     = string
    health_check_matcher  = optional(string, "200")
  })
  default = null

  validation {
    condition     = var.load_balancer == null || try(length(var.load_balancer.path_patterns) >= 1 && length(var.load_balancer.path_patterns) <= 5, false)
    error_message = "load_balancer.path_patterns must have 1 to 5 entries (an ALB rule condition takes at most 5 values)."
  }

  validation {
    condition     = var.load_balancer == null || try(alltrue([for p in var.load_balancer.path_patterns : startswith(p, "/") && length(p) <= 128]), false)
    error_message = "Every load_balancer.path_patterns entry must start with \"/\" (e.g. \"/api/*\", not \"api/*\") and be at most 128 characters."
  }

  validation {
    condition     = var.load_balancer == null || try(startswith(var.load_balancer.health_check_path, "/"), false)
    error_message = "load_balancer.health_check_path must start with \"/\" (e.g. \"/ready\")."
  }

  validation {
    condition     = var.load_balancer == null || try(var.load_balancer.priority >= 1 && var.load_balancer.priority <= 50000 && floor(var.load_balancer.priority) == var.load_balancer.priority, false)
    error_message = "load_balancer.priority must be a whole number from 1 to 50000, unique on the listener."
  }

  validation {
    condition     = var.load_balancer == null || var.container_port != null
    error_message = "A service behind the load balancer needs container_port: set it to the port the container listens on."
  }
}

variable "cpu_target_percent" {
  description = "Target-tracking auto scaling keeps the service's average CPU near this value. Null disables CPU scaling."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target_percent == null || try(var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90, false)
    error_message = "cpu_target_percent must be between 10 and 90, or null."
  }
}

variable "queue_scaling" {
  description = "For a queue worker: scale on visible messages per running task of this SQS queue. backlog_per_task = acceptable latency / average processing time per message per task."
  type = object({
    queue_name       = string
    backlog_per_task = number
  })
  default = null

  validation {
    condition     = var.queue_scaling == null || try(var.queue_scaling.backlog_per_task > 0, false)
    error_message = "queue_scaling.backlog_per_task must be greater than 0."
  }

  validation {
    # Backlog per task divides by the running task count: with 0 tasks the
    # metric has no value and the policy can never scale out from zero.
    condition     = var.queue_scaling == null || var.min_count >= 1
    error_message = "queue_scaling needs min_count >= 1: backlog per task is undefined with zero running tasks, so the service could never scale out again."
  }
}

variable "rollout" {
  description = <<-EOT
    How ECS replaces a running revision (deploymentConfiguration.strategy):
    ROLLING (the default: new tasks replace old ones as they become healthy),
    BLUE_GREEN, CANARY or LINEAR (a second target group takes the new
    revision and the ALB listener rule shifts traffic to it: all at once,
    canary_percent then the rest, or step_percent at a time). The three
    traffic-shifting strategies need load_balancer. bake_time_in_minutes is
    how long both revisions keep running once all traffic is on the new one
    (the window for an instant rollback). Terraform creates the service with
    this strategy and the resources it needs; `ferry deploy` then sets the
    strategy of each deploy on UpdateService (main.tf ignores it afterwards).
  EOT
  type = object({
    strategy                    = optional(string, "ROLLING")
    bake_time_in_minutes        = optional(number, 5)
    canary_percent              = optional(number)
    canary_bake_time_in_minutes = optional(number)
    step_percent                = optional(number)
    step_bake_time_in_minutes   = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["ROLLING", "BLUE_GREEN", "CANARY", "LINEAR"], var.rollout.strategy)
    error_message = "rollout.strategy must be \"ROLLING\", \"BLUE_GREEN\", \"CANARY\" or \"LINEAR\" (ECS's deploymentConfiguration.strategy names)."
  }

  validation {
    condition     = var.rollout.strategy == "ROLLING" || var.load_balancer != null
    error_message = "rollout.strategy BLUE_GREEN, CANARY and LINEAR shift ALB traffic between two target groups: they need load_balancer. A service without one (a queue worker) uses ROLLING."
  }

  validation {
    condition = alltrue([
      for minutes in [var.rollout.bake_time_in_minutes, var.rollout.canary_bake_time_in_minutes, var.rollout.step_bake_time_in_minutes] :
      minutes == null || try(minutes >= 0 && minutes <= 1440 && floor(minutes) == minutes, false)
    ])
    error_message = "rollout bake times (bake_time_in_minutes, canary_bake_time_in_minutes, step_bake_time_in_minutes) must be whole minutes from 0 to 1440 (24 hours)."
  }

  validation {
    condition     = var.rollout.canary_percent == null || try(var.rollout.canary_percent >= 0.1 && var.rollout.canary_percent <= 100, false)
    error_message = "rollout.canary_percent must be from 0.1 to 100 (the share of production traffic the canary gets)."
  }

  validation {
    # The AWS provider accepts 3-100 for a linear step (ECS: 3.0 to 100.0).
    condition     = var.rollout.step_percent == null || try(var.rollout.step_percent >= 3 && var.rollout.step_percent <= 100, false)
    error_message = "rollout.step_percent must be from 3 to 100 (the share of production traffic each linear step adds)."
  }

  validation {
    condition     = var.rollout.strategy == "CANARY" || (var.rollout.canary_percent == null && var.rollout.canary_bake_time_in_minutes == null)
    error_message = "rollout.canary_percent and canary_bake_time_in_minutes apply only to strategy = \"CANARY\": remove them or set the strategy."
  }

  validation {
    condition     = var.rollout.strategy == "LINEAR" || (var.rollout.step_percent == null && var.rollout.step_bake_time_in_minutes == null)
    error_message = "rollout.step_percent and step_bake_time_in_minutes apply only to strategy = \"LINEAR\": remove them or set the strategy."
  }
}
