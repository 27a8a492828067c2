# What `ferry render` and the workflows need, per environment (workspace):
#   terraform workspace select staging && terraform output -json
# The `services` map is keyed by the service names of .github/ferry.yml.

locals {
  # Every service-<name>.tf module, by service name.
  services = {
    sampleapi    = module.sampleapi
    sampleworker = module.sampleworker
  }
}

output "region" {
  description = "AWS region."
  value       = local.region
}

output "cluster_name" {
  description = "ECS cluster (environments.<env>.cluster in .github/ferry.yml)."
  value       = aws_ecs_cluster.this.name
}

output "services" {
  description = "Per service: what its task definition and deployment need."
  value = {
    for name, svc in local.services : name => {
      ecs_service            = svc.ecs_service_name
      task_definition_family = svc.task_definition_family
      container_name         = svc.container_name
      container_port         = svc.container_port
      execution_role_arn     = svc.execution_role_arn
      task_role_arn          = svc.task_role_arn
      log_group              = svc.log_group_name
      ecr_repository_url     = local.ecr_repositories[name].url
    }
  }
}

output "ecr_repository_urls" {
  description = "ECR repository URL per service (\"{project}/<service>\")."
  value       = { for name, repo in local.ecr_repositories : name => repo.url }
}

output "tasks_queue_url" {
  description = "The tasks queue: sampleapi publishes, sampleworker consumes."
  value       = module.tasks_queue.queue_url
}

output "tasks_queue_arn" {
  description = "ARN of the tasks queue."
  value       = module.tasks_queue.queue_arn
}

output "tasks_dlq_url" {
  description = "Dead-letter queue of the tasks queue (messages received 3 times)."
  value       = module.tasks_queue.dlq_url
}

output "sampleworker_secret_arn" {
  description = "Secrets Manager secret the worker's task definition injects (set its value out of band)."
  value       = aws_secretsmanager_secret.sampleworker.arn
}

output "alb_dns_name" {
  description = "DNS name of the ALB: point the environment's URL (.github/ferry.yml) at it."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Route 53 zone of the ALB, for an alias record."
  value       = aws_lb.this.zone_id
}

output "github_actions_role_arns" {
  description = "Roles for aws-actions/configure-aws-credentials: plan, apply, deploy (this environment) and build (account-wide; null in the workspace that does not manage account resources)."
  value = {
    plan   = aws_iam_role.github["plan"].arn
    apply  = aws_iam_role.github["apply"].arn
    deploy = aws_iam_role.github["deploy"].arn
    build  = var.manage_account_resources ? aws_iam_role.github_build[0].arn : null
  }
}
