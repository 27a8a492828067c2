#!/usr/bin/env python3
"""Checks the PromQL in the Grafana dashboards and the recording rules.

- Every dashboard expression (panel targets, annotations, template variables)
  parses: they are written, with Grafana's variables substituted, into a rule
  file for `promtool check rules` (path given by --rule-file), and parsed here.
- Every metric name an expression uses is one the services export (see
  contract.py), one of monitoring's own exporter, a Prometheus built-in, or one
  the recording rules define. The rules themselves are held to the same list.
- Data source UIDs the dashboards name are provisioned; every SLO has a runbook.
Prints PASS/FAIL lines; exits 1 on any failure.
"""
import argparse
import glob
import json
import os
import re
import sys

import promql_parser as pp
import yaml

sys.path.insert(0, os.path.dirname(__file__))
import contract  # noqa: E402

# MONITORING_DIR: the checks' own tests point it at a mutated copy.
MON = os.environ.get("MONITORING_DIR") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
failures = 0


def report(ok, what, why=""):
    global failures
    print(("PASS " if ok else "FAIL ") + what + ("" if ok else f": {why}"))
    failures += 0 if ok else 1


def metric_names(node, out):
    """Collects the metric names of every selector in a parsed expression."""
    if isinstance(node, pp.VectorSelector):
        name = node.name
        if not name:
            for m in node.matchers.matchers:
                if m.name == "__name__":
                    name = m.value
        out.add(name or "<no metric name>")
    elif isinstance(node, pp.MatrixSelector):
        metric_names(node.vector_selector, out)
    elif isinstance(node, (pp.SubqueryExpr, pp.ParenExpr, pp.UnaryExpr)):
        metric_names(node.expr, out)
    elif isinstance(node, pp.AggregateExpr):
        metric_names(node.expr, out)
        if node.param is not None:
            metric_names(node.param, out)
    elif isinstance(node, pp.BinaryExpr):
        metric_names(node.lhs, out)
        metric_names(node.rhs, out)
    elif isinstance(node, pp.Call):
        for a in node.args:
            metric_names(a, out)
    return out


GRAFANA_VARS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "slo": "api-availability"}


def substitute(expr):
    def sub(m):
        return GRAFANA_VARS.get(m.group(1) or m.group(2), "x")
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", sub, expr)


def dashboard_exprs(dash):
    """(where, expr) for every PromQL expression in a dashboard."""
    def panels(ps):
        for p in ps:
            yield p
            yield from panels(p.get("panels", []))
    for p in panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            if t.get("expr"):
                yield f'panel "{p.get("title")}" {t.get("refId")}', t["expr"], t.get("datasource", p.get("datasource"))
    for a in dash.get("annotations", {}).get("list", []):
        if a.get("expr"):
            yield f'annotation "{a["name"]}"', a["expr"], a.get("datasource")
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"label_values\((.*),\s*\w+\)", q or "")
        if m:
            yield f'variable "{v["name"]}"', m.group(1), v.get("datasource")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rule-file", required=True, help="where to write the generated rule file for promtool")
    a = ap.parse_args()

    # Names the recording rules define, and the SLOs they declare.
    recorded, slos, rules = set(), set(), []
    for f in sorted(glob.glob(f"{MON}/prometheus/rules/*.yml")):
        for g in yaml.safe_load(open(f))["groups"]:
            for r in g["rules"]:
                rules.append((os.path.basename(f), r))
                if "record" in r:
                    recorded.add(r["record"])
                    if "slo" in r.get("labels", {}):
                        slos.add(r["labels"]["slo"])
    known = contract.all_service_series() | set(contract.EXPORTER_METRICS) | set(contract.FERRY_METRICS) | contract.PROMETHEUS_BUILTIN | recorded

    # The rules use only known metrics.
    for f, r in rules:
        name = r.get("record") or r.get("alert")
        used = metric_names(pp.parse(r["expr"]), set())
        unknown = sorted(used - known)
        report(not unknown, f"rule {f} {name}: metrics known", f"unknown metric(s) {unknown}")

    # Every SLO has a runbook, and every runbook an alert points at exists.
    for slo in sorted(slos):
        report(os.path.isfile(f"{MON}/runbooks/{slo}.md"), f"runbook for SLO {slo}", f"monitoring/runbooks/{slo}.md missing")
    for f, r in rules:
        url = r.get("annotations", {}).get("runbook_url")
        if url and "{{" not in url:
            path = url.split("/blob/main/", 1)[-1]
            report(os.path.isfile(os.path.join(os.path.dirname(MON), path)), f"runbook of {r['alert']}", f"{path} missing")

    # The analysis checks of .github/ferry.yml (`ferry deploy` runs them for
    # the new version and the baseline): they parse with Ferry's placeholders
    # filled in, and read only series that exist.
    manifest_file = os.path.join(os.path.dirname(MON), ".github", "ferry.yml")
    if os.path.isfile(manifest_file):
        manifest = yaml.safe_load(open(manifest_file))
        analyses = [(f"environments.{e}", (v or {}).get("analysis")) for e, v in (manifest.get("environments") or {}).items()]
        for name, svc in (manifest.get("services") or {}).items():
            for env, analysis in ((svc or {}).get("analysis") or {}).items():
                analyses.append((f"services.{name}.analysis.{env}", analysis))
        for where, analysis in analyses:
            for check in (analysis or {}).get("checks", []):
                for op in ("=", "!="):
                    e = check["query"].replace("{version}", f'version{op}"v1"').replace("{service}", "sampleapi").replace("{window}", "60s")
                    try:
                        used = metric_names(pp.parse(e), set())
                    except Exception as err:  # noqa: BLE001
                        report(False, f"ferry.yml {where} {check['name']}: parses", str(err))
                        continue
                    unknown = sorted(used - known)
                    report(not unknown, f"ferry.yml {where} {check['name']} (version{op}): parses, metrics known", f"unknown metric(s) {unknown} in {e}")

    provisioned = {d["uid"] for d in yaml.safe_load(open(f"{MON}/grafana/provisioning/datasources/datasources.yml"))["datasources"]}

    generated = []
    for f in sorted(glob.glob(f"{MON}/grafana/dashboards/*.json")):
        dash = json.load(open(f))
        base = os.path.basename(f)
        ids = []
        def walk(ps):
            for p in ps:
                ids.append(p.get("id"))
                walk(p.get("panels", []))
        walk(dash["panels"])
        report(len(ids) == len(set(ids)), f"{base}: panel ids unique", f"duplicates in {ids}")
        for where, expr, ds in dashboard_exprs(dash):
            uid = (ds or {}).get("uid")
            if uid and uid not in provisioned:
                report(False, f"{base} {where}: data source", f"uid {uid!r} is not provisioned")
            e = substitute(expr)
            try:
                used = metric_names(pp.parse(e), set())
            except Exception as err:  # noqa: BLE001
                report(False, f"{base} {where}: parses", str(err))
                continue
            unknown = sorted(used - known)
            report(not unknown, f"{base} {where}: parses, metrics known", f"unknown metric(s) {unknown} in {e}")
            generated.append({"record": f"dashboard:expr_{len(generated)}", "expr": e,
                              "labels": {"source": f"{base} {where}"[:200]}})
    with open(a.rule_file, "w") as out:
        yaml.safe_dump({"groups": [{"name": "dashboard-expressions", "rules": generated}]}, out, sort_keys=False, width=1000)
    print(f"wrote {len(generated)} dashboard expressions to {a.rule_file}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
