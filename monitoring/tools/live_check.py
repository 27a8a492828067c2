#!/usr/bin/env python3
"""Assertions of monitoring/live-test against the running services and Prometheus.

  live_check.py metrics API_URL WORKER_URL...   the services export every contract metric;
                                                the dashboards use only scraped, exporter,
                                                built-in or recorded names
  live_check.py prometheus PROM_URL             targets up, recording rules' values, alert state,
                                                every dashboard expression runs
Prints PASS/FAIL lines; exits 1 on any failure.
"""
import glob
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request

import promql_parser as pp
import yaml

sys.path.insert(0, os.path.dirname(__file__))
import check_promql  # noqa: E402
import contract  # noqa: E402

MON = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
failures = 0


def report(ok, what, why=""):
    global failures
    print(("PASS " if ok else "FAIL ") + what + ("" if ok else f": {why}"), flush=True)
    failures += 0 if ok else 1


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def scraped_names(url):
    names = set()
    for line in get(url).splitlines():
        if line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def unversioned(url):
    """Sample lines of an exposition without the `version` label."""
    label = re.compile(r"[{,]%s=\"[^\"]+\"" % contract.VERSION_LABEL)
    return [line for line in get(url).splitlines() if line and not line.startswith("#") and not label.search(line)]


def metrics(api, workers):
    scraped = set()
    for service, urls in (("sampleapi", [api]), ("sampleworker", workers)):
        for url in urls:
            missing = unversioned(url)
            report(not missing, f"{service} {url}: every sample carries {contract.VERSION_LABEL}", f"without it: {missing[:3]}")
            names = scraped_names(url)
            scraped |= names
            for m in sorted(contract.series_names(contract.METRICS[service])):
                report(m in names, f"{service} {url} exports {m}", "missing from /metrics")
    # The dashboards' and rules' metric names, against what the services really export.
    recorded = set()
    for f in glob.glob(f"{MON}/prometheus/rules/*.yml"):
        for g in yaml.safe_load(open(f))["groups"]:
            recorded |= {r["record"] for r in g["rules"] if "record" in r}
    # Ferry's DORA metrics come from `ferry metrics` (pushed weekly), not from
    # the services: action/tests/it/metrics_outputs.rs checks that ferry's real
    # exposition has exactly these names.
    known = (scraped | set(contract.EXPORTER_METRICS) | contract.PROMETHEUS_BUILTIN | recorded
             | set(contract.FERRY_METRICS))
    for f in sorted(glob.glob(f"{MON}/grafana/dashboards/*.json")):
        for where, expr, _ in check_promql.dashboard_exprs(json.load(open(f))):
            used = check_promql.metric_names(pp.parse(check_promql.substitute(expr)), set())
            unknown = sorted(used - known)
            report(not unknown, f"{os.path.basename(f)} {where}: metrics scraped or recorded", f"unknown {unknown}")


def query(prom, expr):
    body = json.loads(get(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
    if body["status"] != "success":
        raise RuntimeError(body)
    return body["data"]["result"]


def value(prom, expr):
    r = query(prom, expr)
    return float(r[0]["value"][1]) if r else None


def wait_for(prom, expr, pred, timeout):
    deadline = time.time() + timeout
    v = None
    while time.time() < deadline:
        v = value(prom, expr)
        if v is not None and pred(v):
            return v
        time.sleep(2)
    return v


def prometheus(prom):
    # Every target Prometheus was given is up.
    targets = json.loads(get(f"{prom}/api/v1/targets"))["data"]["activeTargets"]
    for t in targets:
        report(t["health"] == "up", f"target {t['labels']['job']} {t['scrapeUrl']} up", t.get("lastError", t["health"]))

    # SLIs: all API requests here succeed fast; half the sends fail (one worker of two fails every send).
    v = wait_for(prom, 'slo:sli_error:ratio_rate5m{slo="api-availability"}', lambda v: True, 90)
    report(v == 0, "recorded api-availability error ratio (5m) is 0 (no 5xx sent)", f"got {v}")
    v = value(prom, 'slo:sli_events_total:rate5m{slo="api-availability"}')
    report(v is not None and v > 0, "recorded api-availability request rate > 0 (probes excluded)", f"got {v}")
    v = value(prom, 'slo:sli_error:ratio_rate5m{slo="api-latency"}')
    report(v is not None and 0 <= v < 0.05, "recorded api-latency error ratio (5m) near 0", f"got {v}")
    v = wait_for(prom, 'slo:sli_error:ratio_rate5m{slo="worker-email-success"}', lambda v: v > 0.2, 90)
    report(v is not None and 0.2 < v < 0.95, "recorded worker-email-success error ratio (5m) shows the failing worker", f"got {v}")
    v = value(prom, 'slo:burn_rate:5m{slo="worker-email-success"}')
    report(v is not None and v > 14.4, "worker-email-success 5m burn rate over the 14.4x page threshold", f"got {v}")
    for slo in ("api-availability", "api-latency", "worker-email-success"):
        v = value(prom, f'slo:objective:ratio{{slo="{slo}"}}')
        report(v is not None and 0.9 < v < 1, f"{slo}: objective recorded", f"got {v}")
        v = value(prom, f'slo:error_budget_remaining:ratio{{slo="{slo}"}}')
        report(v is not None, f"{slo}: error budget remaining recorded ({v})", "absent")
    v = value(prom, 'slo:error_budget_remaining:ratio{slo="worker-email-success"}')
    report(v is not None and v < 0, "worker-email-success budget overspent in this run", f"got {v}")
    v = value(prom, 'slo:error_budget_remaining:ratio{slo="api-availability"}')
    report(v == 1, "api-availability budget untouched", f"got {v}")

    # Per version (rules/version.rules.yml): the failing worker runs 1.1.0, a
    # canary whose sends all fail, beside the healthy baseline 1.0.0.
    v = value(prom, 'slo_version:sli_error:ratio_rate5m{slo="worker-email-success", version="1.1.0"}')
    report(v is not None and v > 0.9, "canary 1.1.0's worker-email-success error ratio shows its failures", f"got {v}")
    v = value(prom, 'slo_version:sli_error:ratio_rate5m{slo="worker-email-success", version="1.0.0"}')
    report(v == 0, "baseline 1.0.0's worker-email-success error ratio is 0 (present, not absent)", f"got {v}")
    v = value(prom, 'slo_version:burn_rate:5m{slo="worker-email-success", version="1.1.0"}')
    report(v is not None and v > 14.4, "canary 1.1.0 burns the worker budget over 14.4x", f"got {v}")
    v = value(prom, 'slo_version:sli_error:ratio_rate5m{slo="api-availability", version="live-api"}')
    report(v == 0, "the API's version live-api: availability error ratio 0", f"got {v}")
    v = value(prom, 'version:http_request_duration_seconds:p99_rate5m{version="live-api"}')
    report(v is not None and 0 < v < 0.3, "the API's version live-api: p99 latency recorded, under 300 ms", f"got {v}")
    r = query(prom, 'slo_version:sli_events_total:rate5m{version="unknown"}')
    report(not r, "no series of version unknown (every process was given SERVICE_VERSION)", f"got {r}")

    # The fast-burn page is pending (it fires after its `for: 2m`), and only for the worker.
    r = wait_for(prom, 'count(ALERTS{alertname="SLOErrorBudgetBurn", slo="worker-email-success", long_window="1h"})', lambda v: v >= 1, 60)
    report(r == 1, "SLOErrorBudgetBurn 1h/5m pending or firing for worker-email-success", f"got {r}")
    r = query(prom, 'ALERTS{alertname="SLOErrorBudgetBurn", slo=~"api-.*"}')
    report(not r, "no burn alert for the API SLOs", f"got {r}")

    # Queue depths from the exporter.
    r = query(prom, 'sqs_queue_messages{state="visible"}')
    report(len(r) == 2, "sqs_queue_messages for the queue and its DLQ", f"got {r}")

    # Every dashboard expression runs against real data.
    with_data = total = 0
    for f in sorted(glob.glob(f"{MON}/grafana/dashboards/*.json")):
        for where, expr, _ in check_promql.dashboard_exprs(json.load(open(f))):
            if where.startswith("variable"):
                expr = f"group by (slo) ({expr})"
            e = check_promql.substitute(expr).replace("[5m]", "[1m]") if "$__rate_interval" in expr else check_promql.substitute(expr)
            try:
                res = query(prom, e)
                total += 1
                with_data += bool(res)
                report(True, f"{os.path.basename(f)} {where}: runs ({len(res)} series)")
            except Exception as err:  # noqa: BLE001
                report(False, f"{os.path.basename(f)} {where}: runs", str(err))
    print(f"dashboard expressions returning data: {with_data} of {total}")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "metrics":
        metrics(sys.argv[2], sys.argv[3:])
    else:
        prometheus(sys.argv[2])
    sys.exit(1 if failures else 0)
