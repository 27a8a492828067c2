#!/usr/bin/env python3
"""Prometheus exporter for SQS queue depths (task queue and dead-letter queue).

Serves GET /metrics with, for each queue given:
  sqs_queue_messages{queue, state="visible|in_flight|delayed"}
taken from GetQueueAttributes at scrape time. A failed AWS call makes the
scrape fail (HTTP 500), so `up{job="sqs-exporter"}` shows it.

Locally it runs against moto; on AWS the same numbers come from CloudWatch
(ApproximateNumberOfMessagesVisible and friends), which this stands in for.
Runs in the moto image, which ships boto3.
"""
import argparse
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

ATTRIBUTES = {
    "ApproximateNumberOfMessages": "visible",
    "ApproximateNumberOfMessagesNotVisible": "in_flight",
    "ApproximateNumberOfMessagesDelayed": "delayed",
}


def render(sqs, queue_urls) -> str:
    lines = [
        "# HELP sqs_queue_messages Approximate number of messages in the queue, by state.",
        "# TYPE sqs_queue_messages gauge",
    ]
    for url in queue_urls:
        name = url.rstrip("/").rsplit("/", 1)[-1]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(ATTRIBUTES))["Attributes"]
        for attr, state in ATTRIBUTES.items():
            lines.append(f'sqs_queue_messages{{queue="{name}",state="{state}"}} {int(attrs.get(attr, 0))}')
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True, help="SQS endpoint, e.g. http://sqs:5000")
    p.add_argument("--queue-url", action="append", required=True, help="a queue to report (repeatable)")
    p.add_argument("--listen", default="0.0.0.0:9434", help="host:port to serve /metrics on")
    p.add_argument("--region", default="us-east-1")
    a = p.parse_args()
    sqs = boto3.client("sqs", endpoint_url=a.endpoint, region_name=a.region)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path not in ("/metrics", "/health"):
                self.send_error(404)
                return
            try:
                body = render(sqs, a.queue_url).encode() if self.path == "/metrics" else b"ok\n"
                status = 200
            except Exception as e:  # noqa: BLE001 - reported to the scraper
                body, status = f"sqs: {e}\n".encode(), 500
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # scrapes every 15 s are not worth a log line
            pass

    host, port = a.listen.rsplit(":", 1)
    ThreadingHTTPServer((host, int(port)), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
