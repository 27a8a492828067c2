#!/usr/bin/env python3
"""Cut GitHub's OpenAPI description down to the paths Ferry calls.

Keeps the listed paths and every component they reference, transitively, so
that Prism validates Ferry's requests against the real spec but starts fast.
Usage: cut-openapi.py SPEC PATHS_FILE OUT
"""
import json
import sys


def refs(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            found.add(ref)
        for value in node.values():
            refs(value, found)
    elif isinstance(node, list):
        for value in node:
            refs(value, found)


def main():
    spec_path, paths_path, out_path = sys.argv[1:4]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    wanted = [
        line.strip()
        for line in open(paths_path, encoding="utf-8")
        if line.strip() and not line.startswith("#")
    ]
    missing = [p for p in wanted if p not in spec["paths"]]
    if missing:
        sys.exit(f"cut-openapi: not in the spec: {', '.join(missing)}")
    paths = {p: spec["paths"][p] for p in wanted}
    keep, todo = set(), set()
    refs(paths, todo)
    while todo:
        ref = todo.pop()
        if ref in keep:
            continue
        keep.add(ref)
        _, _, kind, name = ref.split("/", 3)
        refs(spec["components"][kind][name], todo)
    components = {}
    for ref in keep:
        _, _, kind, name = ref.split("/", 3)
        components.setdefault(kind, {})[name] = spec["components"][kind][name]
    for kind in ("securitySchemes",):
        if kind in spec.get("components", {}):
            components[kind] = spec["components"][kind]
    out = {k: v for k, v in spec.items() if k not in ("paths", "components", "webhooks", "x-webhooks")}
    out["paths"] = paths
    out["components"] = components
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
