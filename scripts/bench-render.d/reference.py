"""The reference side of bench-render: PyPI jsonnet evaluates every
service x environment with the ext-strs ferry derives (manifest, values file,
--image), and keeps the results for the equality check."""
import json
import pathlib
import sys

import _jsonnet

work, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
out = {}
for env in ("staging", "prod"):
    values = json.loads((work / f"task-definitions/environments/{env}.json").read_text())
    for i in range(n):
        name = f"svc{i:03d}"
        ext = {"SERVICE": name, "ENVIRONMENT": env, "PROJECT": "bench", "REGION": "us-east-1",
               "IMAGE": "111111111111.dkr.ecr.us-east-1.amazonaws.com/bench:bench-1",
               "SQS_QUEUE_URL": values["tasks_queue_url"]["value"]}
        ext.update({k.upper(): v for k, v in values["services"]["value"][name].items()})
        text = _jsonnet.evaluate_file(str(work / f"task-definitions/{name}.jsonnet"), ext_vars=ext,
                                      jpathdir=[str(work / "task-definitions")])
        out[f"{name}.{env}"] = json.loads(text)
(work / "reference.json").write_text(json.dumps(out))
