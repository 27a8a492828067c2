# sampleworker: consumes the tasks queue. No load balancer; /metrics and
# /health on 9090 for the container only. Scales on the queue backlog.
module "sampleworker" {
  source = "./modules/ecs-fargate-service"

  name           = "sampleworker"
  platform       = local.platform
  ecr_repository = local.ecr_repositories["sampleworker"]
  container_port = 9090

  cpu           = var.services["sampleworker"].cpu
  memory        = var.services["sampleworker"].memory
  min_count     = var.services["sampleworker"].min_count
  desired_count = var.services["sampleworker"].desired_count
  max_count     = var.services["sampleworker"].max_count
  rollout       = var.services["sampleworker"].rollout

  # Up to the Fargate maximum: finishing in-flight messages beats leaving
  # them to time out and be received again.
  stop_timeout = 120

  queue_scaling = {
    queue_name = module.tasks_queue.queue_name
    # ~2 s per message and 60 s acceptable wait: 30 messages per task.
    backlog_per_task = 30
  }

  secret_arns = [aws_secretsmanager_secret.sampleworker.arn]

  task_role_policy_arns = {
    tasks_queue = module.tasks_queue.consumer_policy_arn
  }
}
