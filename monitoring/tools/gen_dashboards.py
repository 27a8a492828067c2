#!/usr/bin/env python3
"""Writes the Grafana dashboards (grafana/dashboards/*.json) from this file.

  python3 monitoring/tools/gen_dashboards.py monitoring/grafana/dashboards

monitoring/check fails when the committed JSON differs from what this writes:
edit here, not in the JSON (a change made in Grafana's UI: port it here).
Data source UIDs are the provisioned ones (grafana/provisioning/datasources).
"""
import itertools
import json
import sys

OUT = sys.argv[1]
DS = {"type": "prometheus", "uid": "prometheus"}
_id = itertools.count(1)


def target(expr, legend="", ref="A", instant=False):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto", "refId": ref}
    if instant:
        t.update(instant=True, range=False, format="table")
    return t


def panel(kind, title, grid, targets, unit=None, desc=None, **kw):
    p = {
        "id": next(_id),
        "type": kind,
        "title": title,
        "datasource": DS,
        "gridPos": dict(zip("xywh", grid)),
        "targets": [target(*t) if isinstance(t, tuple) else t for t in targets],
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {},
    }
    if unit:
        p["fieldConfig"]["defaults"]["unit"] = unit
    if desc:
        p["description"] = desc
    for k, v in kw.items():
        if k == "defaults":
            p["fieldConfig"]["defaults"].update(v)
        elif k == "options":
            p["options"].update(v)
        else:
            p[k] = v
    return p


def row(title, y, **kw):
    r = {
        "id": next(_id),
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
        "panels": [],
    }
    r.update(kw)
    return r


def thresholds(*steps):
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def dashboard(uid, title, desc, panels, templating=None, annotations=None, tags=()):
    return {
        "uid": uid,
        "title": title,
        "description": desc,
        "tags": ["ferry", *tags],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": templating or []},
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
            + (annotations or [])
        },
        "links": [{"title": "Ferry dashboards", "type": "dashboards", "tags": ["ferry"], "asDropdown": False}],
        "panels": panels,
    }


RI = "$__rate_interval"
common_ann = [
    {
        "name": "Restarts (local deploys)",
        "datasource": DS,
        "enable": True,
        "iconColor": "blue",
        "step": "15s",
        "expr": f'(resets(sum by (service) (http_requests_total{{job="sampleapi"}})[2m:15s]) > 0) or (resets(sum by (service) (messages_received_total{{job="sampleworker"}})[2m:15s]) > 0)',
        "titleFormat": "{{service}} restarted",
        "textFormat": "A counter of {{service}} went back to zero: the process was restarted (a new image, or a crash).",
    },
    {
        "name": "SLO alerts firing",
        "datasource": DS,
        "enable": True,
        "iconColor": "red",
        "step": "30s",
        "expr": 'ALERTS{alertname="SLOErrorBudgetBurn", alertstate="firing"}',
        "titleFormat": "{{slo}} burning ({{severity}}, {{long_window}}/{{short_window}})",
        "textFormat": "",
    },
]
# ---------------- Services overview
P = []
P.append(row("Health", 0))
P.append(
    panel(
        "stat",
        "Targets up",
        (0, 1, 12, 4),
        [('up{job=~"sampleapi|sampleworker|sqs-exporter"}', "{{job}} {{service}} {{instance}}")],
        desc="1 = Prometheus scraped the target at its last attempt.",
        defaults={
            "mappings": [
                {
                    "type": "value",
                    "options": {"0": {"text": "DOWN", "color": "red"}, "1": {"text": "UP", "color": "green"}},
                }
            ],
            "thresholds": thresholds(("red", None), ("green", 1)),
        },
        options={"colorMode": "background", "graphMode": "none", "textMode": "value_and_name"},
    )
)
P.append(
    panel(
        "stat",
        "API requests / s",
        (12, 1, 4, 4),
        [('sum(rate(http_requests_total{job="sampleapi", route!~"/health|/ready|/metrics"}[5m]))', "")],
        unit="reqps",
        options={"graphMode": "area"},
    )
)
P.append(
    panel(
        "stat",
        "API 5xx share (5m)",
        (16, 1, 4, 4),
        [
            (
                '(sum(rate(http_requests_total{job="sampleapi", route!~"/health|/ready|/metrics", status=~"5.."}[5m])) or vector(0)) / sum(rate(http_requests_total{job="sampleapi", route!~"/health|/ready|/metrics"}[5m]))',
                "",
            )
        ],
        unit="percentunit",
        defaults={"decimals": 2, "thresholds": thresholds(("green", None), ("orange", 0.005), ("red", 0.05))},
        options={"colorMode": "background"},
    )
)
P.append(
    panel(
        "stat",
        "Dead-letter queue",
        (20, 1, 4, 4),
        [('sum(sqs_queue_messages{queue=~".*-dlq", state="visible"})', "")],
        desc="Messages that failed every delivery attempt (maxReceiveCount) and need a human. See monitoring/runbooks/dead-letter-queue.md.",
        defaults={"thresholds": thresholds(("green", None), ("red", 1)), "noValue": "no data (sqs-exporter down?)"},
        options={"colorMode": "background"},
    )
)
P.append(row("API (sampleapi)", 5))
P.append(
    panel(
        "timeseries",
        "Request rate by route and status",
        (0, 6, 12, 8),
        [(f'sum by (route, status) (rate(http_requests_total{{job="sampleapi"}}[{RI}]))', "{{route}} {{status}}")],
        unit="reqps",
    )
)
P.append(
    panel(
        "timeseries",
        "5xx share by route",
        (12, 6, 12, 8),
        [
            (
                f'(sum by (route) (rate(http_requests_total{{job="sampleapi", status=~"5.."}}[{RI}])) or 0 * sum by (route) (rate(http_requests_total{{job="sampleapi"}}[{RI}]))) / sum by (route) (rate(http_requests_total{{job="sampleapi"}}[{RI}]))',
                "{{route}}",
            )
        ],
        unit="percentunit",
        defaults={"min": 0},
    )
)
P.append(
    panel(
        "timeseries",
        "Latency percentiles by route",
        (0, 14, 12, 8),
        [
            (
                f'histogram_quantile(0.5, sum by (route, le) (rate(http_request_duration_seconds_bucket{{job="sampleapi"}}[{RI}])))',
                "p50 {{route}}",
                "A",
            ),
            (
                f'histogram_quantile(0.9, sum by (route, le) (rate(http_request_duration_seconds_bucket{{job="sampleapi"}}[{RI}])))',
                "p90 {{route}}",
                "B",
            ),
            (
                f'histogram_quantile(0.99, sum by (route, le) (rate(http_request_duration_seconds_bucket{{job="sampleapi"}}[{RI}])))',
                "p99 {{route}}",
                "C",
            ),
        ],
        unit="s",
        desc="The latency SLO's threshold is 300 ms (dashed line).",
        defaults={
            "custom": {"thresholdsStyle": {"mode": "dashed"}},
            "thresholds": thresholds(("transparent", None), ("red", 0.3)),
        },
    )
)
P.append(
    panel(
        "timeseries",
        "SQS publish errors",
        (12, 14, 12, 8),
        [(f'sum by (service) (rate(sqs_publish_errors_total{{job="sampleapi"}}[{RI}]))', "{{service}}")],
        unit="ops",
        desc="Tasks the API accepted but could not hand to SQS (the client got a 5xx).",
    )
)
P.append(row("Workers (sampleworker)", 22))
P.append(
    panel(
        "timeseries",
        "Emails sent by worker and outcome",
        (0, 23, 12, 8),
        [(f'sum by (service, status) (rate(emails_sent_total{{job="sampleworker"}}[{RI}]))', "{{service}} {{status}}")],
        unit="ops",
    )
)
P.append(
    panel(
        "timeseries",
        "Messages received (redeliveries included)",
        (12, 23, 12, 8),
        [(f'sum by (service) (rate(messages_received_total{{job="sampleworker"}}[{RI}]))', "{{service}}")],
        unit="ops",
    )
)
P.append(
    panel(
        "timeseries",
        "Queue age: message age at receive",
        (0, 31, 12, 8),
        [
            (
                f'histogram_quantile(0.5, sum by (le) (rate(message_age_seconds_bucket{{job="sampleworker"}}[{RI}])))',
                "p50",
                "A",
            ),
            (
                f'histogram_quantile(0.99, sum by (le) (rate(message_age_seconds_bucket{{job="sampleworker"}}[{RI}])))',
                "p99",
                "B",
            ),
        ],
        unit="s",
        desc="How long messages waited in the queue before a worker got them (now - SentTimestamp). Growing age = workers cannot keep up, or redeliveries.",
    )
)
P.append(
    panel(
        "timeseries",
        "Email send duration",
        (12, 31, 12, 8),
        [
            (
                f'histogram_quantile(0.5, sum by (service, le) (rate(email_send_duration_seconds_bucket{{job="sampleworker"}}[{RI}])))',
                "p50 {{service}}",
                "A",
            ),
            (
                f'histogram_quantile(0.99, sum by (service, le) (rate(email_send_duration_seconds_bucket{{job="sampleworker"}}[{RI}])))',
                "p99 {{service}}",
                "B",
            ),
        ],
        unit="s",
    )
)
P.append(
    panel(
        "timeseries",
        "Messages in flight",
        (0, 39, 12, 8),
        [('sum by (service) (inflight_messages{job="sampleworker"})', "{{service}}")],
        unit="short",
    )
)
P.append(
    panel(
        "timeseries",
        "Queue depth (task queue and DLQ)",
        (12, 39, 12, 8),
        [('sqs_queue_messages{job="sqs-exporter"}', "{{queue}} {{state}}")],
        unit="short",
        desc="From GetQueueAttributes (monitoring/sqs/queue_exporter.py); on AWS the same numbers are CloudWatch's ApproximateNumberOfMessages*.",
    )
)
P.append(
    panel(
        "timeseries",
        "Duplicate tasks dropped (idempotency keys)",
        (0, 47, 12, 8),
        [
            (f'sum by (service) (rate(emails_deduplicated_total{{job="sampleworker"}}[{RI}]))', "dropped {{service}}", "A"),
            (f'sum by (service) (rate(dedup_keys_evicted_total{{job="sampleworker"}}[{RI}]))', "keys forgotten early {{service}}", "B"),
        ],
        unit="ops",
        desc="Messages deleted unprocessed because their idempotency key was already processed (clients retrying a 503 that had in fact been queued). Keys forgotten early: DEDUP_MAX_KEYS is too small for the window.",
    )
)
over = dashboard(
    "ferry-services",
    "Services overview",
    "sampleapi and sampleworker: health, traffic, errors, latency, queue.",
    P,
    annotations=common_ann,
    tags=("services",),
)
json.dump(over, open(f"{OUT}/services-overview.json", "w"), indent=2)
open(f"{OUT}/services-overview.json", "a").write("\n")

# ---------------- SLO dashboard: one repeated row per SLO
S = 'slo="$slo"'
Q = []
Q.append(row("SLO: $slo", 0, repeat="slo"))
Q.append(
    panel(
        "stat",
        "SLI, last 5 minutes",
        (0, 1, 4, 5),
        [(f"1 - slo:sli_error:ratio_rate5m{{{S}}}", "")],
        unit="percentunit",
        defaults={"decimals": 3, "noValue": "no traffic"},
        desc="Share of good events in the last 5 minutes.",
    )
)
Q.append(
    panel(
        "stat",
        "Objective",
        (4, 1, 3, 5),
        [(f"slo:objective:ratio{{{S}}}", "")],
        unit="percentunit",
        defaults={"decimals": 2},
        desc="Over a 30-day window; the objective is recorded once, in monitoring/prometheus/rules/slo.rules.yml.",
    )
)
Q.append(
    panel(
        "stat",
        "SLI over the SLO window",
        (7, 1, 4, 5),
        [(f"1 - slo:sli_error:ratio_rate30d{{{S}}}", "")],
        unit="percentunit",
        defaults={"decimals": 3, "noValue": "no traffic"},
        desc="Over the last 30 days (or since Prometheus started, if less).",
    )
)
Q.append(
    panel(
        "gauge",
        "Error budget remaining",
        (11, 1, 5, 5),
        [(f"slo:error_budget_remaining:ratio{{{S}}}", "")],
        unit="percentunit",
        defaults={
            "min": 0,
            "max": 1,
            "decimals": 1,
            "thresholds": thresholds(("red", None), ("orange", 0.25), ("green", 0.5)),
        },
        desc="1 - (errors over the window / errors the objective allows). Below 0: the budget is overspent.",
    )
)
Q.append(
    panel(
        "table",
        "Burn-rate alerts",
        (16, 1, 8, 5),
        [target(f'ALERTS{{alertname="SLOErrorBudgetBurn", {S}}}', "", "A", True)],
        desc="Pending or firing SLOErrorBudgetBurn alerts for this SLO. Empty = none.",
        transformations=[
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "Value": True, "__name__": True, "alertname": True, "slo": True},
                    "indexByName": {"alertstate": 0, "severity": 1, "long_window": 2, "short_window": 3},
                },
            }
        ],
        defaults={"noValue": "no burn alert"},
    )
)
Q.append(
    panel(
        "timeseries",
        "Burn rate per window",
        (0, 6, 12, 8),
        [
            (f"slo:burn_rate:{w}{{{S}}}", w, chr(65 + i))
            for i, w in enumerate(["5m", "30m", "1h", "2h", "6h", "1d", "3d"])
        ],
        unit="suffix:x",
        desc="1 = spending exactly the budget over 30 days. Alerts: 1h and 5m over 14.4 (page), 6h and 30m over 6 (page), 1d and 2h over 3 (ticket), 3d and 6h over 1 (ticket).",
        defaults={
            "min": 0,
            "custom": {"thresholdsStyle": {"mode": "line+area"}},
            "thresholds": thresholds(("transparent", None), ("yellow", 1), ("orange", 6), ("red", 14.4)),
        },
    )
)
Q.append(
    panel(
        "timeseries",
        "SLI and objective",
        (12, 6, 12, 8),
        [
            (f"1 - slo:sli_error:ratio_rate5m{{{S}}}", "SLI (5m)", "A"),
            (f"1 - slo:sli_error:ratio_rate1h{{{S}}}", "SLI (1h)", "B"),
            (f"slo:objective:ratio{{{S}}}", "objective", "C"),
        ],
        unit="percentunit",
        defaults={"decimals": 3},
    )
)
Q.append(
    panel(
        "timeseries",
        "Error budget remaining over time",
        (0, 14, 24, 6),
        [(f"slo:error_budget_remaining:ratio{{{S}}}", "remaining")],
        unit="percentunit",
        defaults={
            "custom": {"thresholdsStyle": {"mode": "area"}},
            "thresholds": thresholds(("red", None), ("transparent", 0)),
        },
    )
)
# Canary vs baseline: the same SLIs per running version (rules/version.rules.yml),
# so a canary's error ratio and latency show beside the baseline's at the same
# time. One row after the repeated ones (a repeated row takes every panel up
# to the next row).
Q.append(row("Canary vs baseline (by version)", 20))
Q.append(
    panel(
        "timeseries",
        "Canary vs baseline: error ratio by version",
        (0, 21, 12, 8),
        [
            ('slo_version:sli_error:ratio_rate5m{slo=~"$slo"}', "{{slo}} {{version}}", "A"),
            ('slo:error_budget:ratio{slo=~"$slo"}', "{{slo}} budget", "B"),
        ],
        unit="percentunit",
        defaults={"decimals": 3, "min": 0, "noValue": "no traffic"},
        desc="Each SLO's error ratio over 5 minutes, one line per version the services run (their `version` label, from the image tag). During a canary the new version's line sits beside the baseline's; the budget line is the ratio the objective allows (above it, the version burns faster than 1x).",
    )
)
Q.append(
    panel(
        "timeseries",
        "Canary vs baseline: latency p99 by version",
        (12, 21, 12, 8),
        [
            ("version:http_request_duration_seconds:p99_rate5m", "API {{version}}", "A"),
            ("version:email_send_duration_seconds:p99_rate5m", "worker send {{version}}", "B"),
        ],
        unit="s",
        desc="99th percentile over 5 minutes per version: the API's requests (the latency SLO's threshold is 300 ms) and the worker's e-mail sends.",
        defaults={
            "min": 0,
            "custom": {"thresholdsStyle": {"mode": "line"}},
            "thresholds": thresholds(("transparent", None), ("red", 0.3)),
        },
    )
)
tmpl = [
    {
        "name": "slo",
        "label": "SLO",
        "type": "query",
        "datasource": DS,
        "query": {"query": "label_values(slo:objective:ratio, slo)", "refId": "slo"},
        "definition": "label_values(slo:objective:ratio, slo)",
        "refresh": 1,
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
    }
]
slo = dashboard(
    "ferry-slo",
    "SLO",
    "Per SLO: SLI now, error budget remaining, burn rate per window, alert state; a canary against its baseline, by version.",
    Q,
    templating=tmpl,
    annotations=common_ann[1:],
    tags=("slo",),
)
slo["time"] = {"from": "now-6h", "to": "now"}
json.dump(slo, open(f"{OUT}/slo.json", "w"), indent=2)
open(f"{OUT}/slo.json", "a").write("\n")

# ---------------- Release insight: DORA's four keys from `ferry metrics`
E = 'environment="$environment"'
ALL = f'service="*",{E}'
SVC = f'service!="*",{E}'
D = []
D.append(row("$environment: the four keys (last window)", 0))
for i, (title, expr, unit, desc, steps) in enumerate(
    [
        (
            "Deployment frequency",
            f"ferry_dora_deployment_frequency_per_week{{{ALL}}}",
            "short",
            "Successful deployments per week over the window.",
            (("red", None), ("orange", 1), ("green", 7)),
        ),
        (
            "Lead time for changes (median)",
            f"ferry_dora_lead_time_median_seconds{{{ALL}}}",
            "s",
            "First authored commit of a change to its successful deployment; median.",
            (("green", None), ("orange", 86400), ("red", 604800)),
        ),
        (
            "Change failure rate",
            f"ferry_dora_change_failure_ratio{{{ALL}}}",
            "percentunit",
            "Failed deployments, and deployments replaced by a rollback, over all finished deployments.",
            (("green", None), ("orange", 0.15), ("red", 0.3)),
        ),
        (
            "Time to restore (median)",
            f"ferry_dora_time_to_restore_median_seconds{{{ALL}}}",
            "s",
            "A failed deployment (or the rollback of a bad one) to the next success; median.",
            (("green", None), ("orange", 3600), ("red", 86400)),
        ),
    ]
):
    D.append(
        panel(
            "stat",
            title,
            (i * 6, 1, 6, 5),
            [(expr, "$environment")],
            unit=unit,
            desc=desc,
            defaults={"thresholds": thresholds(*steps)},
            options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        )
    )
D.append(row("Per service", 6))
D.append(
    panel(
        "bargauge",
        "Deployments per week, by service",
        (0, 7, 12, 8),
        [(f"ferry_dora_deployment_frequency_per_week{{{SVC}}}", "{{service}}")],
        unit="short",
        options={"orientation": "horizontal", "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
    )
)
D.append(
    panel(
        "bargauge",
        "Change failure rate, by service",
        (12, 7, 12, 8),
        [(f"ferry_dora_change_failure_ratio{{{SVC}}}", "{{service}}")],
        unit="percentunit",
        options={"orientation": "horizontal", "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
    )
)
D.append(
    panel(
        "timeseries",
        "Lead time (median), by service, week by week",
        (0, 15, 12, 8),
        [(f"ferry_dora_lead_time_median_seconds{{{SVC}}}", "{{service}}")],
        unit="s",
    )
)
D.append(
    panel(
        "timeseries",
        "Failures not restored at the window's end",
        (12, 15, 12, 8),
        [(f"ferry_dora_unrestored_failures{{{SVC}}}", "{{service}}")],
        unit="short",
        desc="Non-zero: a service whose last failure has no later successful deployment.",
    )
)
dora_tmpl = [
    {
        "name": "environment",
        "label": "Environment",
        "type": "query",
        "datasource": DS,
        "query": {"query": "label_values(ferry_dora_deployments, environment)", "refId": "environment"},
        "definition": "label_values(ferry_dora_deployments, environment)",
        "refresh": 1,
        "multi": False,
        "includeAll": False,
        "current": {},
        "sort": 1,
        "hide": 0,
    }
]
dora = dashboard(
    "ferry-dora",
    "Ferry: DORA metrics",
    "Deployment frequency, lead time for changes, change failure rate and time to restore, per environment and service, as `ferry metrics` computes them weekly from Ferry's GitHub Deployments (README: ferry metrics).",
    D,
    templating=dora_tmpl,
    tags=("dora",),
)
dora["time"] = {"from": "now-90d", "to": "now"}
dora["refresh"] = "1h"
json.dump(dora, open(f"{OUT}/dora.json", "w"), indent=2)
open(f"{OUT}/dora.json", "a").write("\n")
