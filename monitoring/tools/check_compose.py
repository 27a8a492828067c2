#!/usr/bin/env python3
"""Checks docker-compose.local.yml against the project, without Docker.

(The compose-spec schema itself is checked by check-jsonschema in monitoring/check.)
- images are pinned to a version;
- every file or directory mounted from the repository exists, and every file
  a container is told to read (--config.file=..., grafana.ini paths, ...) is
  provided by one of its mounts;
- every environment variable is one the program in that container reads: the
  services' contract (and, once services/ is merged, their source), the AWS
  SDKs' own variables;
- every port a service publishes or exposes is one its configuration makes it
  listen on, and every http://host:port URL in the compose file and in the
  monitoring configs points at a compose service listening on that port;
- depends_on conditions are satisfiable: service_healthy needs a healthcheck,
  service_completed_successfully a one-shot container; queue URLs name the
  queues sqs-init creates.
Prints PASS/FAIL lines; exits 1 on any failure.
"""
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(__file__))
import contract  # noqa: E402

# REPO_ROOT: the checks' own tests point it at a mutated copy.
ROOT = os.environ.get("REPO_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MON = os.path.join(ROOT, "monitoring")
failures = 0
notes = []

# Host paths mounted on purpose, outside the repository.
HOST_PATHS = {"/var/run/docker.sock": "Alloy reads container logs through the Docker API"}
# The image of a service decides which program reads its environment.
PROGRAM = {"sampleapi": "sampleapi", "sampleworker": "sampleworker", "sampleworker-failing": "sampleworker"}
# Ports fixed by an image's program rather than by a file here.
IMAGE_DEFAULT_PORTS = {"motoserver/moto": {5000}}  # moto_server's default port


def report(ok, what, why=""):
    global failures
    print(("PASS " if ok else "FAIL ") + what + ("" if ok else f": {why}"))
    failures += 0 if ok else 1


def as_list(v):
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


def env_of(svc):
    e = svc.get("environment") or {}
    if isinstance(e, list):
        e = dict(x.split("=", 1) if "=" in x else (x, None) for x in e)
    return {k: (None if v is None else str(v)) for k, v in e.items()}


def flag(args, name):
    for a in args:
        if a.startswith(f"{name}="):
            return a.split("=", 1)[1]
    for i, a in enumerate(args[:-1]):
        if a == name:
            return args[i + 1]
    return None


def port_of(hostport):
    return int(hostport.rsplit(":", 1)[1])


def listening_ports(name, svc):
    """The ports the program in a service listens on, read from the project's own files."""
    args = [str(a) for a in as_list(svc.get("command"))]
    env = env_of(svc)
    image = svc.get("image", "").split(":")[0]
    if name == "sampleapi":
        return {int(env["PORT"])}
    if PROGRAM.get(name) == "sampleworker":
        return {int(env["METRICS_PORT"])}
    if name == "sqs-exporter":
        return {port_of(flag(args, "--listen"))}
    if name == "prometheus":
        return {port_of(flag(args, "--web.listen-address"))}
    if name == "alloy":
        return {port_of(flag(args, "--server.http.listen-addr"))}
    if name == "loki":
        c = yaml.safe_load(open(f"{MON}/loki/loki.yml"))["server"]
        return {c["http_listen_port"], c["grpc_listen_port"]}
    if name == "jaeger":
        text = open(f"{MON}/jaeger/config.yaml").read()
        ports = {int(p) for p in re.findall(r"endpoint:\s*[\w.]*:(\d+)", text)}
        ports |= {int(p) for p in re.findall(r"\bport:\s*(\d+)", text)}
        return ports
    if name == "grafana":
        m = re.search(r"^http_port\s*=\s*(\d+)", open(f"{MON}/grafana/grafana.ini").read(), re.M)
        return {int(m.group(1))}
    return set(IMAGE_DEFAULT_PORTS.get(image, set()))


def container_ports(svc):
    out = set()
    for p in as_list(svc.get("ports")):
        spec = p["target"] if isinstance(p, dict) else str(p).split("/")[0].rsplit(":", 1)[-1]
        out.add(int(spec))
    out |= {int(str(p).split("/")[0]) for p in as_list(svc.get("expose"))}
    return out


def source_mentions(program, var):
    """Whether the merged services' source names this variable (None: source not merged yet)."""
    dirs = [os.path.join(ROOT, "services", program, "src"), os.path.join(ROOT, "services", "telemetry", "src")]
    if not os.path.isdir(dirs[0]):
        return None
    for d in dirs:
        for dp, _, files in os.walk(d):
            for f in files:
                if f.endswith(".rs") and f'"{var}"' in open(os.path.join(dp, f), encoding="utf-8").read():
                    return True
    return False


def main():
    compose = yaml.safe_load(open(os.path.join(ROOT, "docker-compose.local.yml")))
    services = compose["services"]
    volumes = set((compose.get("volumes") or {}).keys())
    listen = {n: listening_ports(n, s) for n, s in services.items()}

    # Queues sqs-init creates.
    init_args = [str(a) for a in as_list(services["sqs-init"].get("command"))]
    queues = {flag(init_args, "--queue"), flag(init_args, "--dlq")}

    for name, svc in services.items():
        # Images pinned.
        image = svc.get("image", "")
        if "build" in svc:
            df = svc["build"].get("dockerfile", "Dockerfile")
            path = os.path.join(ROOT, svc["build"].get("context", "."), df)
            if os.path.isfile(path):
                report(True, f"{name}: build file {df} exists")
            else:
                notes.append(f"{name}: {df} is not in this checkout yet (services issue); not checked")
        else:
            tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
            report(bool(tag) and tag != "latest" and re.search(r"\d", tag) is not None,
                   f"{name}: image {image} pinned to a version", "no version tag")

        # Mounts: repo paths exist, named volumes declared, container paths served.
        mounts = {}
        for v in as_list(svc.get("volumes")):
            src, dst = (v["source"], v["target"]) if isinstance(v, dict) else v.split(":")[:2]
            if src.startswith(("./", "../")):
                report(os.path.exists(os.path.join(ROOT, src)), f"{name}: mounts {src}", "no such file in the repository")
                mounts[dst] = os.path.join(ROOT, src)
            elif src.startswith("/"):
                report(src in HOST_PATHS, f"{name}: host path {src} ({HOST_PATHS.get(src, '?')})", "unexpected host path")
            else:
                report(src in volumes, f"{name}: volume {src} declared", "not in top-level volumes")

        def served(path):
            for dst, src in mounts.items():
                if path == dst or path.startswith(dst.rstrip("/") + "/"):
                    return os.path.exists(src + path[len(dst):])
            return False
        args = [str(a) for a in as_list(svc.get("command")) + as_list(svc.get("entrypoint"))]
        for a in args:
            for path in re.findall(r"(?:^|=)(/(?:etc|sqs|var/lib/grafana)/[\w./-]+)", a):
                if "/data" in path:
                    continue
                report(served(path), f"{name}: reads {path} from a mount", "no mount provides it")
        if name == "grafana":
            for path in re.findall(r"=\s*(/var/lib/grafana/dashboards/\S+)", open(f"{MON}/grafana/grafana.ini").read()):
                report(served(path), f"{name}: grafana.ini's {path} mounted", "no mount provides it")
            for sub in ("datasources", "dashboards"):
                report(served(f"/etc/grafana/provisioning/{sub}"), f"{name}: provisioning/{sub} mounted", "missing")
            prov = yaml.safe_load(open(f"{MON}/grafana/provisioning/dashboards/dashboards.yml"))
            for p in prov["providers"]:
                report(served(p["options"]["path"]), f"{name}: dashboards path {p['options']['path']} mounted", "missing")
        if name == "prometheus":
            prom = yaml.safe_load(open(f"{MON}/prometheus/prometheus.yml"))
            for rf in prom.get("rule_files", []):
                d = os.path.dirname(rf)
                report(served(f"/etc/prometheus/{d}"), f"{name}: rule_files {rf} mounted", "missing")

        # Environment variables.
        program = PROGRAM.get(name)
        for var in sorted(env_of(svc)):
            if program:
                ok = var in contract.ENV[program] or var in contract.AWS_SDK_ENV
                report(ok, f"{name}: env {var} in the {program} contract", "not a variable the service reads")
                if ok and var not in contract.AWS_SDK_ENV:
                    seen = source_mentions(program, var)
                    if seen is not None:
                        report(seen, f"{name}: env {var} read by services/{program} source", "not found in the source")
            elif name.startswith("sqs"):
                report(var in contract.AWS_SDK_ENV, f"{name}: env {var} read by boto3", "not an AWS SDK variable")
            else:
                report(False, f"{name}: env {var}", "the monitoring containers take their settings from files in monitoring/")

        # Ports.
        for p in sorted(container_ports(svc)):
            report(p in listen[name], f"{name}: port {p} is one it listens on", f"it listens on {sorted(listen[name])}")

        # depends_on.
        for dep, cond in (svc.get("depends_on") or {}).items():
            cond = (cond or {}).get("condition", "service_started")
            target = services.get(dep)
            if target is None:
                report(False, f"{name}: depends on {dep}", "no such service")
            elif cond == "service_healthy":
                report("healthcheck" in target, f"{name}: waits for {dep} healthy", f"{dep} has no healthcheck")
            elif cond == "service_completed_successfully":
                report(target.get("restart", "no") == "no", f"{name}: waits for {dep} to finish", f"{dep} restarts")

        # Queue URLs name queues sqs-init creates.
        for k, v in env_of(svc).items():
            if k == "SQS_QUEUE_URL":
                report(v.rsplit("/", 1)[1] in queues, f"{name}: {k} names a queue sqs-init creates", f"{v} not in {queues}")
        for a in args:
            m = re.search(r"--queue-url=(\S+)", a)
            if m:
                report(m.group(1).rsplit("/", 1)[1] in queues, f"{name}: queue URL {m.group(1)} created by sqs-init", "unknown queue")

    # Every http://host:port in compose and the monitoring configs reaches a listener.
    texts = {"docker-compose.local.yml": open(os.path.join(ROOT, "docker-compose.local.yml")).read()}
    for rel in ("prometheus/prometheus.yml", "grafana/provisioning/datasources/datasources.yml", "alloy/config.alloy"):
        texts[f"monitoring/{rel}"] = open(f"{MON}/{rel}").read()
    for fname, text in texts.items():
        for host, port in sorted(set(re.findall(r"https?://([a-z][\w-]*):(\d+)", text))):
            if host in ("localhost",):
                continue
            ok = host in services and int(port) in listen[host]
            report(ok, f"{fname}: http://{host}:{port} reaches {host}", "no such service, or it does not listen there")
    prom = yaml.safe_load(texts["monitoring/prometheus/prometheus.yml"])
    for job in prom["scrape_configs"]:
        for sc in job.get("static_configs", []):
            for t in sc["targets"]:
                host, port = t.rsplit(":", 1)
                if host == "localhost":
                    ok = job["job_name"] == "prometheus" and int(port) in listen["prometheus"]
                else:
                    ok = host in services and int(port) in listen[host]
                report(ok, f"prometheus job {job['job_name']}: target {t}", "no such service/port")
        for sd in job.get("dns_sd_configs", []):
            for host in sd["names"]:
                ok = host in services and sd["port"] in listen[host]
                report(ok, f"prometheus job {job['job_name']}: {host}:{sd['port']}", "no such service/port")

    for n in notes:
        print(f"NOTE {n}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
