# One security group per service: nothing reaches the tasks except the ALB
# on the container port (and only for a service behind the ALB).
resource "aws_security_group" "this" {
  # A prefix, not a fixed name: create_before_destroy needs the replacement
  # to coexist with the old group while ENIs move over.
  name_prefix = "${local.full_name}-"
  description = "ECS tasks of ${local.full_name}"
  vpc_id      = var.platform.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "from_alb" {
  count = local.with_lb ? 1 : 0

  security_group_id            = aws_security_group.this.id
  description                  = "HTTP from the ALB to the container port"
  referenced_security_group_id = var.load_balancer.alb_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
}

# The ALB's side of the same path: its security group allows no egress but
# to the services behind it, each adding its own rule.
resource "aws_vpc_security_group_egress_rule" "alb_to_service" {
  count = local.with_lb ? 1 : 0

  security_group_id            = var.load_balancer.alb_security_group_id
  description                  = "ALB to ${local.full_name} on the container port"
  referenced_security_group_id = aws_security_group.this.id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
}

# Tasks reach AWS APIs (ECR, SQS, Secrets Manager, CloudWatch Logs) and any
# HTTPS API over the NAT gateway. DNS goes to the VPC resolver, which security
# groups do not filter, so HTTPS is the only egress needed.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to AWS APIs and external HTTPS services"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}
