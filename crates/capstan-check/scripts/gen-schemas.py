#!/usr/bin/env python3
"""Generates capstan-check's embedded schemas.

Kubernetes: reads the strict JSON schemas that kubernetes-validate ships
(`<dir>/v1.NN.0-local-strict/_definitions.json`) and writes one compact, deduplicated table:
descriptions dropped, every definition stored once across all versions (keyed by content),
each version a map from definition name to that content and from `group/version/Kind` to its
definition. Node keys: t (type or list of types), p (properties), r (required), a
(additionalProperties: a node, or true for any), c (1 when unknown fields are rejected),
i (items), e (enum), f (format), $ (reference to a definition name).

Flux: reads Flux's CustomResourceDefinitions (the `config/crd/bases/*.yaml` files of
kustomize-controller, helm-controller and source-controller) and keeps, per served version, the
`openAPIV3Schema` without descriptions; capstan reads those exactly as it reads a CRD the repo
renders.

Usage:
  gen-schemas.py --kubernetes-validate DIR --versions 1.31,1.32,1.33,1.34 \
                 --flux-crds FILE... --out crates/capstan-check/schemas
"""
import argparse
import gzip
import hashlib
import json
import os
import sys

import yaml


def compact(node):
    """A kubernetes-validate strict schema node in capstan's compact form."""
    out = {}
    if "$ref" in node:
        out["$"] = node["$ref"].rsplit("/", 1)[-1]
        return out
    if "oneOf" in node:
        # IntOrString and Quantity: a union of scalar types.
        types = []
        for alt in node["oneOf"]:
            for t in as_list(alt.get("type")):
                if t != "null" and t not in types:
                    types.append(t)
        out["t"] = types
        return out
    types = [t for t in as_list(node.get("type")) if t != "null"]
    if len(types) == 1:
        out["t"] = types[0]
    elif types:
        out["t"] = types
    if "properties" in node:
        out["p"] = {k: compact(v) for k, v in sorted(node["properties"].items())}
    if node.get("required"):
        out["r"] = sorted(node["required"])
    ap = node.get("additionalProperties")
    if ap is False:
        out["c"] = 1
    elif isinstance(ap, dict):
        out["a"] = compact(ap)
    elif ap is True:
        out["a"] = True
    if "items" in node:
        out["i"] = compact(node["items"])
    if "enum" in node:
        values = [v for v in node["enum"] if v is not None]
        # apiVersion and kind enums are implied by the kind table.
        out["e"] = values
    if "format" in node:
        out["f"] = node["format"]
    return out


def as_list(value):
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def digest(node):
    return hashlib.sha256(json.dumps(node, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]


def kubernetes(root, versions):
    nodes = {}
    table = {}
    for version in versions:
        path = os.path.join(root, f"v{version}.0-local-strict", "_definitions.json")
        with open(path) as f:
            defs = json.load(f)["$defs"]
        names = {}
        kinds = {}
        for name, schema in sorted(defs.items()):
            node = compact(schema)
            props = node.get("p", {})
            # apiVersion/kind enums are implied by the kind table: drop them so that identical
            # shapes deduplicate and the table stays small.
            for key in ("apiVersion", "kind"):
                if key in props:
                    props[key].pop("e", None)
            key = digest(node)
            nodes[key] = node
            names[name] = key
            for gvk in schema.get("x-kubernetes-group-version-kind", []):
                if name.endswith("List") and not gvk["kind"].endswith("List"):
                    continue
                api = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
                # The same GVK appears on several internal types (e.g. DeleteOptions); the
                # object's own definition is the one whose name ends with its kind.
                if name.split(".")[-1] != gvk["kind"]:
                    continue
                kinds[f"{api}/{gvk['kind']}"] = name
        table[version] = {"defs": names, "kinds": kinds}
    return {"nodes": nodes, "versions": table}


def strip_descriptions(node):
    if isinstance(node, dict):
        return {k: strip_descriptions(v) for k, v in node.items() if k not in ("description", "example")}
    if isinstance(node, list):
        return [strip_descriptions(v) for v in node]
    return node


def flux(files):
    out = []
    for path in files:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                versions = {}
                for v in spec["versions"]:
                    if not v.get("served", True):
                        continue
                    schema = v.get("schema", {}).get("openAPIV3Schema")
                    if schema is None:
                        continue
                    schema = strip_descriptions(schema)
                    # Status is written by the controller, never by the repository.
                    schema.get("properties", {}).pop("status", None)
                    versions[v["name"]] = schema
                out.append({"group": spec["group"], "kind": spec["names"]["kind"],
                            "scope": spec.get("scope", "Namespaced"), "versions": versions})
    out.sort(key=lambda c: (c["group"], c["kind"]))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kubernetes-validate", required=True)
    parser.add_argument("--versions", default="1.31,1.32,1.33,1.34")
    parser.add_argument("--flux-crds", nargs="+", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    versions = args.versions.split(",")
    k8s = kubernetes(args.kubernetes_validate, versions)
    with gzip.GzipFile(os.path.join(args.out, "kubernetes.json.gz"), "wb", mtime=0) as f:
        f.write(json.dumps(k8s, sort_keys=True, separators=(",", ":")).encode())
    with gzip.GzipFile(os.path.join(args.out, "flux.json.gz"), "wb", mtime=0) as f:
        f.write(json.dumps(flux(args.flux_crds), sort_keys=True, separators=(",", ":")).encode())
    print(f"kubernetes: {len(k8s['nodes'])} distinct definitions over {len(versions)} versions", file=sys.stderr)


if __name__ == "__main__":
    main()
