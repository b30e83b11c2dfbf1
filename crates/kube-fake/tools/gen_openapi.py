#!/usr/bin/env python3
"""Generate kube-fake's OpenAPI v3 field schemas from a Kubernetes OpenAPI-derived JSON schema.

Input: the `_definitions.json` of kubernetes-validate's `v1.33.0-local` schemas (as for
gen_schema.py). Output: every definition as an OpenAPI v3 component schema with what clients read
from `/openapi/v3` (`kubectl explain`, client-side field lookups): `type` and `format`,
`properties`, `items`, `additionalProperties`, `required`, `enum`, references rewritten to
`#/components/schemas/NAME`, and the `x-kubernetes-*` markers (group-version-kind, list and map
types, int-or-string, preserve-unknown-fields, embedded resources). Descriptions are left out,
so the table holds the schema's structure only.

Usage: gen_openapi.py DEFINITIONS_JSON > crates/kube-fake/data/openapi.json
"""
import json
import sys

KEEP = {
    "format", "required", "enum",
    "x-kubernetes-group-version-kind", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource", "x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key",
    "x-kubernetes-unions",
}


def convert(x):
    if not isinstance(x, dict):
        return x
    if "$ref" in x:
        return {"$ref": "#/components/schemas/" + x["$ref"].split("/")[-1]}
    out = {}
    t = x.get("type")
    if isinstance(t, list):
        t = [v for v in t if v != "null"]
        t = t[0] if len(t) == 1 else None
    if t:
        out["type"] = t
    for k in KEEP:
        if k in x:
            out[k] = x[k]
    if "properties" in x:
        out["properties"] = {k: convert(v) for k, v in sorted(x["properties"].items())}
        # The source pins apiVersion and kind per definition; the API's own schema does not.
        for k in ("apiVersion", "kind"):
            out["properties"].get(k, {}).pop("enum", None)
    if "items" in x:
        out["items"] = convert(x["items"])
    if isinstance(x.get("additionalProperties"), dict):
        out["additionalProperties"] = convert(x["additionalProperties"])
    for k in ("oneOf", "anyOf"):
        if k in x:
            # int-or-string and friends: one schema that takes either.
            kinds = {convert(v).get("type") for v in x[k]}
            if kinds == {"integer", "string"}:
                out["x-kubernetes-int-or-string"] = True
            elif "string" in kinds:
                out["type"] = "string"  # a quantity: a string on the wire
    if "enum" in out:
        out["enum"] = [v for v in out["enum"] if v is not None]
    return out


def main():
    defs = json.load(open(sys.argv[1]))["$defs"]
    schemas = {name: convert(d) for name, d in sorted(defs.items())}
    json.dump({"schemas": schemas}, sys.stdout, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")


main()
