variable "name" {
  description = "Queue name. The dead-letter queue is named \"<name>-dlq\"."
  type        = string

  validation {
    # SQS allows 80 characters; 76 leaves room for the "-dlq" suffix.
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.name))
    error_message = "name must be 1-76 characters of letters, digits, '-' or '_' (SQS allows 80 and the module appends \"-dlq\")."
  }
}

variable "max_receive_count" {
  description = "How many times a message is received before SQS moves it to the DLQ."
  type        = number
  default     = 3

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000."
  }
}

variable "visibility_timeout_seconds" {
  description = "How long a received message stays hidden. Set it above the consumer's worst-case processing time, or messages are processed twice."
  type        = number
  default     = 60

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200 (12 hours)."
  }
}

variable "message_retention_seconds" {
  description = "How long the main queue keeps a message."
  type        = number
  default     = 345600 # 4 days

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long the DLQ keeps a message. For standard queues SQS counts from the original enqueue time, so this must not be shorter than the main queue's retention."
  type        = number
  default     = 1209600 # 14 days, the SQS maximum

  validation {
    condition     = var.dlq_message_retention_seconds >= var.message_retention_seconds && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be at least message_retention_seconds (a message's age carries over into the DLQ) and at most 1209600."
  }
}

variable "receive_wait_time_seconds" {
  description = "Default long-polling wait. 20 s cuts empty receives (and their cost) to a minimum."
  type        = number
  default     = 20

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20
    error_message = "receive_wait_time_seconds must be between 0 and 20."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for server-side encryption of both queues. Null uses SQS-managed SSE."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...) or null."
  }
}

variable "dlq_depth_alarm_threshold" {
  description = "Alarm when the DLQ holds more than this many messages. 0: any dead letter is an incident."
  type        = number
  default     = 0
}

variable "oldest_message_age_alarm_seconds" {
  description = "Alarm when the oldest message of the main queue is older than this: consumers are down or falling behind."
  type        = number
  default     = 600

  validation {
    condition     = var.oldest_message_age_alarm_seconds >= 60
    error_message = "oldest_message_age_alarm_seconds must be at least 60 (SQS publishes the metric every minute)."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires or recovers (e.g. an SNS topic)."
  type        = list(string)
  default     = []
}
