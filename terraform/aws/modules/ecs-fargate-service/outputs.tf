output "ecs_service_name" {
  description = "ECS service name (\"<cluster>-<service>\"), as in .github/ferry.yml."
  value       = aws_ecs_service.this.name
}

output "task_definition_family" {
  description = "Task definition family that releases register revisions of."
  value       = aws_ecs_task_definition.bootstrap.family
}

output "container_name" {
  description = "Name of the essential container (the load balancer routes to it)."
  value       = var.name
}

output "container_port" {
  description = "Port the container listens on, or null."
  value       = var.container_port
}

output "execution_role_arn" {
  description = "Execution role for the task definition's executionRoleArn."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "Task role for the task definition's taskRoleArn."
  value       = aws_iam_role.task.arn
}

output "log_group_name" {
  description = "CloudWatch log group for the awslogs driver."
  value       = aws_cloudwatch_log_group.this.name
}

output "security_group_id" {
  description = "Security group of the service's tasks."
  value       = aws_security_group.this.id
}

output "target_group_arn" {
  description = "ALB target group, or null for a service without load balancer."
  value       = local.with_lb ? aws_lb_target_group.this[0].arn : null
}

output "rollout_strategy" {
  description = "The deployment strategy the service was created with and has the resources for (ROLLING, BLUE_GREEN, CANARY or LINEAR); `ferry deploy` sets each deploy's."
  value       = var.rollout.strategy
}

output "alternate_target_group_arn" {
  description = "Second ALB target group of a BLUE_GREEN, CANARY or LINEAR service, or null."
  value       = local.shifts_traffic ? aws_lb_target_group.alternate[0].arn : null
}
