"""Generates a repository of N services x 2 environments for bench-render:
a manifest, task-definitions/lib/base.libsonnet (the real one), one Jsonnet
file per service in the style of sampleapi.jsonnet, and the values files."""
import json
import pathlib
import shutil
import sys

root, work, n = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])
(work / ".github").mkdir(parents=True)
(work / "task-definitions/lib").mkdir(parents=True)
(work / "task-definitions/environments").mkdir(parents=True)
shutil.copy(root / "task-definitions/lib/base.libsonnet", work / "task-definitions/lib/base.libsonnet")
names = [f"svc{i:03d}" for i in range(n)]
manifest = ["project: bench", "region: us-east-1", "environments:",
            "  staging: { cluster: bench-staging }", "  prod: { cluster: bench-prod, promote-from: staging }", "services:"]
for name in names:
    manifest += [f"  {name}:", f"    paths: [services/{name}/**]", f"    task-definition: task-definitions/{name}.jsonnet"]
(work / ".github/ferry.yml").write_text("\n".join(manifest) + "\n")
template = (root / "task-definitions/sampleapi.jsonnet").read_text()
for i, name in enumerate(names):
    text = template.replace("'sampleapi'", f"'{name}'").replace("8080", str(8000 + i))
    (work / f"task-definitions/{name}.jsonnet").write_text(text)
for env in ("staging", "prod"):
    values = {
        "services": {"value": {name: {
            "execution_role_arn": f"arn:aws:iam::111111111111:role/bench-{env}-{name}-execution",
            "task_role_arn": f"arn:aws:iam::111111111111:role/bench-{env}-{name}-task",
            "log_group": f"/ecs/bench-{env}/{name}",
        } for name in names}},
        "tasks_queue_url": {"value": f"https://sqs.us-east-1.amazonaws.com/111111111111/bench-{env}-tasks"},
    }
    (work / f"task-definitions/environments/{env}.json").write_text(json.dumps(values, indent=1))
