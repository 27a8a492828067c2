locals {
  # "<project>-<env>-<service>": the names .github/ferry.yml uses
  # (ecs-service: "{project}-{env}-<service>").
  full_name      = "${var.platform.cluster_name}-${var.name}"
  log_group_name = "/ecs/${var.platform.cluster_name}/${var.name}"
  with_lb        = var.load_balancer != null
  # BLUE_GREEN, CANARY and LINEAR run the new revision in a second target
  # group and shift ALB traffic to it; ROLLING replaces tasks in place.
  shifts_traffic = local.with_lb && var.rollout.strategy != "ROLLING"
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.platform.log_retention_days
  kms_key_id        = var.platform.kms_key_arn
}

# The bootstrap revision: ECS needs a task definition to create the service.
# Every release registers a new revision of the same family from the Jsonnet
# task definition (ferry render + deploy), and the service ignores
# task_definition below, so this resource never rolls anything back. Keep the
# container name, port and log group in step with task-definitions/<name>.jsonnet
# (terraform/check verifies it).
resource "aws_ecs_task_definition" "bootstrap" {
  family                   = local.full_name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name                   = var.name
      image                  = "${var.ecr_repository.url}:${var.initial_image_tag}"
      essential              = true
      readonlyRootFilesystem = true
      stopTimeout            = var.stop_timeout
      portMappings = var.container_port == null ? [] : [
        { containerPort = var.container_port, protocol = "tcp", name = "http" }
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = var.platform.region
          awslogs-stream-prefix = var.name
        }
      }
    }
  ])
}

resource "aws_ecs_service" "this" {
  name                    = local.full_name
  cluster                 = var.platform.cluster_arn
  task_definition         = aws_ecs_task_definition.bootstrap.arn
  desired_count           = var.desired_count
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  # No interactive shell into production tasks.
  enable_execute_command = false
  # Ferry waits for rollouts; Terraform only creates and reconfigures.
  wait_for_steady_state = false

  # Keep full capacity during a rollout: start new tasks first (200 %),
  # stop old ones only once the new ones are healthy (100 %).
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  # A release whose tasks keep failing is stopped and the service returns to
  # the last revision that reached steady state.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  deployment_controller {
    type = "ECS"
  }

  # The strategy the service is created with (ROLLING needs no block: it is
  # ECS's default, and today's services keep a plan without changes). The
  # fields are ignored afterwards (lifecycle below).
  dynamic "deployment_configuration" {
    for_each = var.rollout.strategy == "ROLLING" ? [] : [var.rollout]
    content {
      strategy             = deployment_configuration.value.strategy
      bake_time_in_minutes = deployment_configuration.value.bake_time_in_minutes

      dynamic "canary_configuration" {
        for_each = deployment_configuration.value.strategy == "CANARY" ? [deployment_configuration.value] : []
        content {
          canary_percent              = canary_configuration.value.canary_percent
          canary_bake_time_in_minutes = canary_configuration.value.canary_bake_time_in_minutes
        }
      }

      dynamic "linear_configuration" {
        for_each = deployment_configuration.value.strategy == "LINEAR" ? [deployment_configuration.value] : []
        content {
          step_percent              = linear_configuration.value.step_percent
          step_bake_time_in_minutes = linear_configuration.value.step_bake_time_in_minutes
        }
      }
    }
  }

  network_configuration {
    subnets          = var.platform.private_subnet_ids
    security_groups  = [aws_security_group.this.id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = local.with_lb ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.this[0].arn
      container_name   = var.name
      container_port   = var.container_port

      # What ECS needs to shift traffic: the second target group, the
      # production listener rule whose weights it moves, and the role it
      # moves them with (iam.tf).
      dynamic "advanced_configuration" {
        for_each = local.shifts_traffic ? [1] : []
        content {
          alternate_target_group_arn = aws_lb_target_group.alternate[0].arn
          production_listener_rule   = local.listener_rule_arn
          role_arn                   = aws_iam_role.traffic[0].arn
        }
      }
    }
  }

  # Give a new task time to start before ALB health checks can kill it.
  health_check_grace_period_seconds = local.with_lb ? 60 : null

  lifecycle {
    # Releases belong to Ferry (task_definition), the task count to auto
    # scaling (desired_count); Terraform owns everything else, except the
    # strategy of a deployment: `ferry deploy` sets it on UpdateService from
    # the manifest's `rollout:` for every deploy (e.g. a canary in prod), so
    # Terraform's strategy is only the one the service is created with and
    # the switch for the resources a traffic-shifting strategy needs.
    ignore_changes = [
      task_definition,
      desired_count,
      deployment_configuration[0].strategy,
      deployment_configuration[0].bake_time_in_minutes,
      deployment_configuration[0].canary_configuration,
      deployment_configuration[0].linear_configuration,
    ]
  }

  # The listener rule must exist before ECS registers targets, the execution
  # role's policy before the first task pulls its image, and the traffic
  # role's before ECS shifts traffic with it.
  depends_on = [
    aws_lb_listener_rule.this,
    aws_lb_listener_rule.shifted,
    aws_iam_role_policy_attachment.execution,
    aws_iam_role_policy_attachment.traffic,
  ]
}
