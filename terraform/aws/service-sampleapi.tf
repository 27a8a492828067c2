# sampleapi: the HTTP API. Public paths through the ALB; /metrics stays
# internal (not routed). Publishes to the tasks queue.
module "sampleapi" {
  source = "./modules/ecs-fargate-service"

  name           = "sampleapi"
  platform       = local.platform
  ecr_repository = local.ecr_repositories["sampleapi"]
  container_port = 8080

  cpu           = var.services["sampleapi"].cpu
  memory        = var.services["sampleapi"].memory
  min_count     = var.services["sampleapi"].min_count
  desired_count = var.services["sampleapi"].desired_count
  max_count     = var.services["sampleapi"].max_count
  rollout       = var.services["sampleapi"].rollout

  load_balancer = {
    listener_arn          = aws_lb_listener.https.arn
    alb_security_group_id = aws_security_group.alb.id
    priority              = 100
    path_patterns         = ["/api/*", "/health", "/ready"]
    health_check_path     = "/ready"
  }

  task_role_policy_arns = {
    tasks_queue = module.tasks_queue.publisher_policy_arn
  }
}
