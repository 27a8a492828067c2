# One customer managed key per environment for data at rest that the
# platform owns: CloudWatch log groups, the SQS queues, the worker's secret.
# A CMK (rather than AWS managed keys) lets the key policy and IAM decide who
# can decrypt, and logs every use in CloudTrail.
data "aws_iam_policy_document" "platform_key" {
  #checkov:skip=CKV_AWS_109: the account-root statement is AWS's default key policy: it delegates access control to IAM policies and does not grant anything by itself.
  #checkov:skip=CKV_AWS_111: same statement; in a key policy "*" means this key only.
  #checkov:skip=CKV_AWS_356: same statement; in a key policy "*" means this key only.
  # Standard delegation to IAM: without it only the key policy could grant
  # access, and IAM policies (such as kms:ViaService-scoped grants in the
  # service roles) would have no effect.
  statement {
    sid       = "AccountIamPolicies"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy, "*" means this key

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts log groups with the key itself (not on behalf of
  # a caller), so it needs a grant in the key policy, limited to this
  # account's log groups.
  statement {
    sid = "CloudWatchLogs"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "platform" {
  description             = "${local.name}: logs, queues and secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.platform_key.json
}

resource "aws_kms_alias" "platform" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.platform.key_id
}
