# What several services share: the tasks queue between sampleapi (publisher)
# and sampleworker (consumer), and the worker's secret.

module "tasks_queue" {
  source = "./modules/sqs-queue"

  name = "${local.name}-tasks"
  # The worker leaves a failed message for redelivery; after 3 receives SQS
  # moves it to the DLQ (services/sampleworker relies on this number).
  max_receive_count = 3
  # Above the worker's worst case for one message (send an email, with
  # retries), so a slow message is not delivered twice.
  visibility_timeout_seconds = 120
  kms_key_arn                = aws_kms_key.platform.arn
  alarm_actions              = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
}

# The worker's credentials for the email provider. Terraform creates the
# secret, never its value (which would then sit in the state): set it once
# per environment with
#   aws secretsmanager put-secret-value --secret-id <sampleworker_secret_arn> --secret-string '<json>'
resource "aws_secretsmanager_secret" "sampleworker" {
  #checkov:skip=CKV2_AWS_57: the value is an API key issued by the email provider; it is rotated at the provider and then put here, there is no rotation Lambda that could do it.
  name                    = "${var.project}/${var.environment}/sampleworker"
  description             = "sampleworker's email provider credentials (${var.environment})"
  kms_key_id              = aws_kms_key.platform.arn
  recovery_window_in_days = var.secret_recovery_window_days
}
