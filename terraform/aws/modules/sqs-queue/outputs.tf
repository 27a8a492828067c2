output "queue_name" {
  description = "Name of the main queue."
  value       = aws_sqs_queue.this.name
}

output "queue_url" {
  description = "URL of the main queue (what SDK clients take)."
  value       = aws_sqs_queue.this.url
}

output "queue_arn" {
  description = "ARN of the main queue."
  value       = aws_sqs_queue.this.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "publisher_policy_arn" {
  description = "Managed policy to attach to roles that send to the queue."
  value       = aws_iam_policy.publisher.arn
}

output "consumer_policy_arn" {
  description = "Managed policy to attach to roles that consume the queue."
  value       = aws_iam_policy.consumer.arn
}
