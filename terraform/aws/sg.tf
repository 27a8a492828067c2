# The ALB is the only way in from the internet: 443, plus 80 that only
# answers with a redirect to 443 (alb.tf). Its egress is added per service by
# modules/ecs-fargate-service (to that service's security group, on its
# container port), and each service's security group admits only the ALB:
# the tasks are reachable from the ALB alone.
resource "aws_security_group" "alb" {
  name_prefix = "${local.name}-alb-"
  description = "Public ALB of ${local.name}"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${local.name}-alb" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from the internet"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "alb_http_redirect" {
  #checkov:skip=CKV_AWS_260: port 80 only serves the HTTP -> HTTPS redirect (alb.tf); closing it would break clients that type the bare domain.
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from the internet, redirected to HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}
