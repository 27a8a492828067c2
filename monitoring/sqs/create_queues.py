#!/usr/bin/env python3
"""Creates the task queue and its dead-letter queue on the local SQS (moto).

Mirrors terraform/aws's sqs-queue module: a redrive policy that moves a message
to the DLQ after `--max-receive-count` receives. CreateQueue is idempotent, so
running this twice is harmless. Runs in the moto image, which ships boto3.
"""
import argparse
import json
import sys
import time

import boto3


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--endpoint", required=True, help="SQS endpoint, e.g. http://sqs:5000")
    p.add_argument("--queue", required=True, help="task queue name")
    p.add_argument("--dlq", required=True, help="dead-letter queue name")
    p.add_argument("--max-receive-count", type=int, default=3)
    p.add_argument("--visibility-timeout", type=int, default=30)
    p.add_argument("--region", default="us-east-1")
    a = p.parse_args()

    sqs = boto3.client("sqs", endpoint_url=a.endpoint, region_name=a.region)
    for attempt in range(30):  # the endpoint may still be starting
        try:
            dlq_url = sqs.create_queue(QueueName=a.dlq)["QueueUrl"]
            break
        except Exception as e:  # noqa: BLE001 - any failure is "not up yet"
            if attempt == 29:
                print(f"create_queues: {a.endpoint} not reachable: {e}", file=sys.stderr)
                return 1
            time.sleep(1)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=a.queue,
        Attributes={
            "VisibilityTimeout": str(a.visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": a.max_receive_count}),
        },
    )["QueueUrl"]
    print(f"create_queues: {url} (dead letters after {a.max_receive_count} receives to {dlq_url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
