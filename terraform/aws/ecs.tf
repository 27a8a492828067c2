# The cluster, named as `environments.<env>.cluster` in .github/ferry.yml.
# The execution and task roles are per service, with least-privilege
# policies, in modules/ecs-fargate-service/iam.tf: each service's execution
# role can pull only its own image, write only its own log group and read
# only its own secrets; its task role holds only what its code uses.
resource "aws_ecs_cluster" "this" {
  name = local.name

  # Per-task CPU/memory and RunningTaskCount, which the worker's backlog-per-
  # task scaling policy divides by.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  depends_on = [terraform_data.workspace_guard]
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}
