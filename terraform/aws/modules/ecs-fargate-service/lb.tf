locals {
  # Target group names are limited to 32 characters; longer names keep a
  # readable prefix and a hash that keeps them unique.
  target_group_name = (
    length(local.full_name) <= 32 ? local.full_name :
    "${substr(local.full_name, 0, 25)}-${substr(sha1(local.full_name), 0, 6)}"
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

resource "aws_lb_listener_rule" "this" {
  count = local.with_lb ? 1 : 0

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
