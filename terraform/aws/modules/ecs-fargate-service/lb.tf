locals {
  # Target group names are limited to 32 characters; longer names keep a
  # readable prefix and a hash that keeps them unique.
  target_group_name = (
    length(local.full_name) <= 32 ? local.full_name :
    "${substr(local.full_name, 0, 25)}-${substr(sha1(local.full_name), 0, 6)}"
  )
  # The second target group of BLUE_GREEN, CANARY and LINEAR, by the same rule.
  alternate_target_group_name = (
    length("${local.full_name}-alt") <= 32 ? "${local.full_name}-alt" :
    "${substr(local.full_name, 0, 25)}-${substr(sha1("${local.full_name}-alt"), 0, 6)}"
  )
  # The listener rule ECS shifts traffic on, whichever of the two below exists.
  listener_rule_arn = (
    !local.with_lb ? null :
    local.shifts_traffic ? aws_lb_listener_rule.shifted[0].arn : aws_lb_listener_rule.this[0].arn
  )
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378: TLS ends at the ALB; ALB -> task traffic stays in private subnets where the service's security group admits only the ALB, and the tasks hold no certificate to serve HTTPS with.
  count = local.with_lb ? 1 : 0

  name        = local.target_group_name
  vpc_id      = var.platform.vpc_id
  target_type = "ip" # awsvpc tasks register by IP
  protocol    = "HTTP"
  port        = var.container_port

  # ECS deregisters a task from the target group first and sends SIGTERM only
  # once draining is over; the task then has stop_timeout seconds to finish.
  # A request in flight needs at most as long as the app allows itself to
  # finish work after SIGTERM, so the ALB drains for stop_timeout too instead
  # of its 300 s default, which would hold every rollout for five minutes per
  # batch of old tasks.
  deregistration_delay = var.stop_timeout

  health_check {
    path                = var.load_balancer.health_check_path
    matcher             = var.load_balancer.health_check_matcher
    protocol            = "HTTP"
    port                = "traffic-port"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

# The target group the new revision registers in during a BLUE_GREEN,
# CANARY or LINEAR deployment; the next deployment swaps the roles.
resource "aws_lb_target_group" "alternate" {
  #checkov:skip=CKV_AWS_378: TLS ends at the ALB; ALB -> task traffic stays in private subnets where the service's security group admits only the ALB, and the tasks hold no certificate to serve HTTPS with.
  count = local.shifts_traffic ? 1 : 0

  name        = local.alternate_target_group_name
  vpc_id      = var.platform.vpc_id
  target_type = "ip" # awsvpc tasks register by IP
  protocol    = "HTTP"
  port        = var.container_port

  # As the primary target group (see above).
  deregistration_delay = var.stop_timeout

  health_check {
    path                = var.load_balancer.health_check_path
    matcher             = var.load_balancer.health_check_matcher
    protocol            = "HTTP"
    port                = "traffic-port"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

# ROLLING: the rule forwards to the one target group, and Terraform owns it.
resource "aws_lb_listener_rule" "this" {
  count = local.with_lb && !local.shifts_traffic ? 1 : 0

  listener_arn = var.load_balancer.listener_arn
  priority     = var.load_balancer.priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[0].arn
  }

  condition {
    path_pattern {
      values = var.load_balancer.path_patterns
    }
  }
}

# BLUE_GREEN, CANARY, LINEAR: the production listener rule ECS shifts traffic
# on. It starts with all traffic on the primary target group; each deployment
# moves the weights (10/90, then 0/100 for a 10 % canary) and ends with the
# new revision's target group at 100, so after the first deployment the
# weights (and which group has them) are ECS's, not Terraform's: the action is
# ignored. Switching an existing service between ROLLING and a traffic-shifting
# strategy replaces the rule at the same priority; if the apply meets
# PriorityInUse (the new rule created before the old one was deleted), apply
# again.
resource "aws_lb_listener_rule" "shifted" {
  count = local.shifts_traffic ? 1 : 0

  listener_arn = var.load_balancer.listener_arn
  priority     = var.load_balancer.priority

  action {
    type = "forward"

    forward {
      target_group {
        arn    = aws_lb_target_group.this[0].arn
        weight = 100
      }

      target_group {
        arn    = aws_lb_target_group.alternate[0].arn
        weight = 0
      }
    }
  }

  condition {
    path_pattern {
      values = var.load_balancer.path_patterns
    }
  }

  lifecycle {
    ignore_changes = [action]
  }
}
