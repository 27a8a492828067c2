# Managed policies that callers attach to the roles that use the queue, so a
# service's task role gets exactly "publish to this queue" or "consume this
# queue" and nothing broader.

data "aws_iam_policy_document" "publisher" {
  statement {
    sid       = "Publish"
    actions   = ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.this.arn]
  }

  dynamic "statement" {
    for_each = local.sse_kms ? [1] : []
    content {
      sid       = "EncryptMessages"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.kms_key_arn]

      # The key can only be used on the caller's behalf by SQS.
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${data.aws_region.current.region}.amazonaws.com"]
      }
    }
  }
}

data "aws_iam_policy_document" "consumer" {
  statement {
    sid = "Consume"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueUrl",
      "sqs:GetQueueAttributes",
    ]
    resources = [aws_sqs_queue.this.arn]
  }

  dynamic "statement" {
    for_each = local.sse_kms ? [1] : []
    content {
      sid       = "DecryptMessages"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${data.aws_region.current.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_policy" "publisher" {
  name        = "${var.name}-publisher"
  description = "Send messages to the ${var.name} SQS queue."
  policy      = data.aws_iam_policy_document.publisher.json
}

resource "aws_iam_policy" "consumer" {
  name        = "${var.name}-consumer"
  description = "Receive, delete and extend visibility of messages of the ${var.name} SQS queue."
  policy      = data.aws_iam_policy_document.consumer.json
}
